package dev.gatun.nn;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * Weight initialisation, in place, with PyTorch's formulas ({@code torch.nn.init}). For a weight of
 * shape [out, in, k...], fan_in = in·Πk and fan_out = out·Πk.
 *
 * <pre>
 *   zeros / constant(v)      w = 0 / v
 *   uniform(a, b)            w ~ U(a, b)
 *   normal(μ, σ)             w ~ N(μ, σ²)
 *   xavierUniform(gain)      w ~ U(−a, a),  a = gain·√(6 / (fan_in + fan_out))
 *   xavierNormal(gain)       w ~ N(0, σ²),  σ = gain·√(2 / (fan_in + fan_out))
 *   kaimingUniform(a, mode)  w ~ U(−b, b),  b = gain·√(3 / fan_mode)
 *   kaimingNormal(a, mode)   w ~ N(0, σ²),  σ = gain / √fan_mode
 *                            gain: relu √2, leaky_relu √(2 / (1 + a²)), linear/sigmoid 1, tanh 5/3
 *   orthogonal(gain)         w = gain·Q, Q from the QR decomposition of a normal matrix (rows or
 *                            columns orthonormal, whichever are fewer), signs fixed so diag(R) > 0
 *   identity                 w = I (2-d weights only; rectangular: ones on the main diagonal)
 * </pre>
 *
 * <p>Layers draw from {@link #generator()} when built; {@link #manualSeed(long)} makes that
 * reproducible, like {@code torch.manual_seed}.
 */
public final class Init {

    /** Which fan Kaiming initialisation preserves: the forward pass's or the backward pass's variance. */
    public enum FanMode {
        /** fan_in: the variance of the forward pass's activations is preserved (PyTorch's default). */
        FAN_IN,
        /** fan_out: the variance of the backward pass's gradients is preserved. */
        FAN_OUT
    }

    /** The non-linearity that follows the layer, which sets the gain. */
    public enum Nonlinearity {
        /** No non-linearity: gain 1. */
        LINEAR,
        /** The sigmoid: gain 1. */
        SIGMOID,
        /** tanh: gain 5/3. */
        TANH,
        /** ReLU: gain √2. */
        RELU,
        /** Leaky ReLU with negative slope a: gain √(2 / (1 + a²)). */
        LEAKY_RELU
    }

    private Init() {}

    /**
     * The generator layers draw their initial weights from: the process-wide
     * {@link Generator#defaultGenerator()}, which the random factories of {@code Tensor} use too, so one
     * {@link Generator#manualSeed} makes both repeatable, as {@code torch.manual_seed} does. Its
     * {@link Generator#state() state} can be saved and restored (checkpoints do).
     *
     * @return the default generator
     */
    public static Generator generator() {
        return Generator.defaultGenerator();
    }

    /**
     * Re-seeds the default generator, the same as {@link Generator#manualSeed(long)}
     * ({@code torch.manual_seed}).
     *
     * @param seed the seed
     */
    public static void manualSeed(long seed) {
        Generator.manualSeed(seed);
    }

    /**
     * The recommended gain for a non-linearity ({@code torch.nn.init.calculate_gain}).
     *
     * @param nonlinearity  the non-linearity after the layer
     * @param negativeSlope the leaky ReLU's slope (read only for {@link Nonlinearity#LEAKY_RELU})
     * @return the gain
     */
    public static double gain(Nonlinearity nonlinearity, double negativeSlope) {
        return switch (nonlinearity) {
            case LINEAR, SIGMOID -> 1;
            case TANH -> 5.0 / 3;
            case RELU -> Math.sqrt(2);
            case LEAKY_RELU -> Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
        };
    }

    /**
     * The fans of a weight [out, in, k...]: fan_in = in·Πk, fan_out = out·Πk.
     *
     * @param w a weight of at least 2 dimensions
     * @return {fan_in, fan_out}
     * @throws IllegalArgumentException if {@code w} has fewer than 2 dimensions
     */
    public static long[] fans(Tensor w) {
        if (w.dim() < 2) {
            throw new IllegalArgumentException("fan in and fan out need a weight of at least 2 dimensions, got shape "
                    + Arrays.toString(w.shape()));
        }
        long receptive = 1;
        for (int d = 2; d < w.dim(); d++) receptive *= w.size(d);
        return new long[] {w.size(1) * receptive, w.size(0) * receptive};
    }

    /**
     * Fills w with zeros.
     *
     * @param w the tensor to fill, in place
     * @return {@code w}
     */
    public static Tensor zeros(Tensor w) {
        return w.fill(0f);
    }

    /**
     * Fills w with a constant.
     *
     * @param w     the tensor to fill, in place
     * @param value the value
     * @return {@code w}
     */
    public static Tensor constant(Tensor w, float value) {
        return w.fill(value);
    }

    /**
     * Fills w with samples of U(low, high).
     *
     * @param w    the tensor to fill, in place
     * @param low  the lower bound
     * @param high the upper bound, at least {@code low}
     * @param rng  the random generator to draw from
     * @return {@code w}
     * @throws IllegalArgumentException if {@code low > high} (or either is NaN)
     */
    public static Tensor uniform(Tensor w, double low, double high, RandomGenerator rng) {
        if (!(low <= high)) {
            throw new IllegalArgumentException("uniform needs low <= high, got " + low + ", " + high);
        }
        return set(w, i -> low + (high - low) * rng.nextDouble());
    }

    /**
     * Fills w with samples of N(mean, std²).
     *
     * @param w    the tensor to fill, in place
     * @param mean the mean
     * @param std  the standard deviation, at least 0
     * @param rng  the random generator to draw from
     * @return {@code w}
     * @throws IllegalArgumentException if {@code std} is negative or NaN
     */
    public static Tensor normal(Tensor w, double mean, double std, RandomGenerator rng) {
        if (!(std >= 0)) {
            throw new IllegalArgumentException("normal needs std >= 0, got " + std);
        }
        return set(w, i -> mean + std * rng.nextGaussian());
    }

    /**
     * Xavier (Glorot) uniform: U(−a, a) with a = gain·√(6 / (fan_in + fan_out)).
     *
     * @param w    the weight to fill, in place, of at least 2 dimensions
     * @param gain the gain (see {@link #gain})
     * @param rng  the random generator to draw from
     * @return {@code w}
     * @throws IllegalArgumentException if {@code w} has fewer than 2 dimensions
     */
    public static Tensor xavierUniform(Tensor w, double gain, RandomGenerator rng) {
        long[] f = fans(w);
        double a = gain * Math.sqrt(6.0 / (f[0] + f[1]));
        return uniform(w, -a, a, rng);
    }

    /**
     * Xavier (Glorot) normal: N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)).
     *
     * @param w    the weight to fill, in place, of at least 2 dimensions
     * @param gain the gain (see {@link #gain})
     * @param rng  the random generator to draw from
     * @return {@code w}
     * @throws IllegalArgumentException if {@code w} has fewer than 2 dimensions
     */
    public static Tensor xavierNormal(Tensor w, double gain, RandomGenerator rng) {
        long[] f = fans(w);
        return normal(w, 0, gain * Math.sqrt(2.0 / (f[0] + f[1])), rng);
    }

    /**
     * Kaiming (He) uniform: U(−b, b) with b = gain·√(3 / fan), fan as {@code mode} says.
     *
     * @param w            the weight to fill, in place, of at least 2 dimensions
     * @param a            the leaky ReLU's negative slope (read only for {@link Nonlinearity#LEAKY_RELU})
     * @param mode         which fan to preserve
     * @param nonlinearity the non-linearity after the layer, which sets the gain
     * @param rng          the random generator to draw from
     * @return {@code w}
     * @throws IllegalArgumentException if {@code w} has fewer than 2 dimensions
     */
    public static Tensor kaimingUniform(Tensor w, double a, FanMode mode, Nonlinearity nonlinearity,
                                        RandomGenerator rng) {
        long[] f = fans(w);
        double fan = mode == FanMode.FAN_IN ? f[0] : f[1];
        double bound = gain(nonlinearity, a) * Math.sqrt(3.0 / fan);
        return uniform(w, -bound, bound, rng);
    }

    /**
     * Kaiming (He) normal: N(0, σ²) with σ = gain / √fan, fan as {@code mode} says.
     *
     * @param w            the weight to fill, in place, of at least 2 dimensions
     * @param a            the leaky ReLU's negative slope (read only for {@link Nonlinearity#LEAKY_RELU})
     * @param mode         which fan to preserve
     * @param nonlinearity the non-linearity after the layer, which sets the gain
     * @param rng          the random generator to draw from
     * @return {@code w}
     * @throws IllegalArgumentException if {@code w} has fewer than 2 dimensions
     */
    public static Tensor kaimingNormal(Tensor w, double a, FanMode mode, Nonlinearity nonlinearity,
                                       RandomGenerator rng) {
        long[] f = fans(w);
        double fan = mode == FanMode.FAN_IN ? f[0] : f[1];
        return normal(w, 0, gain(nonlinearity, a) / Math.sqrt(fan), rng);
    }

    /**
     * What PyTorch's {@code Linear} and {@code Conv2d} do in {@code reset_parameters()}: the weight
     * Kaiming-uniform with a = √5 (so U(±1/√fan_in)), the bias (may be null) U(±1/√fan_in).
     *
     * @param weight the weight to fill, in place, of at least 2 dimensions
     * @param bias   the bias to fill, in place, or null
     * @param rng    the random generator to draw from (the weight first, then the bias)
     * @throws IllegalArgumentException if {@code weight} has fewer than 2 dimensions
     */
    public static void layerDefaults(Tensor weight, Tensor bias, RandomGenerator rng) {
        kaimingUniform(weight, Math.sqrt(5), FanMode.FAN_IN, Nonlinearity.LEAKY_RELU, rng);
        if (bias != null) {
            double bound = 1 / Math.sqrt(fans(weight)[0]);
            uniform(bias, -bound, bound, rng);
        }
    }

    /**
     * Orthogonal initialisation over the weight viewed as [rows, Π other dims]: gain·Q with Q's rows or
     * columns (whichever are fewer) orthonormal.
     *
     * @param w    the weight to fill, in place, of at least 2 dimensions
     * @param gain the factor applied to Q
     * @param rng  the random generator to draw from
     * @return {@code w}
     * @throws IllegalArgumentException if {@code w} has fewer than 2 dimensions
     */
    public static Tensor orthogonal(Tensor w, double gain, RandomGenerator rng) {
        if (w.dim() < 2) {
            throw new IllegalArgumentException("orthogonal needs at least 2 dimensions, got shape "
                    + Arrays.toString(w.shape()));
        }
        int rows = Math.toIntExact(w.size(0));
        int cols = Math.toIntExact(w.numel() / Math.max(1, rows));
        boolean transpose = rows < cols;
        int m = transpose ? cols : rows; // m >= n
        int n = transpose ? rows : cols;
        double[][] a = new double[n][m]; // column j of the m×n matrix in a[j]
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                a[j][i] = rng.nextGaussian();
            }
        }
        // Modified Gram–Schmidt: columns become orthonormal and R's diagonal positive, which is the
        // sign convention PyTorch enforces after its Householder QR.
        for (int j = 0; j < n; j++) {
            for (int k = 0; k < j; k++) {
                double dot = 0;
                for (int i = 0; i < m; i++) dot += a[k][i] * a[j][i];
                for (int i = 0; i < m; i++) a[j][i] -= dot * a[k][i];
            }
            double norm = 0;
            for (int i = 0; i < m; i++) norm += a[j][i] * a[j][i];
            norm = Math.sqrt(norm);
            for (int i = 0; i < m; i++) a[j][i] /= norm;
        }
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double q = transpose ? a[r][c] : a[c][r];
                out[r * cols + c] = (float) (gain * q);
            }
        }
        return w.copyFrom(out);
    }

    /**
     * The identity matrix (ones on the main diagonal, zeros elsewhere) for a 2-d weight.
     *
     * @param w the weight to fill, in place
     * @return {@code w}
     * @throws IllegalArgumentException if {@code w} is not 2-d
     */
    public static Tensor identity(Tensor w) {
        if (w.dim() != 2) {
            throw new IllegalArgumentException("identity needs a 2-d weight, got shape " + Arrays.toString(w.shape()));
        }
        w.fill(0f);
        long d = Math.min(w.size(0), w.size(1));
        for (long i = 0; i < d; i++) {
            w.set(1f, i, i);
        }
        return w;
    }

    @FunctionalInterface
    private interface Sampler {
        double sample(long index);
    }

    private static Tensor set(Tensor w, Sampler s) {
        long n = w.numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor too large to initialise: " + n + " elements");
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) s.sample(i);
        }
        w.copyFrom(v);
        return w;
    }
}
