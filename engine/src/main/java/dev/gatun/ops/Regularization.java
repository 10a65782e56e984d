package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
        long n = x.numel();
        long seed = rng.nextLong();
        Tensor src = x.contiguous();
        Tensor y = Tensor.empty(x.shape());
        masked(src.storageForReading(), src.offset(), y.storage(), y.offset(), n, p, seed);
        // The mask is not kept: backward draws it again from the same seed.
        return Autograd.record(y, "dropout", g -> {
            Tensor gc = g.contiguous();
            Tensor dx = Tensor.empty(g.shape());
            masked(gc.storageForReading(), gc.offset(), dx.storage(), dx.offset(), n, p, seed);
            return new Tensor[] {dx};
        }, x);
    }

    /**
     * {@code dst[i] = src[i]·m[i]} for the n floats from the given offsets, m the inverted-dropout mask
     * of probability p drawn from {@code seed}: each m[i] is 0 with probability p, else 1/(1 − p). An
     * element survives when its 24-bit uniform u (nextFloat's resolution) satisfies u ≥ p·2²⁴; the bits
     * come from SplitMix64 started at the seed, each 64-bit output giving two elements their uniforms,
     * several times faster than a RandomGenerator call per element. The same seed gives the same mask,
     * so backward regenerates it instead of keeping it. src and dst may be the same region.
     */
    static void masked(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long n, float p,
                       long seed) {
        if (n <= 0) {
            return;
        }
        // Bounds checked once here, so that the loop's accesses need no further checks to be safe.
        MemorySegment s = src.asSlice(srcOffset * Float.BYTES, n * Float.BYTES);
        MemorySegment d = dst.asSlice(dstOffset * Float.BYTES, n * Float.BYTES);
        float keep = 1f / (1f - p);
        int threshold = (int) Math.ceil(p * (double) (1 << 24));
        long state = seed;
        long i = 0;
        for (; i + 1 < n; i += 2) {
            state += 0x9E3779B97F4A7C15L;
            long z = mix(state);
            // branch-free: keep when u − threshold has no sign bit (a mispredicted branch per element
            // would cost more than the random bits)
            float m0 = keep * ((((int) (z >>> 40) - threshold) >>> 31) ^ 1);
            float m1 = keep * ((((int) ((z >>> 16) & 0xFFFFFF) - threshold) >>> 31) ^ 1);
            d.setAtIndex(ValueLayout.JAVA_FLOAT, i, s.getAtIndex(ValueLayout.JAVA_FLOAT, i) * m0);
            d.setAtIndex(ValueLayout.JAVA_FLOAT, i + 1, s.getAtIndex(ValueLayout.JAVA_FLOAT, i + 1) * m1);
        }
        if (i < n) {
            long z = mix(state + 0x9E3779B97F4A7C15L);
            float m0 = keep * ((((int) (z >>> 40) - threshold) >>> 31) ^ 1);
            d.setAtIndex(ValueLayout.JAVA_FLOAT, i, s.getAtIndex(ValueLayout.JAVA_FLOAT, i) * m0);
        }
    }

    /** SplitMix64's output function (Steele, Lea and Flood, 2014). */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
