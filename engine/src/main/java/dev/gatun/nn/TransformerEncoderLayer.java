package dev.gatun.nn;

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
 * [B, T, d_model] with {@link Options#batchFirst()}.
 */
public final class TransformerEncoderLayer extends Module {

    /** The feed-forward network's activation. */
    public enum FeedForwardActivation { RELU, GELU }

    /**
     * The settings beyond d_model and nhead, PyTorch's defaults from {@link #defaults()}:
     * dim_feedforward 2048, dropout 0.1, ReLU, layer_norm_eps 1e-5, sequence first, post-norm.
     */
    public record Options(long dimFeedforward, float dropout, FeedForwardActivation activation, float layerNormEps,
                          boolean batchFirst, boolean normFirst) {

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

        public static Options defaults() {
            return new Options(2048, 0.1f, FeedForwardActivation.RELU, 1e-5f, false, false);
        }

        public Options withDimFeedforward(long v) {
            return new Options(v, dropout, activation, layerNormEps, batchFirst, normFirst);
        }

        public Options withDropout(float v) {
            return new Options(dimFeedforward, v, activation, layerNormEps, batchFirst, normFirst);
        }

        public Options withActivation(FeedForwardActivation v) {
            return new Options(dimFeedforward, dropout, v, layerNormEps, batchFirst, normFirst);
        }

        public Options withLayerNormEps(float v) {
            return new Options(dimFeedforward, dropout, activation, v, batchFirst, normFirst);
        }

        public Options withBatchFirst(boolean v) {
            return new Options(dimFeedforward, dropout, activation, layerNormEps, v, normFirst);
        }

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

    /** {@code nn.TransformerEncoderLayer(dModel, nhead)} with PyTorch's defaults. */
    public TransformerEncoderLayer(long dModel, long nhead) {
        this(dModel, nhead, Options.defaults());
    }

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

    public Options options() {
        return options;
    }

    public MultiheadAttention selfAttn() {
        return selfAttn;
    }

    @Override
    public Tensor forward(Tensor src) {
        return forward(src, null);
    }

    /** The layer on {@code src} with an additive attention mask ([T, T] or [B·nhead, T, T]) or null. */
    public Tensor forward(Tensor src, Tensor mask) {
        return forward(src, mask, null);
    }

    /**
     * The layer on {@code src} with an additive attention mask ([T, T] or [B·nhead, T, T]) and an
     * additive key padding mask ([B, T]), each possibly null ({@code src_mask} and
     * {@code src_key_padding_mask} in PyTorch).
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

    private Tensor selfAttentionBlock(Tensor x, Tensor mask, Tensor keyPaddingMask) {
        return dropout1.forward(selfAttn.forward(x, x, x, mask, keyPaddingMask));
    }

    private Tensor feedForwardBlock(Tensor x) {
        Tensor h = linear1.forward(x);
        h = options.activation() == FeedForwardActivation.RELU ? Activation.relu(h) : Activation.gelu(h);
        return dropout2.forward(linear2.forward(dropout.forward(h)));
    }

    @Override
    public Map<String, Object> spec() {
        return spec("TransformerEncoderLayer", "dModel", dModel, "nhead", nhead, "dimFeedforward",
                options.dimFeedforward(), "dropout", options.dropout(), "activation", options.activation().name(),
                "layerNormEps", options.layerNormEps(), "batchFirst", options.batchFirst(), "normFirst",
                options.normFirst());
    }

    @Override
    public String describe() {
        return "TransformerEncoderLayer(" + dModel + ", heads " + nhead + ", ffn " + options.dimFeedforward()
                + (options.normFirst() ? ", pre-norm" : "") + ")";
    }
}
