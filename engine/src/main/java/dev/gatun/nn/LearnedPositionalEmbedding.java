package dev.gatun.nn;

import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.Regularization;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Learned positional embeddings (as in BERT and GPT): a trained vector per position, added to the input
 * and followed by dropout, beside the fixed sinusoidal {@link PositionalEncoding}. For position p,
 *
 * <pre>
 *   y[p] = dropout(x[p] + weight[p])
 * </pre>
 *
 * The parameter {@code weight} [maxLen, d] is what GPT's {@code wpe = nn.Embedding(block_size, d)} holds
 * and gets N(0, 1) as {@code nn.Embedding} does ({@link #resetParameters} to re-draw it). Inputs are
 * [T, B, d] (sequence first), [B, T, d] with {@code batchFirst}, or [T, d], with T ≤ maxLen;
 * {@link #forward(Tensor, long)} starts at a later position, for a sequence that grows a position at a
 * time.
 */
public final class LearnedPositionalEmbedding extends Module implements RandomModule {

    private final long dModel;
    private final long maxLen;
    private final float dropout;
    private final boolean batchFirst;
    private final Tensor weight;
    private final Generator rng;

    /**
     * d_model features and up to maxLen positions, no dropout, sequence first.
     *
     * @param dModel the features of each position
     * @param maxLen the most positions an input may have
     * @throws IllegalArgumentException if a size is below 1
     */
    public LearnedPositionalEmbedding(long dModel, long maxLen) {
        this(dModel, maxLen, 0f, false);
    }

    /**
     * With every setting; the weight is drawn from {@link Init#generator()}, and the dropout masks from a
     * generator seeded by one draw from it.
     *
     * @param dModel     the features of each position
     * @param maxLen     the most positions an input may have
     * @param dropout    the dropout probability after the addition, in [0, 1)
     * @param batchFirst whether 3-d inputs are [B, T, d] rather than [T, B, d]
     * @throws IllegalArgumentException if a size is below 1 or the dropout lies outside [0, 1)
     */
    public LearnedPositionalEmbedding(long dModel, long maxLen, float dropout, boolean batchFirst) {
        if (dModel < 1 || maxLen < 1) {
            throw new IllegalArgumentException("LearnedPositionalEmbedding needs positive sizes, got d_model="
                    + dModel + " max_len=" + maxLen);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("LearnedPositionalEmbedding: dropout probability must be in [0, 1),"
                    + " got " + dropout);
        }
        this.dModel = dModel;
        this.maxLen = maxLen;
        this.dropout = dropout;
        this.batchFirst = batchFirst;
        this.weight = addParameter("weight", maxLen, dModel);
        resetParameters(Init.generator());
        this.rng = new Generator(Init.generator().nextLong());
    }

    /**
     * Re-draws the weight N(0, 1), as {@code nn.Embedding} initialises it.
     *
     * @param rng the generator to draw from
     */
    public void resetParameters(RandomGenerator rng) {
        Init.normal(weight, 0, 1, rng);
    }

    /**
     * The position vectors.
     *
     * @return the weight [maxLen, dModel], a parameter
     */
    public Tensor weight() {
        return weight;
    }

    /**
     * The most positions an input may have.
     *
     * @return maxLen
     */
    public long maxLen() {
        return maxLen;
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
     * Adds the vector of each position 0..T−1, then applies dropout (in training).
     *
     * @param x [T, B, d] ([B, T, d] batch first) or [T, d], with T at most {@code maxLen}
     * @return the result, of x's shape
     * @throws IllegalArgumentException if x's shape does not fit, naming it
     */
    @Override
    public Tensor forward(Tensor x) {
        return forward(x, 0);
    }

    /**
     * Adds the vectors of positions {@code start}..{@code start}+T−1, then applies dropout (in training):
     * the next T positions of a sequence whose first {@code start} went before.
     *
     * @param x     [T, B, d] ([B, T, d] batch first) or [T, d]
     * @param start the position of x's first element, with start + T at most {@code maxLen}
     * @return the result, of x's shape
     * @throws IllegalArgumentException if x's shape does not fit, start is negative, or the positions go
     *                                  past maxLen
     */
    public Tensor forward(Tensor x, long start) {
        x.checkAlive();
        if ((x.dim() != 2 && x.dim() != 3) || x.size(-1) != dModel) {
            throw new IllegalArgumentException("LearnedPositionalEmbedding: input must be "
                    + (batchFirst ? "[B, T, " : "[T, B, ") + dModel + "] or [T, " + dModel + "], got "
                    + Arrays.toString(x.shape()));
        }
        int seqDim = batchFirst && x.dim() == 3 ? 1 : 0;
        long t = x.size(seqDim);
        if (start < 0 || t > maxLen - start) {
            throw new IllegalArgumentException("LearnedPositionalEmbedding: positions " + start + " to "
                    + (start + t - 1) + " do not fit max_len " + maxLen);
        }
        Tensor rows = weight.slice(0, start, start + t);                          // [T, d]
        Tensor table = x.dim() == 3 && !batchFirst ? rows.unsqueeze(1) : rows;  // [T, 1, d] for sequence first
        return Regularization.dropout(Arithmetic.add(x, table), dropout, isTraining(), rng);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code d_model=128, max_len=256, dropout=0.1}; {@code batch_first=true} when so
     */
    @Override
    protected String extraRepr() {
        return "d_model=" + dModel + ", max_len=" + maxLen + ", dropout=" + dropout
                + (batchFirst ? ", batch_first=true" : "");
    }

    /**
     * The settings a model file records to rebuild this layer.
     *
     * @return the type, the sizes, the dropout probability and the layout
     */
    @Override
    public Map<String, Object> spec() {
        return spec("LearnedPositionalEmbedding", "dModel", dModel, "maxLen", maxLen, "dropout", dropout,
                "batchFirst", batchFirst);
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code LearnedPositionalEmbedding(128, max_len 256)}
     */
    @Override
    public String describe() {
        return "LearnedPositionalEmbedding(" + dModel + ", max_len " + maxLen
                + (dropout > 0 ? ", dropout " + dropout : "") + ")";
    }
}
