package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;

/**
 * Differentiable elementwise math: exponentials, logarithms, roots, powers, absolute value, sign and
 * clamping. Each returns a new contiguous tensor of its input's shape ({@link #pow(Tensor, Tensor)}: of
 * the broadcast shape) in the current scope; the same ops are methods of {@link Tensor}
 * ({@code x.exp()}, {@code x.pow(2)}, {@code x.clamp(0, 1)}, ...).
 *
 * <p>Values and gradients follow PyTorch at the edges of each domain: log and sqrt of 0 give −∞ and 0
 * with infinite gradients, of negative numbers NaN; abs and sign have gradient 0 at 0; clamp passes the
 * gradient exactly where {@code min ≤ x ≤ max}; pow's gradient is 0 wherever the exponent is 0.
 *
 * <pre>
 *   exp      y = eˣ                 ∂x = g·y
 *   log      y = ln x               ∂x = g / x
 *   sqrt     y = √x                 ∂x = g / (2y)
 *   rsqrt    y = 1/√x               ∂x = −g·y³ / 2
 *   pow      y = xᵖ                 ∂x = g·p·xᵖ⁻¹ (0 where p = 0)
 *   pow      y = aᵇ (tensors)       ∂a = g·b·aᵇ⁻¹ (0 where b = 0)   ∂b = g·y·ln a (0 where a = 0, b ≥ 0)
 *   square   y = x²                 ∂x = 2x·g
 *   abs      y = |x|                ∂x = g·sign x
 *   neg      y = −x                 ∂x = −g
 *   sign     y = −1, 0 or 1         ∂x = 0
 *   clamp    y = min(max(x, lo), hi)  ∂x = g where lo ≤ x ≤ hi, else 0
 * </pre>
 *
 * <p>Like the other kernels ({@link Kernels}), each op copies its input into a Java array once, computes
 * there and copies the result out; a recorded op keeps the array its backward reads (the input or the
 * output), and an op not recorded reuses the input's array for the result.
 */
public final class Pointwise {

    private Pointwise() {}

    /**
     * eˣ elementwise.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor exp(Tensor x) {
        float[] y = x.toArray();
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) Math.exp(y[i]);
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "exp", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] *= y[i];
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * The natural logarithm elementwise: ln 0 = −∞, ln of a negative number is NaN.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor log(Tensor x) {
        float[] in = x.toArray();
        float[] y = resultArray(in, x);
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) Math.log(in[i]);
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "log", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] /= in[i];
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * The square root elementwise: NaN for negative numbers; the gradient at 0 is +∞.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor sqrt(Tensor x) {
        float[] y = x.toArray();
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) Math.sqrt(y[i]); // exactly rounded: a double has room for the float's error
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "sqrt", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] /= 2f * y[i];
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * The reciprocal square root 1/√x elementwise: +∞ at 0, NaN for negative numbers.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor rsqrt(Tensor x) {
        float[] y = x.toArray();
        for (int i = 0; i < y.length; i++) {
            y[i] = 1f / (float) Math.sqrt(y[i]);
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "rsqrt", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] = -0.5f * dx[i] * (y[i] * y[i] * y[i]);
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * xᵖ elementwise for a constant exponent. The exponents 0, 1, ±0.5, −1, ±2 and 3 are computed as
     * products, square roots and reciprocals (as PyTorch does); others as C's {@code powf}. x⁰ is 1 for
     * every x, NaN included, and its gradient is 0.
     *
     * @param x the base
     * @param exponent the exponent p
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor pow(Tensor x, float exponent) {
        float[] in = x.toArray();
        float[] y = resultArray(in, x);
        powArray(in, exponent, y);
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "pow", g -> {
            if (exponent == 0f) {
                return new Tensor[] {Tensor.zeros(g.shape())};
            }
            float[] dx = new float[in.length];
            powArray(in, exponent - 1f, dx);
            float[] gv = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] = gv[i] * (exponent * dx[i]);
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /** out[i] = x[i]^p, with PyTorch's shortcuts for the common exponents (exact products, roots). */
    private static void powArray(float[] x, float p, float[] out) {
        if (p == 0f) {
            Arrays.fill(out, 1f);
        } else if (p == 1f) {
            System.arraycopy(x, 0, out, 0, x.length);
        } else if (p == 2f) {
            for (int i = 0; i < out.length; i++) out[i] = x[i] * x[i];
        } else if (p == 3f) {
            for (int i = 0; i < out.length; i++) out[i] = x[i] * x[i] * x[i];
        } else if (p == 0.5f) {
            for (int i = 0; i < out.length; i++) out[i] = (float) Math.sqrt(x[i]);
        } else if (p == -0.5f) {
            for (int i = 0; i < out.length; i++) out[i] = 1f / (float) Math.sqrt(x[i]);
        } else if (p == -1f) {
            for (int i = 0; i < out.length; i++) out[i] = 1f / x[i];
        } else if (p == -2f) {
            for (int i = 0; i < out.length; i++) out[i] = 1f / (x[i] * x[i]);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = Kernels.powf(x[i], p);
        }
    }

    /**
     * {@code base}<sup>{@code exponent}</sup> elementwise with numpy broadcasting, as C's {@code powf}: a
     * negative base to a non-integer exponent is NaN, 0 to a negative exponent +∞. The gradient of the
     * base is 0 where the exponent is 0; that of the exponent is 0 where the base is 0 and the exponent
     * non-negative (PyTorch's conventions); each is summed back to its input's shape.
     *
     * @param base the base
     * @param exponent the exponent
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor pow(Tensor base, Tensor exponent) {
        base.checkAlive();
        exponent.checkAlive();
        long[] as = base.shape();
        long[] bs = exponent.shape();
        long[] shape = Kernels.broadcastShapes(as, bs);
        float[] a = base.toArray();
        float[] b = exponent.toArray();
        float[] y = new float[Kernels.checkedSize(shape)];
        Kernels.binaryArrays(Kernels.BinaryOp.POW, a, as, b, bs, y, shape);
        Tensor out = Tensor.fromArray(y, shape);
        return Autograd.record(out, "pow", g -> {
            float[] gv = g.toArray();
            float[] ae = Kernels.expandArray(a, as, shape);
            float[] be = Kernels.expandArray(b, bs, shape);
            Tensor da = null;
            Tensor db = null;
            if (base.requiresGrad()) {
                float[] d = new float[gv.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = be[i] == 0f ? 0f : gv[i] * (be[i] * Kernels.powf(ae[i], be[i] - 1f));
                }
                da = Kernels.sumToShape(Tensor.fromArray(d, shape), as);
            }
            if (exponent.requiresGrad()) {
                float[] d = new float[gv.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = ae[i] == 0f && be[i] >= 0f ? 0f : gv[i] * (y[i] * (float) Math.log(ae[i]));
                }
                db = Kernels.sumToShape(Tensor.fromArray(d, shape), bs);
            }
            return new Tensor[] {da, db};
        }, base, exponent);
    }

    /**
     * x² elementwise (as {@code pow(x, 2)}).
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor square(Tensor x) {
        float[] in = x.toArray();
        float[] y = resultArray(in, x);
        for (int i = 0; i < y.length; i++) {
            y[i] = in[i] * in[i];
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "square", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] *= 2f * in[i];
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * |x| elementwise; the gradient is g·sign(x), so 0 at 0 (PyTorch's convention) and at NaN.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor abs(Tensor x) {
        float[] in = x.toArray();
        float[] y = resultArray(in, x);
        for (int i = 0; i < y.length; i++) {
            y[i] = Math.abs(in[i]);
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "abs", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] *= sign(in[i]);
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * −x elementwise.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor neg(Tensor x) {
        float[] y = x.toArray();
        for (int i = 0; i < y.length; i++) {
            y[i] = -y[i];
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.recordValueFree(out, "neg", g -> new Tensor[] {Kernels.scale(g, -1f)}, x);
    }

    /**
     * The sign elementwise: −1 for negative numbers, 1 for positive ones, 0 for ±0 and (as PyTorch) for
     * NaN. Its gradient is 0 everywhere.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor sign(Tensor x) {
        float[] y = x.toArray();
        for (int i = 0; i < y.length; i++) {
            y[i] = sign(y[i]);
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "sign", g -> new Tensor[] {Tensor.zeros(g.shape())}, x);
    }

    /** 1, −1 or 0 (for ±0 and NaN), as PyTorch's sign; no branch, so random signs cost no mispredictions. */
    private static float sign(float v) {
        return (v > 0f ? 1f : 0f) - (v < 0f ? 1f : 0f);
    }

    /**
     * x limited to [min, max] elementwise: {@code min} where x &lt; min, {@code max} where x &gt; max (so
     * all {@code max} when min &gt; max, as in PyTorch), NaN stays NaN. The gradient passes where
     * {@code min ≤ x ≤ max} and is 0 elsewhere.
     *
     * @param x the input
     * @param min the lower bound
     * @param max the upper bound
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalArgumentException if a bound is NaN
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor clamp(Tensor x, float min, float max) {
        return clamp(x, min, max, "clamp");
    }

    /**
     * x limited from below, {@code max(x, min)} elementwise (PyTorch's {@code clamp_min}); the gradient
     * passes where {@code x ≥ min}.
     *
     * @param x the input
     * @param min the lower bound
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalArgumentException if {@code min} is NaN
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor clampMin(Tensor x, float min) {
        return clamp(x, min, Float.POSITIVE_INFINITY, "clampMin");
    }

    /**
     * x limited from above, {@code min(x, max)} elementwise (PyTorch's {@code clamp_max}); the gradient
     * passes where {@code x ≤ max}.
     *
     * @param x the input
     * @param max the upper bound
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalArgumentException if {@code max} is NaN
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor clampMax(Tensor x, float max) {
        return clamp(x, Float.NEGATIVE_INFINITY, max, "clampMax");
    }

    private static Tensor clamp(Tensor x, float min, float max, String name) {
        if (Float.isNaN(min) || Float.isNaN(max)) {
            throw new IllegalArgumentException(name + ": bounds must not be NaN, got min=" + min + " max=" + max);
        }
        float[] in = x.toArray();
        float[] y = resultArray(in, x);
        for (int i = 0; i < y.length; i++) {
            // Comparisons rather than Math.max/min: NaN stays NaN and −0 stays −0, as in PyTorch.
            float v = in[i] < min ? min : in[i];
            y[i] = v > max ? max : v;
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, name, g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) {
                dx[i] = in[i] >= min && in[i] <= max ? dx[i] : 0f;
            }
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * The array an op writes its result into when its backward reads the input: a new one when the op
     * will be recorded (the input array is kept for the backward), else the input array itself.
     */
    private static float[] resultArray(float[] in, Tensor x) {
        return Autograd.needsGrad(x) ? new float[in.length] : in;
    }
}
