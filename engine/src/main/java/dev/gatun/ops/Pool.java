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
 * 2-d pooling over NCHW tensors, forward and backward, with PyTorch's semantics: output size
 * ⌊(in + 2·pad − dilation·(k − 1) − 1)/stride⌋ + 1, padding at most half the kernel. Max pooling (gatun's
 * kernel) sends each output's gradient to the input that won (the forward pass keeps the argmax in a
 * workspace); a window with a NaN gives NaN, and its last NaN takes the gradient, as in PyTorch. Average
 * pooling (oneDNN) spreads the gradient evenly over the window (counting padding by default, as PyTorch
 * does).
 *
 * <p>Geometries are checked before anything native runs ({@link Pooling.Config}): PyTorch's rules, plus
 * padding no larger than the input and sizes within 32 bits, so that no window is huge next to its
 * input; each bad value is an {@link IllegalArgumentException} naming it.
 */
public final class Pool {

    private Pool() {}

    /** Max pooling with stride = kernel, no padding, no dilation ({@code nn.MaxPool2d(k)}). */
    public static Tensor maxPool2d(Tensor x, int kernel) {
        return maxPool2d(x, new int[] {kernel, kernel}, new int[] {kernel, kernel}, new int[] {0, 0}, new int[] {1, 1});
    }

    /**
     * Max pooling ({@code F.max_pool2d}, floor mode) with (height, width) pairs.
     *
     * @throws IllegalArgumentException for a geometry {@link Pooling.Config} rejects, naming the value
     */
    public static Tensor maxPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation) {
        return pool(Pooling.Kind.MAX, x, kernel, stride, padding, dilation, "maxPool2d", false);
    }

    /**
     * {@code maxPool2d(relu(x))}, the same values and gradients, in one pass: the window maxima start at 0
     * (relu(max(x)) = max(relu(x))), and a window with nothing above 0 passes no gradient back, as the
     * ReLU would not. A NaN wins its window, as relu(NaN) = NaN would in PyTorch, and takes its gradient.
     */
    public static Tensor maxPool2dAfterRelu(Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation) {
        return pool(Pooling.Kind.MAX, x, kernel, stride, padding, dilation, "maxPool2dAfterRelu", true);
    }

    /** Average pooling with stride = kernel, no padding ({@code nn.AvgPool2d(k)}). */
    public static Tensor avgPool2d(Tensor x, int kernel) {
        return avgPool2d(x, new int[] {kernel, kernel}, new int[] {kernel, kernel}, new int[] {0, 0}, true);
    }

    /**
     * Average pooling ({@code F.avg_pool2d}, floor mode) with (height, width) pairs, dividing by the whole
     * window with {@code countIncludePad}, else by its positions inside the input.
     *
     * @throws IllegalArgumentException for a geometry {@link Pooling.Config} rejects, naming the value
     */
    public static Tensor avgPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, boolean countIncludePad) {
        return pool(countIncludePad ? Pooling.Kind.AVG_INCLUDE_PADDING : Pooling.Kind.AVG_EXCLUDE_PADDING, x, kernel,
                stride, padding, new int[] {1, 1}, "avgPool2d", false);
    }

    /** The mean over each channel's H×W plane: [N, C, H, W] → [N, C, 1, 1]. */
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
