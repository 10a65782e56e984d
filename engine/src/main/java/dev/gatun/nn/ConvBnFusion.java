package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Convolution;
import dev.gatun.ops.Conv;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Evaluation-mode fusion of a convolution with the batch norm after it, and with a following ReLU or
 * residual addition, as inference engines do: batch norm with running statistics is an affine map per
 * channel, y = (z − μ)·γ/√(σ² + ε) + β, so it folds into the convolution's weights and bias
 * (w' = w·s, b' = (b − μ)·s + β with s = γ/√(σ² + ε)), and oneDNN applies the ReLU, or the addition and
 * the ReLU, to the result inside the convolution primitive. One primitive replaces three or four
 * passes over the activations. A convolution followed directly by a ReLU fuses the same way, its own
 * weights kept in the primitive's layout under the same guard as folded ones (a reorder of LeNet-5's
 * 20 → 50 weights took 14-16 µs per call at batch 1, more than comparing them with their copy). Used
 * only when nothing is recorded and every module involved is in evaluation mode; results agree with
 * the unfused layers to float rounding.
 */
final class ConvBnFusion {

    private ConvBnFusion() {}

    /**
     * A convolution's weights and bias with a batch norm folded in (none without a batch norm: the
     * layer's own are used), kept in the layer's own scope, with a copy of every value they were computed
     * from: the fold and the laid-out weights are recomputed only when one of those values has changed
     * (compared byte for byte), so a model serving requests folds once.
     */
    static final class Folded {
        final BatchNorm bn;
        final Tensor weight;
        final Tensor bias;
        /** The sources' values at the last fold, one after another: weight, bias (if any), bn state. */
        final Tensor snapshot;
        /**
         * The folded weights in the layouts inference primitives read them in (one per layout, usually
         * one in all), each converted at most once per fold.
         */
        final Map<Object, Tensor> laid = new HashMap<>();
        /** Fold generation each entry of {@link #laid} was converted at. */
        final Map<Object, Long> laidAt = new HashMap<>();
        long generation;

        private Folded(Conv2d conv, BatchNorm bn, long sourceElements) {
            this.bn = bn;
            // Without a batch norm there is nothing to fold: the layer's own weights are laid out.
            this.weight = bn == null ? null : conv.ownedTensor(conv.weight().shape());
            this.bias = bn == null ? null : conv.ownedTensor(conv.weight().size(0));
            this.snapshot = conv.ownedTensor(sourceElements);
        }
    }

    private static List<Tensor> sources(Conv2d conv, BatchNorm bn) {
        List<Tensor> s = new ArrayList<>();
        s.add(conv.weight());
        if (conv.bias() != null) s.add(conv.bias());
        if (bn != null) s.addAll(bn.evaluationState());
        return s;
    }

    /**
     * The fold of conv and bn, recomputed only if a source value changed since the last one. Threads
     * serving one model share the fold (the check and any refold hold the layer's lock); changing the
     * parameters while another thread runs the model is a race, as it is without fusion.
     */
    private static Folded folded(Conv2d conv, BatchNorm bn) {
        synchronized (conv) {
            return foldedLocked(conv, bn);
        }
    }

    /**
     * The folded weights for input x in the layout the fused primitive reads them in, converted once per
     * fold and layout; null when the primitive reads plain weights.
     */
    private static Tensor laidWeights(Folded f, Conv2d conv, Tensor x, Convolution.Fusion fusion, Tensor weight,
                                      Tensor bias) {
        synchronized (conv) {
            Object layout = Conv.inferenceWeightsLayout(x, weight, bias, conv.stride(), conv.padding(),
                    conv.dilation(), conv.groups(), fusion);
            if (layout == null) {
                return null;
            }
            Tensor current = f.laid.get(layout);
            Long at = f.laidAt.get(layout);
            if (current != null && at != null && at == f.generation && current.layout() != null) {
                return current;
            }
            Tensor w = Conv.weightsForInference(x, weight, bias, conv.stride(), conv.padding(), conv.dilation(),
                    conv.groups(), fusion, conv.scopeForCaches(), current);
            f.laid.put(layout, w);
            f.laidAt.put(layout, f.generation);
            return w;
        }
    }

    private static Folded foldedLocked(Conv2d conv, BatchNorm bn) {
        List<Tensor> sources = sources(conv, bn);
        Folded f = conv.folded;
        if (f == null || f.bn != bn || !f.snapshot.isAlive()) {
            long n = 0;
            for (Tensor t : sources) n += t.numel();
            f = new Folded(conv, bn, n);
            conv.folded = f;
            refold(f, conv, bn, sources);
            return f;
        }
        MemorySegment snap = f.snapshot.storageForReading();
        long at = 0;
        for (Tensor t : sources) {
            long bytes = t.numel() * Float.BYTES;
            MemorySegment current = t.contiguous().storageForReading().asSlice(t.offset() * Float.BYTES, bytes);
            if (MemorySegment.mismatch(current, 0, bytes, snap, at, at + bytes) != -1) {
                refold(f, conv, bn, sources);
                break;
            }
            at += bytes;
        }
        return f;
    }

    private static void refold(Folded f, Conv2d conv, BatchNorm bn, List<Tensor> sources) {
        if (bn != null) fold(f, conv, bn);
        f.generation++;
        MemorySegment snap = f.snapshot.storage();
        long at = 0;
        for (Tensor t : sources) {
            float[] v = t.toArray();
            MemorySegment.copy(v, 0, snap, ValueLayout.JAVA_FLOAT, at, v.length);
            at += (long) v.length * Float.BYTES;
        }
    }

    private static void fold(Folded f, Conv2d conv, BatchNorm bn) {
        float[][] folded = fold(conv, bn);
        f.weight.copyFrom(folded[0]);
        f.bias.copyFrom(folded[1]);
    }

    /**
     * The convolution's weights and bias with the batch norm's evaluation affine folded in:
     * {@code w'[o] = w[o]·scale[o]}, {@code b'[o] = b[o]·scale[o] + shift[o]} (b = 0 without a bias); with no
     * batch norm, copies of the convolution's own (the bias null if it has none).
     *
     * @throws IllegalArgumentException if the batch norm normalises another number of channels
     */
    static float[][] fold(Conv2d conv, BatchNorm bn) {
        Tensor weight = conv.weight();
        float[] w = weight.toArray();
        if (bn == null) {
            return new float[][] {w, conv.bias() == null ? null : conv.bias().toArray()};
        }
        float[][] affine = bn.evaluationAffine();
        float[] scale = affine[0];
        float[] shift = affine[1];
        long out = weight.size(0);
        if (scale.length != out) {
            throw new IllegalArgumentException(bn.describe() + " normalises " + scale.length + " channels, "
                    + conv.describe() + " produces " + out);
        }
        int perChannel = (int) (w.length / out);
        for (int o = 0; o < out; o++) {
            float sc = scale[o];
            for (int i = o * perChannel, end = i + perChannel; i < end; i++) {
                w[i] *= sc;
            }
        }
        float[] b = conv.bias() == null ? new float[(int) out] : conv.bias().toArray();
        for (int o = 0; o < out; o++) {
            b[o] = b[o] * scale[o] + shift[o];
        }
        return new float[][] {w, b};
    }

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
        Folded f = folded(conv, bn);
        Tensor weight = bn == null ? conv.weight() : f.weight;
        Tensor bias = bn == null ? conv.bias() : f.bias;
        Tensor laid = laidWeights(f, conv, x, fusion, weight, bias);
        return Conv.conv2dInference(x, laid != null ? laid : weight, bias, conv.stride(), conv.padding(),
                conv.dilation(), conv.groups(), fusion, residual);
    }
}
