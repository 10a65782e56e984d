package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Gradient clipping, applied between {@code backward()} and {@link Optimizer#step()}, as
 * {@code torch.nn.utils.clip_grad_norm_} and {@code clip_grad_value_}. Parameters without a gradient
 * are skipped.
 *
 * <pre>
 *   by norm:   ‖g‖ = (Σ over every gradient element |gᵢ|^p)^(1/p)   (max |gᵢ| for p = ∞)
 *              c = maxNorm / (‖g‖ + 1e-6);   if c < 1:  gᵢ ← c·gᵢ   (all gradients together)
 *   by value:  gᵢ ← clamp(gᵢ, −clipValue, clipValue)
 * </pre>
 * The norm is accumulated in double; the scaling is float32 like PyTorch's.
 */
public final class GradClip {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private GradClip() {}

    /** Clips by the global 2-norm; returns the norm before clipping. */
    public static double clipGradNorm(List<Tensor> parameters, double maxNorm) {
        return clipGradNorm(parameters, maxNorm, 2);
    }

    /**
     * Scales every gradient by {@code maxNorm / (‖g‖ + 1e-6)} when that is below 1, where ‖g‖ is the
     * {@code normType}-norm of all gradients taken as one vector ({@link Double#POSITIVE_INFINITY} for
     * the largest magnitude). Returns ‖g‖ before clipping (0 when no parameter has a gradient). A
     * non-finite norm is returned as it is and, as in PyTorch by default, makes the gradients NaN or zero.
     */
    public static double clipGradNorm(List<Tensor> parameters, double maxNorm, double normType) {
        Check.nonNegative("clipGradNorm", "maxNorm", maxNorm);
        if (!(normType > 0)) {
            throw new IllegalArgumentException("clipGradNorm: normType must be > 0 (or infinity), got " + normType);
        }
        boolean infinity = normType == Double.POSITIVE_INFINITY;
        double accumulated = 0;
        for (Tensor p : parameters) {
            Tensor g = p.grad();
            if (g == null) continue;
            for (float v : g.toArray()) {
                double a = Math.abs((double) v);
                if (infinity) accumulated = Math.max(accumulated, a);
                else if (normType == 2) accumulated += a * a;
                else accumulated += Math.pow(a, normType);
            }
        }
        double total = infinity ? accumulated
                : normType == 2 ? Math.sqrt(accumulated)
                : Math.pow(accumulated, 1 / normType);
        double coefficient = maxNorm / (total + 1e-6);
        if (coefficient < 1 || Double.isNaN(coefficient)) {
            float c = (float) coefficient;
            for (Tensor p : parameters) {
                Tensor g = p.grad();
                if (g != null) transform(g, v -> v * c);
            }
        }
        return total;
    }

    /** Clamps every gradient element into {@code [−clipValue, clipValue]}. */
    public static void clipGradValue(List<Tensor> parameters, double clipValue) {
        float c = (float) Check.nonNegative("clipGradValue", "clipValue", clipValue);
        for (Tensor p : parameters) {
            Tensor g = p.grad();
            if (g != null) transform(g, v -> Math.min(Math.max(v, -c), c));
        }
    }

    @FunctionalInterface
    private interface FloatOperator {
        float apply(float v);
    }

    /** Replaces each element v of {@code g} with {@code op(v)}, in place. */
    private static void transform(Tensor g, FloatOperator op) {
        if (g.isContiguous()) {
            MemorySegment s = g.storage();
            long o = g.offset();
            long n = g.numel();
            for (long i = 0; i < n; i++) {
                s.setAtIndex(F, o + i, op.apply(s.getAtIndex(F, o + i)));
            }
        } else {
            float[] values = g.toArray();
            for (int i = 0; i < values.length; i++) values[i] = op.apply(values[i]);
            g.copyFrom(values);
        }
    }
}
