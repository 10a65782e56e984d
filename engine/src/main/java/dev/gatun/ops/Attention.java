package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Softmax;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * Scaled dot-product attention, forward and backward side by side, over batches of matrices
 * Q [..., Tq, d], K [..., Tk, d] and V [..., Tk, dv] with the same leading dimensions (e.g.
 * [B, heads, T, d] or [B·heads, T, d]). With s = 1/√d and an optional additive mask M that broadcasts
 * to [..., Tq, Tk] (0 where a query may look at a key, −∞ where it may not):
 *
 * <pre>
 *   S = s·Q·Kᵀ + M                 scores           [..., Tq, Tk]
 *   P = softmax(S) along the keys  attention weights
 *   P̃ = dropout(P)                 in training only; mask D ∈ {0, 1/(1 − p)}
 *   O = P̃·V                        output           [..., Tq, dv]
 *
 *   backward, from G = ∂O:
 *   ∂V = P̃ᵀ·G      ∂P = (G·Vᵀ) ⊙ D      ∂S = P ⊙ (∂P − Σ_keys ∂P ⊙ P)
 *   ∂Q = s·∂S·K    ∂K = s·∂Sᵀ·Q         ∂M = ∂S summed to M's shape
 * </pre>
 *
 * The four products (and the two of backward that make ∂Q and ∂K) are batched GEMMs through
 * {@link MatMul}, reading transposed and strided operands (e.g. heads sliced out of a projection) in
 * place, with the scale s inside the GEMM; the mask is added in place, the softmax and its backward are
 * oneDNN's, and dropout runs over the weights off-heap. For backward the op keeps P and, when the
 * weights are returned, P̃; the dropout mask is not kept but drawn again from its seed. The output and the
 * gradients of Q, K and V are laid out in memory in the order of Q's, K's and V's dimensions: for heads
 * sliced out of a projection [L, B, E] the output is [B, H, L, d] stored as [L, B, H, d], so that joining
 * the heads again, and the gradients' way back to the projection, are views rather than copies.
 *
 * <p>A row whose every key is masked (all −∞) has no softmax: its weights, its output row and the
 * gradients that flow through it are NaN, as in PyTorch 1.13 (which gives NaN on its training path and on
 * its fused inference path alike). In backward the NaN spreads to every gradient of Q, K and V that sums
 * over such a row, even when the row's own output gradient is zero, so leave every query at least one key.
 * {@link #scaledDotProductWithWeights} also returns the weights P̃.
 *
 * <p>Masks. A float32 mask is additive, as above, and may be learned (it gets a gradient). A bool mask
 * follows {@code torch.nn.MultiheadAttention}'s convention: true marks a key the query may <em>not</em>
 * attend (it becomes −∞), false one it may (0); see {@link #causalMask} and {@link #additiveMask}. (PyTorch
 * 2's {@code scaled_dot_product_attention} reads a bool mask the other way round.)
 */
public final class Attention {

    private Attention() {}

    /**
     * softmax(Q·Kᵀ/√d + mask)·V.
     *
     * @param q    the queries [..., Tq, d], float32
     * @param k    the keys [..., Tk, d], float32
     * @param v    the values [..., Tk, dv], float32
     * @param mask null, an additive float32 mask or a bool mask (true: may not attend), broadcasting to
     *             [..., Tq, Tk]
     * @return the output [..., Tq, dv]
     * @throws IllegalArgumentException if the shapes do not fit together, or the mask is int64
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor scaledDotProduct(Tensor q, Tensor k, Tensor v, Tensor mask) {
        return scaledDotProduct(q, k, v, mask, 0f, false, null);
    }

    /**
     * softmax(Q·Kᵀ/√d + mask)·V with dropout of probability {@code dropout} on the attention weights
     * when {@code training} (drawn from {@code rng}).
     *
     * @param q        the queries [..., Tq, d], float32
     * @param k        the keys [..., Tk, d], float32
     * @param v        the values [..., Tk, dv], float32
     * @param mask     null, an additive float32 mask or a bool mask (true: may not attend), broadcasting to
     *                 [..., Tq, Tk]
     * @param dropout  the probability of dropping an attention weight, in [0, 1)
     * @param training whether to apply dropout
     * @param rng      the generator of the dropout masks; needed only for dropout in training
     * @return the output [..., Tq, dv]
     * @throws IllegalArgumentException if the shapes do not fit together, the mask is int64, the dropout
     *                                  probability is out of range, or dropout needs a generator
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor scaledDotProduct(Tensor q, Tensor k, Tensor v, Tensor mask, float dropout, boolean training,
                                          RandomGenerator rng) {
        return attend(q, k, v, mask, dropout, training, rng, false).output();
    }

    /**
     * The output of attention and its attention weights, as {@link #scaledDotProductWithWeights} returns
     * them.
     *
     * @param output  softmax(Q·Kᵀ/√d + mask)·V after dropout on the weights, [..., Tq, dv]
     * @param weights the attention weights that multiplied V, [..., Tq, Tk]: after dropout in training (so
     *                a row then sums to about 1, not exactly), NaN in a row whose every key is masked
     */
    public record Weighted(Tensor output, Tensor weights) {}

    /**
     * As {@link #scaledDotProduct(Tensor, Tensor, Tensor, Tensor, float, boolean, RandomGenerator)}, also
     * returning the attention weights P̃ (the weights V was multiplied by, after dropout, as
     * {@code torch.nn.functional.multi_head_attention_forward} returns them). The weights are
     * differentiable too: a loss that uses them sends gradients to Q, K and a float32 mask.
     *
     * @param q        the queries [..., Tq, d], float32
     * @param k        the keys [..., Tk, d], float32
     * @param v        the values [..., Tk, dv], float32
     * @param mask     null, an additive float32 mask or a bool mask (true: may not attend), broadcasting to
     *                 [..., Tq, Tk]
     * @param dropout  the probability of dropping an attention weight, in [0, 1)
     * @param training whether to apply dropout
     * @param rng      the generator of the dropout masks; needed only for dropout in training
     * @return the output [..., Tq, dv] and the weights [..., Tq, Tk]
     * @throws IllegalArgumentException if the shapes do not fit together, the mask is int64, the dropout
     *                                  probability is out of range, or dropout needs a generator
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Weighted scaledDotProductWithWeights(Tensor q, Tensor k, Tensor v, Tensor mask, float dropout,
                                                       boolean training, RandomGenerator rng) {
        return attend(q, k, v, mask, dropout, training, rng, true);
    }

    private static Weighted attend(Tensor q, Tensor k, Tensor v, Tensor mask, float dropout, boolean training,
                                   RandomGenerator rng, boolean wantWeights) {
        mask = mask == null ? null : additiveMask(mask);
        long[] scoreShape = checkShapes(q, k, v, mask);
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("attention: dropout probability must be in [0, 1), got " + dropout);
        }
        boolean drop = training && dropout > 0;
        if (drop && rng == null) {
            throw new IllegalArgumentException("attention: dropout in training needs a random generator");
        }
        long keys = k.size(-2);
        long n = Kernels.checkedSize(scoreShape);
        float scale = (float) (1 / Math.sqrt(q.size(-1)));
        Tensor p;
        try (var ignored = Autograd.noGrad()) {
            p = MatMul.scaled(q, k.transpose(-1, -2), scale);
        }
        if (n == 0) {
            // No scores (no queries or no keys): the output is empty or zeros, and so are the gradients.
            Tensor out;
            try (var ignored = Autograd.noGrad()) {
                out = MatMul.matmul(p, v);
            }
            out = Autograd.record(out, "scaledDotProductAttention", g -> new Tensor[] {
                q.requiresGrad() ? Tensor.zeros(q.shape()) : null, k.requiresGrad() ? Tensor.zeros(k.shape()) : null,
                v.requiresGrad() ? Tensor.zeros(v.shape()) : null, null}, q, k, v, mask);
            return new Weighted(out, wantWeights ? p : null);
        }
        if (mask != null) {
            addMask(p, mask, scoreShape);
        }
        Softmax.forward(p.storage(), p.offset(), p.storage(), p.offset(), n / keys, keys);
        long seed = drop ? rng.nextLong() : 0;
        Tensor pd = p;
        Tensor out;
        if (drop && !wantWeights) {
            // P̃ only for this product: backward draws it again from the seed, so it need not be kept.
            try (Scope tmp = Scope.local(); var ignored = Autograd.noGrad()) {
                pd = Tensor.empty(tmp, scoreShape); // every element written by the mask
                Regularization.masked(p.storageForReading(), p.offset(), pd.storage(), pd.offset(), n, dropout, seed);
                out = MatMul.scaled(pd, v, 1f, q);
            }
            pd = null;
        } else {
            if (drop) {
                pd = Tensor.empty(scoreShape);
                Regularization.masked(p.storageForReading(), p.offset(), pd.storage(), pd.offset(), n, dropout,
                        seed);
            }
            out = MatMul.scaled(pd, v, 1f, q);
        }
        Tensor m = mask;
        Dropped d = new Dropped(p, drop ? pd : null, drop, dropout, seed);
        out = Autograd.record(out, "scaledDotProductAttention",
                g -> backward(g, q, k, v, m, d, scoreShape, scale), q, k, v, m);
        if (!wantWeights) {
            return new Weighted(out, null);
        }
        // The weights are an output of their own: ∂P̃ comes straight from the loss, and goes on as the
        // part of the output's backward that starts from ∂P̃.
        // Backward reads P and P̃ (P itself without dropout): the caller gets a copy of its own, which it may
        // write without changing the gradients of the output.
        Tensor weights = Autograd.record(Tensor.empty(scoreShape).copyFrom(drop ? pd : p), "attentionWeights",
                g -> scoreGradients(Tensor.empty(g.shape()).copyFrom(g), q, k, m, d, scoreShape, scale), q, k, m);
        return new Weighted(out, weights);
    }

    /**
     * What backward needs of the weights: P, and P̃ when it was made (else it is drawn again from the
     * dropout seed).
     */
    private record Dropped(Tensor p, Tensor pd, boolean drop, float dropout, long seed) {}

    /** scores += mask, the mask broadcast to the scores' shape, row by row off-heap. */
    private static void addMask(Tensor scores, Tensor mask, long[] scoreShape) {
        Tensor me = mask.expand(scoreShape);
        int r = scoreShape.length;
        long keys = scoreShape[r - 1];
        long rows = scores.numel() / keys;
        MemorySegment out = scores.storage();
        MemorySegment ms = me.storageForReading();
        long[] st = me.strides();
        long keyStride = st[r - 1];
        long[] idx = new long[r - 1];
        long mo = me.offset();
        long so = scores.offset();
        for (long row = 0; row < rows; row++) {
            for (long j = 0; j < keys; j++) {
                long at = (so + row * keys + j);
                out.setAtIndex(ValueLayout.JAVA_FLOAT, at, out.getAtIndex(ValueLayout.JAVA_FLOAT, at)
                        + ms.getAtIndex(ValueLayout.JAVA_FLOAT, mo + j * keyStride));
            }
            for (int dim = r - 2; dim >= 0; dim--) {
                mo += st[dim];
                if (++idx[dim] < scoreShape[dim]) break;
                mo -= st[dim] * scoreShape[dim];
                idx[dim] = 0;
            }
        }
    }

    private static Tensor[] backward(Tensor g, Tensor q, Tensor k, Tensor v, Tensor mask, Dropped d,
                                     long[] scoreShape, float scale) {
        Tensor dv = null;
        if (v.requiresGrad()) {
            if (d.drop() && d.pd() == null) {
                try (Scope tmp = Scope.local()) {
                    Tensor pd = Tensor.empty(tmp, scoreShape); // every element written by the mask
                    Regularization.masked(d.p().storageForReading(), d.p().offset(), pd.storage(), pd.offset(),
                            pd.numel(), d.dropout(), d.seed());
                    dv = MatMul.scaled(pd.transpose(-1, -2), g, 1f, v);
                }
            } else {
                dv = MatMul.scaled((d.drop() ? d.pd() : d.p()).transpose(-1, -2), g, 1f, v);
            }
        }
        boolean needScores = q.requiresGrad() || k.requiresGrad() || (mask != null && mask.requiresGrad());
        if (!needScores) {
            return new Tensor[] {null, null, dv, null};
        }
        Tensor[] s = scoreGradients(MatMul.matmul(g, v.transpose(-1, -2)), q, k, mask, d, scoreShape, scale);
        return new Tensor[] {s[0], s[1], dv, s[2]};
    }

    /**
     * From ∂P̃ (a contiguous tensor of the call's own, overwritten), the gradients of Q, K and the mask:
     * through dropout, the softmax and the scaling, as the class comment writes them.
     */
    private static Tensor[] scoreGradients(Tensor ds, Tensor q, Tensor k, Tensor mask, Dropped d, long[] scoreShape,
                                           float scale) {
        long n = ds.numel();
        if (n == 0) {
            return new Tensor[] {null, null, null};
        }
        MemorySegment dss = ds.storage();
        if (d.drop()) {
            Regularization.masked(dss, ds.offset(), dss, ds.offset(), n, d.dropout(), d.seed());
        }
        long keys = scoreShape[scoreShape.length - 1];
        Softmax.backward(d.p().storageForReading(), d.p().offset(), dss, ds.offset(), dss, ds.offset(), n / keys,
                keys);
        Tensor dMask = null;
        if (mask != null && mask.requiresGrad()) {
            dMask = Kernels.sumToShape(ds, mask.shape());
        }
        // The scale 1/√d rides in the products, so ∂S itself stays unscaled for the mask's gradient.
        Tensor dq = q.requiresGrad() ? MatMul.scaled(ds, k, scale, q) : null;
        Tensor dk = k.requiresGrad() ? MatMul.scaled(ds.transpose(-1, -2), q, scale, k) : null;
        return new Tensor[] {dq, dk, dMask};
    }

    /** Validates the operands; returns the shape of the scores, [..., Tq, Tk]. */
    private static long[] checkShapes(Tensor q, Tensor k, Tensor v, Tensor mask) {
        q.checkAlive();
        k.checkAlive();
        v.checkAlive();
        long[] qs = q.shape();
        long[] ks = k.shape();
        long[] vs = v.shape();
        if (qs.length < 2 || ks.length != qs.length || vs.length != qs.length) {
            throw new IllegalArgumentException("attention: query, key and value must have the same rank of at least 2,"
                    + " got " + Arrays.toString(qs) + ", " + Arrays.toString(ks) + ", " + Arrays.toString(vs));
        }
        int r = qs.length;
        if (!Arrays.equals(qs, 0, r - 2, ks, 0, r - 2) || !Arrays.equals(qs, 0, r - 2, vs, 0, r - 2)) {
            throw new IllegalArgumentException("attention: query " + Arrays.toString(qs) + ", key " + Arrays.toString(ks)
                    + " and value " + Arrays.toString(vs) + " differ in their batch dimensions");
        }
        if (qs[r - 1] != ks[r - 1]) {
            throw new IllegalArgumentException("attention: query width " + qs[r - 1] + " differs from key width "
                    + ks[r - 1] + " (query " + Arrays.toString(qs) + ", key " + Arrays.toString(ks) + ")");
        }
        if (ks[r - 2] != vs[r - 2]) {
            throw new IllegalArgumentException("attention: " + ks[r - 2] + " keys but " + vs[r - 2] + " values (key "
                    + Arrays.toString(ks) + ", value " + Arrays.toString(vs) + ")");
        }
        if (qs[r - 1] == 0) {
            throw new IllegalArgumentException("attention: query and key width must be positive, got shape "
                    + Arrays.toString(qs));
        }
        long[] scoreShape = qs.clone();
        scoreShape[r - 1] = ks[r - 2];
        Kernels.checkedSize(scoreShape);
        if (mask != null) {
            mask.checkAlive();
            long[] ms = mask.shape();
            boolean fits = ms.length <= r;
            for (int i = 0; fits && i < ms.length; i++) {
                long m = ms[ms.length - 1 - i];
                fits = m == 1 || m == scoreShape[r - 1 - i];
            }
            if (!fits) {
                throw new IllegalArgumentException("attention: mask of shape " + Arrays.toString(ms)
                        + " does not broadcast to the scores " + Arrays.toString(scoreShape));
            }
        }
        return scoreShape;
    }

    /**
     * The causal mask [tq, tk] as a bool tensor in {@code torch.nn.MultiheadAttention}'s convention: true
     * above the diagonal (key j &gt; query i may not be attended), so a position attends only to itself and
     * earlier ones ({@code torch.triu(torch.ones(tq, tk, dtype=torch.bool), diagonal=1)}).
     *
     * @param tq the number of queries
     * @param tk the number of keys
     * @return a bool tensor [tq, tk]
     * @throws IllegalArgumentException if a size is not positive
     */
    public static Tensor causalMask(long tq, long tk) {
        return causalMask(tq, tk, 0);
    }

    /**
     * The causal mask [tq, tk] of queries that sit at positions {@code offset}, ..., {@code offset + tq − 1}
     * of a sequence whose keys are positions 0, ..., tk − 1: true where key j &gt; offset + i (may not be
     * attended), {@code torch.triu(torch.ones(tq, tk, dtype=torch.bool), diagonal=1 + offset)}. With
     * earlier keys and values cached, the new queries of a sequence take offset = the cached length.
     *
     * @param tq     the number of queries
     * @param tk     the number of keys
     * @param offset the position of the first query, at least 0
     * @return a bool tensor [tq, tk]
     * @throws IllegalArgumentException if a size is not positive or the offset is negative
     */
    public static Tensor causalMask(long tq, long tk, long offset) {
        if (tq < 1 || tk < 1) {
            throw new IllegalArgumentException("causalMask needs positive sizes, got " + tq + " × " + tk);
        }
        if (offset < 0) {
            throw new IllegalArgumentException("causalMask: offset must not be negative, got " + offset);
        }
        boolean[] m = new boolean[Kernels.checkedSize(new long[] {tq, tk})];
        for (int i = 0; i < tq; i++) {
            for (long j = i + offset + 1; j < tk; j++) m[(int) (i * tk + j)] = true;
        }
        return Tensor.fromBooleans(m, tq, tk);
    }

    /**
     * The additive causal mask [tq, tk]: 0 where key j ≤ query i, −∞ above the diagonal
     * ({@code nn.Transformer.generate_square_subsequent_mask} for tq = tk).
     *
     * @param tq the number of queries
     * @param tk the number of keys
     * @return a float32 tensor [tq, tk]
     * @throws IllegalArgumentException if a size is not positive
     */
    public static Tensor additiveCausalMask(long tq, long tk) {
        return additiveMask(causalMask(tq, tk));
    }

    /**
     * A mask as the additive float32 mask attention adds to its scores: a bool mask becomes −∞ where it is
     * true (may not attend) and 0 where it is false; a float32 mask is returned as it is.
     *
     * @param mask a bool or float32 mask
     * @return the additive mask, of the same shape (a new tensor for a bool mask, not differentiable)
     * @throws IllegalArgumentException if the mask is int64
     * @throws IllegalStateException    if the mask is closed
     */
    public static Tensor additiveMask(Tensor mask) {
        mask.checkAlive();
        return switch (mask.dtype()) {
            case FLOAT32 -> mask;
            case BOOL -> {
                boolean[] b = mask.toBooleanArray();
                float[] m = new float[b.length];
                for (int i = 0; i < m.length; i++) m[i] = b[i] ? Float.NEGATIVE_INFINITY : 0f;
                yield Tensor.fromArray(m, mask.shape());
            }
            case INT64 -> throw new IllegalArgumentException("attention: a mask must be float32 (added to the scores)"
                    + " or bool (true: may not attend), got int64 (a tensor of shape " + Arrays.toString(mask.shape())
                    + ")");
        };
    }

    /**
     * An additive mask from a boolean one in {@code torch.nn.MultiheadAttention}'s convention: true
     * marks a position that may not be attended (−∞), false one that may (0). {@code masked} is
     * row-major of the given shape. (A bool tensor may be passed as the mask directly.)
     *
     * @param masked whether each position is hidden, row-major
     * @param shape  the mask's shape
     * @return a float32 tensor of that shape
     * @throws IllegalArgumentException if the values do not fill the shape
     */
    public static Tensor maskFromBoolean(boolean[] masked, long... shape) {
        return additiveMask(Tensor.fromBooleans(masked, shape));
    }
}
