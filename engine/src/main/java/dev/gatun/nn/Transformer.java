package dev.gatun.nn;

import dev.gatun.ops.Attention;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The encoder-decoder Transformer of "Attention is all you need" as {@code torch.nn.Transformer} builds
 * it: a {@link TransformerEncoder} of encoder layers with a final layer norm, and a
 * {@link TransformerDecoder} of decoder layers with a final layer norm; the decoder attends to the
 * encoder's output.
 *
 * <pre>
 *   memory = encoder(src, src_mask, src_key_padding_mask)
 *   out    = decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask)
 * </pre>
 *
 * Children and parameters are named as in PyTorch ({@code encoder.layers.0.self_attn.in_proj_weight},
 * ..., {@code decoder.norm.bias}). As PyTorch does, the constructors re-draw every parameter of two or more
 * dimensions Xavier-uniform (the biases and norms keep their initial values). There are no embeddings and
 * no output layer: inputs are already vectors of d_model features. Typical use with a causal target:
 *
 * <pre>{@code
 * Transformer t = new Transformer(64, 4, 2, 2, TransformerEncoderLayer.Options.defaults()
 *         .withDimFeedforward(256).withBatchFirst(true));
 * Tensor y = t.forward(src, tgt, null, Transformer.generateSquareSubsequentMask(tgt.size(1)), null,
 *         srcPadding, tgtPadding, srcPadding);
 * }</pre>
 */
public final class Transformer extends Module {

    private final long dModel;
    private final long nhead;
    private final boolean batchFirst;
    private final TransformerEncoder encoder;
    private final TransformerDecoder decoder;

    /**
     * {@code nn.Transformer()}: d_model 512, 8 heads, 6 encoder and 6 decoder layers, PyTorch's layer
     * defaults ({@link TransformerEncoderLayer.Options#defaults()}).
     */
    public Transformer() {
        this(512, 8, 6, 6, TransformerEncoderLayer.Options.defaults());
    }

    /**
     * {@code nn.Transformer(dModel, nhead, numEncoderLayers, numDecoderLayers, ...)} with the given layer
     * settings; the layer norms use the options' epsilon. Weights are drawn from {@link Init#generator()}.
     *
     * @param dModel           the model width
     * @param nhead            the number of attention heads, dividing dModel
     * @param numEncoderLayers the number of encoder layers, at least 1
     * @param numDecoderLayers the number of decoder layers, at least 1
     * @param options          the layers' settings (dim_feedforward, dropout, activation, layer_norm_eps,
     *                         batch_first, norm_first)
     * @throws IllegalArgumentException if a size is not positive, nhead does not divide dModel, or options
     *                                  is null
     */
    public Transformer(long dModel, long nhead, int numEncoderLayers, int numDecoderLayers,
                       TransformerEncoderLayer.Options options) {
        this(new TransformerEncoder(new TransformerEncoderLayer(dModel, nhead, checked(options)), numEncoderLayers,
                        new LayerNorm(new long[] {dModel}, options.layerNormEps(), true)),
                new TransformerDecoder(new TransformerDecoderLayer(dModel, nhead, options), numDecoderLayers,
                        new LayerNorm(new long[] {dModel}, options.layerNormEps(), true)));
    }

    /**
     * A Transformer of the given encoder and decoder ({@code custom_encoder} and {@code custom_decoder});
     * as PyTorch, their parameters of two or more dimensions are re-drawn Xavier-uniform from
     * {@link Init#generator()}. The Transformer owns them.
     *
     * @param encoder the encoder
     * @param decoder the decoder, of the encoder's d_model and layout
     * @throws IllegalArgumentException if one is null, or their widths or layouts differ
     */
    public Transformer(TransformerEncoder encoder, TransformerDecoder decoder) {
        if (encoder == null || decoder == null) {
            throw new IllegalArgumentException("Transformer needs an encoder and a decoder, got "
                    + (encoder == null ? "no encoder" : "no decoder"));
        }
        TransformerEncoderLayer first = encoder.layers().get(0);
        TransformerDecoderLayer firstDecoder = decoder.layers().get(0);
        if (first.dModel() != firstDecoder.dModel()
                || first.options().batchFirst() != firstDecoder.options().batchFirst()) {
            throw new IllegalArgumentException("Transformer: the encoder (d_model " + first.dModel() + ", batch_first "
                    + first.options().batchFirst() + ") and the decoder (d_model " + firstDecoder.dModel()
                    + ", batch_first " + firstDecoder.options().batchFirst() + ") do not fit together");
        }
        this.dModel = first.dModel();
        this.nhead = first.nhead();
        this.batchFirst = first.options().batchFirst();
        this.encoder = addModule("encoder", encoder);
        this.decoder = addModule("decoder", decoder);
        resetParameters();
    }

    private static TransformerEncoderLayer.Options checked(TransformerEncoderLayer.Options options) {
        if (options == null) {
            throw new IllegalArgumentException("Transformer: options is null");
        }
        return options;
    }

    /** As PyTorch's {@code _reset_parameters}: every parameter of two or more dimensions Xavier-uniform. */
    private void resetParameters() {
        for (Tensor p : parameters()) {
            if (p.dim() > 1) {
                Init.xavierUniform(p, 1, Init.generator());
            }
        }
    }

    /**
     * The causal mask of {@code nn.Transformer.generate_square_subsequent_mask(sz)}: float32 [sz, sz], 0 on
     * and below the diagonal and −∞ above it, so that position i attends to positions 0..i only. The bool
     * form is {@link Attention#causalMask(long, long)}.
     *
     * @param sz the sequence length
     * @return a new float32 tensor [sz, sz]
     * @throws IllegalArgumentException if sz is not positive
     */
    public static Tensor generateSquareSubsequentMask(long sz) {
        return Attention.additiveCausalMask(sz, sz);
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
     * The number of attention heads of the first encoder layer.
     *
     * @return nhead
     */
    public long nhead() {
        return nhead;
    }

    /**
     * The encoder.
     *
     * @return {@code encoder}
     */
    public TransformerEncoder encoder() {
        return encoder;
    }

    /**
     * The decoder.
     *
     * @return {@code decoder}
     */
    public TransformerDecoder decoder() {
        return decoder;
    }

    /**
     * Not available: a Transformer takes a source and a target.
     *
     * @param src ignored
     * @return never
     * @throws UnsupportedOperationException always; call {@link #forward(Tensor, Tensor)}
     */
    @Override
    public Tensor forward(Tensor src) {
        throw new UnsupportedOperationException("Transformer needs a source and a target: call forward(src, tgt)");
    }

    /**
     * The decoder's output for {@code tgt} given {@code src}, without masks.
     *
     * @param src the source [S, B, d_model], [B, S, d_model] with batchFirst, or [S, d_model]
     * @param tgt the target [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @return the output, of tgt's shape
     * @throws IllegalArgumentException if the batch sizes or the widths do not fit
     */
    public Tensor forward(Tensor src, Tensor tgt) {
        return forward(src, tgt, null, null, null, null, null, null);
    }

    /**
     * {@code nn.Transformer.forward} with every mask, each possibly null: bool (true: may not attend, or a
     * padding position) or float32 (added to the scores).
     *
     * @param src                  the source [S, B, d_model], [B, S, d_model] with batchFirst, or [S, d_model]
     * @param tgt                  the target [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @param srcMask              null, or [S, S] or [B·nhead, S, S]
     * @param tgtMask              null, or [T, T] or [B·nhead, T, T], usually
     *                             {@link #generateSquareSubsequentMask(long)}
     * @param memoryMask           null, or [T, S] or [B·nhead, T, S]
     * @param srcKeyPaddingMask    null, or [B, S] ([S] unbatched)
     * @param tgtKeyPaddingMask    null, or [B, T] ([T] unbatched)
     * @param memoryKeyPaddingMask null, or [B, S] ([S] unbatched), usually srcKeyPaddingMask
     * @return the output, of tgt's shape
     * @throws IllegalArgumentException if the batch sizes or the widths do not fit, a mask's shape does not
     *                                  fit, or a mask is int64
     */
    public Tensor forward(Tensor src, Tensor tgt, Tensor srcMask, Tensor tgtMask, Tensor memoryMask,
                          Tensor srcKeyPaddingMask, Tensor tgtKeyPaddingMask, Tensor memoryKeyPaddingMask) {
        src.checkAlive();
        tgt.checkAlive();
        boolean batched = src.dim() == 3;
        int batchDim = batchFirst ? 0 : 1;
        if (batched && tgt.dim() == 3 && src.size(batchDim) != tgt.size(batchDim)) {
            throw new IllegalArgumentException("Transformer: the batch number of src and tgt must be equal, got src "
                    + Arrays.toString(src.shape()) + " and tgt " + Arrays.toString(tgt.shape()) + (batchFirst
                    ? " (batch first)" : " (sequence first)"));
        }
        if (src.dim() == 0 || tgt.dim() == 0 || src.size(-1) != dModel || tgt.size(-1) != dModel) {
            throw new IllegalArgumentException("Transformer: the feature number of src and tgt must be equal to"
                    + " d_model " + dModel + ", got src " + Arrays.toString(src.shape()) + " and tgt "
                    + Arrays.toString(tgt.shape()));
        }
        Tensor memory = encoder.forward(src, srcMask, srcKeyPaddingMask);
        return decoder.forward(tgt, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
    }

    /**
     * The settings a model file records to rebuild this model.
     *
     * @return the type and the encoder's and decoder's specs
     */
    @Override
    public Map<String, Object> spec() {
        return spec("Transformer", "encoder", List.of(encoder), "decoder", List.of(decoder));
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code Transformer(512, heads 8, 6 + 6 layers)}
     */
    @Override
    public String describe() {
        return "Transformer(" + dModel + ", heads " + nhead + ", " + encoder.layers().size() + " + "
                + decoder.layers().size() + " layers)";
    }
}
