package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.Attention;
import dev.gatun.ops.Compare;
import dev.gatun.ops.Indexing;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Multi-head attention as {@code torch.nn.MultiheadAttention} computes it (equal query, key and value
 * widths): with E = embed_dim, H = num_heads and d = E/H,
 *
 * <pre>
 *   Q = query·Wqᵀ + bq,  K = key·Wkᵀ + bk,  V = value·Wvᵀ + bv      (Wq, Wk, Wv: rows of in_proj_weight)
 *   headᵢ = softmax(Qᵢ·Kᵢᵀ/√d + mask)·Vᵢ                              (Qᵢ: columns i·d .. (i+1)·d of Q)
 *   out = concat(head₁ .. head_H)·W_oᵀ + b_o                           (out_proj)
 * </pre>
 *
 * Inputs are [L, B, E] (sequence first, PyTorch's default), [B, L, E] with {@code batchFirst}, or
 * [L, E] unbatched; key and value have S positions. Parameters, named as in PyTorch:
 * {@code in_proj_weight} [3E, E] (Xavier-uniform), {@code in_proj_bias} [3E] (zeros),
 * {@code out_proj.weight} [E, E] ({@link Linear}'s default) and {@code out_proj.bias} [E] (zeros); the
 * biases are absent without {@code bias}. Dropout of probability {@code dropout} acts on the attention
 * weights in training mode. The heads are strided views of the projections; the attention itself is
 * {@link Attention#scaledDotProduct}, batched over B·H.
 *
 * <p>Masks, as in PyTorch: {@code attnMask} [L, S] or [B·H, L, S] and {@code keyPaddingMask} [B, S] ([S]
 * unbatched) are each either bool, true marking a key that may not be attended (a padding position, a
 * future position: {@link Attention#causalMask}), or float32 and added to the scores (−∞ hides a key).
 * When both are given they combine as in PyTorch 1.13: a key is hidden if either hides it (the exact rules
 * for float masks are at {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, boolean, boolean)}). A
 * query whose every key is hidden gets NaN in its output (and weights, and gradients), as in PyTorch.
 *
 * <p>The attention weights, averaged over the heads or per head, come with
 * {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, boolean, boolean)} ({@code need_weights}); the
 * shorter forms return the output only, as PyTorch's layers call it ({@code need_weights=False}). For
 * generating a sequence position by position, {@link #forwardCached} keeps the keys and values of earlier
 * positions in a {@link KVCache}.
 */
public final class MultiheadAttention extends Module implements RandomModule {

    private final long embedDim;
    private final long numHeads;
    private final long headDim;
    private final float dropout;
    private final boolean batchFirst;
    private final Tensor inProjWeight;
    private final Tensor inProjBias;
    private final Linear outProj;
    private final Generator rng;

    /**
     * {@code nn.MultiheadAttention(embedDim, numHeads)}: no dropout, with biases, sequence first.
     *
     * @param embedDim the model width E
     * @param numHeads the number of heads H, dividing E
     * @throws IllegalArgumentException if a size is not positive or H does not divide E
     */
    public MultiheadAttention(long embedDim, long numHeads) {
        this(embedDim, numHeads, 0f, true, false);
    }

    /**
     * {@code nn.MultiheadAttention(embedDim, numHeads, dropout, bias, batch_first=batchFirst)}; the weights
     * are drawn from {@link Init#generator()}, and the dropout masks from a generator seeded by one draw
     * from it.
     *
     * @param embedDim   the model width E
     * @param numHeads   the number of heads H, dividing E
     * @param dropout    the dropout probability on the attention weights in training, in [0, 1)
     * @param bias       whether the projections have biases
     * @param batchFirst whether inputs are [B, L, E] rather than [L, B, E]
     * @throws IllegalArgumentException if a size is not positive, H does not divide E, or dropout is out of
     *                                  range
     */
    public MultiheadAttention(long embedDim, long numHeads, float dropout, boolean bias, boolean batchFirst) {
        if (embedDim < 1 || numHeads < 1) {
            throw new IllegalArgumentException("MultiheadAttention needs positive sizes, got embed_dim=" + embedDim
                    + " num_heads=" + numHeads);
        }
        if (embedDim % numHeads != 0) {
            throw new IllegalArgumentException("MultiheadAttention: embed_dim " + embedDim
                    + " is not divisible by num_heads " + numHeads);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("MultiheadAttention: dropout probability must be in [0, 1), got "
                    + dropout);
        }
        this.embedDim = embedDim;
        this.numHeads = numHeads;
        this.headDim = embedDim / numHeads;
        this.dropout = dropout;
        this.batchFirst = batchFirst;
        this.inProjWeight = addParameter("in_proj_weight", 3 * embedDim, embedDim);
        this.inProjBias = bias ? addParameter("in_proj_bias", 3 * embedDim) : null;
        this.outProj = addModule("out_proj", new Linear(embedDim, embedDim, bias));
        this.rng = new Generator(Init.generator().nextLong());
        resetParameters(Init.generator());
    }

    /**
     * As PyTorch's {@code _reset_parameters}: in_proj_weight Xavier-uniform, out_proj.weight
     * {@link Linear}'s default, both biases zero.
     *
     * @param rng the generator to draw from
     */
    public void resetParameters(RandomGenerator rng) {
        Init.xavierUniform(inProjWeight, 1, rng);
        Init.layerDefaults(outProj.weight(), null, rng);
        if (inProjBias != null) {
            inProjBias.fill(0f);
            outProj.bias().fill(0f);
        }
    }

    /**
     * The model width.
     *
     * @return E
     */
    public long embedDim() {
        return embedDim;
    }

    /**
     * The number of heads.
     *
     * @return H
     */
    public long numHeads() {
        return numHeads;
    }

    /**
     * Whether inputs are batch first.
     *
     * @return true for [B, L, E] inputs, false for [L, B, E]
     */
    public boolean batchFirst() {
        return batchFirst;
    }

    /**
     * The stacked query, key and value projection weights.
     *
     * @return {@code in_proj_weight} [3E, E], a parameter
     */
    public Tensor inProjWeight() {
        return inProjWeight;
    }

    /**
     * The input projection's bias.
     *
     * @return {@code in_proj_bias} [3E], or null without biases
     */
    public Tensor inProjBias() {
        return inProjBias;
    }

    /**
     * The output projection.
     *
     * @return {@code out_proj}, an E → E linear layer
     */
    public Linear outProj() {
        return outProj;
    }

    /**
     * The generator of the dropout masks (see {@link RandomModule}).
     *
     * @return the generator
     */
    @Override
    public Generator generator() {
        return rng;
    }

    /**
     * Self-attention without masks: {@code forward(x, x, x, null, null)}.
     *
     * @param x the input [L, B, E], [B, L, E] with batchFirst, or [L, E]
     * @return the output, of x's shape
     * @throws IllegalArgumentException if the input's shape does not fit
     */
    @Override
    public Tensor forward(Tensor x) {
        return forward(x, x, x, null, null);
    }

    /**
     * Attention of query over key and value with an attention mask ({@code attn_mask}).
     *
     * @param query    [L, B, E], [B, L, E] with batchFirst, or [L, E]
     * @param key      [S, B, E], [B, S, E] with batchFirst, or [S, E]
     * @param value    of key's shape
     * @param attnMask null, or [L, S] or [B·H, L, S]: bool (true: may not attend, e.g.
     *                 {@link Attention#causalMask}) or float32 (added to the scores)
     * @return the output, of query's shape
     * @throws IllegalArgumentException if a shape does not fit, or the mask is int64
     */
    public Tensor forward(Tensor query, Tensor key, Tensor value, Tensor attnMask) {
        return forward(query, key, value, attnMask, null);
    }

    /**
     * As {@link #forward(Tensor, Tensor, Tensor, Tensor)}, with a {@code keyPaddingMask}
     * ({@code key_padding_mask}) that hides keys of each sequence from every query.
     *
     * @param query          [L, B, E], [B, L, E] with batchFirst, or [L, E]
     * @param key            [S, B, E], [B, S, E] with batchFirst, or [S, E]
     * @param value          of key's shape
     * @param attnMask       null, or [L, S] or [B·H, L, S]: bool (true: may not attend) or float32 (added)
     * @param keyPaddingMask null, or [B, S] ([S] unbatched): bool (true: a padding key, hidden) or float32
     *                       (added)
     * @return the output, of query's shape
     * @throws IllegalArgumentException if a shape does not fit, or a mask is int64
     */
    public Tensor forward(Tensor query, Tensor key, Tensor value, Tensor attnMask, Tensor keyPaddingMask) {
        return forward(query, key, value, attnMask, keyPaddingMask, false, true).output();
    }

    /**
     * What {@link #forward(Tensor, Tensor, Tensor, Tensor, Tensor, boolean, boolean)} returns, PyTorch's
     * {@code (attn_output, attn_output_weights)}.
     *
     * @param output  the attention output, of the query's shape
     * @param weights null unless asked for; else the attention weights, batch first whatever the layout of
     *                the inputs: averaged over the heads [B, L, S] ([L, S] unbatched), or per head
     *                [B, H, L, S] ([H, L, S] unbatched). They are the weights the values were multiplied by:
     *                after dropout in training, NaN in the rows of a query whose every key is masked.
     */
    public record Result(Tensor output, Tensor weights) {}

    /**
     * {@code torch.nn.MultiheadAttention.forward(query, key, value, key_padding_mask, need_weights,
     * attn_mask, average_attn_weights)} (the arguments in another order): the output and, with
     * {@code needWeights}, the attention weights. The weights are differentiable, like PyTorch's.
     *
     * <p>Masks combine as in PyTorch 1.13: two bool masks hide a key that either hides; a float32
     * {@code attnMask} with a bool {@code keyPaddingMask} is set to −∞ at the padding keys
     * ({@code masked_fill}); a float32 {@code keyPaddingMask} is added (PyTorch 2's rule: 1.13 reads a float
     * padding mask beside a bool attn_mask as bool, non-zero hiding the key, and ignores it beside a float
     * one, so the two agree only for masks of 0 and −∞). A query whose every key is hidden gets NaN in its
     * output row and weights, and NaN gradients, as in PyTorch 1.13 (see {@link Attention}).
     *
     * @param query              [L, B, E], [B, L, E] with batchFirst, or [L, E]
     * @param key                [S, B, E], [B, S, E] with batchFirst, or [S, E]
     * @param value              of key's shape
     * @param attnMask           null, or [L, S] or [B·H, L, S]: bool (true: may not attend) or float32
     *                           (added)
     * @param keyPaddingMask     null, or [B, S] ([S] unbatched): bool (true: a padding key) or float32
     *                           (added)
     * @param needWeights        whether to return the attention weights ({@code need_weights})
     * @param averageAttnWeights whether the weights are averaged over the heads ({@code average_attn_weights})
     *                           rather than given per head; ignored without needWeights
     * @return the output and, with needWeights, the weights (else null)
     * @throws IllegalArgumentException if a shape does not fit, or a mask is int64
     */
    public Result forward(Tensor query, Tensor key, Tensor value, Tensor attnMask, Tensor keyPaddingMask,
                          boolean needWeights, boolean averageAttnWeights) {
        query.checkAlive();
        key.checkAlive();
        value.checkAlive();
        boolean unbatched = query.dim() == 2;
        checkInput("query", query);
        checkInput("key", key);
        checkInput("value", value);
        if (key.dim() != query.dim() || value.dim() != query.dim()) {
            throw new IllegalArgumentException("MultiheadAttention: query " + Arrays.toString(query.shape()) + ", key "
                    + Arrays.toString(key.shape()) + " and value " + Arrays.toString(value.shape())
                    + " must all be batched or all unbatched");
        }
        if (!Arrays.equals(key.shape(), value.shape())) {
            throw new IllegalArgumentException("MultiheadAttention: key " + Arrays.toString(key.shape())
                    + " and value " + Arrays.toString(value.shape()) + " differ in shape");
        }
        // Positions and batch along the 3-d layout: [L, B, E] or [B, L, E]; unbatched [L, E] as [L, 1, E].
        int seqDim = batchFirst && !unbatched ? 1 : 0;
        int batchDim = 1 - seqDim;
        long l = query.size(unbatched ? 0 : seqDim);
        long s = key.size(unbatched ? 0 : seqDim);
        long b = unbatched ? 1 : query.size(batchDim);
        if (!unbatched && key.size(batchDim) != b) {
            throw new IllegalArgumentException("MultiheadAttention: query has batch " + b + " but key has batch "
                    + key.size(batchDim) + " (shapes " + Arrays.toString(query.shape()) + ", "
                    + Arrays.toString(key.shape()) + ")");
        }
        Tensor mask = combinedMask(attnMask, keyPaddingMask, b, l, s, unbatched);
        long e = embedDim;
        Tensor q;
        Tensor k;
        Tensor v;
        if (query == key && key == value) {
            // Self-attention: one GEMM with the whole input projection, then views of its three parts.
            Tensor qkv = MatMul.linear(query, inProjWeight, inProjBias);
            q = heads(qkv.slice(-1, 0, e), seqDim, unbatched);
            k = heads(qkv.slice(-1, e, 2 * e), seqDim, unbatched);
            v = heads(qkv.slice(-1, 2 * e, 3 * e), seqDim, unbatched);
        } else {
            q = heads(project(query, 0), seqDim, unbatched);   // [B, H, L, d]
            k = heads(project(key, 1), seqDim, unbatched);     // [B, H, S, d]
            v = heads(project(value, 2), seqDim, unbatched);   // [B, H, S, d]
        }
        Attention.Weighted att = needWeights
                ? Attention.scaledDotProductWithWeights(q, k, v, mask, dropout, isTraining(), rng)
                : new Attention.Weighted(Attention.scaledDotProduct(q, k, v, mask, dropout, isTraining(), rng), null);
        Tensor out = outProj.forward(concatHeads(att.output(), b, l, unbatched));
        Tensor weights = null;
        if (needWeights) {
            weights = att.weights();                                           // [B, H, L, S]
            if (averageAttnWeights) {
                // As PyTorch: the sum over the heads divided by their number.
                weights = Arithmetic.divScalar(Reduce.sum(weights, new int[] {1}, false), numHeads);  // [B, L, S]
            }
            if (unbatched) {
                weights = weights.select(0, 0);
            }
        }
        return new Result(out, weights);
    }

    /** [B, H, L, d] → [L, B, E], [B, L, E] or [L, E], the heads side by side. */
    private Tensor concatHeads(Tensor o, long b, long l, boolean unbatched) {
        if (unbatched) {
            return o.select(0, 0).transpose(0, 1).reshape(l, embedDim);
        } else if (batchFirst) {
            return o.permute(0, 2, 1, 3).reshape(b, l, embedDim);
        }
        return o.permute(2, 0, 1, 3).reshape(l, b, embedDim);
    }

    /**
     * The keys and values of the positions a {@link MultiheadAttention} has seen so far in
     * {@link #forwardCached}, so that a sequence grows one position (or a few) at a time while each new
     * position costs only its own projections and one row of attention scores per head. Made by
     * {@link #newKVCache}; it belongs to that layer. Its tensors live in a scope of the thread that made it
     * and only that thread may use it; {@link #close()} frees them.
     */
    public static final class KVCache implements AutoCloseable {

        private final MultiheadAttention owner;
        private final Scope scope;
        private final long batch;
        private final long capacity;
        private final Tensor keys;
        private final Tensor values;
        private long length;

        private KVCache(MultiheadAttention owner, long batch, long capacity) {
            this.owner = owner;
            this.batch = batch;
            this.capacity = capacity;
            this.scope = Scope.local();
            try {
                this.keys = Tensor.zeros(scope, batch, owner.numHeads, capacity, owner.headDim);
                this.values = Tensor.zeros(scope, batch, owner.numHeads, capacity, owner.headDim);
            } catch (RuntimeException e) {
                scope.close();
                throw e;
            }
        }

        /**
         * The number of positions cached so far.
         *
         * @return from 0 to {@link #capacity()}
         */
        public long length() {
            return length;
        }

        /**
         * The most positions the cache holds.
         *
         * @return the capacity it was made with
         */
        public long capacity() {
            return capacity;
        }

        /**
         * The number of sequences it caches.
         *
         * @return B (1 for unbatched inputs)
         */
        public long batchSize() {
            return batch;
        }

        /** Forgets every position, so that a new sequence starts at position 0; the memory is kept. */
        public void clear() {
            length = 0;
        }

        /** Frees the cached keys and values; using the cache afterwards throws. Idempotent. */
        @Override
        public void close() {
            scope.close();
        }
    }

    /**
     * A cache for {@link #forwardCached}: keys and values of up to {@code capacity} positions of
     * {@code batch} sequences, [B, H, capacity, d] each, zero-filled (about 2·B·capacity·E floats).
     *
     * @param batch    the number of sequences B, 1 for unbatched inputs
     * @param capacity the most positions it will hold
     * @return a new empty cache, usable only on the calling thread; close it when done
     * @throws IllegalArgumentException if a size is not positive
     */
    public KVCache newKVCache(long batch, long capacity) {
        if (batch < 1 || capacity < 1) {
            throw new IllegalArgumentException("MultiheadAttention: a KV cache needs positive sizes, got batch="
                    + batch + " capacity=" + capacity);
        }
        return new KVCache(this, batch, capacity);
    }

    /**
     * Causal self-attention of {@code x}, the next n positions of the cached sequences: their keys and
     * values are appended to {@code cache}, and each new position attends to every cached position and to
     * the new ones up to itself. With an empty cache this equals {@code forward(x, x, x, causalMask(n, n))};
     * fed one position at a time it equals, position by position, that call on the whole sequence (within
     * float rounding). Dropout acts as in {@link #forward(Tensor)} (in training only). Nothing is recorded
     * for autograd: this is for inference.
     *
     * @param x     the new positions [n, B, E], [B, n, E] with batchFirst, or [n, E] for a cache of batch 1
     * @param cache a cache of this layer, from {@link #newKVCache}
     * @return the output for the new positions, of x's shape
     * @throws IllegalArgumentException if x's shape does not fit, the cache belongs to another layer or has
     *                                  another batch size, or the new positions exceed its capacity
     * @throws IllegalStateException    if the cache or a tensor is closed
     */
    public Tensor forwardCached(Tensor x, KVCache cache) {
        x.checkAlive();
        checkInput("x", x);
        if (cache.owner != this) {
            throw new IllegalArgumentException("MultiheadAttention: the KV cache belongs to another layer");
        }
        boolean unbatched = x.dim() == 2;
        int seqDim = batchFirst && !unbatched ? 1 : 0;
        long n = x.size(unbatched ? 0 : seqDim);
        long b = unbatched ? 1 : x.size(1 - seqDim);
        if (b != cache.batch) {
            throw new IllegalArgumentException("MultiheadAttention: input of batch " + b + " (shape "
                    + Arrays.toString(x.shape()) + ") for a KV cache of batch " + cache.batch);
        }
        long start = cache.length;
        if (n > cache.capacity - start) {
            throw new IllegalArgumentException("MultiheadAttention: " + n + " new positions after " + start
                    + " cached exceed the KV cache's capacity " + cache.capacity);
        }
        long e = embedDim;
        try (var ignored = Autograd.noGrad()) {
            Tensor qkv = MatMul.linear(x, inProjWeight, inProjBias);
            Tensor q = heads(qkv.slice(-1, 0, e), seqDim, unbatched);                  // [B, H, n, d]
            cache.keys.slice(2, start, start + n).copyFrom(heads(qkv.slice(-1, e, 2 * e), seqDim, unbatched));
            cache.values.slice(2, start, start + n).copyFrom(heads(qkv.slice(-1, 2 * e, 3 * e), seqDim, unbatched));
            cache.length = start + n;
            Tensor k = cache.keys.slice(2, 0, start + n);                                   // [B, H, start + n, d]
            Tensor v = cache.values.slice(2, 0, start + n);
            // A single new position may see every cached one; several must not see each other's future.
            Tensor mask = n == 1 ? null : Attention.causalMask(n, start + n, start);
            Tensor o = Attention.scaledDotProduct(q, k, v, mask, dropout, isTraining(), rng);
            return outProj.forward(concatHeads(o, b, n, unbatched));
        }
    }

    private void checkInput(String name, Tensor t) {
        if (t.dim() != 2 && t.dim() != 3) {
            throw new IllegalArgumentException("MultiheadAttention: " + name + " must be "
                    + (batchFirst ? "[B, L, E]" : "[L, B, E]") + " or [L, E], got " + Arrays.toString(t.shape()));
        }
        if (t.size(-1) != embedDim) {
            throw new IllegalArgumentException("MultiheadAttention: " + name + " must end in embed_dim " + embedDim
                    + ", got shape " + Arrays.toString(t.shape()));
        }
    }

    /** x·Wᵀ + b with the {@code part}-th block of rows (0: query, 1: key, 2: value) of the input projection. */
    private Tensor project(Tensor x, int part) {
        long e = embedDim;
        Tensor w = inProjWeight.slice(0, part * e, (part + 1) * e);
        Tensor bias = inProjBias == null ? null : inProjBias.slice(0, part * e, (part + 1) * e);
        return MatMul.linear(x, w, bias);
    }

    /** [L, B, E], [B, L, E] or [L, E] → [B, H, L, d], a view. */
    private Tensor heads(Tensor x, int seqDim, boolean unbatched) {
        if (unbatched) {
            return x.view(x.size(0), numHeads, headDim).transpose(0, 1).unsqueeze(0);
        }
        Tensor split = x.view(x.size(0), x.size(1), numHeads, headDim);
        return seqDim == 0 ? split.permute(1, 2, 0, 3) : split.permute(0, 2, 1, 3);
    }

    /**
     * The mask to apply to the scores [B, H, L, S] (bool or additive, broadcasting), or null: attn_mask and
     * key_padding_mask combined as PyTorch 1.13 combines them (see {@link #forward(Tensor, Tensor, Tensor,
     * Tensor, Tensor, boolean, boolean)}).
     */
    private Tensor combinedMask(Tensor attnMask, Tensor keyPaddingMask, long b, long l, long s, boolean unbatched) {
        Tensor mask = null;
        if (attnMask != null) {
            attnMask.checkAlive();
            if (attnMask.dtype() == DType.INT64) {
                Attention.additiveMask(attnMask);  // throws, naming the dtype
            }
            long[] ms = attnMask.shape();
            if (Arrays.equals(ms, new long[] {l, s})) {
                mask = attnMask;
            } else if (Arrays.equals(ms, new long[] {b * numHeads, l, s})) {
                mask = attnMask.view(b, numHeads, l, s);
            } else {
                throw new IllegalArgumentException("MultiheadAttention: attn_mask must be [" + l + ", " + s + "] or ["
                        + b * numHeads + ", " + l + ", " + s + "], got " + Arrays.toString(ms));
            }
        }
        if (keyPaddingMask != null) {
            keyPaddingMask.checkAlive();
            if (keyPaddingMask.dtype() == DType.INT64) {
                Attention.additiveMask(keyPaddingMask);  // throws, naming the dtype
            }
            long[] expected = unbatched ? new long[] {s} : new long[] {b, s};
            if (!Arrays.equals(keyPaddingMask.shape(), expected)) {
                throw new IllegalArgumentException("MultiheadAttention: key_padding_mask must be "
                        + Arrays.toString(expected) + ", got " + Arrays.toString(keyPaddingMask.shape()));
            }
            Tensor padding = keyPaddingMask.reshape(b, 1, 1, s);
            if (mask == null) {
                mask = padding;
            } else if (padding.dtype() == DType.BOOL) {
                mask = mask.dtype() == DType.BOOL ? Compare.logicalOr(mask, padding)
                        : Indexing.maskedFill(mask, padding, Double.NEGATIVE_INFINITY);
            } else {
                mask = Arithmetic.add(Attention.additiveMask(mask), padding);
            }
        }
        return mask;
    }

    /**
     * The settings a model file records to rebuild this layer.
     *
     * @return the type, the sizes, the dropout probability and the flags
     */
    @Override
    public Map<String, Object> spec() {
        return spec("MultiheadAttention", "embedDim", embedDim, "numHeads", numHeads, "dropout", dropout,
                "bias", inProjBias != null, "batchFirst", batchFirst);
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code MultiheadAttention(8, heads 2)}
     */
    @Override
    public String describe() {
        return "MultiheadAttention(" + embedDim + ", heads " + numHeads + (dropout > 0 ? ", dropout " + dropout : "")
                + (inProjBias == null ? ", no bias" : "") + (batchFirst ? ", batch first" : "") + ")";
    }
}
