package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * One Transformer decoder layer as {@code torch.nn.TransformerDecoderLayer} builds it: masked
 * self-attention over the target, cross-attention from the target to the encoder's output (the
 * memory), and a position-wise feed-forward network, each inside a residual connection with layer norm.
 *
 * <pre>
 *   sa(x)    = dropout1(self_attn(x, x, x, tgt_mask, tgt_key_padding_mask))
 *   mha(x,m) = dropout2(multihead_attn(x, m, m, memory_mask, memory_key_padding_mask))
 *   ff(x)    = dropout3(linear2(dropout(activation(linear1(x)))))
 *   post-norm (default):  x = norm1(x + sa(x));  x = norm2(x + mha(x, m));  x = norm3(x + ff(x))
 *   pre-norm (normFirst): x = x + sa(norm1(x));  x = x + mha(norm2(x), m);  x = x + ff(norm3(x))
 * </pre>
 *
 * Children are named as in PyTorch ({@code self_attn}, {@code multihead_attn}, {@code linear1},
 * {@code dropout}, {@code linear2}, {@code norm1}, {@code norm2}, {@code norm3}, {@code dropout1},
 * {@code dropout2}, {@code dropout3}), so PyTorch's {@code state_dict} loads unchanged. The settings are
 * the encoder layer's, {@link TransformerEncoderLayer.Options}. Inputs are [T, B, d_model] and memory
 * [S, B, d_model], or [B, T, d_model] and [B, S, d_model] with {@link TransformerEncoderLayer.Options#batchFirst()},
 * or unbatched [T, d_model] and [S, d_model].
 *
 * <p>The masks are {@link MultiheadAttention}'s: bool (true hides a key) or float32 (added to the scores).
 * {@code tgtMask} [T, T] or [B·nhead, T, T], usually the causal {@link dev.gatun.ops.Attention#causalMask}
 * (or {@link Transformer#generateSquareSubsequentMask}); {@code memoryMask} [T, S] or [B·nhead, T, S];
 * {@code tgtKeyPaddingMask} [B, T] and {@code memoryKeyPaddingMask} [B, S], true at padding positions.
 */
public final class TransformerDecoderLayer extends Module {

    private final long dModel;
    private final long nhead;
    private final TransformerEncoderLayer.Options options;
    private final MultiheadAttention selfAttn;
    private final MultiheadAttention multiheadAttn;
    private final Linear linear1;
    private final Dropout dropout;
    private final Linear linear2;
    private final LayerNorm norm1;
    private final LayerNorm norm2;
    private final LayerNorm norm3;
    private final Dropout dropout1;
    private final Dropout dropout2;
    private final Dropout dropout3;

    /**
     * {@code nn.TransformerDecoderLayer(dModel, nhead)} with PyTorch's defaults (dim_feedforward 2048,
     * dropout 0.1, ReLU, post-norm, sequence first).
     *
     * @param dModel the model width
     * @param nhead  the number of attention heads, dividing dModel
     * @throws IllegalArgumentException if a size is not positive or nhead does not divide dModel
     */
    public TransformerDecoderLayer(long dModel, long nhead) {
        this(dModel, nhead, TransformerEncoderLayer.Options.defaults());
    }

    /**
     * {@code nn.TransformerDecoderLayer(dModel, nhead, ...)} with the given settings; weights are drawn from
     * {@link Init#generator()}.
     *
     * @param dModel  the model width
     * @param nhead   the number of attention heads, dividing dModel
     * @param options the other settings (dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
     *                norm_first)
     * @throws IllegalArgumentException if a size is not positive, nhead does not divide dModel, or options
     *                                  is null
     */
    public TransformerDecoderLayer(long dModel, long nhead, TransformerEncoderLayer.Options options) {
        if (options == null) {
            throw new IllegalArgumentException("TransformerDecoderLayer: options is null");
        }
        this.dModel = dModel;
        this.nhead = nhead;
        this.options = options;
        selfAttn = addModule("self_attn", new MultiheadAttention(dModel, nhead, options.dropout(), true,
                options.batchFirst()));
        multiheadAttn = addModule("multihead_attn", new MultiheadAttention(dModel, nhead, options.dropout(), true,
                options.batchFirst()));
        linear1 = addModule("linear1", new Linear(dModel, options.dimFeedforward()));
        dropout = addModule("dropout", new Dropout(options.dropout()));
        linear2 = addModule("linear2", new Linear(options.dimFeedforward(), dModel));
        norm1 = addModule("norm1", new LayerNorm(new long[] {dModel}, options.layerNormEps(), true));
        norm2 = addModule("norm2", new LayerNorm(new long[] {dModel}, options.layerNormEps(), true));
        norm3 = addModule("norm3", new LayerNorm(new long[] {dModel}, options.layerNormEps(), true));
        dropout1 = addModule("dropout1", new Dropout(options.dropout()));
        dropout2 = addModule("dropout2", new Dropout(options.dropout()));
        dropout3 = addModule("dropout3", new Dropout(options.dropout()));
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
     * The settings beyond d_model and nhead.
     *
     * @return the options
     */
    public TransformerEncoderLayer.Options options() {
        return options;
    }

    /**
     * The masked self-attention block.
     *
     * @return {@code self_attn}
     */
    public MultiheadAttention selfAttn() {
        return selfAttn;
    }

    /**
     * The cross-attention block, from the target to the memory.
     *
     * @return {@code multihead_attn}
     */
    public MultiheadAttention multiheadAttn() {
        return multiheadAttn;
    }

    /**
     * A new layer with the same settings and a copy of this layer's parameters (as {@code copy.deepcopy}
     * makes the layers of PyTorch's {@code nn.TransformerDecoder}); its dropout generators are new.
     *
     * @return the copy, in this layer's training mode; the caller owns it
     * @throws IllegalStateException if this layer is closed
     */
    public TransformerDecoderLayer copy() {
        TransformerDecoderLayer c = new TransformerDecoderLayer(dModel, nhead, options);
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
     * Not available: a decoder layer needs the memory too.
     *
     * @param tgt ignored
     * @return never
     * @throws UnsupportedOperationException always; call {@link #forward(Tensor, Tensor)}
     */
    @Override
    public Tensor forward(Tensor tgt) {
        throw new UnsupportedOperationException("TransformerDecoderLayer needs the encoder's output: call "
                + "forward(tgt, memory)");
    }

    /**
     * The layer on {@code tgt} attending to {@code memory}, without masks.
     *
     * @param tgt    the target [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @param memory the encoder's output [S, B, d_model], [B, S, d_model] with batchFirst, or [S, d_model]
     * @return the output, of tgt's shape
     * @throws IllegalArgumentException if a shape does not fit
     */
    public Tensor forward(Tensor tgt, Tensor memory) {
        return forward(tgt, memory, null, null, null, null);
    }

    /**
     * The layer with attention masks for the self-attention and the cross-attention.
     *
     * @param tgt        the target [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @param memory     the encoder's output [S, B, d_model], [B, S, d_model] with batchFirst, or [S, d_model]
     * @param tgtMask    null, or [T, T] or [B·nhead, T, T]: bool (true: may not attend) or float32 (added)
     * @param memoryMask null, or [T, S] or [B·nhead, T, S]: bool or float32
     * @return the output, of tgt's shape
     * @throws IllegalArgumentException if a shape does not fit, or a mask is int64
     */
    public Tensor forward(Tensor tgt, Tensor memory, Tensor tgtMask, Tensor memoryMask) {
        return forward(tgt, memory, tgtMask, memoryMask, null, null);
    }

    /**
     * The layer with every mask of {@code nn.TransformerDecoderLayer.forward}, each possibly null.
     *
     * @param tgt                  the target [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @param memory               the encoder's output [S, B, d_model], [B, S, d_model] with batchFirst, or
     *                             [S, d_model]
     * @param tgtMask              null, or [T, T] or [B·nhead, T, T]: bool (true: may not attend) or float32
     * @param memoryMask           null, or [T, S] or [B·nhead, T, S]: bool or float32
     * @param tgtKeyPaddingMask    null, or [B, T] ([T] unbatched): bool (true: padding) or float32
     * @param memoryKeyPaddingMask null, or [B, S] ([S] unbatched): bool (true: padding) or float32
     * @return the output, of tgt's shape
     * @throws IllegalArgumentException if a shape does not fit, or a mask is int64
     */
    public Tensor forward(Tensor tgt, Tensor memory, Tensor tgtMask, Tensor memoryMask, Tensor tgtKeyPaddingMask,
                          Tensor memoryKeyPaddingMask) {
        Tensor x = tgt;
        if (options.normFirst()) {
            x = Arithmetic.add(x, selfAttentionBlock(norm1.forward(x), tgtMask, tgtKeyPaddingMask));
            x = Arithmetic.add(x, crossAttentionBlock(norm2.forward(x), memory, memoryMask, memoryKeyPaddingMask));
            return Arithmetic.add(x, feedForwardBlock(norm3.forward(x)));
        }
        x = norm1.forward(Arithmetic.add(x, selfAttentionBlock(x, tgtMask, tgtKeyPaddingMask)));
        x = norm2.forward(Arithmetic.add(x, crossAttentionBlock(x, memory, memoryMask, memoryKeyPaddingMask)));
        return norm3.forward(Arithmetic.add(x, feedForwardBlock(x)));
    }

    private Tensor selfAttentionBlock(Tensor x, Tensor mask, Tensor keyPaddingMask) {
        return dropout1.forward(selfAttn.forward(x, x, x, mask, keyPaddingMask));
    }

    private Tensor crossAttentionBlock(Tensor x, Tensor memory, Tensor mask, Tensor keyPaddingMask) {
        return dropout2.forward(multiheadAttn.forward(x, memory, memory, mask, keyPaddingMask));
    }

    private Tensor feedForwardBlock(Tensor x) {
        Tensor h = linear1.forward(x);
        h = options.activation() == TransformerEncoderLayer.FeedForwardActivation.RELU ? Activation.relu(h)
                : Activation.gelu(h);
        return dropout3.forward(linear2.forward(dropout.forward(h)));
    }

    /**
     * The settings a model file records to rebuild this layer.
     *
     * @return the type, the sizes and the options
     */
    @Override
    public Map<String, Object> spec() {
        return spec("TransformerDecoderLayer", "dModel", dModel, "nhead", nhead, "dimFeedforward",
                options.dimFeedforward(), "dropout", options.dropout(), "activation", options.activation().name(),
                "layerNormEps", options.layerNormEps(), "batchFirst", options.batchFirst(), "normFirst",
                options.normFirst());
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code TransformerDecoderLayer(8, heads 2, ffn 16)}
     */
    @Override
    public String describe() {
        return "TransformerDecoderLayer(" + dModel + ", heads " + nhead + ", ffn " + options.dimFeedforward()
                + (options.normFirst() ? ", pre-norm" : "") + ")";
    }
}
