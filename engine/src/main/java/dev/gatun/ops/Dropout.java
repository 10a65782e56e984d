package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.util.random.RandomGenerator;

/**
 * Inverted dropout: in training each element is zeroed with probability p and the survivors are
 * scaled by 1/(1 − p), so the expected value is unchanged and evaluation is the identity.
 * ∂x = g·mask, with mask ∈ {0, 1/(1 − p)}.
 */
public final class Dropout {

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
        float[] v = x.toArray();
        float[] mask = new float[v.length];
        float keep = 1f / (1f - p);
        for (int i = 0; i < v.length; i++) {
            // keep when u >= p, i.e. when u − p has no sign bit; branch-free (a mispredicted
            // branch per element would cost more than the random number)
            float u = rng.nextFloat();
            float m = keep * ((Float.floatToRawIntBits(u - p) >>> 31) ^ 1);
            mask[i] = m;
            v[i] *= m;
        }
        Tensor y = Tensor.fromArray(v, x.shape());
        return Autograd.record(y, "dropout", g -> {
            float[] dx = g.toArray();
            for (int i = 0; i < dx.length; i++) dx[i] *= mask[i];
            return new Tensor[] {Tensor.fromArray(dx, g.shape())};
        }, x);
    }
}
