package dev.gatun.nn;

import dev.gatun.tensor.Tensor;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * A lookup table of {@code numEmbeddings} vectors of width {@code embeddingDim}
 * ({@code torch.nn.Embedding}): weight [V, D] initialised N(0, 1) as in PyTorch (the padding row, if
 * any, zero); integer indices of shape S give [S..., D] ({@link dev.gatun.ops.Embedding#embedding}).
 */
public final class Embedding extends Module {

    private final long numEmbeddings;
    private final long embeddingDim;
    private final int paddingIdx;
    private final Tensor weight;

    /** A table without padding index. */
    public Embedding(long numEmbeddings, long embeddingDim) {
        this(numEmbeddings, embeddingDim, dev.gatun.ops.Embedding.NO_PADDING);
    }

    /** A table whose row {@code paddingIdx} stays zero-initialised and receives no gradient. */
    public Embedding(long numEmbeddings, long embeddingDim, int paddingIdx) {
        if (numEmbeddings < 1 || embeddingDim < 1) {
            throw new IllegalArgumentException("Embedding needs positive sizes, got numEmbeddings=" + numEmbeddings
                    + " embeddingDim=" + embeddingDim);
        }
        if (paddingIdx != dev.gatun.ops.Embedding.NO_PADDING && (paddingIdx < 0 || paddingIdx >= numEmbeddings)) {
            throw new IllegalArgumentException("Embedding: padding index " + paddingIdx + " is out of range [0, "
                    + numEmbeddings + ")");
        }
        this.numEmbeddings = numEmbeddings;
        this.embeddingDim = embeddingDim;
        this.paddingIdx = paddingIdx;
        this.weight = addParameter("weight", numEmbeddings, embeddingDim);
        resetParameters(Init.generator());
    }

    /** Re-initialises the weight N(0, 1), drawing from {@code rng}; the padding row is zeroed. */
    public void resetParameters(RandomGenerator rng) {
        Init.normal(weight, 0, 1, rng);
        if (paddingIdx != dev.gatun.ops.Embedding.NO_PADDING) {
            weight.select(0, paddingIdx).fill(0f);
        }
    }

    public Tensor weight() {
        return weight;
    }

    /** The vectors of {@code indices}, laid out in {@code shape}, as [shape..., D]. */
    public Tensor forward(int[] indices, long... shape) {
        return dev.gatun.ops.Embedding.embedding(weight, indices, shape, paddingIdx);
    }

    /**
     * The vectors of the indices held (as whole numbers) in a float tensor of any shape, e.g. what a
     * data loader yields; a value that is not a whole number is rejected.
     */
    @Override
    public Tensor forward(Tensor indices) {
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

    @Override
    public Map<String, Object> spec() {
        return spec("Embedding", "num", numEmbeddings, "dim", embeddingDim, "paddingIdx", paddingIdx);
    }

    @Override
    public String describe() {
        return "Embedding(" + numEmbeddings + " → " + embeddingDim
                + (paddingIdx != dev.gatun.ops.Embedding.NO_PADDING ? ", padding " + paddingIdx : "") + ")";
    }
}
