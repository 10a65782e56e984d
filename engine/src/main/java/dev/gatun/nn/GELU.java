package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * The exact Gaussian error linear unit, {@code x·Φ(x)} with Φ the standard normal distribution function
 * ({@code torch.nn.GELU} with {@code approximate='none'}), elementwise; no parameters.
 */
public final class GELU extends Module {

    /** A GELU layer. */
    public GELU() {}

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "GELU"}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("GELU");
    }

    /**
     * Applies the function elementwise.
     *
     * @param x a tensor of any shape
     * @return x·Φ(x), of x's shape
     */
    @Override
    public Tensor forward(Tensor x) {
        return Activation.gelu(x);
    }
}
