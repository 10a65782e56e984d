package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/** The rectified linear unit, {@code max(0, x)} elementwise ({@code torch.nn.ReLU}); no parameters. */
public final class ReLU extends Module {

    /** A ReLU layer. */
    public ReLU() {}

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "ReLU"}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("ReLU");
    }

    /**
     * Applies the ReLU.
     *
     * @param x a tensor of any shape
     * @return {@code max(0, x)}, of x's shape
     */
    @Override
    public Tensor forward(Tensor x) {
        return Activation.relu(x);
    }
}
