package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Table lookup with {@code torch.nn.functional.embedding} semantics: integer indices of any shape S
 * (given as an {@code int[]} in row-major order plus S) into a weight [V, D] give [S..., D], row p of
 * the result being row {@code indices[p]} of the weight.
 *
 * <p>Backward scatter-adds: ∂weight[v] = Σ over positions p with indices[p] = v of ∂out[p], so a
 * repeated index accumulates. With a padding index, that row's gradient stays zero (as in PyTorch,
 * the lookup itself still returns the row).
 */
public final class Embedding {

    /** No padding index: every looked-up row gets its gradient. */
    public static final int NO_PADDING = -1;

    private Embedding() {}

    /** The rows of {@code weight} at {@code indices}, shaped [shape..., D]. */
    public static Tensor embedding(Tensor weight, int[] indices, long... shape) {
        return embedding(weight, indices, shape, NO_PADDING);
    }

    /**
     * The rows of {@code weight} at {@code indices}, shaped [shape..., D]; rows equal to
     * {@code paddingIdx} (in [0, V), or {@link #NO_PADDING}) receive no gradient. Every index is checked
     * against [0, V) first.
     */
    public static Tensor embedding(Tensor weight, int[] indices, long[] shape, int paddingIdx) {
        weight.checkAlive();
        if (weight.dim() != 2) {
            throw new IllegalArgumentException("embedding: weight must be [V, D], got shape "
                    + Arrays.toString(weight.shape()));
        }
        if (indices == null || shape == null) {
            throw new IllegalArgumentException("embedding: indices and their shape are required");
        }
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("embedding: negative size in index shape " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, d);
        }
        if (count != indices.length) {
            throw new IllegalArgumentException("embedding: index shape " + Arrays.toString(shape) + " holds " + count
                    + " indices, got " + indices.length);
        }
        long v = weight.size(0);
        long dim = weight.size(1);
        if (paddingIdx != NO_PADDING && (paddingIdx < 0 || paddingIdx >= v)) {
            throw new IllegalArgumentException("embedding: padding index " + paddingIdx + " is out of range [0, " + v
                    + ")");
        }
        for (int p = 0; p < indices.length; p++) {
            if (indices[p] < 0 || indices[p] >= v) {
                throw new IllegalArgumentException("embedding: index " + indices[p] + " at position " + p
                        + " is out of range [0, " + v + ")");
            }
        }
        int[] idx = indices.clone(); // the caller may reuse its array before backward runs
        Tensor w = weight.contiguous();
        long[] outShape = Arrays.copyOf(shape, shape.length + 1);
        outShape[shape.length] = dim;
        Tensor out = Tensor.empty(outShape);  // every row is copied in below
        long rowBytes = dim * Float.BYTES;
        MemorySegment src = w.storageForReading();
        MemorySegment dst = out.storage();
        long base = w.offset() * Float.BYTES;
        for (int p = 0; p < idx.length; p++) {
            MemorySegment.copy(src, base + idx[p] * rowBytes, dst, p * rowBytes, rowBytes);
        }
        return Autograd.record(out, "embedding", g -> new Tensor[] {embeddingBackward(g, idx, v, dim, paddingIdx)}, w);
    }

    /** ∂weight [V, D]: each position's gradient row added to the row it looked up. */
    private static Tensor embeddingBackward(Tensor grad, int[] idx, long v, long dim, int paddingIdx) {
        float[] g = grad.contiguous().toArray();
        int d = (int) dim;
        float[] dw = new float[Math.toIntExact(v * dim)];
        for (int p = 0; p < idx.length; p++) {
            if (idx[p] == paddingIdx) continue;
            int row = idx[p] * d;
            int from = p * d;
            for (int k = 0; k < d; k++) dw[row + k] += g[from + k];
        }
        return Tensor.fromArray(dw, v, dim);
    }
}
