package dev.gatun.ops;

import static dev.gatun.ops.BackendTensors.dstOutput;
import static dev.gatun.ops.BackendTensors.input;
import static dev.gatun.ops.BackendTensors.operand;
import static dev.gatun.ops.BackendTensors.srcOutput;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.ActivationLayouts;
import dev.gatun.backend.Deconvolution;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;

/**
 * 2-d transposed convolution with {@code torch.nn.functional.conv_transpose2d} semantics, on oneDNN's
 * deconvolution primitives: input [N, C_in, H, W], weight [C_in, C_out/groups, KH, KW] (PyTorch's layout:
 * the input channels first), optional bias [C_out], output [N, C_out, OH, OW] with
 * OH = (H − 1)·strideH − 2·padH + dilH·(KH − 1) + outputPadH + 1 (and likewise OW).
 *
 * <p>It is the gradient of a convolution with respect to its input: each input element scatters its
 * kernel-weighted copy into the output, {@code stride} apart, and {@code padding} then crops that many
 * rows and columns from each side. {@code output_padding} adds rows and columns at the bottom and right
 * (it resolves which of the input sizes a strided convolution maps to the same output size), and must
 * be smaller than the stride or the dilation, as in PyTorch. With {@code groups} &gt; 1 the input
 * channels are split into that many groups, each with its own C_out/groups filters.
 *
 * <p>Backward: ∂input is oneDNN's backward-data deconvolution (a plain convolution of the output
 * gradient with the weights); ∂weight and ∂bias (Σ of the output gradient over N, OH, OW) come from one
 * backward-weights pass. Each is computed only when its input requires it.
 *
 * <p>Every shape and hyper-parameter is checked before any native call; a bad one is an
 * {@link IllegalArgumentException} whose message gives the numbers. Outputs are new contiguous tensors in
 * the current {@link Scope}, possibly holding their values in the blocked layout oneDNN computed them in
 * (converted to row-major on first access), as for {@link Conv}.
 */
public final class ConvTranspose {

    private ConvTranspose() {}

    /**
     * The transposed convolution with stride 1, no padding and one group:
     * {@code F.conv_transpose2d(input, weight, bias)}.
     *
     * @param input  the input [N, C_in, H, W]
     * @param weight the filters [C_in, C_out, KH, KW]
     * @param bias   the bias [C_out], or null for none
     * @return the output [N, C_out, H + KH − 1, W + KW − 1]
     * @throws IllegalArgumentException if a shape does not fit (see
     *         {@link #convTranspose2d(Tensor, Tensor, Tensor, int[], int[], int[], int, int[])})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor convTranspose2d(Tensor input, Tensor weight, Tensor bias) {
        return convTranspose2d(input, weight, bias, new int[] {1, 1}, new int[] {0, 0}, new int[] {0, 0}, 1,
                new int[] {1, 1});
    }

    /**
     * The transposed convolution with the same stride, padding and output padding in both dimensions, no
     * dilation and one group: {@code F.conv_transpose2d(input, weight, bias, stride, padding,
     * output_padding)}.
     *
     * @param input         the input [N, C_in, H, W]
     * @param weight        the filters [C_in, C_out, KH, KW]
     * @param bias          the bias [C_out], or null for none
     * @param stride        the step between the input's positions in the output (at least 1)
     * @param padding       the rows and columns cropped from each side (at least 0)
     * @param outputPadding the rows and columns added at the bottom and right (at least 0, below the stride)
     * @return the output [N, C_out, OH, OW]
     * @throws IllegalArgumentException if a shape or value does not fit (see
     *         {@link #convTranspose2d(Tensor, Tensor, Tensor, int[], int[], int[], int, int[])})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor convTranspose2d(Tensor input, Tensor weight, Tensor bias, int stride, int padding,
                                         int outputPadding) {
        return convTranspose2d(input, weight, bias, new int[] {stride, stride}, new int[] {padding, padding},
                new int[] {outputPadding, outputPadding}, 1, new int[] {1, 1});
    }

    /**
     * The transposed convolution, {@code F.conv_transpose2d(input, weight, bias, stride, padding,
     * output_padding, groups, dilation)} (PyTorch's argument order), with (height, width) pairs, in a new
     * tensor in the current scope. Inputs that are not contiguous are copied first. When recording is on
     * and an input requires a gradient, the backward pass described on this class is recorded, giving
     * ∂input [N, C_in, H, W], ∂weight [C_in, C_out/groups, KH, KW] and ∂bias [C_out].
     *
     * @param input         the input [N, C_in, H, W], all sizes at least 1
     * @param weight        the filters [C_in, C_out/groups, KH, KW], all sizes at least 1
     * @param bias          the bias [C_out] added to each output channel, or null for none
     * @param stride        {strideH, strideW}, each at least 1
     * @param padding       {padH, padW}: rows and columns cropped from each side; each at least 0
     * @param outputPadding {outPadH, outPadW}: rows and columns added at the bottom and right; each at least
     *                      0 and smaller than the stride or the dilation of its dimension
     * @param groups        the number of channel groups, at least 1 and dividing C_in
     * @param dilation      {dilH, dilW}: the spacing between kernel taps, each at least 1 (1 = dense)
     * @return the output [N, C_out, OH, OW] (OH and OW as on this class)
     * @throws IllegalArgumentException if a pair is missing or not of length 2 or out of range, if input or
     *         weight is not 4-d or has a size below 1, if the weight's first dimension is not the input's
     *         channels, if groups does not divide them, if bias is not [C_out], or if the output size is not
     *         positive
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor convTranspose2d(Tensor input, Tensor weight, Tensor bias, int[] stride, int[] padding,
                                         int[] outputPadding, int groups, int[] dilation) {
        Deconvolution.Geometry g = geometry(input, weight, bias, stride, padding, outputPadding, groups, dilation);
        Tensor x = input.contiguous();
        Tensor w = weight.contiguous();
        Tensor b = bias == null ? null : bias.contiguous();
        ActivationLayouts l = Deconvolution.layouts(Deconvolution.Kind.FORWARD, g);
        Tensor out = dstOutput(g.outputShape(), l);
        try {
            Deconvolution.forward(g, input(x, l.src()), w.storageForReading(), w.offset(),
                    b == null ? null : b.storageForReading(), b == null ? 0 : b.offset(), operand(out, l.dst()));
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Autograd.record(out, "convTranspose2d", grad -> backward(g, x, w, b, grad), x, w, b);
    }

    private static Tensor[] backward(Deconvolution.Geometry g, Tensor x, Tensor w, Tensor b, Tensor grad) {
        Tensor gc = grad.contiguous();
        Tensor dx = null;
        Tensor dw = null;
        Tensor db = null;
        if (x.requiresGrad()) {
            ActivationLayouts l = Deconvolution.layouts(Deconvolution.Kind.BACKWARD_DATA, g);
            dx = srcOutput(g.inputShape(), l);
            Deconvolution.backwardData(g, input(gc, l.dst()), w.storageForReading(), w.offset(), operand(dx, l.src()));
        }
        boolean biasGrad = b != null && b.requiresGrad();
        if (w.requiresGrad() || biasGrad) {
            ActivationLayouts l = Deconvolution.layouts(Deconvolution.Kind.BACKWARD_WEIGHTS, g);
            Tensor weights = Tensor.empty(g.weightShape());
            Tensor biases = g.bias() ? Tensor.empty(g.outChannels()) : null;
            Deconvolution.backwardWeights(g, input(x, l.src()), input(gc, l.dst()), weights.storage(),
                    weights.offset(), biases == null ? null : biases.storage(), biases == null ? 0 : biases.offset());
            dw = w.requiresGrad() ? weights : null;
            db = biasGrad ? biases : null;
        }
        return new Tensor[] {dx, dw, db};
    }

    /**
     * Checks the tensors and hyper-parameters and returns the geometry; the messages give the numbers.
     * Package-private for the layer, which checks its own settings the same way.
     */
    static Deconvolution.Geometry geometry(Tensor input, Tensor weight, Tensor bias, int[] stride, int[] padding,
                                           int[] outputPadding, int groups, int[] dilation) {
        input.checkAlive();
        weight.checkAlive();
        if (bias != null) bias.checkAlive();
        pair("stride", stride);
        pair("padding", padding);
        pair("output_padding", outputPadding);
        pair("dilation", dilation);
        if (input.dim() != 4) {
            throw new IllegalArgumentException("conv_transpose2d: input must be [N, C_in, H, W], got shape "
                    + Arrays.toString(input.shape()));
        }
        if (weight.dim() != 4) {
            throw new IllegalArgumentException("conv_transpose2d: weight must be [C_in, C_out/groups, KH, KW], got"
                    + " shape " + Arrays.toString(weight.shape()));
        }
        if (groups < 1) {
            throw new IllegalArgumentException("conv_transpose2d: groups must be ≥ 1, got " + groups);
        }
        long c = input.size(1);
        if (weight.size(0) != c) {
            throw new IllegalArgumentException("conv_transpose2d: weight " + Arrays.toString(weight.shape())
                    + " expects " + weight.size(0) + " input channels, input " + Arrays.toString(input.shape())
                    + " has " + c);
        }
        if (c % groups != 0) {
            throw new IllegalArgumentException("conv_transpose2d: input channels " + c
                    + " are not divisible by groups " + groups);
        }
        long o;
        try {
            o = Math.multiplyExact(weight.size(1), (long) groups);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("conv_transpose2d: weight " + Arrays.toString(weight.shape())
                    + " with groups " + groups + " makes more output channels than a long counts");
        }
        if (bias != null && (bias.dim() != 1 || bias.size(0) != o)) {
            throw new IllegalArgumentException("conv_transpose2d: bias must be [" + o + "], got shape "
                    + Arrays.toString(bias.shape()));
        }
        return new Deconvolution.Geometry(input.size(0), c, input.size(2), input.size(3), o, weight.size(2),
                weight.size(3), stride[0], stride[1], padding[0], padding[1], outputPadding[0], outputPadding[1],
                dilation[0], dilation[1], groups, bias != null);
    }

    private static void pair(String name, int[] v) {
        if (v == null || v.length != 2) {
            throw new IllegalArgumentException("conv_transpose2d: " + name + " must be a {height, width} pair, got "
                    + Arrays.toString(v));
        }
    }
}
