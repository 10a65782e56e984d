package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/** The hyperbolic tangent elementwise ({@code torch.nn.Tanh}); no parameters. */
public final class Tanh extends Module {

    /** A Tanh layer. */
    public Tanh() {}

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "Tanh"}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("Tanh");
    }

    /**
     * Applies the function elementwise.
     *
     * @param x a tensor of any shape
     * @return tanh(x), in (-1, 1), of x's shape
     */
    @Override
    public Tensor forward(Tensor x) {
        return Activation.tanh(x);
    }
}
