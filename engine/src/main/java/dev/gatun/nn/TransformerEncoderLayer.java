package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * One Transformer encoder layer as {@code torch.nn.TransformerEncoderLayer} builds it: self-attention
 * and a position-wise feed-forward network, each inside a residual connection with layer norm.
 *
 * <pre>
 *   sa(x) = dropout1(self_attn(x, x, x, mask))
 *   ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))
 *   post-norm (default):  x = norm1(x + sa(x));   x = norm2(x + ff(x))
 *   pre-norm (normFirst): x = x + sa(norm1(x));   x = x + ff(norm2(x))
 * </pre>
 *
 * Children are named as in PyTorch ({@code self_attn}, {@code linear1}, {@code dropout},
 * {@code linear2}, {@code norm1}, {@code norm2}, {@code dropout1}, {@code dropout2}), so the parameters
 * are {@code self_attn.in_proj_weight}, ..., {@code norm2.bias}. Inputs are [T, B, d_model] or
 * [B, T, d_model] with {@link Options#batchFirst()}. The masks are {@link MultiheadAttention}'s: bool
 * (true hides a key, e.g. {@link dev.gatun.ops.Attention#causalMask}) or float32 (added to the scores).
 */
public final class TransformerEncoderLayer extends Module {

    /** The feed-forward network's activation. */
    public enum FeedForwardActivation {
        /** max(0, x), PyTorch's default. */
        RELU,
        /** The exact (erf) GELU. */
        GELU
    }

    /**
     * The settings beyond d_model and nhead, PyTorch's defaults from {@link #defaults()}:
     * dim_feedforward 2048, dropout 0.1, ReLU, layer_norm_eps 1e-5, sequence first, post-norm.
     *
     * @param dimFeedforward the hidden width of the feed-forward network ({@code dim_feedforward})
     * @param dropout        the dropout probability of every dropout in the layer, in [0, 1)
     * @param activation     the feed-forward network's activation
     * @param layerNormEps   the layer norms' epsilon ({@code layer_norm_eps}), positive
     * @param batchFirst     whether inputs are [B, T, d_model] rather than [T, B, d_model]
     * @param normFirst      whether the layer norms come before each block (pre-norm) rather than after
     */
    public record Options(long dimFeedforward, float dropout, FeedForwardActivation activation, float layerNormEps,
                          boolean batchFirst, boolean normFirst) {

        /**
         * Checks the settings.
         *
         * @throws IllegalArgumentException if a size or epsilon is not positive, dropout is out of range, or
         *                                  the activation is null
         */
        public Options {
            if (dimFeedforward < 1) {
                throw new IllegalArgumentException("TransformerEncoderLayer: dim_feedforward must be positive, got "
                        + dimFeedforward);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException("TransformerEncoderLayer: dropout probability must be in [0, 1),"
                        + " got " + dropout);
            }
            if (activation == null) {
                throw new IllegalArgumentException("TransformerEncoderLayer: activation is null");
            }
            if (!(layerNormEps > 0)) {
                throw new IllegalArgumentException("TransformerEncoderLayer: layer_norm_eps must be positive, got "
                        + layerNormEps);
            }
        }

        /**
         * PyTorch's defaults.
         *
         * @return dim_feedforward 2048, dropout 0.1, ReLU, layer_norm_eps 1e-5, sequence first, post-norm
         */
        public static Options defaults() {
            return new Options(2048, 0.1f, FeedForwardActivation.RELU, 1e-5f, false, false);
        }

        /**
         * These options with another feed-forward width.
         *
         * @param v the hidden width, positive
         * @return the new options
         * @throws IllegalArgumentException if v is not positive
         */
        public Options withDimFeedforward(long v) {
            return new Options(v, dropout, activation, layerNormEps, batchFirst, normFirst);
        }

        /**
         * These options with another dropout probability.
         *
         * @param v the probability, in [0, 1)
         * @return the new options
         * @throws IllegalArgumentException if v is out of range
         */
        public Options withDropout(float v) {
            return new Options(dimFeedforward, v, activation, layerNormEps, batchFirst, normFirst);
        }

        /**
         * These options with another activation.
         *
         * @param v the activation, not null
         * @return the new options
         * @throws IllegalArgumentException if v is null
         */
        public Options withActivation(FeedForwardActivation v) {
            return new Options(dimFeedforward, dropout, v, layerNormEps, batchFirst, normFirst);
        }

        /**
         * These options with another layer-norm epsilon.
         *
         * @param v the epsilon, positive
         * @return the new options
         * @throws IllegalArgumentException if v is not positive
         */
        public Options withLayerNormEps(float v) {
            return new Options(dimFeedforward, dropout, activation, v, batchFirst, normFirst);
        }

        /**
         * These options with inputs batch first or not.
         *
         * @param v whether inputs are [B, T, d_model]
         * @return the new options
         */
        public Options withBatchFirst(boolean v) {
            return new Options(dimFeedforward, dropout, activation, layerNormEps, v, normFirst);
        }

        /**
         * These options with pre-norm or post-norm.
         *
         * @param v whether the layer norms come first (pre-norm)
         * @return the new options
         */
        public Options withNormFirst(boolean v) {
            return new Options(dimFeedforward, dropout, activation, layerNormEps, batchFirst, v);
        }
    }

    private final long dModel;
    private final long nhead;
    private final Options options;
    private final MultiheadAttention selfAttn;
    private final Linear linear1;
    private final Dropout dropout;
    private final Linear linear2;
    private final LayerNorm norm1;
    private final LayerNorm norm2;
    private final Dropout dropout1;
    private final Dropout dropout2;

    /**
     * {@code nn.TransformerEncoderLayer(dModel, nhead)} with PyTorch's defaults.
     *
     * @param dModel the model width
     * @param nhead  the number of attention heads, dividing dModel
     * @throws IllegalArgumentException if a size is not positive or nhead does not divide dModel
     */
    public TransformerEncoderLayer(long dModel, long nhead) {
        this(dModel, nhead, Options.defaults());
    }

    /**
     * {@code nn.TransformerEncoderLayer(dModel, nhead, ...)} with the given settings; weights are drawn from
     * {@link Init#generator()}.
     *
     * @param dModel  the model width
     * @param nhead   the number of attention heads, dividing dModel
     * @param options the other settings
     * @throws IllegalArgumentException if a size is not positive or nhead does not divide dModel
     */
    public TransformerEncoderLayer(long dModel, long nhead, Options options) {
        this.dModel = dModel;
        this.nhead = nhead;
        this.options = options;
        selfAttn = addModule("self_attn", new MultiheadAttention(dModel, nhead, options.dropout(), true,
                options.batchFirst()));
        linear1 = addModule("linear1", new Linear(dModel, options.dimFeedforward()));
        dropout = addModule("dropout", new Dropout(options.dropout()));
        linear2 = addModule("linear2", new Linear(options.dimFeedforward(), dModel));
        norm1 = addModule("norm1", new LayerNorm(new long[] {dModel}, options.layerNormEps(), true));
        norm2 = addModule("norm2", new LayerNorm(new long[] {dModel}, options.layerNormEps(), true));
        dropout1 = addModule("dropout1", new Dropout(options.dropout()));
        dropout2 = addModule("dropout2", new Dropout(options.dropout()));
    }

    /**
     * The settings beyond d_model and nhead.
     *
     * @return the options
     */
    public Options options() {
        return options;
    }

    /**
     * The model width.
     *
     * @return d_model
     */
    public long dModel() {
        return dModel;
    }

    /**
     * The number of attention heads.
     *
     * @return nhead
     */
    public long nhead() {
        return nhead;
    }

    /**
     * The self-attention block.
     *
     * @return {@code self_attn}
     */
    public MultiheadAttention selfAttn() {
        return selfAttn;
    }

    /**
     * A new layer with the same settings and a copy of this layer's parameters (as {@code copy.deepcopy}
     * makes the layers of PyTorch's {@code nn.TransformerEncoder}); its dropout generators are new.
     *
     * @return the copy, in this layer's training mode; the caller owns it
     * @throws IllegalStateException if this layer is closed
     */
    public TransformerEncoderLayer copy() {
        TransformerEncoderLayer c = new TransformerEncoderLayer(dModel, nhead, options);
        try {
            c.loadStateDict(stateDict());
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        if (!isTraining()) {
            c.eval();
        }
        return c;
    }

    /**
     * The layer on {@code src} without masks.
     *
     * @param src [T, B, d_model], or [B, T, d_model] with batchFirst
     * @return the output, of src's shape
     * @throws IllegalArgumentException if the input's shape does not fit
     */
    @Override
    public Tensor forward(Tensor src) {
        return forward(src, null);
    }

    /**
     * The layer on {@code src} with an attention mask ({@code src_mask}).
     *
     * @param src  [T, B, d_model], or [B, T, d_model] with batchFirst
     * @param mask null, or [T, T] or [B·nhead, T, T]: bool (true: may not attend, e.g.
     *             {@link dev.gatun.ops.Attention#causalMask}) or float32 (added to the scores)
     * @return the output, of src's shape
     * @throws IllegalArgumentException if a shape does not fit, or the mask is int64
     */
    public Tensor forward(Tensor src, Tensor mask) {
        return forward(src, mask, null);
    }

    /**
     * The layer on {@code src} with an attention mask and a key padding mask ({@code src_mask} and
     * {@code src_key_padding_mask} in PyTorch), each possibly null.
     *
     * @param src            [T, B, d_model], or [B, T, d_model] with batchFirst
     * @param mask           null, or [T, T] or [B·nhead, T, T]: bool (true: may not attend) or float32 (added)
     * @param keyPaddingMask null, or [B, T]: bool (true: a padding position, hidden) or float32 (added)
     * @return the output, of src's shape
     * @throws IllegalArgumentException if a shape does not fit, or a mask is int64
     */
    public Tensor forward(Tensor src, Tensor mask, Tensor keyPaddingMask) {
        Tensor x = src;
        if (options.normFirst()) {
            x = Arithmetic.add(x, selfAttentionBlock(norm1.forward(x), mask, keyPaddingMask));
            return Arithmetic.add(x, feedForwardBlock(norm2.forward(x)));
        }
        x = norm1.forward(Arithmetic.add(x, selfAttentionBlock(x, mask, keyPaddingMask)));
        return norm2.forward(Arithmetic.add(x, feedForwardBlock(x)));
    }

    /**
     * The layer on the next positions of sequences whose earlier positions went through
     * {@link #forwardCached} with the same cache: causal self-attention over the cached and new positions
     * ({@link MultiheadAttention#forwardCached}), then the feed-forward block. Fed one position at a time it
     * gives, position by position, what {@code forward(src, causalMask(T, T))} gives for the whole sequence
     * (within float rounding), each position costing one position's work. Nothing is recorded for autograd.
     *
     * @param src   the new positions [n, B, d_model], [B, n, d_model] with batchFirst, or [n, d_model]
     * @param cache a cache of this layer's {@link #selfAttn()}, from
     *              {@link MultiheadAttention#newKVCache(long, long)}
     * @return the output for the new positions, of src's shape
     * @throws IllegalArgumentException if the shape does not fit, the cache is another layer's or of another
     *                                  batch size, or it is full
     */
    public Tensor forwardCached(Tensor src, MultiheadAttention.KVCache cache) {
        try (var ignored = Autograd.noGrad()) {
            Tensor x = src;
            if (options.normFirst()) {
                x = Arithmetic.add(x, dropout1.forward(selfAttn.forwardCached(norm1.forward(x), cache)));
                return Arithmetic.add(x, feedForwardBlock(norm2.forward(x)));
            }
            x = norm1.forward(Arithmetic.add(x, dropout1.forward(selfAttn.forwardCached(x, cache))));
            return norm2.forward(Arithmetic.add(x, feedForwardBlock(x)));
        }
    }

    /**
     * The attention weights of this layer's self-attention on {@code src}, per head: what
     * {@link #forward(Tensor, Tensor)} multiplies the values by (after the first layer norm when
     * {@code normFirst}), before dropout.
     *
     * @param src  [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @param mask null, or an attention mask as {@link #forward(Tensor, Tensor)} takes it
     * @return the weights [B, nhead, T, T] ([nhead, T, T] for unbatched src), each row summing to 1
     * @throws IllegalArgumentException if a shape does not fit
     */
    public Tensor selfAttentionWeights(Tensor src, Tensor mask) {
        Tensor x = options.normFirst() ? norm1.forward(src) : src;
        return selfAttn.forward(x, x, x, mask, null, true, false).weights();
    }

    private Tensor selfAttentionBlock(Tensor x, Tensor mask, Tensor keyPaddingMask) {
        return dropout1.forward(selfAttn.forward(x, x, x, mask, keyPaddingMask));
    }

    private Tensor feedForwardBlock(Tensor x) {
        Tensor h = linear1.forward(x);
        h = options.activation() == FeedForwardActivation.RELU ? Activation.relu(h) : Activation.gelu(h);
        return dropout2.forward(linear2.forward(dropout.forward(h)));
    }

    /**
     * The settings a model file records to rebuild this layer.
     *
     * @return the type, the sizes and the options
     */
    @Override
    public Map<String, Object> spec() {
        return spec("TransformerEncoderLayer", "dModel", dModel, "nhead", nhead, "dimFeedforward",
                options.dimFeedforward(), "dropout", options.dropout(), "activation", options.activation().name(),
                "layerNormEps", options.layerNormEps(), "batchFirst", options.batchFirst(), "normFirst",
                options.normFirst());
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code TransformerEncoderLayer(8, heads 2, ffn 16)}
     */
    @Override
    public String describe() {
        return "TransformerEncoderLayer(" + dModel + ", heads " + nhead + ", ffn " + options.dimFeedforward()
                + (options.normFirst() ? ", pre-norm" : "") + ")";
    }
}
