package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;

/**
 * Gradient clipping, applied between {@code backward()} and {@link Optimizer#step()}, as
 * {@code torch.nn.utils.clip_grad_norm_} and {@code clip_grad_value_}. Parameters without a gradient
 * are skipped.
 *
 * <pre>
 *   by norm:   ‖g‖ = (Σ over every gradient element |gᵢ|^p)^(1/p)   (max |gᵢ| for p = ∞)
 *              c = maxNorm / (‖g‖ + 1e-6);   if c &lt; 1:  gᵢ ← c·gᵢ   (all gradients together)
 *   by value:  gᵢ ← clamp(gᵢ, −clipValue, clipValue)
 * </pre>
 * The norm is accumulated in double; the scaling is float32 like PyTorch's. Contiguous gradients are
 * read and written in chunks through a heap array, as in the optimizers' update loops.
 */
public final class GradClip {

    private GradClip() {}

    /**
     * Clips by the global 2-norm: {@link #clipGradNorm(List, double, double)} with {@code normType} 2.
     *
     * @param parameters the parameters whose gradients are scaled in place (those without one are skipped)
     * @param maxNorm    the largest norm allowed, finite and {@code >= 0}
     * @return the 2-norm of all gradients before clipping
     * @throws IllegalArgumentException if {@code maxNorm} is negative or not finite
     */
    public static double clipGradNorm(List<Tensor> parameters, double maxNorm) {
        return clipGradNorm(parameters, maxNorm, 2);
    }

    /**
     * Scales every gradient by {@code maxNorm / (‖g‖ + 1e-6)} when that is below 1, where ‖g‖ is the
     * {@code normType}-norm of all gradients taken as one vector ({@link Double#POSITIVE_INFINITY} for
     * the largest magnitude). Returns ‖g‖ before clipping (0 when no parameter has a gradient). A
     * non-finite norm is returned as it is and, as in PyTorch by default, makes the gradients NaN or zero.
     *
     * @param parameters the parameters whose gradients are scaled in place (those without one are skipped)
     * @param maxNorm    the largest norm allowed, finite and {@code >= 0}
     * @param normType   p of the p-norm, {@code > 0}; {@link Double#POSITIVE_INFINITY} for the max norm
     * @return the norm of all gradients before clipping
     * @throws IllegalArgumentException if {@code maxNorm} is negative or not finite, or {@code normType}
     *                                  is not positive
     */
    public static double clipGradNorm(List<Tensor> parameters, double maxNorm, double normType) {
        Check.nonNegative("clipGradNorm", "maxNorm", maxNorm);
        if (!(normType > 0)) {
            throw new IllegalArgumentException("clipGradNorm: normType must be > 0 (or infinity), got " + normType);
        }
        boolean infinity = normType == Double.POSITIVE_INFINITY;
        double accumulated = 0;
        float[] chunk = new float[Optimizer.CHUNK];
        for (Tensor p : parameters) {
            Tensor g = p.grad();
            if (g == null) continue;
            if (!g.isContiguous()) {
                float[] values = g.toArray();
                accumulated = accumulate(accumulated, values, values.length, normType);
                continue;
            }
            long n = g.numel();
            for (long start = 0; start < n; start += Optimizer.CHUNK) {
                int length = (int) Math.min(Optimizer.CHUNK, n - start);
                Optimizer.load(g, start, chunk, length);
                accumulated = accumulate(accumulated, chunk, length, normType);
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
                if (g != null) transform(g, chunk, (values, length) -> {
                    for (int i = 0; i < length; i++) values[i] = values[i] * c;
                });
            }
        }
        return total;
    }

    /**
     * Clamps every gradient element into {@code [−clipValue, clipValue]}, in place. NaN elements stay
     * NaN, as in PyTorch.
     *
     * @param parameters the parameters whose gradients are clamped (those without one are skipped)
     * @param clipValue  the largest magnitude allowed, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code clipValue} is negative or not finite
     */
    public static void clipGradValue(List<Tensor> parameters, double clipValue) {
        float c = (float) Check.nonNegative("clipGradValue", "clipValue", clipValue);
        float[] chunk = new float[Optimizer.CHUNK];
        for (Tensor p : parameters) {
            Tensor g = p.grad();
            if (g != null) transform(g, chunk, (values, length) -> {
                for (int i = 0; i < length; i++) values[i] = Math.min(Math.max(values[i], -c), c);
            });
        }
    }

    /**
     * Adds {@code values[0, length)} to a norm accumulated so far: the largest |v| for the ∞-norm, else
     * the sum of |v|^p (in double, in order).
     */
    private static double accumulate(double accumulated, float[] values, int length, double normType) {
        if (normType == Double.POSITIVE_INFINITY) {
            for (int i = 0; i < length; i++) accumulated = Math.max(accumulated, Math.abs((double) values[i]));
        } else if (normType == 2) {
            for (int i = 0; i < length; i++) {
                double a = Math.abs((double) values[i]);
                accumulated += a * a;
            }
        } else {
            for (int i = 0; i < length; i++) accumulated += Math.pow(Math.abs((double) values[i]), normType);
        }
        return accumulated;
    }

    @FunctionalInterface
    private interface ArrayOperator {
        /** Replaces {@code values[0, length)} in place. */
        void apply(float[] values, int length);
    }

    /**
     * Applies {@code op} to every element of {@code g}, in place: chunk by chunk through {@code chunk}
     * when {@code g} is contiguous, else through a copy of all its elements.
     */
    private static void transform(Tensor g, float[] chunk, ArrayOperator op) {
        if (g.isContiguous()) {
            long n = g.numel();
            for (long start = 0; start < n; start += Optimizer.CHUNK) {
                int length = (int) Math.min(Optimizer.CHUNK, n - start);
                Optimizer.load(g, start, chunk, length);
                op.apply(chunk, length);
                Optimizer.store(chunk, length, g, start);
            }
        } else {
            float[] values = g.toArray();
            op.apply(values, values.length);
            g.copyFrom(values);
        }
    }
}
