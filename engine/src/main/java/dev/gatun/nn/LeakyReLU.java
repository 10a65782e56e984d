package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * The leaky ReLU ({@code torch.nn.LeakyReLU}): x for x &gt; 0, slope·x otherwise, elementwise; no
 * parameters.
 */
public final class LeakyReLU extends Module {

    private final float slope;

    /** A leaky ReLU with PyTorch's default negative slope, 0.01. */
    public LeakyReLU() {
        this(0.01f);
    }

    /**
     * A leaky ReLU with the given negative slope.
     *
     * @param slope the factor applied to negative inputs ({@code negative_slope} in PyTorch)
     * @throws IllegalArgumentException if {@code slope} is not finite
     */
    public LeakyReLU(float slope) {
        if (!Float.isFinite(slope)) {
            throw new IllegalArgumentException("LeakyReLU needs a finite negative slope, got " + slope);
        }
        this.slope = slope;
    }

    /**
     * The negative slope.
     *
     * @return the factor applied to negative inputs
     */
    public float slope() {
        return slope;
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code negative_slope=0.01}
     */
    @Override
    protected String extraRepr() {
        return "negative_slope=" + slope;
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "LeakyReLU", "slope": ...}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("LeakyReLU", "slope", slope);
    }

    /**
     * Applies the leaky ReLU.
     *
     * @param x a tensor of any shape
     * @return x where positive, slope·x elsewhere, of x's shape
     */
    @Override
    public Tensor forward(Tensor x) {
        return Activation.leakyRelu(x, slope);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code LeakyReLU(0.01)}
     */
    @Override
    public String describe() {
        return "LeakyReLU(" + slope + ")";
    }
}
