package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Convolution;
import dev.gatun.ops.Conv;
import dev.gatun.tensor.Tensor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Evaluation-mode fusion of a convolution with the batch norm after it, and with a following ReLU or
 * residual addition, as inference engines do: batch norm with running statistics is an affine map per
 * channel, y = (z − μ)·γ/√(σ² + ε) + β, so it folds into the convolution's weights and bias
 * (w' = w·s, b' = (b − μ)·s + β with s = γ/√(σ² + ε)), and oneDNN applies the ReLU, or the addition and
 * the ReLU, to the result inside the convolution primitive. One primitive replaces three or four
 * passes over the activations. A convolution followed directly by a ReLU fuses the same way. Used only when nothing is recorded and every module involved is in
 * evaluation mode; results agree with the unfused layers to float rounding.
 */
final class ConvBnFusion {

    private ConvBnFusion() {}

    /** How many fused passes have run in this process (tests check that the fused path was taken). */
    private static final AtomicLong PASSES = new AtomicLong();

    static long passes() {
        return PASSES.get();
    }

    /** Whether the fused path may replace these modules' forward passes now; bn may be null (none). */
    static boolean applies(Conv2d conv, BatchNorm bn) {
        return !Autograd.isRecording() && !conv.isTraining() && (bn == null || !bn.isTraining() && bn.isSpatial());
    }

    /**
     * f(bn(conv(x)) [+ residual]) with f and the residual as {@code fusion} says; without a batch norm
     * (null), f(conv(x) [+ residual]).
     */
    static Tensor forward(Tensor x, Conv2d conv, BatchNorm bn, Convolution.Fusion fusion, Tensor residual) {
        PASSES.incrementAndGet();
        if (bn == null) {
            return Conv.conv2dInference(x, conv.weight(), conv.bias(), conv.stride(), conv.padding(), conv.dilation(),
                    conv.groups(), fusion, residual);
        }
        float[][] affine = bn.evaluationAffine();
        float[] scale = affine[0];
        float[] shift = affine[1];
        Tensor weight = conv.weight();
        long out = weight.size(0);
        if (scale.length != out) {
            throw new IllegalArgumentException(bn.describe() + " normalises " + scale.length + " channels, "
                    + conv.describe() + " produces " + out);
        }
        float[] w = weight.toArray();
        int perChannel = (int) (w.length / out);
        for (int o = 0; o < out; o++) {
            float s = scale[o];
            for (int i = o * perChannel, end = i + perChannel; i < end; i++) {
                w[i] *= s;
            }
        }
        float[] b = conv.bias() == null ? new float[(int) out] : conv.bias().toArray();
        for (int o = 0; o < out; o++) {
            b[o] = b[o] * scale[o] + shift[o];
        }
        Tensor folded = Tensor.fromArray(w, weight.shape());
        Tensor foldedBias = Tensor.fromArray(b, out);
        return Conv.conv2dInference(x, folded, foldedBias, conv.stride(), conv.padding(), conv.dilation(),
                conv.groups(), fusion, residual);
    }
}
