package dev.gatun.nn;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Map;
import java.util.random.RandomGenerator;

/** Inverted dropout with probability p in training mode; the identity in evaluation mode. */
public final class Dropout extends Module implements RandomModule {

    private final float p;
    private final RandomGenerator rng;

    /**
     * Dropout whose masks come from a {@link Generator} seeded by one draw from the default one
     * ({@link Init#generator()}), so that {@link Init#manualSeed} makes the masks reproducible.
     */
    public Dropout(float p) {
        this(p, new Generator(Init.generator().nextLong()));
    }

    public Dropout(float p, RandomGenerator rng) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        this.p = p;
        this.rng = rng;
    }

    @Override
    public Generator generator() {
        return rng instanceof Generator g ? g : null;
    }

    @Override
    public Tensor forward(Tensor x) {
        return dev.gatun.ops.Dropout.dropout(x, p, isTraining(), rng);
    }

    @Override
    public Map<String, Object> spec() {
        return spec("Dropout", "p", p);
    }

    @Override
    public String describe() {
        return "Dropout(" + p + ")";
    }
}
