package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Activation functions, forward and backward side by side. Each works on a contiguous copy of its input
 * (a no-op for contiguous tensors) and returns a new contiguous tensor.
 *
 * <pre>
 *   sigmoid   y = 1 / (1 + e^−x)             ∂x = g·y·(1 − y)
 *   tanh      y = tanh x                     ∂x = g·(1 − y²)
 *   relu      y = max(0, x)                  ∂x = g·[x > 0]
 *   leaky     y = x if x > 0 else α·x        ∂x = g·(1 if x > 0 else α)
 *   gelu      y = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2     ∂x = g·(Φ(x) + x·φ(x))
 *   softmax   y = e^(x−max) / Σ e^(x−max)    ∂x = y·(g − Σ g·y)
 *   logsoftmax y = x − max − log Σ e^(x−max) ∂x = g − softmax(x)·Σ g
 * </pre>
 */
public final class Activation {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private Activation() {}

    /** The logistic sigmoid. */
    public static Tensor sigmoid(Tensor x) {
        Tensor in = x.contiguous();
        Tensor y = Tensor.zeros(x.shape());
        MemorySegment a = in.storage();
        MemorySegment o = y.storage();
        long off = in.offset();
        long n = y.numel();
        for (long i = 0; i < n; i++) {
            // exp(−v) overflows to +∞ for very negative v, giving exactly 0; no branch needed.
            o.setAtIndex(F, i, 1f / (1f + FastExp.exp(-a.getAtIndex(F, off + i))));
        }
        return Autograd.record(y, "sigmoid", g -> new Tensor[] {mapGrad(g, y, (gv, yv) -> gv * yv * (1f - yv))}, x);
    }

    /** The hyperbolic tangent. */
    public static Tensor tanh(Tensor x) {
        Tensor in = x.contiguous();
        Tensor y = Tensor.zeros(x.shape());
        MemorySegment a = in.storage();
        MemorySegment o = y.storage();
        long off = in.offset();
        long n = y.numel();
        for (long i = 0; i < n; i++) {
            o.setAtIndex(F, i, (float) Math.tanh(a.getAtIndex(F, off + i)));
        }
        return Autograd.record(y, "tanh", g -> new Tensor[] {mapGrad(g, y, (gv, yv) -> gv * (1f - yv * yv))}, x);
    }

    /** max(0, x). */
    public static Tensor relu(Tensor x) {
        return leakyRelu(x, 0f, "relu");
    }

    /** x for x > 0, slope·x otherwise. */
    public static Tensor leakyRelu(Tensor x, float slope) {
        return leakyRelu(x, slope, "leakyRelu");
    }

    private static Tensor leakyRelu(Tensor x, float slope, String name) {
        if (!Float.isFinite(slope)) {
            throw new IllegalArgumentException("negative slope must be finite, got " + slope);
        }
        Tensor in = x.contiguous();
        Tensor y = Tensor.zeros(x.shape());
        MemorySegment a = in.storage();
        MemorySegment o = y.storage();
        long off = in.offset();
        long n = y.numel();
        for (long i = 0; i < n; i++) {
            float v = a.getAtIndex(F, off + i);
            o.setAtIndex(F, i, v > 0 ? v : slope * v);
        }
        return Autograd.record(y, name, g -> new Tensor[] {mapGrad(g, in, (gv, xv) -> xv > 0 ? gv : slope * gv)}, x);
    }

    /** The Gaussian error linear unit, exact form x·Φ(x) (PyTorch's default). */
    public static Tensor gelu(Tensor x) {
        Tensor in = x.contiguous();
        Tensor y = Tensor.zeros(x.shape());
        MemorySegment a = in.storage();
        MemorySegment o = y.storage();
        long off = in.offset();
        long n = y.numel();
        for (long i = 0; i < n; i++) {
            double v = a.getAtIndex(F, off + i);
            o.setAtIndex(F, i, (float) (v * phiCdf(v)));
        }
        return Autograd.record(y, "gelu", g -> new Tensor[] {mapGrad(g, in, (gv, xv) ->
                (float) (gv * (phiCdf(xv) + xv * Math.exp(-0.5 * xv * xv) / Math.sqrt(2 * Math.PI))))}, x);
    }

    /** Φ(x), the standard normal CDF. */
    static double phiCdf(double x) {
        return 0.5 * (1 + erf(x / Math.sqrt(2)));
    }

    /**
     * erf to about 1e-15 relative: Maclaurin series for |x| < 2.5, continued fraction for erfc beyond.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax < 2.5) {
            // erf x = 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
            double term = ax;
            double sum = ax;
            double x2 = ax * ax;
            for (int k = 1; k < 100; k++) {
                term *= -x2 / k;
                double add = term / (2 * k + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            double r = 2 / Math.sqrt(Math.PI) * sum;
            return x < 0 ? -r : r;
        }
        if (ax > 6) {
            return x < 0 ? -1 : 1;
        }
        // erfc x = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), evaluated bottom-up.
        double f = ax;
        for (int k = 60; k >= 1; k--) {
            f = ax + (k / 2.0) / f;
        }
        double erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        return x < 0 ? erfc - 1 : 1 - erfc;
    }

    /** Softmax along {@code dim}. */
    public static Tensor softmax(Tensor x, int dim) {
        return softmaxFamily(x, dim, false);
    }

    /** log(softmax(x)) along {@code dim}, computed stably. */
    public static Tensor logSoftmax(Tensor x, int dim) {
        return softmaxFamily(x, dim, true);
    }

    private static Tensor softmaxFamily(Tensor x, int dim, boolean log) {
        x.checkAlive();
        int r = x.dim();
        int d = dim < 0 ? dim + r : dim;
        if (d < 0 || d >= r) {
            throw new IllegalArgumentException("softmax dimension " + dim + " out of range for a " + r + "-d tensor");
        }
        Tensor moved;
        try (var ignored = Autograd.noGrad()) {
            moved = x.transpose(d, r - 1).contiguous();
        }
        long len = x.size(d);
        long rows = len == 0 ? 0 : moved.numel() / len;
        Tensor yMoved = Tensor.zeros(moved.shape());
        MemorySegment a = moved.storage();
        MemorySegment o = yMoved.storage();
        long off = moved.offset();
        for (long row = 0; row < rows; row++) {
            long base = row * len;
            float max = Float.NEGATIVE_INFINITY;
            for (long i = 0; i < len; i++) max = Math.max(max, a.getAtIndex(F, off + base + i));
            double sum = 0;
            for (long i = 0; i < len; i++) {
                float e = FastExp.exp(a.getAtIndex(F, off + base + i) - max);
                o.setAtIndex(F, base + i, e);
                sum += e;
            }
            if (log) {
                float shift = (float) (max + Math.log(sum));
                for (long i = 0; i < len; i++) {
                    o.setAtIndex(F, base + i, a.getAtIndex(F, off + base + i) - shift);
                }
            } else {
                float inv = (float) (1 / sum);
                for (long i = 0; i < len; i++) {
                    o.setAtIndex(F, base + i, o.getAtIndex(F, base + i) * inv);
                }
            }
        }
        Tensor y;
        try (var ignored = Autograd.noGrad()) {
            y = yMoved.transpose(d, r - 1).contiguous();
        }
        return Autograd.record(y, log ? "logSoftmax" : "softmax", g -> {
            // Work in the moved layout: rows of length len along the last dimension.
            Tensor gm = g.transpose(d, r - 1).contiguous();
            Tensor dx = Tensor.zeros(moved.shape());
            MemorySegment gs = gm.storage();
            MemorySegment ys = yMoved.storage();
            MemorySegment ds = dx.storage();
            long go = gm.offset();
            for (long row = 0; row < rows; row++) {
                long base = row * len;
                double dot = 0;
                for (long i = 0; i < len; i++) {
                    float gv = gs.getAtIndex(F, go + base + i);
                    dot += log ? gv : gv * ys.getAtIndex(F, base + i);
                }
                for (long i = 0; i < len; i++) {
                    float gv = gs.getAtIndex(F, go + base + i);
                    float yv = ys.getAtIndex(F, base + i);
                    ds.setAtIndex(F, base + i, log ? (float) (gv - FastExp.exp(yv) * dot) : (float) (yv * (gv - dot)));
                }
            }
            return new Tensor[] {dx.transpose(d, r - 1).contiguous()};
        }, x);
    }

    @FunctionalInterface
    interface GradMap {
        float apply(float grad, float saved);
    }

    /** dx[i] = f(g[i], saved[i]) over equal shapes; saved is contiguous. */
    static Tensor mapGrad(Tensor g, Tensor saved, GradMap f) {
        Tensor gc = g.contiguous();
        Tensor dx = Tensor.zeros(saved.shape());
        MemorySegment gs = gc.storage();
        MemorySegment ss = saved.storage();
        MemorySegment ds = dx.storage();
        long go = gc.offset();
        long so = saved.offset();
        long n = dx.numel();
        for (long i = 0; i < n; i++) {
            ds.setAtIndex(F, i, f.apply(gs.getAtIndex(F, go + i), ss.getAtIndex(F, so + i)));
        }
        return dx;
    }
}
