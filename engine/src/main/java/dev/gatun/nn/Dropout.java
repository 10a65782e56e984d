package dev.gatun.nn;

import dev.gatun.ops.Regularization;
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
     *
     * @param p the probability of zeroing an element in training, in [0, 1)
     * @throws IllegalArgumentException if {@code p} lies outside [0, 1)
     */
    public Dropout(float p) {
        this(p, new Generator(Init.generator().nextLong()));
    }

    /**
     * Dropout whose masks come from {@code rng}; a checkpoint saves its state only when it is a
     * {@link Generator} (see {@link RandomModule}).
     *
     * @param p   the probability of zeroing an element in training, in [0, 1)
     * @param rng the source of the masks, one value drawn per forward pass in training
     * @throws IllegalArgumentException if {@code p} lies outside [0, 1) or {@code rng} is null
     */
    public Dropout(float p, RandomGenerator rng) {
        if (rng == null) {
            throw new IllegalArgumentException("dropout needs a random generator, got null");
        }
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

    /**
     * In training, zeroes each element with probability p and scales the others by 1/(1 − p); in
     * evaluation, returns x itself.
     *
     * @param x a tensor of any shape
     * @return the result, of x's shape
     */
    @Override
    public Tensor forward(Tensor x) {
        return Regularization.dropout(x, p, isTraining(), rng);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code p=0.2}
     */
    @Override
    protected String extraRepr() {
        return "p=" + p;
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
