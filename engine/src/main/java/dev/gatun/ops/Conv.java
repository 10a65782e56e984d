package dev.gatun.ops;

import static dev.gatun.ops.BackendTensors.dstOutput;
import static dev.gatun.ops.BackendTensors.input;
import static dev.gatun.ops.BackendTensors.operand;
import static dev.gatun.ops.BackendTensors.srcOutput;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.ActivationLayouts;
import dev.gatun.backend.Convolution;
import dev.gatun.backend.Operand;
import dev.gatun.tensor.LayoutConverter;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * 2-d convolution with {@code torch.nn.functional.conv2d} semantics, on oneDNN: input [N, C, H, W],
 * weight [O, C/groups, KH, KW], optional bias [O], output [N, O, OH, OW] with
 * OH = ⌊(H + 2·padH − dilH·(KH − 1) − 1) / strideH⌋ + 1 (and likewise OW). Padding is zeros, the same
 * on both sides of each dimension; with {@code groups} &gt; 1 the channels are split into that many
 * groups, each convolved with its own O/groups filters (groups = C is a depthwise convolution).
 *
 * <p>Backward: ∂input is oneDNN's backward-data convolution of the output gradient with the weights;
 * ∂weight and ∂bias (Σ of the output gradient over N, OH, OW) come from one backward-weights
 * convolution of the input with the output gradient. Each is computed only when its input requires it.
 *
 * <p>Every shape and hyper-parameter is checked before any native call; a bad one is an
 * {@link IllegalArgumentException} whose message gives the numbers. Outputs are new contiguous tensors in
 * the current {@link Scope}. They may hold their values in the blocked layout oneDNN computed them in,
 * so that a following convolution, pooling or batch normalization reads them with no reorder; the
 * row-major values are converted from it on first access, which callers do not otherwise notice.
 */
public final class Conv {

    private Conv() {}

    /**
     * The convolution with stride 1, no padding, no dilation and one group:
     * {@code F.conv2d(input, weight, bias)}.
     *
     * @param input  the input [N, C, H, W]
     * @param weight the filters [O, C, KH, KW], with KH ≤ H and KW ≤ W
     * @param bias   the bias [O] added to each output channel, or null for none
     * @return the output [N, O, H − KH + 1, W − KW + 1], recording its backward pass when an input
     *         requires a gradient
     * @throws IllegalArgumentException if a shape does not fit (see
     *         {@link #conv2d(Tensor, Tensor, Tensor, int[], int[], int[], int)})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias) {
        return conv2d(input, weight, bias, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 1);
    }

    /**
     * The convolution with the same stride and padding in both spatial dimensions, no dilation and one
     * group: {@code F.conv2d(input, weight, bias, stride=stride, padding=padding)}.
     *
     * @param input   the input [N, C, H, W]
     * @param weight  the filters [O, C, KH, KW]
     * @param bias    the bias [O], or null for none
     * @param stride  the step between windows, in both dimensions (at least 1)
     * @param padding the zeros added on each side, in both dimensions (at least 0)
     * @return the output [N, O, OH, OW], recording its backward pass when an input requires a gradient
     * @throws IllegalArgumentException if a shape or value does not fit (see
     *         {@link #conv2d(Tensor, Tensor, Tensor, int[], int[], int[], int)})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias, int stride, int padding) {
        return conv2d(input, weight, bias, new int[] {stride, stride}, new int[] {padding, padding}, new int[] {1, 1}, 1);
    }

    /**
     * The convolution with the same stride, padding and dilation in both spatial dimensions:
     * {@code F.conv2d(input, weight, bias, stride, padding, dilation, groups)} with integer arguments.
     *
     * @param input    the input [N, C, H, W]
     * @param weight   the filters [O, C/groups, KH, KW]
     * @param bias     the bias [O], or null for none
     * @param stride   the step between windows, in both dimensions (at least 1)
     * @param padding  the zeros added on each side, in both dimensions (at least 0)
     * @param dilation the spacing between kernel taps, in both dimensions (1 = dense)
     * @param groups   the number of channel groups, dividing both C and O
     * @return the output [N, O, OH, OW], recording its backward pass when an input requires a gradient
     * @throws IllegalArgumentException if a shape or value does not fit (see
     *         {@link #conv2d(Tensor, Tensor, Tensor, int[], int[], int[], int)})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias, int stride, int padding, int dilation,
                                int groups) {
        return conv2d(input, weight, bias, new int[] {stride, stride}, new int[] {padding, padding},
                new int[] {dilation, dilation}, groups);
    }

    /**
     * The convolution, {@code F.conv2d(input, weight, bias, stride, padding, dilation, groups)}, with
     * (height, width) pairs, in a new tensor in the current scope. Inputs that are not contiguous are
     * copied first. When recording is on and an input requires a gradient, the backward pass described on
     * this class is recorded, giving ∂input [N, C, H, W], ∂weight [O, C/groups, KH, KW] and ∂bias [O].
     *
     * @param input    the input [N, C, H, W], all sizes at least 1
     * @param weight   the filters [O, C/groups, KH, KW], all sizes at least 1
     * @param bias     the bias [O] added to each output channel, or null for none
     * @param stride   {strideH, strideW}, each at least 1
     * @param padding  {padH, padW}: zeros added above and below, left and right; each at least 0
     * @param dilation {dilH, dilW}: the spacing between kernel taps, each at least 1 (1 = dense)
     * @param groups   the number of channel groups, at least 1 and dividing both C and O
     * @return the output [N, O, OH, OW] (OH and OW as on this class)
     * @throws IllegalArgumentException if stride, padding or dilation is not a pair or is out of range, if
     *         input or weight is not 4-d or has a size below 1, if groups does not divide C and O, if the
     *         weight's C/groups does not match the input, if bias is not [O], or if the dilated kernel
     *         dilH·(KH − 1) + 1 (or the same across) is larger than the padded input
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation,
                                int groups) {
        Convolution.Geometry g = geometry(input, weight, bias, stride, padding, dilation, groups);
        Tensor x = input.contiguous();
        Tensor w = weight.contiguous();
        Tensor b = bias == null ? null : bias.contiguous();
        ActivationLayouts l = Convolution.layouts(Convolution.Kind.FORWARD, g, Convolution.Fusion.NONE);
        Tensor out = dstOutput(g.outputShape(), l);
        try {
            Convolution.forward(g, input(x, l.src()), w.storageForReading(), w.offset(),
                    b == null ? null : b.storageForReading(), b == null ? 0 : b.offset(), operand(out, l.dst()));
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Autograd.record(out, "conv2d", grad -> conv2dBackward(g, x, w, b, grad), x, w, b);
    }

    /**
     * For inference only: {@code f(conv2d(input, weight, bias) [+ residual])} in one oneDNN primitive
     * (its post-ops), {@code f} as {@code fusion} says: {@code NONE} the convolution alone, {@code RELU}
     * {@code relu(conv2d(...))}, {@code ADD_RELU} {@code relu(conv2d(...) + residual)}, the residual
     * connection of a ResNet block. Nothing is recorded, since this op has no backward pass; the layers
     * use it for evaluation (with batch normalization folded into the weights and bias beforehand).
     * {@code weight} may be a tensor from {@link #weightsForInference}, whose blocked copy is then read
     * with no reorder.
     *
     * @param input    the input [N, C, H, W]
     * @param weight   the filters [O, C/groups, KH, KW]
     * @param bias     the bias [O], or null for none
     * @param stride   {strideH, strideW}, as for {@link #conv2d(Tensor, Tensor, Tensor, int[], int[], int[], int)}
     * @param padding  {padH, padW}, as there
     * @param dilation {dilH, dilW}, as there
     * @param groups   the number of channel groups, as there
     * @param fusion   what to apply to the result in the same primitive (the backend's
     *                 {@code Convolution.Fusion}, internal to the engine); not null
     * @param residual with {@code ADD_RELU}, the tensor of the output's shape [N, O, OH, OW] added before
     *                 the ReLU (only read); otherwise null
     * @return the new output [N, O, OH, OW] in the current scope, with no gradient history
     * @throws IllegalArgumentException if {@code fusion} is null, if a residual is missing for
     *         {@code ADD_RELU} or given for another fusion, if the residual's shape is not the output's, or
     *         for any shape or value {@code conv2d} rejects
     * @throws IllegalStateException    if recording is on and an input requires a gradient (call it under
     *         {@link Autograd#noGrad} or with tensors that need none), or if a tensor is closed
     */
    public static Tensor conv2dInference(Tensor input, Tensor weight, Tensor bias, int[] stride, int[] padding,
                                         int[] dilation, int groups, Convolution.Fusion fusion, Tensor residual) {
        if (fusion == null) {
            throw new IllegalArgumentException("conv2d: fusion is null");
        }
        Convolution.Geometry g = geometry(input, weight, bias, stride, padding, dilation, groups);
        if (Autograd.needsGrad(input, weight, bias, residual)) {
            throw new IllegalStateException("conv2dInference has no backward pass: call it under Autograd.noGrad()"
                    + " or on tensors that do not require gradients");
        }
        boolean add = fusion == Convolution.Fusion.ADD_RELU;
        if (add != (residual != null)) {
            throw new IllegalArgumentException("conv2d: fusion " + fusion
                    + (add ? " needs a residual" : " takes no residual"));
        }
        if (add) {
            residual.checkAlive();
            if (!Arrays.equals(residual.shape(), g.outputShape())) {
                throw new IllegalArgumentException("conv2d: residual of shape " + Arrays.toString(residual.shape())
                        + " for an output of shape " + Arrays.toString(g.outputShape()));
            }
        }
        Tensor x = input.contiguous();
        Tensor w = weight.contiguous();
        Tensor b = bias == null ? null : bias.contiguous();
        ActivationLayouts l = Convolution.layouts(Convolution.Kind.INFERENCE, g, fusion);
        Tensor out = dstOutput(g.outputShape(), l);
        try {
            Operand dst = operand(out, l.dst());
            if (add) {
                // The sum post-op adds what dst holds: the residual, in dst's layout.
                Tensor r = residual.contiguous();
                MemorySegment rLaid = l.dst() == null ? null : r.layoutData(l.dst());
                if (dst.laid() == null) {
                    out.copyFrom(r);
                    dst = operand(out, null);
                } else if (rLaid != null) {
                    MemorySegment.copy(rLaid, 0, dst.laid(), 0, l.dstBytes());
                } else {
                    l.dstFromPlain(r.storageForReading().asSlice(r.offset() * Float.BYTES, r.numel() * Float.BYTES),
                            dst.laid());
                }
            }
            Convolution.forwardInference(g, fusion, input(x, l.src()),
                    input(w, Convolution.weightsLayout(g, fusion)), b == null ? null : b.storageForReading(),
                    b == null ? 0 : b.offset(), dst);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * The layout {@link #conv2dInference} reads its weights in for this geometry and fusion, so that a
     * caller can cache weights laid out by {@link #weightsForInference} per layout. The layout depends on
     * the input's shape (oneDNN picks it per shape), not only on the weight's.
     *
     * @param input    the input [N, C, H, W] the weights will be used with (only its shape is read)
     * @param weight   the filters [O, C/groups, KH, KW]
     * @param bias     the bias [O], or null for none
     * @param stride   {strideH, strideW}, as for {@link #conv2d(Tensor, Tensor, Tensor, int[], int[], int[], int)}
     * @param padding  {padH, padW}, as there
     * @param dilation {dilH, dilW}, as there
     * @param groups   the number of channel groups, as there
     * @param fusion   the fusion the inference convolution will run with; not null
     * @return an opaque key for the layout, to be compared with {@code equals}, or null when the primitive
     *         reads the plain row-major [O, C/groups, KH, KW] weights
     * @throws IllegalArgumentException for any shape or value {@code conv2d} rejects
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Object inferenceWeightsLayout(Tensor input, Tensor weight, Tensor bias, int[] stride,
                                                int[] padding, int[] dilation, int groups,
                                                Convolution.Fusion fusion) {
        return Convolution.weightsLayout(geometry(input, weight, bias, stride, padding, dilation, groups), fusion);
    }

    /**
     * {@code weight} converted once into the layout {@link #conv2dInference} reads weights in for this
     * input shape, so that later calls with the result skip that reorder on every pass. The result is a
     * tensor of the weight's shape whose row-major contents equal {@code weight}'s, and which also holds
     * the blocked copy; writing to it row-major drops that copy (until {@link Tensor#refreshLayout}).
     *
     * @param input    the input [N, C, H, W] the weights will be used with (only its shape is read)
     * @param weight   the filters [O, C/groups, KH, KW] to convert (only read)
     * @param bias     the bias [O], or null for none
     * @param stride   {strideH, strideW}, as for {@link #conv2d(Tensor, Tensor, Tensor, int[], int[], int[], int)}
     * @param padding  {padH, padW}, as there
     * @param dilation {dilH, dilW}, as there
     * @param groups   the number of channel groups, as there
     * @param fusion   the fusion the inference convolution will run with; not null
     * @param scope    the scope that owns a newly made tensor, or null for one that owns its memory
     * @param reuse    a tensor from an earlier call, taken (and its contents refreshed from {@code weight})
     *                 instead of making a new one when it is alive, of the weight's shape and made in this
     *                 layout; or null
     * @return the laid-out weights ({@code reuse} or a new tensor), or null when the primitive reads plain
     *         weights and no conversion is needed
     * @throws IllegalArgumentException for any shape or value {@code conv2d} rejects
     * @throws IllegalStateException    if {@code input}, {@code weight} or {@code bias} is closed, or if
     *         {@code scope} is closed
     */
    public static Tensor weightsForInference(Tensor input, Tensor weight, Tensor bias, int[] stride, int[] padding,
                                             int[] dilation, int groups, Convolution.Fusion fusion, Scope scope,
                                             Tensor reuse) {
        Convolution.Geometry g = geometry(input, weight, bias, stride, padding, dilation, groups);
        MemorySegment layout = Convolution.weightsLayout(g, fusion);
        if (layout == null) {
            return null;
        }
        Tensor w = weight.contiguous();
        Tensor laid;
        if (reuse != null && reuse.isAlive() && Arrays.equals(reuse.shape(), w.shape())
                && layout.equals(reuse.madeLayout())) {
            laid = reuse;
        } else {
            laid = Tensor.emptyInLayout(scope, w.shape(), layout, Convolution.weightsLayoutBytes(g, fusion),
                    LayoutConverter.of((from, plain) -> Convolution.convertWeights(g, fusion, plain, from, false),
                            (plain, to) -> Convolution.convertWeights(g, fusion, plain, to, true)));
        }
        laid.copyFrom(w);
        laid.refreshLayout();
        return laid;
    }

    private static Tensor[] conv2dBackward(Convolution.Geometry g, Tensor x, Tensor w, Tensor b, Tensor grad) {
        Tensor gc = grad.contiguous();
        Tensor dx = null;
        Tensor dw = null;
        Tensor db = null;
        if (x.requiresGrad()) {
            dx = conv2dBackwardData(g, gc, w);
        }
        boolean biasGrad = b != null && b.requiresGrad();
        if (w.requiresGrad() || biasGrad) {
            Tensor[] wb = conv2dBackwardWeights(g, x, gc);
            dw = w.requiresGrad() ? wb[0] : null;
            db = biasGrad ? wb[1] : null;
        }
        return new Tensor[] {dx, dw, db};
    }

    /** ∂L/∂input [N, C, H, W] from the output gradient (contiguous) and the weights (contiguous). */
    private static Tensor conv2dBackwardData(Convolution.Geometry g, Tensor grad, Tensor w) {
        ActivationLayouts l = Convolution.layouts(Convolution.Kind.BACKWARD_DATA, g, Convolution.Fusion.NONE);
        Tensor dx = srcOutput(g.inputShape(), l);
        Convolution.backwardData(g, input(grad, l.dst()), w.storageForReading(), w.offset(), operand(dx, l.src()));
        return dx;
    }

    /** {∂L/∂weight, ∂L/∂bias or null} from the forward input and the output gradient (both contiguous). */
    private static Tensor[] conv2dBackwardWeights(Convolution.Geometry g, Tensor x, Tensor grad) {
        ActivationLayouts l = Convolution.layouts(Convolution.Kind.BACKWARD_WEIGHTS, g, Convolution.Fusion.NONE);
        Tensor dw = Tensor.empty(g.weightShape());
        Tensor db = g.bias() ? Tensor.empty(g.outChannels()) : null;
        Convolution.backwardWeights(g, input(x, l.src()), input(grad, l.dst()), dw.storage(), dw.offset(),
                db == null ? null : db.storage(), db == null ? 0 : db.offset());
        return new Tensor[] {dw, db};
    }

    /** Checks the tensors and hyper-parameters and returns the geometry; the messages give the numbers. */
    static Convolution.Geometry geometry(Tensor input, Tensor weight, Tensor bias, int[] stride, int[] padding,
                                         int[] dilation, int groups) {
        input.checkAlive();
        weight.checkAlive();
        if (bias != null) bias.checkAlive();
        pair("stride", stride);
        pair("padding", padding);
        pair("dilation", dilation);
        if (input.dim() != 4) {
            throw new IllegalArgumentException("conv2d: input must be [N, C, H, W], got shape "
                    + Arrays.toString(input.shape()));
        }
        if (weight.dim() != 4) {
            throw new IllegalArgumentException("conv2d: weight must be [O, C/groups, KH, KW], got shape "
                    + Arrays.toString(weight.shape()));
        }
        if (groups < 1) {
            throw new IllegalArgumentException("conv2d: groups must be ≥ 1, got " + groups);
        }
        long c = input.size(1);
        long o = weight.size(0);
        if (c % groups != 0) {
            throw new IllegalArgumentException("conv2d: input channels " + c + " are not divisible by groups " + groups);
        }
        if (o % groups != 0) {
            throw new IllegalArgumentException("conv2d: output channels " + o + " (weight " + Arrays.toString(weight.shape())
                    + ") are not divisible by groups " + groups);
        }
        if (weight.size(1) * groups != c) {
            throw new IllegalArgumentException("conv2d: weight " + Arrays.toString(weight.shape()) + " expects "
                    + weight.size(1) * groups + " input channels (" + weight.size(1) + " per group × " + groups
                    + " groups), input " + Arrays.toString(input.shape()) + " has " + c);
        }
        if (bias != null && (bias.dim() != 1 || bias.size(0) != o)) {
            throw new IllegalArgumentException("conv2d: bias must be [" + o + "], got shape "
                    + Arrays.toString(bias.shape()));
        }
        return new Convolution.Geometry(input.size(0), c, input.size(2), input.size(3), o, weight.size(2),
                weight.size(3), stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1], groups,
                bias != null);
    }

    private static void pair(String name, int[] v) {
        if (v == null || v.length != 2) {
            throw new IllegalArgumentException("conv2d: " + name + " must be a {height, width} pair, got "
                    + Arrays.toString(v));
        }
    }
}
