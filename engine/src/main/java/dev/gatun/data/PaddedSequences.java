package dev.gatun.data;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Objects;

/**
 * Variable-length token sequences with a class label each, for sequence classification: a
 * {@link TensorDataset} of three int64 tensors, the tokens {@code [N, T]} (each sequence followed by
 * padding up to the longest, T), the length of each sequence {@code [N]} and its class {@code [N]}.
 * A {@link DataLoader} batches them like any other dataset; a model reads a batch's lengths to ignore
 * the padding, as PyTorch's {@code pack_padded_sequence} does, and may cut a batch to its longest
 * sequence with {@link #trim}.
 *
 * <pre>{@code
 * TensorDataset passages = PaddedSequences.of(ids, genres, 15, 0);
 * var loader = new DataLoader(passages, 32, Order.shuffled(7), LastBatch.KEEP);
 * for (Batch b : loader.epoch(epoch)) {
 *     Tensor tokens = b.tensor(0), lengths = b.tensor(1), labels = b.tensor(2);
 *     ...
 * }
 * }</pre>
 */
public final class PaddedSequences {

    /** The most tokens the padded tensor may hold, N·T: beyond it a dataset would not fit the heap. */
    public static final long MAX_TOKENS = 1L << 28;

    private PaddedSequences() {}

    /**
     * The dataset of {@code sequences}, padded with {@code padId} after each to the longest.
     *
     * @param sequences  the token ids of each sample, each with at least one token, every id at least 0
     * @param labels     the class of each sample, in [0, numClasses)
     * @param numClasses the number of classes, at least 1
     * @param padId      the id written after each sequence, at least 0 (a model never reads it)
     * @return a dataset of tokens {@code [N, T]}, lengths {@code [N]} and labels {@code [N]}, all int64
     * @throws IllegalArgumentException if there are no sequences, the counts of sequences and labels
     *     differ, a sequence is empty or holds a negative id, a label lies outside [0, numClasses), or N·T
     *     exceeds {@link #MAX_TOKENS} (each message names the sample)
     * @throws NullPointerException if an argument or a sequence is null
     */
    public static TensorDataset of(List<int[]> sequences, int[] labels, int numClasses, int padId) {
        Objects.requireNonNull(sequences, "sequences");
        Objects.requireNonNull(labels, "labels");
        if (sequences.isEmpty()) {
            throw new IllegalArgumentException("padded sequences need at least one sequence");
        }
        if (sequences.size() != labels.length) {
            throw new IllegalArgumentException(sequences.size() + " sequences but " + labels.length + " labels");
        }
        if (numClasses < 1) {
            throw new IllegalArgumentException("the number of classes must be at least 1, got " + numClasses);
        }
        if (padId < 0) {
            throw new IllegalArgumentException("the padding id must be at least 0, got " + padId);
        }
        int n = sequences.size();
        int longest = 0;
        for (int i = 0; i < n; i++) {
            int[] s = Objects.requireNonNull(sequences.get(i), "sequence " + i);
            if (s.length == 0) {
                throw new IllegalArgumentException("sequence " + i + " is empty; each needs at least one token");
            }
            for (int t = 0; t < s.length; t++) {
                if (s[t] < 0) {
                    throw new IllegalArgumentException("sequence " + i + " holds the negative id " + s[t]
                            + " at position " + t);
                }
            }
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException("label " + labels[i] + " of sequence " + i + " is outside [0, "
                        + numClasses + ")");
            }
            longest = Math.max(longest, s.length);
        }
        if ((long) n * longest > MAX_TOKENS) {
            throw new IllegalArgumentException(n + " sequences padded to the longest, " + longest + " tokens, make "
                    + (long) n * longest + " tokens, more than " + MAX_TOKENS + "; cut the sequences shorter");
        }
        long[] tokens = new long[n * longest];
        long[] lengths = new long[n];
        long[] classes = new long[n];
        for (int i = 0; i < n; i++) {
            int[] s = sequences.get(i);
            java.util.Arrays.fill(tokens, i * longest + s.length, (i + 1) * longest, padId);
            for (int t = 0; t < s.length; t++) tokens[i * longest + t] = s[t];
            lengths[i] = s.length;
            classes[i] = labels[i];
        }
        try (Scope ignored = Scope.open()) {
            return TensorDataset.of(Tensor.fromLongs(tokens, n, longest), Tensor.fromLongs(lengths, n),
                    Tensor.fromLongs(classes, n));
        }
    }

    /**
     * The tokens of a batch cut to its longest sequence: the columns after every sequence's end hold only
     * padding, and a recurrent model need not run over them.
     *
     * @param tokens  a batch's tokens {@code [B, T]}, int64
     * @param lengths its lengths {@code [B]}, int64, each in [1, T]
     * @return a view {@code [B, max(lengths)]} of the tokens (the tensor itself when nothing is cut)
     * @throws IllegalArgumentException if the shapes or types do not fit, or a length lies outside [1, T]
     *     (naming it and its row)
     */
    public static Tensor trim(Tensor tokens, Tensor lengths) {
        long longest = longest(tokens, lengths);
        return longest == tokens.size(1) ? tokens : tokens.slice(1, 0, longest);
    }

    /**
     * The longest length of a batch, after checking the lengths against its tokens.
     *
     * @param tokens  the tokens {@code [B, T]}, int64
     * @param lengths the lengths {@code [B]}, int64, each in [1, T]
     * @return the largest length
     * @throws IllegalArgumentException if the shapes or types do not fit, or a length lies outside [1, T]
     */
    public static long longest(Tensor tokens, Tensor lengths) {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(lengths, "lengths");
        if (tokens.dim() != 2 || tokens.dtype() != DType.INT64) {
            throw new IllegalArgumentException("tokens must be an int64 tensor [B, T], got " + tokens.dtype() + " "
                    + java.util.Arrays.toString(tokens.shape()));
        }
        if (lengths.dim() != 1 || lengths.dtype() != DType.INT64 || lengths.size(0) != tokens.size(0)) {
            throw new IllegalArgumentException("lengths must be an int64 tensor [" + tokens.size(0) + "] for tokens "
                    + java.util.Arrays.toString(tokens.shape()) + ", got " + lengths.dtype() + " "
                    + java.util.Arrays.toString(lengths.shape()));
        }
        long[] l = lengths.toLongArray();
        long longest = 0;
        for (int b = 0; b < l.length; b++) {
            if (l[b] < 1 || l[b] > tokens.size(1)) {
                throw new IllegalArgumentException("length " + l[b] + " of row " + b + " is outside [1, "
                        + tokens.size(1) + "]");
            }
            longest = Math.max(longest, l[b]);
        }
        return longest;
    }
}
