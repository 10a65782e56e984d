package dev.gatun.nn;

import dev.gatun.ops.Pool;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * Adaptive average pooling to a fixed output size ({@code torch.nn.AdaptiveAvgPool2d}). Only output size
 * 1 is supported: the mean of each channel, [N, C, H, W] → [N, C, 1, 1], the global average pooling
 * that ends ResNets ({@link Pool#globalAvgPool2d}); no parameters.
 */
public final class AdaptiveAvgPool2d extends Module {

    /**
     * Pooling to {@code outputSize} × {@code outputSize}.
     *
     * @param outputSize the side of the output; must be 1
     * @throws IllegalArgumentException if {@code outputSize} is not 1, naming it
     */
    public AdaptiveAvgPool2d(int outputSize) {
        if (outputSize != 1) {
            throw new IllegalArgumentException("AdaptiveAvgPool2d supports output size 1 (global average pooling)"
                    + " only, got " + outputSize);
        }
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code output_size=1}
     */
    @Override
    protected String extraRepr() {
        return "output_size=1";
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "AdaptiveAvgPool2d", "outputSize": 1}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("AdaptiveAvgPool2d", "outputSize", 1);
    }

    /**
     * Averages each channel.
     *
     * @param x the input [N, C, H, W]
     * @return the channel means [N, C, 1, 1]
     * @throws IllegalArgumentException if x is not 4-d
     */
    @Override
    public Tensor forward(Tensor x) {
        return Pool.globalAvgPool2d(x);
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code AdaptiveAvgPool2d(1)}
     */
    @Override
    public String describe() {
        return "AdaptiveAvgPool2d(1)";
    }
}
