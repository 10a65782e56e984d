package dev.gatun.nn;

import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A stack of encoder layers, then an optional layer norm ({@code torch.nn.TransformerEncoder}): each
 * layer takes the previous one's output with the same masks.
 *
 * <pre>
 *   x = layers.0(src, mask, pad);  x = layers.1(x, mask, pad);  ...;  out = norm(x)   (norm if given)
 * </pre>
 *
 * Children are named as in PyTorch, {@code layers} (a {@link ModuleList}) and {@code norm}, so that the
 * parameters are {@code layers.0.self_attn.in_proj_weight}, ..., {@code norm.weight}. As PyTorch's
 * constructor copies the layer it is given, {@link #TransformerEncoder(TransformerEncoderLayer, int, LayerNorm)}
 * starts every layer with the same weights; {@link #TransformerEncoder(List, LayerNorm)} takes layers built
 * apart (and so initialised apart).
 */
public final class TransformerEncoder extends Module {

    private final ModuleList<TransformerEncoderLayer> layers;
    private final LayerNorm norm;

    /**
     * {@code nn.TransformerEncoder(encoderLayer, numLayers)}: no final norm.
     *
     * @param encoderLayer the first layer; the others are copies of it
     * @param numLayers    the number of layers, at least 1
     * @throws IllegalArgumentException if numLayers is below 1 or the layer is null
     */
    public TransformerEncoder(TransformerEncoderLayer encoderLayer, int numLayers) {
        this(encoderLayer, numLayers, null);
    }

    /**
     * {@code nn.TransformerEncoder(encoderLayer, numLayers, norm)}. The given layer becomes
     * {@code layers.0} and {@code numLayers − 1} copies of it ({@link TransformerEncoderLayer#copy()}: the
     * same settings and weights) follow, so the stack starts as PyTorch's deep copies do; it owns them all.
     *
     * @param encoderLayer the first layer; the others are copies of it
     * @param numLayers    the number of layers, at least 1
     * @param norm         the layer norm applied to the last layer's output, or null for none
     * @throws IllegalArgumentException if numLayers is below 1 or the layer is null
     */
    public TransformerEncoder(TransformerEncoderLayer encoderLayer, int numLayers, LayerNorm norm) {
        this(copies(encoderLayer, numLayers), norm);
    }

    /**
     * A stack of the given layers, in order, then {@code norm}.
     *
     * @param layers the layers, at least one; the stack owns them
     * @param norm   the layer norm applied to the last layer's output, or null for none
     * @throws IllegalArgumentException if there is no layer, or one is null or given twice
     */
    public TransformerEncoder(List<TransformerEncoderLayer> layers, LayerNorm norm) {
        if (layers == null || layers.isEmpty()) {
            throw new IllegalArgumentException("TransformerEncoder needs at least one layer");
        }
        this.layers = addModule("layers", new ModuleList<>(layers));
        this.norm = norm == null ? null : addModule("norm", norm);
    }

    private static List<TransformerEncoderLayer> copies(TransformerEncoderLayer layer, int numLayers) {
        if (layer == null) {
            throw new IllegalArgumentException("TransformerEncoder: the encoder layer is null");
        }
        if (numLayers < 1) {
            throw new IllegalArgumentException("TransformerEncoder: num_layers must be at least 1, got " + numLayers);
        }
        List<TransformerEncoderLayer> out = new ArrayList<>();
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
    public ModuleList<TransformerEncoderLayer> layers() {
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
     * The stack on {@code src} without masks.
     *
     * @param src [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @return the output, of src's shape
     * @throws IllegalArgumentException if the shape does not fit
     */
    @Override
    public Tensor forward(Tensor src) {
        return forward(src, null, null);
    }

    /**
     * The stack on {@code src} with an attention mask.
     *
     * @param src  [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @param mask null, or [T, T] or [B·nhead, T, T]: bool (true: may not attend) or float32 (added)
     * @return the output, of src's shape
     * @throws IllegalArgumentException if a shape does not fit, or the mask is int64
     */
    public Tensor forward(Tensor src, Tensor mask) {
        return forward(src, mask, null);
    }

    /**
     * The stack on {@code src} with {@code mask} and {@code src_key_padding_mask}, each possibly null,
     * passed to every layer.
     *
     * @param src               [T, B, d_model], [B, T, d_model] with batchFirst, or [T, d_model]
     * @param mask              null, or [T, T] or [B·nhead, T, T]: bool (true: may not attend) or float32
     * @param srcKeyPaddingMask null, or [B, T] ([T] unbatched): bool (true: padding) or float32 (added)
     * @return the output, of src's shape
     * @throws IllegalArgumentException if a shape does not fit, or a mask is int64
     */
    public Tensor forward(Tensor src, Tensor mask, Tensor srcKeyPaddingMask) {
        Tensor x = src;
        for (TransformerEncoderLayer layer : layers) {
            x = layer.forward(x, mask, srcKeyPaddingMask);
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
        return spec("TransformerEncoder", "layers", layers.asList(), "norm", norm == null ? List.of() : List.of(norm));
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code TransformerEncoder(6 layers, norm)}
     */
    @Override
    public String describe() {
        return "TransformerEncoder(" + layers.size() + (layers.size() == 1 ? " layer" : " layers")
                + (norm != null ? ", norm" : "") + ")";
    }
}
