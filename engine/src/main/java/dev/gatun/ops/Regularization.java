package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.util.random.RandomGenerator;

/**
 * Regularization ops that act while training. Inverted dropout: in training each element is zeroed with
 * probability p and the survivors are scaled by 1/(1 − p), so the expected value is unchanged and
 * evaluation is the identity; ∂x = g·mask, with mask ∈ {0, 1/(1 − p)}. The layer is
 * {@link dev.gatun.nn.Dropout}.
 */
public final class Regularization {

    private Regularization() {}

    /**
     * Inverted dropout with probability p, the mask drawn from rng; the identity (x itself) when not
     * training or p = 0.
     *
     * @param x        the input, of any shape
     * @param p        the probability of zeroing an element, in [0, 1)
     * @param training whether to drop (false: return x)
     * @param rng      the source of the mask (one value drawn per call)
     * @return the result, of x's shape, recorded for autograd
     * @throws IllegalArgumentException if p lies outside [0, 1), or rng is null when a mask is needed
     * @throws IllegalStateException if x has been freed
     */
    public static Tensor dropout(Tensor x, float p, boolean training, RandomGenerator rng) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        if (training && p > 0 && rng == null) {
            throw new IllegalArgumentException("dropout in training needs a random generator, got null");
        }
        x.checkAlive();
        if (!training || p == 0) {
            return x;
        }
        float[] v = x.toArray();
        float[] mask = mask(v.length, p, rng);
        for (int i = 0; i < v.length; i++) v[i] *= mask[i];
        Tensor y = Tensor.fromArray(v, x.shape());
        return Autograd.record(y, "dropout", g -> {
            float[] dx = g.toArray();
            for (int k = 0; k < dx.length; k++) dx[k] *= mask[k];
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }

    /**
     * An inverted-dropout mask of n elements: each 0 with probability p, else 1/(1 − p). An element
     * survives when its 24-bit uniform u (nextFloat's resolution) satisfies u ≥ p·2²⁴. The bits come from
     * SplitMix64 seeded by one draw from rng: each 64-bit output gives two elements their uniforms,
     * several times faster than a RandomGenerator call per element.
     */
    static float[] mask(int n, float p, RandomGenerator rng) {
        float[] mask = new float[n];
        float keep = 1f / (1f - p);
        int threshold = (int) Math.ceil(p * (double) (1 << 24));
        long state = rng.nextLong();
        int i = 0;
        for (; i + 1 < n; i += 2) {
            state += 0x9E3779B97F4A7C15L;
            long z = mix(state);
            // branch-free: keep when u − threshold has no sign bit (a mispredicted branch per element
            // would cost more than the random bits)
            mask[i] = keep * ((((int) (z >>> 40) - threshold) >>> 31) ^ 1);
            mask[i + 1] = keep * ((((int) ((z >>> 16) & 0xFFFFFF) - threshold) >>> 31) ^ 1);
        }
        if (i < n) {
            long z = mix(state + 0x9E3779B97F4A7C15L);
            mask[i] = keep * ((((int) (z >>> 40) - threshold) >>> 31) ^ 1);
        }
        return mask;
    }

    /** SplitMix64's output function (Steele, Lea and Flood, 2014). */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
