package dev.gatun.nn;

import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.Regularization;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * The sinusoidal positional encoding of "Attention is all you need", added to the input and followed
 * by dropout: for position p and feature pair i (d = d_model),
 *
 * <pre>
 *   PE[p, 2i]     = sin(p / 10000^(2i/d))
 *   PE[p, 2i + 1] = cos(p / 10000^(2i/d))
 * </pre>
 *
 * The table for {@code maxLen} positions is the buffer {@code pe} [maxLen, d]. Inputs are [T, B, d]
 * (sequence first), [B, T, d] with {@code batchFirst}, or [T, d], with T ≤ maxLen.
 */
public final class PositionalEncoding extends Module implements RandomModule {

    private final long dModel;
    private final long maxLen;
    private final float dropout;
    private final boolean batchFirst;
    private final Tensor pe;
    private final Generator rng;

    /**
     * d_model features, up to 5000 positions, dropout 0.1, sequence first.
     *
     * @param dModel the features of each position
     * @throws IllegalArgumentException if {@code dModel} is below 1
     */
    public PositionalEncoding(long dModel) {
        this(dModel, 5000, 0.1f, false);
    }

    /**
     * With every setting.
     *
     * @param dModel     the features of each position
     * @param maxLen     the most positions an input may have
     * @param dropout    the dropout probability after the addition, in [0, 1)
     * @param batchFirst whether 3-d inputs are [B, T, d] rather than [T, B, d]
     * @throws IllegalArgumentException if a size is below 1 or the dropout lies outside [0, 1)
     */
    public PositionalEncoding(long dModel, long maxLen, float dropout, boolean batchFirst) {
        if (dModel < 1 || maxLen < 1) {
            throw new IllegalArgumentException("PositionalEncoding needs positive sizes, got d_model=" + dModel
                    + " max_len=" + maxLen);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("PositionalEncoding: dropout probability must be in [0, 1), got "
                    + dropout);
        }
        this.dModel = dModel;
        this.maxLen = maxLen;
        this.dropout = dropout;
        this.batchFirst = batchFirst;
        this.pe = addBuffer("pe", maxLen, dModel);
        pe.copyFrom(table(maxLen, dModel));
        this.rng = new Generator(Init.generator().nextLong());
    }

    /**
     * The encoding table, computed in double and rounded to float.
     *
     * @param positions the number of positions
     * @param dModel    the features of each position
     * @return the table [positions, dModel], row-major
     * @throws ArithmeticException if the table has more than 2^31 − 1 values
     */
    public static float[] table(long positions, long dModel) {
        float[] v = new float[Math.toIntExact(Math.multiplyExact(positions, dModel))];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; 2 * i < dModel; i++) {
                double angle = p / Math.pow(10000, 2.0 * i / dModel);
                v[(int) (p * dModel) + 2 * i] = (float) Math.sin(angle);
                if (2 * i + 1 < dModel) {
                    v[(int) (p * dModel) + 2 * i + 1] = (float) Math.cos(angle);
                }
            }
        }
        return v;
    }

    /**
     * The table, the buffer {@code pe} [maxLen, dModel].
     *
     * @return the module's own tensor
     */
    public Tensor pe() {
        return pe;
    }

    /** The generator of the dropout masks (see {@link RandomModule}). */
    @Override
    public Generator generator() {
        return rng;
    }

    /**
     * Adds the encoding of each position, then applies dropout (in training).
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
     * Adds the encoding of positions {@code start}..{@code start}+T−1, then applies dropout (in training):
     * the next T positions of a sequence whose first {@code start} went before (as when generating with
     * cached keys and values).
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
            throw new IllegalArgumentException("PositionalEncoding: input must be "
                    + (batchFirst ? "[B, T, " : "[T, B, ") + dModel + "] or [T, " + dModel + "], got "
                    + Arrays.toString(x.shape()));
        }
        int seqDim = batchFirst && x.dim() == 3 ? 1 : 0;
        long t = x.size(seqDim);
        if (start == 0 && t > maxLen) {
            throw new IllegalArgumentException("PositionalEncoding: " + t + " positions exceed max_len " + maxLen);
        }
        if (start < 0 || t > maxLen - start) {
            throw new IllegalArgumentException("PositionalEncoding: positions " + start + " to " + (start + t - 1)
                    + " do not fit max_len " + maxLen);
        }
        Tensor rows = pe.slice(0, start, start + t);                  // [T, d]
        Tensor table = x.dim() == 3 && !batchFirst ? rows.unsqueeze(1) : rows;  // [T, 1, d] for sequence first
        return Regularization.dropout(Arithmetic.add(x, table), dropout, isTraining(), rng);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code d_model=16, max_len=5000, dropout=0.1}; {@code batch_first=true} when so
     */
    @Override
    protected String extraRepr() {
        return "d_model=" + dModel + ", max_len=" + maxLen + ", dropout=" + dropout
                + (batchFirst ? ", batch_first=true" : "");
    }

    @Override
    public Map<String, Object> spec() {
        return spec("PositionalEncoding", "dModel", dModel, "maxLen", maxLen, "dropout", dropout, "batchFirst",
                batchFirst);
    }

    @Override
    public String describe() {
        return "PositionalEncoding(" + dModel + ", max_len " + maxLen + (dropout > 0 ? ", dropout " + dropout : "")
                + ")";
    }
}
