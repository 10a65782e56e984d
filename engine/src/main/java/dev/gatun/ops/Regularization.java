package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.DropoutMask;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
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

    /** The mask of probability p drawn from {@code seed}, applied natively ({@link DropoutMask}). */
    static void masked(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long n, float p,
                       long seed) {
        DropoutMask.apply(src, srcOffset, dst, dstOffset, n, p, seed);
    }
}
