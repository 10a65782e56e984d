package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Eltwise;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * Activation functions, forward and backward side by side. Each works on a contiguous copy of its input
 * (a no-op for contiguous tensors) and returns a new contiguous tensor. The same ops are methods of
 * {@link Tensor} ({@code x.relu()}, {@code x.softmax(-1)}, ...).
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

    private Activation() {}

    /**
     * The logistic sigmoid 1 / (1 + e⁻ˣ) elementwise.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor sigmoid(Tensor x) {
        if (x.numel() >= NATIVE_RELU_MIN) {
            return fromOutput(x, Eltwise.FromOutput.LOGISTIC, "sigmoid");
        }
        float[] y = x.toArray();
        for (int i = 0; i < y.length; i++) {
            // exp(−v) overflows to +∞ for very negative v, giving exactly 0; no branch needed.
            y[i] = 1f / (1f + FastExp.exp(-y[i]));
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "sigmoid", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] *= y[i] * (1f - y[i]);
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * The hyperbolic tangent elementwise.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor tanh(Tensor x) {
        if (x.numel() >= NATIVE_RELU_MIN) {
            return fromOutput(x, Eltwise.FromOutput.TANH, "tanh");
        }
        float[] y = x.toArray();
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) Math.tanh(y[i]);
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "tanh", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] *= 1f - y[i] * y[i];
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * The rectified linear unit max(0, x) elementwise; the gradient is 0 at 0. A tensor held in a backend
     * layout (a convolution's output) stays in it.
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor relu(Tensor x) {
        return leakyRelu(x, 0f, "relu");
    }

    /**
     * The leaky ReLU elementwise: x for x &gt; 0, slope·x otherwise.
     *
     * @param x the input
     * @param slope the slope for negative inputs (PyTorch's {@code negative_slope}, 0.01 by default there)
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalArgumentException if {@code slope} is not finite
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor leakyRelu(Tensor x, float slope) {
        return leakyRelu(x, slope, "leakyRelu");
    }

    private static Tensor leakyRelu(Tensor x, float slope, String name) {
        if (!Float.isFinite(slope)) {
            throw new IllegalArgumentException("negative slope must be finite, got " + slope);
        }
        if (slope >= 0f && x.layout() != null) {
            return laidRelu(x, slope, name);
        }
        if (slope >= 0f && x.numel() >= NATIVE_RELU_MIN && x.isContiguous()) {
            return nativeRelu(x, slope, name);
        }
        float[] in = x.toArray();
        float[] y = new float[in.length];
        // Branch-free: with random signs a conditional costs a misprediction per element (~20x slower).
        if (slope == 0f) {
            for (int i = 0; i < y.length; i++) y[i] = Math.max(in[i], 0f);
        } else {
            for (int i = 0; i < y.length; i++) y[i] = Math.max(in[i], 0f) + slope * Math.min(in[i], 0f);
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, name, g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) {
                float positive = Math.signum(Math.max(in[i], 0f)); // 1 where x > 0, else 0
                dx[i] *= positive + slope * (1f - positive);
            }
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * tanh or the sigmoid on oneDNN for large tensors, in one vectorised pass on every thread (the Java
     * loop's double-precision tanh costs tens of nanoseconds an element: a DCGAN generator's tanh over its
     * 64 × 784 outputs was a fifth of its training step's Java samples, JFR); the backward pass reads the
     * output.
     */
    private static Tensor fromOutput(Tensor x, Eltwise.FromOutput f, String name) {
        Tensor xc = x.contiguous();
        Tensor out = Tensor.empty(x.shape());
        long n = x.numel();
        Eltwise.forwardTraining(f, xc.storageForReading(), xc.offset(), out.storage(), out.offset(), n);
        return Autograd.record(out, name, g -> {
            Tensor gc = g.contiguous();
            Tensor dx = Tensor.empty(g.shape());
            Eltwise.backwardFromOutput(f, out.storageForReading(), out.offset(), gc.storageForReading(), gc.offset(),
                    dx.storage(), dx.offset(), n);
            return new Tensor[] {dx};
        }, x);
    }

    /**
     * GELU on oneDNN (erf form, one vectorised pass on every thread) for large tensors; the Java loop's
     * double-precision erf costs tens of nanoseconds an element. The backward pass reads x.
     */
    private static Tensor nativeGelu(Tensor x) {
        Tensor xc = x.contiguous();
        Tensor out = Tensor.empty(x.shape());
        long n = x.numel();
        Eltwise.geluForward(xc.storageForReading(), xc.offset(), out.storage(), out.offset(), n);
        return Autograd.record(out, "gelu", g -> {
            Tensor gc = g.contiguous();
            Tensor dx = Tensor.empty(g.shape());
            Eltwise.geluBackward(xc.storageForReading(), xc.offset(), gc.storageForReading(), gc.offset(),
                    dx.storage(), dx.offset(), n);
            return new Tensor[] {dx};
        }, x);
    }

    /**
     * Tensors from this size up run GELU on oneDNN. The Java loop's erf (a series in double precision) costs
     * tens of nanoseconds an element: GELU over a GPT's 512 feed-forward units a layer took a third of the
     * Java samples of its batch-1 generation (JFR), which one primitive call per layer replaces.
     */
    static final long NATIVE_GELU_MIN = 256;

    /** Tensors from this size up run (leaky) ReLU as a oneDNN primitive: one pass, on every thread. */
    static final long NATIVE_RELU_MIN = 1 << 15;

    /**
     * (Leaky) ReLU on oneDNN for a contiguous tensor and slope ≥ 0; the backward pass reads the output
     * (y > 0 exactly where x > 0), so nothing else is kept.
     */
    private static Tensor nativeRelu(Tensor x, float slope, String name) {
        Tensor out = Tensor.empty(x.shape());
        long n = x.numel();
        Eltwise.reluForward(slope, x.storageForReading(), x.offset(), out.storage(), out.offset(), n);
        return Autograd.record(out, name, g -> new Tensor[] {reluBackwardRowMajor(slope, out, g)}, x);
    }

    /** The (leaky) ReLU gradient on oneDNN from the row-major output and gradient. */
    private static Tensor reluBackwardRowMajor(float slope, Tensor out, Tensor g) {
        Tensor gc = g.contiguous();
        Tensor dx = Tensor.empty(g.shape());
        Eltwise.reluBackward(slope, out.storageForReading(), out.offset(), gc.storageForReading(), gc.offset(),
                dx.storage(), dx.offset(), out.numel());
        return dx;
    }

    /**
     * (Leaky) ReLU of a tensor held in a backend layout (a convolution's or pooling's output), computed
     * on that layout's buffer as a flat array (padding stays zero: relu(0) = 0), the output in the same
     * layout. The backward pass stays in it too when the incoming gradient does.
     */
    private static Tensor laidRelu(Tensor x, float slope, String name) {
        Object layout = x.layout();
        MemorySegment in = x.layoutData(layout);
        long n = in.byteSize() / Float.BYTES;
        Tensor out = Tensor.emptyInLayoutOf(x);
        Eltwise.reluForward(slope, in, 0, out.layoutData(layout), 0, n);
        return Autograd.record(out, name, g -> {
            MemorySegment outLaid = out.layoutData(layout);
            if (outLaid != null) {
                // A row-major gradient (from a pooling or reduction that left the layout) is converted
                // once here, so that the layers below keep working in the layout.
                Tensor gl = g.layoutData(layout) != null ? g : g.contiguous().toLayoutOf(out);
                Tensor dx = Tensor.emptyInLayoutOf(out);
                Eltwise.reluBackward(slope, outLaid, 0, gl.layoutData(layout), 0, dx.layoutData(layout), 0, n);
                return new Tensor[] {dx};
            }
            return new Tensor[] {reluBackwardRowMajor(slope, out, g)};
        }, x);
    }

    /**
     * The Gaussian error linear unit elementwise, in its exact form x·Φ(x) with Φ the standard normal
     * distribution function (PyTorch's default, {@code approximate='none'}).
     *
     * @param x the input
     * @return a new tensor of {@code x}'s shape
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor gelu(Tensor x) {
        if (x.numel() >= NATIVE_GELU_MIN) {
            return nativeGelu(x);
        }
        float[] in = x.toArray();
        float[] y = new float[in.length];
        for (int i = 0; i < y.length; i++) {
            double v = in[i];
            y[i] = (float) (v * phiCdf(v));
        }
        Tensor out = Tensor.fromArray(y, x.shape());
        return Autograd.record(out, "gelu", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) {
                double v = in[i];
                dx[i] = (float) (dx[i] * (phiCdf(v) + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI)));
            }
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
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

    /**
     * Softmax along {@code dim}: e^(x − max) / Σ e^(x − max) over each line of that dimension.
     *
     * @param x the input
     * @param dim the dimension normalized over; negative counts from the end
     * @return a new contiguous tensor of {@code x}'s shape
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if {@code x} is closed
     */
    public static Tensor softmax(Tensor x, int dim) {
        return softmaxFamily(x, dim, false);
    }

    /**
     * log(softmax(x)) along {@code dim}, computed stably as x − max − log Σ e^(x − max).
     *
     * @param x the input
     * @param dim the dimension normalized over; negative counts from the end
     * @return a new contiguous tensor of {@code x}'s shape
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if {@code x} is closed
     */
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
        // Rows of length len along the last dimension after moving dimension d there.
        float[] a;
        long[] movedShape;
        try (var ignored = Autograd.noGrad()) {
            Tensor moved = x.transpose(d, r - 1);
            movedShape = moved.shape();
            a = moved.toArray();
        }
        int len = (int) x.size(d);
        int rows = len == 0 ? 0 : a.length / len;
        float[] y = new float[a.length];
        for (int row = 0; row < rows; row++) {
            int base = row * len;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < len; i++) max = Math.max(max, a[base + i]);
            double sum = 0;
            for (int i = 0; i < len; i++) {
                float e = FastExp.exp(a[base + i] - max);
                y[base + i] = e;
                sum += e;
            }
            if (log) {
                float shift = (float) (max + Math.log(sum));
                for (int i = 0; i < len; i++) y[base + i] = a[base + i] - shift;
            } else {
                float inv = (float) (1 / sum);
                for (int i = 0; i < len; i++) y[base + i] *= inv;
            }
        }
        Tensor out;
        try (var ignored = Autograd.noGrad()) {
            out = Tensor.fromArray(y, movedShape).transpose(d, r - 1).contiguous();
        }
        return Autograd.record(out, log ? "logSoftmax" : "softmax", g -> {
            float[] gs;
            try (var ignored = Autograd.noGrad()) {
                gs = g.transpose(d, r - 1).toArray();
            }
            float[] dx = new float[gs.length];
            for (int row = 0; row < rows; row++) {
                int base = row * len;
                double dot = 0;
                for (int i = 0; i < len; i++) dot += log ? gs[base + i] : gs[base + i] * y[base + i];
                for (int i = 0; i < len; i++) {
                    dx[base + i] = log ? (float) (gs[base + i] - FastExp.exp(y[base + i]) * dot)
                            : (float) (y[base + i] * (gs[base + i] - dot));
                }
            }
            return new Tensor[] {Tensor.fromArray(dx, movedShape).transpose(d, r - 1).contiguous()};
        }, x);
    }
}
