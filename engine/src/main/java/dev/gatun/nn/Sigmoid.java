package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/** The logistic sigmoid, {@code 1 / (1 + exp(-x))} elementwise ({@code torch.nn.Sigmoid}); no parameters. */
public final class Sigmoid extends Module {

    /** A Sigmoid layer. */
    public Sigmoid() {}

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "Sigmoid"}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("Sigmoid");
    }

    /**
     * Applies the function elementwise.
     *
     * @param x a tensor of any shape
     * @return the sigmoid of x, in (0, 1), of x's shape
     */
    @Override
    public Tensor forward(Tensor x) {
        return Activation.sigmoid(x);
    }
}
