package dev.gatun.nn;

import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A stack of decoder layers, then an optional layer norm ({@code torch.nn.TransformerDecoder}): each
 * layer takes the previous one's output, the same memory and the same masks.
 *
 * <pre>
 *   x = layers.0(tgt, memory, ...);  x = layers.1(x, memory, ...);  ...;  out = norm(x)   (norm if given)
 * </pre>
 *
 * Children are named as in PyTorch, {@code layers} (a {@link ModuleList}) and {@code norm}, so that the
 * parameters are {@code layers.0.self_attn.in_proj_weight}, ..., {@code norm.weight}. As PyTorch's
 * constructor copies the layer it is given,
 * {@link #TransformerDecoder(TransformerDecoderLayer, int, LayerNorm)} starts every layer with the same
 * weights; {@link #TransformerDecoder(List, LayerNorm)} takes layers built apart.
 */
public final class TransformerDecoder extends Module {

    private final ModuleList<TransformerDecoderLayer> layers;
    private final LayerNorm norm;

    /**
     * {@code nn.TransformerDecoder(decoderLayer, numLayers)}: no final norm.
     *
     * @param decoderLayer the first layer; the others are copies of it
     * @param numLayers    the number of layers, at least 1
     * @throws IllegalArgumentException if numLayers is below 1 or the layer is null
     */
    public TransformerDecoder(TransformerDecoderLayer decoderLayer, int numLayers) {
        this(decoderLayer, numLayers, null);
    }

    /**
     * {@code nn.TransformerDecoder(decoderLayer, numLayers, norm)}. The given layer becomes
     * {@code layers.0} and {@code numLayers − 1} copies of it ({@link TransformerDecoderLayer#copy()}: the
     * same settings and weights) follow, so the stack starts as PyTorch's deep copies do; it owns them all.
     *
     * @param decoderLayer the first layer; the others are copies of it
     * @param numLayers    the number of layers, at least 1
     * @param norm         the layer norm applied to the last layer's output, or null for none
     * @throws IllegalArgumentException if numLayers is below 1 or the layer is null
     */
    public TransformerDecoder(TransformerDecoderLayer decoderLayer, int numLayers, LayerNorm norm) {
        this(copies(decoderLayer, numLayers), norm);
    }

    /**
     * A stack of the given layers, in order, then {@code norm}.
     *
     * @param layers the layers, at least one; the stack owns them
     * @param norm   the layer norm applied to the last layer's output, or null for none
     * @throws IllegalArgumentException if there is no layer, or one is null or given twice
     */
    public TransformerDecoder(List<TransformerDecoderLayer> layers, LayerNorm norm) {
        if (layers == null || layers.isEmpty()) {
            throw new IllegalArgumentException("TransformerDecoder needs at least one layer");
        }
        this.layers = addModule("layers", new ModuleList<>(layers));
        this.norm = norm == null ? null : addModule("norm", norm);
    }

    private static List<TransformerDecoderLayer> copies(TransformerDecoderLayer layer, int numLayers) {
        if (layer == null) {
            throw new IllegalArgumentException("TransformerDecoder: the decoder layer is null");
        }
        if (numLayers < 1) {
            throw new IllegalArgumentException("TransformerDecoder: num_layers must be at least 1, got " + numLayers);
        }
        List<TransformerDecoderLayer> out = new ArrayList<>();
        out.add(layer);
        try {
            for (int i = 1; i < numLayers; i++) {
                out.add(layer.copy());
            }
        } catch (RuntimeException e) {
            for (int i = 1; i < out.size(); i++) out.get(i).close();
            throw e;
        }
        return out;
    }

    /**
     * The layers.
     *
     * @return {@code layers}, in order
     */
    public ModuleList<TransformerDecoderLayer> layers() {
        return layers;
    }

    /**
     * The final layer norm.
     *
     * @return {@code norm}, or null when there is none
     */
    public LayerNorm norm() {
        return norm;
    }

    /**
     * Not available: a decoder needs the memory too.
     *
     * @param tgt ignored
     * @return never
     * @throws UnsupportedOperationException always; call {@link #forward(Tensor, Tensor)}
     */
    @Override
    public Tensor forward(Tensor tgt) {
        throw new UnsupportedOperationException("TransformerDecoder needs the encoder's output: call "
                + "forward(tgt, memory)");
    }

    /**
     * The stack on {@code tgt} attending to {@code memory}, without masks.
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
     * The stack with attention masks for the self-attention and the cross-attention.
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
     * The stack with every mask of {@code nn.TransformerDecoder.forward}, each possibly null, passed to
     * every layer.
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
        for (TransformerDecoderLayer layer : layers) {
            x = layer.forward(x, memory, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask);
        }
        return norm == null ? x : norm.forward(x);
    }

    /**
     * The settings a model file records to rebuild this stack.
     *
     * @return the type, the layers' specs and the norm's (an empty list for none)
     */
    @Override
    public Map<String, Object> spec() {
        return spec("TransformerDecoder", "layers", layers.asList(), "norm", norm == null ? List.of() : List.of(norm));
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code TransformerDecoder(6 layers, norm)}
     */
    @Override
    public String describe() {
        return "TransformerDecoder(" + layers.size() + (layers.size() == 1 ? " layer" : " layers")
                + (norm != null ? ", norm" : "") + ")";
    }
}
