package dev.gatun.ops;

import static dev.gatun.ops.BackendTensors.dstOutput;
import static dev.gatun.ops.BackendTensors.input;
import static dev.gatun.ops.BackendTensors.operand;
import static dev.gatun.ops.BackendTensors.srcOutput;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.ActivationLayouts;
import dev.gatun.backend.Pooling;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;

/**
 * 2-d pooling over [N, C, H, W] tensors, forward and backward, with PyTorch's semantics
 * ({@code F.max_pool2d}, {@code F.avg_pool2d}, floor mode): each channel of each sample is pooled on
 * its own, the output is [N, C, OH, OW] with OH = ⌊(H + 2·padH − dilH·(KH − 1) − 1) / strideH⌋ + 1 (and
 * likewise OW), and padding is at most half the kernel.
 *
 * <p>Max pooling (gatun's kernel) takes each window's maximum over its positions inside the input
 * (padding never wins). Backward sends each output's gradient to the input that won, the first of equal
 * values (the forward pass keeps the argmax in a workspace when a gradient will be needed), accumulating
 * where windows overlap; a window with a NaN gives NaN, and its last NaN takes the gradient, as in
 * PyTorch. Average pooling (oneDNN) takes each window's mean and
 * spreads the gradient evenly over the window, dividing by the whole window (padding included, PyTorch's
 * default) or by its positions inside the input.
 *
 * <p>Geometries are checked before anything native runs: PyTorch's rules (kernel, stride and dilation
 * at least 1, dilation 1 for average pooling, padding between 0 and half the kernel, the dilated kernel
 * no larger than the padded input), plus padding no larger than the input and sizes within 32 bits
 * (each side of the padded input plus the stride, and KH·KW, at most 2^31 − 1), so that no window is huge
 * next to its input; each bad value is an {@link IllegalArgumentException} naming it. Outputs are new
 * tensors in the current scope, possibly also held in oneDNN's channel-blocked layout (as after a
 * convolution), which callers do not otherwise notice.
 */
public final class Pool {

    private Pool() {}

    /**
     * Max pooling with a square kernel, stride equal to the kernel, no padding and no dilation:
     * {@code nn.MaxPool2d(kernel)}, {@code F.max_pool2d(x, kernel)}.
     *
     * @param x      the input [N, C, H, W]
     * @param kernel the window's side, at least 1 and at most H and W
     * @return the maxima [N, C, ⌊H / kernel⌋, ⌊W / kernel⌋], recording its backward pass when {@code x}
     *         requires a gradient
     * @throws IllegalArgumentException if {@code x} is not 4-d or the kernel does not fit (see
     *         {@link #maxPool2d(Tensor, int[], int[], int[], int[])})
     * @throws IllegalStateException    if {@code x} is closed
     */
    public static Tensor maxPool2d(Tensor x, int kernel) {
        return maxPool2d(x, new int[] {kernel, kernel}, new int[] {kernel, kernel}, new int[] {0, 0}, new int[] {1, 1});
    }

    /**
     * Max pooling, {@code F.max_pool2d(x, kernel, stride, padding, dilation)} (floor mode), with
     * (height, width) pairs. Padded positions are skipped, as if they held −∞.
     *
     * @param x        the input [N, C, H, W], all sizes at least 1
     * @param kernel   {KH, KW}, each at least 1
     * @param stride   {strideH, strideW}, each at least 1
     * @param padding  {padH, padW}, each between 0 and half the kernel's side, and at most the input's
     * @param dilation {dilH, dilW}: the spacing between window taps, each at least 1 (1 = dense)
     * @return the maxima [N, C, OH, OW], recording its backward pass when {@code x} requires a gradient
     * @throws IllegalArgumentException if {@code x} is not 4-d, if a pair does not have two values, or for
     *         a geometry the rules on this class reject, naming the value
     * @throws IllegalStateException    if {@code x} is closed
     */
    public static Tensor maxPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation) {
        return pool(Pooling.Kind.MAX, x, kernel, stride, padding, dilation, "maxPool2d", false);
    }

    /**
     * {@code maxPool2d(relu(x))}, the same values and gradients, in one pass: the window maxima start at 0
     * (relu(max(x)) = max(relu(x))), and a window with nothing above 0 passes no gradient back, as the
     * ReLU would not. A NaN wins its window, as relu(NaN) = NaN would in PyTorch, and takes its gradient.
     * The layers use it for a ReLU followed by a max pooling.
     *
     * @param x        the input [N, C, H, W], before the ReLU
     * @param kernel   {KH, KW}, as for {@link #maxPool2d(Tensor, int[], int[], int[], int[])}
     * @param stride   {strideH, strideW}, as there
     * @param padding  {padH, padW}, as there
     * @param dilation {dilH, dilW}, as there
     * @return the maxima of relu(x) [N, C, OH, OW], recording one backward node when {@code x} requires a
     *         gradient
     * @throws IllegalArgumentException as {@link #maxPool2d(Tensor, int[], int[], int[], int[])}
     * @throws IllegalStateException    if {@code x} is closed
     */
    public static Tensor maxPool2dAfterRelu(Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation) {
        return pool(Pooling.Kind.MAX, x, kernel, stride, padding, dilation, "maxPool2dAfterRelu", true);
    }

    /**
     * Average pooling with a square kernel, stride equal to the kernel and no padding:
     * {@code nn.AvgPool2d(kernel)}, {@code F.avg_pool2d(x, kernel)}.
     *
     * @param x      the input [N, C, H, W]
     * @param kernel the window's side, at least 1 and at most H and W
     * @return the means [N, C, ⌊H / kernel⌋, ⌊W / kernel⌋], recording its backward pass when {@code x}
     *         requires a gradient
     * @throws IllegalArgumentException if {@code x} is not 4-d or the kernel does not fit (see
     *         {@link #avgPool2d(Tensor, int[], int[], int[], boolean)})
     * @throws IllegalStateException    if {@code x} is closed
     */
    public static Tensor avgPool2d(Tensor x, int kernel) {
        return avgPool2d(x, new int[] {kernel, kernel}, new int[] {kernel, kernel}, new int[] {0, 0}, true);
    }

    /**
     * Average pooling, {@code F.avg_pool2d(x, kernel, stride, padding, count_include_pad=countIncludePad)}
     * (floor mode, no dilation), with (height, width) pairs. Padded positions hold zeros.
     *
     * @param x               the input [N, C, H, W], all sizes at least 1
     * @param kernel          {KH, KW}, each at least 1
     * @param stride          {strideH, strideW}, each at least 1
     * @param padding         {padH, padW}, each between 0 and half the kernel's side, and at most the
     *                        input's
     * @param countIncludePad true to divide every window's sum by KH·KW, padding included (PyTorch's
     *                        default); false to divide by the number of its positions inside the input
     * @return the means [N, C, OH, OW], recording its backward pass when {@code x} requires a gradient
     * @throws IllegalArgumentException if {@code x} is not 4-d, if a pair does not have two values, or for
     *         a geometry the rules on this class reject, naming the value
     * @throws IllegalStateException    if {@code x} is closed
     */
    public static Tensor avgPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, boolean countIncludePad) {
        return pool(countIncludePad ? Pooling.Kind.AVG_INCLUDE_PADDING : Pooling.Kind.AVG_EXCLUDE_PADDING, x, kernel,
                stride, padding, new int[] {1, 1}, "avgPool2d", false);
    }

    /**
     * The mean over each channel's H×W plane, {@code nn.AdaptiveAvgPool2d(1)} or
     * {@code x.mean((2, 3), keepdim=True)}: [N, C, H, W] → [N, C, 1, 1]. The gradient is g/(H·W) at every
     * position of the plane.
     *
     * @param x the input [N, C, H, W]
     * @return the means [N, C, 1, 1], recording its backward pass when {@code x} requires a gradient
     * @throws IllegalArgumentException if {@code x} is not 4-d
     * @throws IllegalStateException    if {@code x} is closed
     */
    public static Tensor globalAvgPool2d(Tensor x) {
        requireNchw(x, "globalAvgPool2d");
        long h = x.size(2), w = x.size(3);
        // One window over the plane, with the stride its size, must fit Pooling.Config's 32-bit ranges:
        // at most 2^31 − 1 positions, and input plus stride (2·h, 2·w) at most 2^31 − 1.
        boolean oneWindow = h * w <= Integer.MAX_VALUE && h <= Integer.MAX_VALUE / 2 && w <= Integer.MAX_VALUE / 2;
        if (x.layout() != null && oneWindow) {
            // Held in oneDNN's blocked layout (after a convolution, batch norm or ReLU): one average
            // pooling over the whole plane reads it there, with no conversion of the full tensor.
            return avgPool2d(x, new int[] {(int) h, (int) w}, new int[] {(int) h, (int) w}, new int[] {0, 0}, true);
        }
        return Reduce.mean(x, new int[] {2, 3}, true);
    }

    private static void requireNchw(Tensor x, String op) {
        x.checkAlive();
        if (x.dim() != 4) {
            throw new IllegalArgumentException(op + " expects [N, C, H, W], got " + Arrays.toString(x.shape()));
        }
    }

    private static int[] pair(int[] v, String name, String op) {
        if (v == null || v.length != 2) {
            throw new IllegalArgumentException(op + ": " + name + " needs 2 values (height, width), got "
                    + Arrays.toString(v));
        }
        return v;
    }

    /** The pooling op; with {@code relu} (max pooling) of relu(x). */
    private static Tensor pool(Pooling.Kind kind, Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation,
                               String op, boolean relu) {
        requireNchw(x, op);
        pair(kernel, "kernel", op);
        pair(stride, "stride", op);
        pair(padding, "padding", op);
        pair(dilation, "dilation", op);
        long[] s = x.shape();
        Pooling.Config config = new Pooling.Config(kind, s[0], s[1], s[2], s[3], kernel[0], kernel[1], stride[0],
                stride[1], padding[0], padding[1], dilation[0], dilation[1]);
        boolean training = Autograd.needsGrad(x);
        Tensor in = x.contiguous();
        // Held channels-last (a convolution's output at a small batch, or one that trains channels-last):
        // pooled there, and the result left there for the next layer, instead of two reorders on each side;
        // in training for max pooling, whose gradient is computed there too.
        ActivationLayouts cl = Pooling.channelsLastLayouts(config);
        if (BackendTensors.keepLayouts && (!training || kind == Pooling.Kind.MAX)
                && in.layoutData(cl.src()) != null) {
            Tensor out = dstOutput(new long[] {s[0], s[1], config.outH(), config.outW()}, cl);
            if (!training) {
                Pooling.forwardChannelsLast(config, relu, input(in, cl.src()), operand(out, cl.dst()));
                return out;
            }
            Tensor positions = Tensor.empty((Pooling.channelsLastWorkspaceBytes(config) + Float.BYTES - 1)
                    / Float.BYTES);
            Pooling.forwardChannelsLast(config, relu, input(in, cl.src()), operand(out, cl.dst()),
                    positions.storage());
            return Autograd.record(out, op, g -> {
                Tensor dx = srcOutput(s, cl);
                Pooling.backwardChannelsLast(config, input(g.contiguous(), cl.dst()), operand(dx, cl.src()),
                        positions.storage());
                return new Tensor[] {dx};
            }, x);
        }
        // Pooling computes channel-blocked: input and output stay in that layout when they come and go
        // that way (from and to convolutions), with no reorder in between.
        ActivationLayouts l = Pooling.layouts(config);
        long[] outShape = {s[0], s[1], config.outH(), config.outW()};
        Tensor out = dstOutput(outShape, l);
        Tensor workspace = null;
        if (training && kind == Pooling.Kind.MAX) {
            // The argmax positions, kept for backward: raw bytes carried in a float tensor's storage.
            workspace = Tensor.empty((Pooling.workspaceBytes(config) + Float.BYTES - 1) / Float.BYTES);
        }
        if (relu) {
            Pooling.forwardMaxAfterRelu(config, input(in, l.src()), operand(out, l.dst()),
                    workspace == null ? null : workspace.storage());
        } else {
            Pooling.forward(config, training, input(in, l.src()), operand(out, l.dst()),
                    workspace == null ? null : workspace.storage());
        }
        Tensor saved = workspace;
        return Autograd.record(out, op, g -> {
            Tensor gc = g.contiguous();
            Tensor dx = srcOutput(s, l);
            Pooling.backward(config, input(gc, l.dst()), operand(dx, l.src()),
                    saved == null ? null : saved.storage());
            return new Tensor[] {dx};
        }, x);
    }
}
