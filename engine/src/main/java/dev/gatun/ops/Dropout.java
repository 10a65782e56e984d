package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.random.RandomGenerator;

/**
 * Inverted dropout: in training each element is zeroed with probability p and the survivors are
 * scaled by 1/(1 − p), so the expected value is unchanged and evaluation is the identity.
 * ∂x = g·mask, with mask ∈ {0, 1/(1 − p)}.
 */
public final class Dropout {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private Dropout() {}

    /** Dropout with probability p drawn from rng; the identity (x itself) when not training or p = 0. */
    public static Tensor dropout(Tensor x, float p, boolean training, RandomGenerator rng) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        x.checkAlive();
        if (!training || p == 0) {
            return x;
        }
        Tensor in = x.contiguous();
        Tensor mask = Tensor.zeros(x.shape());
        Tensor y = Tensor.zeros(x.shape());
        MemorySegment a = in.storage();
        MemorySegment m = mask.storage();
        MemorySegment o = y.storage();
        long off = in.offset();
        long n = y.numel();
        float keep = 1f / (1f - p);
        for (long i = 0; i < n; i++) {
            float mv = rng.nextFloat() >= p ? keep : 0f;
            m.setAtIndex(F, i, mv);
            o.setAtIndex(F, i, a.getAtIndex(F, off + i) * mv);
        }
        return Autograd.record(y, "dropout", g -> new Tensor[] {Kernels.mul(g, mask)}, x);
    }
}
