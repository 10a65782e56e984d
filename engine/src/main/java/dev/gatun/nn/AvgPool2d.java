package dev.gatun.nn;

import dev.gatun.backend.Pooling;
import dev.gatun.ops.Pool;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * Average pooling over [N, C, H, W] ({@code torch.nn.AvgPool2d}): the mean of each window, square
 * windows with the same stride and padding in both dimensions; no parameters. The window is checked
 * when the layer is built (sizes positive, padding at most half the kernel, a kernel of fewer than 2^31
 * positions) and against the input when it runs.
 */
public final class AvgPool2d extends Module {

    private final int[] kernel;
    private final int[] stride;
    private final int[] padding;
    private final boolean countIncludePad;

    /**
     * A square window of side {@code kernel} with stride {@code kernel}, no padding.
     *
     * @param kernel the window side
     * @throws IllegalArgumentException if {@code kernel} is below 1, naming it
     */
    public AvgPool2d(int kernel) {
        this(kernel, kernel, 0, true);
    }

    /**
     * A square window with every setting.
     *
     * @param kernel          the window side
     * @param stride          the step between windows
     * @param padding         the implicit zero padding on each side
     * @param countIncludePad whether padded positions count in the divisor (PyTorch's default, true)
     * @throws IllegalArgumentException if a size is below 1 (padding below 0), the padding exceeds half
     *     the kernel or the window is too large, naming the value
     */
    public AvgPool2d(int kernel, int stride, int padding, boolean countIncludePad) {
        Pooling.Config.check(countIncludePad ? Pooling.Kind.AVG_INCLUDE_PADDING : Pooling.Kind.AVG_EXCLUDE_PADDING,
                kernel, kernel, stride, stride, padding, padding, 1, 1);
        this.kernel = new int[] {kernel, kernel};
        this.stride = new int[] {stride, stride};
        this.padding = new int[] {padding, padding};
        this.countIncludePad = countIncludePad;
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code kernel_size=2, stride=2, padding=0}; {@code count_include_pad=false} when so
     */
    @Override
    protected String extraRepr() {
        return "kernel_size=" + kernel[0] + ", stride=" + stride[0] + ", padding=" + padding[0]
                + (countIncludePad ? "" : ", count_include_pad=false");
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "AvgPool2d", "kernel", "stride", "padding", "countIncludePad"}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("AvgPool2d", "kernel", kernel[0], "stride", stride[0], "padding", padding[0],
                "countIncludePad", countIncludePad);
    }

    /** The window: kernel, stride and padding (height, width), and whether padding counts in the average. */
    int[] kernel() {
        return kernel.clone();
    }

    int[] stride() {
        return stride.clone();
    }

    int[] padding() {
        return padding.clone();
    }

    boolean countIncludePad() {
        return countIncludePad;
    }

    /**
     * Pools the input.
     *
     * @param x the input [N, C, H, W]
     * @return the window means [N, C, H', W']
     * @throws IllegalArgumentException if x is not 4-d or the window does not fit it
     */
    @Override
    public Tensor forward(Tensor x) {
        return Pool.avgPool2d(x, kernel, stride, padding, countIncludePad);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code AvgPool2d(2×2)}; settings at their defaults are left out
     */
    @Override
    public String describe() {
        return "AvgPool2d(" + kernel[0] + "×" + kernel[1] + (stride[0] != kernel[0] ? ", stride " + stride[0] : "")
                + (padding[0] != 0 ? ", padding " + padding[0] : "") + ")";
    }
}
