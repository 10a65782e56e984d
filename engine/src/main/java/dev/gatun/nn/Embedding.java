package dev.gatun.nn;

import dev.gatun.ops.Indexing;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * A lookup table of {@code numEmbeddings} vectors of width {@code embeddingDim}
 * ({@code torch.nn.Embedding}): weight [V, D] initialised N(0, 1) as in PyTorch (the padding row, if
 * any, zero); int64 indices of any shape S give [S..., D] ({@link Indexing#embedding(Tensor, Tensor, int)}).
 *
 * <pre>{@code
 * Embedding emb = new Embedding(10, 3);
 * Tensor tokens = Tensor.fromLongs(new long[] {1, 2, 4, 5, 4, 3, 2, 9}, 2, 4);
 * Tensor vectors = emb.forward(tokens);          // [2, 4, 3]
 * }</pre>
 */
public final class Embedding extends Module {

    private final long numEmbeddings;
    private final long embeddingDim;
    private final int paddingIdx;
    private final Tensor weight;

    /**
     * A table without padding index, drawn from {@link Init#generator()}.
     *
     * @param numEmbeddings the number of vectors V
     * @param embeddingDim  the width D of each vector
     * @throws IllegalArgumentException if a size is not positive
     */
    public Embedding(long numEmbeddings, long embeddingDim) {
        this(numEmbeddings, embeddingDim, Indexing.NO_PADDING);
    }

    /**
     * A table whose row {@code paddingIdx} stays zero-initialised and receives no gradient
     * ({@code padding_idx} in PyTorch).
     *
     * @param numEmbeddings the number of vectors V
     * @param embeddingDim  the width D of each vector
     * @param paddingIdx    the padding row, in [0, V), or {@link Indexing#NO_PADDING}
     * @throws IllegalArgumentException if a size is not positive or the padding index is out of range
     */
    public Embedding(long numEmbeddings, long embeddingDim, int paddingIdx) {
        if (numEmbeddings < 1 || embeddingDim < 1) {
            throw new IllegalArgumentException("Embedding needs positive sizes, got numEmbeddings=" + numEmbeddings
                    + " embeddingDim=" + embeddingDim);
        }
        if (paddingIdx != Indexing.NO_PADDING && (paddingIdx < 0 || paddingIdx >= numEmbeddings)) {
            throw new IllegalArgumentException("Embedding: padding index " + paddingIdx + " is out of range [0, "
                    + numEmbeddings + ")");
        }
        this.numEmbeddings = numEmbeddings;
        this.embeddingDim = embeddingDim;
        this.paddingIdx = paddingIdx;
        this.weight = addParameter("weight", numEmbeddings, embeddingDim);
        resetParameters(Init.generator());
    }

    /**
     * Re-initialises the weight N(0, 1), drawing from {@code rng}; the padding row is zeroed.
     *
     * @param rng the generator to draw from
     */
    public void resetParameters(RandomGenerator rng) {
        Init.normal(weight, 0, 1, rng);
        if (paddingIdx != Indexing.NO_PADDING) {
            weight.select(0, paddingIdx).fill(0f);
        }
    }

    /**
     * The table.
     *
     * @return the weight [V, D], a parameter
     */
    public Tensor weight() {
        return weight;
    }

    /**
     * The vectors of {@code indices}, laid out in {@code shape}, as [shape..., D].
     *
     * @param indices the row of each position, row-major, each in [0, V)
     * @param shape   the shape of the positions
     * @return the vectors
     * @throws IllegalArgumentException if the indices do not fill the shape or one is out of range
     */
    public Tensor forward(int[] indices, long... shape) {
        return Indexing.embedding(weight, indices, shape, paddingIdx);
    }

    /**
     * The vectors of the indices in a tensor of any shape S, as [S..., D]: an int64 tensor as in PyTorch, or
     * a float32 one holding whole numbers (what a data loader of float tensors yields).
     *
     * @param indices an int64 tensor, or a float32 one of whole numbers, each in [0, V)
     * @return the vectors
     * @throws IllegalArgumentException if an index is out of range or not a whole number, or indices is bool
     */
    @Override
    public Tensor forward(Tensor indices) {
        indices.checkAlive();
        if (indices.dtype() == DType.INT64) {
            return Indexing.embedding(weight, indices, paddingIdx);
        }
        if (indices.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("Embedding expects int64 indices, got " + indices.dtype()
                    + " (a tensor of shape " + Arrays.toString(indices.shape()) + ")");
        }
        float[] v = indices.toArray();
        int[] idx = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] != Math.rint(v[i])) {
                throw new IllegalArgumentException("Embedding: index " + v[i] + " at position " + i
                        + " is not a whole number");
            }
            idx[i] = (int) v[i];
        }
        return forward(idx, indices.shape());
    }

    /**
     * The settings a model file records to rebuild this layer.
     *
     * @return the type, the sizes and the padding index
     */
    @Override
    public Map<String, Object> spec() {
        return spec("Embedding", "num", numEmbeddings, "dim", embeddingDim, "paddingIdx", paddingIdx);
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code Embedding(10 → 3, padding 0)}
     */
    @Override
    public String describe() {
        return "Embedding(" + numEmbeddings + " → " + embeddingDim
                + (paddingIdx != Indexing.NO_PADDING ? ", padding " + paddingIdx : "") + ")";
    }

    /**
     * The settings as PyTorch prints them inside {@code Embedding(...)}.
     *
     * @return e.g. {@code 10, 3, padding_idx=0}
     */
    @Override
    protected String extraRepr() {
        return numEmbeddings + ", " + embeddingDim + (paddingIdx != Indexing.NO_PADDING ? ", padding_idx="
                + paddingIdx : "");
    }
}
