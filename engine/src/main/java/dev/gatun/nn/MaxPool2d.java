package dev.gatun.nn;

import dev.gatun.backend.Pooling;
import dev.gatun.ops.Pool;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * Max pooling over [N, C, H, W] ({@code torch.nn.MaxPool2d}): the largest value of each window, square
 * windows with the same stride, padding and dilation in both dimensions; no parameters. The window is
 * checked when the layer is built (sizes positive, padding at most half the kernel, a kernel of fewer
 * than 2^31 positions) and against the input when it runs.
 */
public final class MaxPool2d extends Module {

    private final int[] kernel;
    private final int[] stride;
    private final int[] padding;
    private final int[] dilation;

    /**
     * A square window of side {@code kernel} with stride {@code kernel}, no padding, dilation 1.
     *
     * @param kernel the window side
     * @throws IllegalArgumentException if {@code kernel} is below 1, naming it
     */
    public MaxPool2d(int kernel) {
        this(kernel, kernel, 0, 1);
    }

    /**
     * A square window with every setting.
     *
     * @param kernel   the window side
     * @param stride   the step between windows
     * @param padding  the implicit padding (of −∞) on each side
     * @param dilation the spacing between window positions (1: dense)
     * @throws IllegalArgumentException if a size is below 1 (padding below 0), the padding exceeds half
     *     the kernel or the window is too large, naming the value
     */
    public MaxPool2d(int kernel, int stride, int padding, int dilation) {
        Pooling.Config.check(Pooling.Kind.MAX, kernel, kernel, stride, stride, padding, padding, dilation,
                dilation);
        this.kernel = new int[] {kernel, kernel};
        this.stride = new int[] {stride, stride};
        this.padding = new int[] {padding, padding};
        this.dilation = new int[] {dilation, dilation};
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code kernel_size=2, stride=2, padding=0, dilation=1}
     */
    @Override
    protected String extraRepr() {
        return "kernel_size=" + kernel[0] + ", stride=" + stride[0] + ", padding=" + padding[0] + ", dilation="
                + dilation[0];
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "MaxPool2d", "kernel", "stride", "padding", "dilation"}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("MaxPool2d", "kernel", kernel[0], "stride", stride[0], "padding", padding[0], "dilation",
                dilation[0]);
    }

    /** The window: kernel, stride, padding and dilation (height, width). */
    int[] window() {
        return new int[] {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0],
            dilation[1]};
    }

    /**
     * Pools the input.
     *
     * @param x the input [N, C, H, W]
     * @return the maxima [N, C, H', W']
     * @throws IllegalArgumentException if x is not 4-d or the window does not fit it
     */
    @Override
    public Tensor forward(Tensor x) {
        return Pool.maxPool2d(x, kernel, stride, padding, dilation);
    }

    /** This pooling of relu(x), as one op ({@link Pool#maxPool2dAfterRelu}). */
    Tensor forwardAfterRelu(Tensor x) {
        return Pool.maxPool2dAfterRelu(x, kernel, stride, padding, dilation);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code MaxPool2d(2×2)}; settings at their defaults are left out
     */
    @Override
    public String describe() {
        return "MaxPool2d(" + kernel[0] + "×" + kernel[1] + (stride[0] != kernel[0] ? ", stride " + stride[0] : "")
                + (padding[0] != 0 ? ", padding " + padding[0] : "") + ")";
    }
}
