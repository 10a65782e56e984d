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
 * OH = ⌊(H + 2·padH − dilH·(KH − 1) − 1) / strideH⌋ + 1 (and likewise OW).
 *
 * <p>Backward: ∂input is oneDNN's backward-data convolution of the output gradient with the weights;
 * ∂weight and ∂bias (Σ of the output gradient over N, OH, OW) come from one backward-weights
 * convolution of the input with the output gradient. Each is computed only when its input requires it.
 */
public final class Conv {

    private Conv() {}

    /** Stride 1, no padding, dense, one group. */
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias) {
        return conv2d(input, weight, bias, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 1);
    }

    /** The same stride and padding in both spatial dimensions, dense, one group. */
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias, int stride, int padding) {
        return conv2d(input, weight, bias, new int[] {stride, stride}, new int[] {padding, padding}, new int[] {1, 1}, 1);
    }

    /** The same stride, padding and dilation in both spatial dimensions. */
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor bias, int stride, int padding, int dilation,
                                int groups) {
        return conv2d(input, weight, bias, new int[] {stride, stride}, new int[] {padding, padding},
                new int[] {dilation, dilation}, groups);
    }

    /**
     * The convolution in a new contiguous tensor in the current scope. stride, padding and dilation are
     * {height, width} pairs (dilation 1 = dense); bias may be null. Inputs that are not contiguous are
     * copied first. Every shape and hyper-parameter is checked here, before any native call.
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
     * For inference only: {@code f(conv2d(input, weight, bias) [+ residual])} in one oneDNN primitive,
     * f being nothing, a ReLU, or (with a residual of the output's shape) adding the residual and then a
     * ReLU, as {@code fusion} says. Nothing is recorded; inputs that would need a gradient are refused,
     * since this op has no backward.
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
     * The layout {@link #conv2dInference} reads its weights in for this input shape (compared with
     * {@code equals}), or null when it reads them plain.
     */
    public static Object inferenceWeightsLayout(Tensor input, Tensor weight, Tensor bias, int[] stride,
                                                int[] padding, int[] dilation, int groups,
                                                Convolution.Fusion fusion) {
        return Convolution.weightsLayout(geometry(input, weight, bias, stride, padding, dilation, groups), fusion);
    }

    /**
     * A tensor in {@code scope} holding {@code weight} in the layout {@link #conv2dInference} reads weights
     * in for this input shape, so that calls with it skip the weights' reorder; {@code reuse} (may be
     * null) is taken instead when it already has that layout, its contents refreshed. Null when that
     * primitive reads plain weights.
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
