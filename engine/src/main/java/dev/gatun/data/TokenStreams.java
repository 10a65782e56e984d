package dev.gatun.data;

import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Objects;

/**
 * Batches of token sequences for training a language model with truncated backpropagation through
 * time: inputs and next-token targets, laid out so that a recurrent model can carry its state from one
 * batch to the next.
 *
 * <p>The N tokens give N − 1 (input, next token) pairs, which are cut into B streams of
 * {@code S = (N − 1) / B} consecutive pairs each (stream b starts at token b·S; the last
 * {@code (N − 1) mod B} pairs are left out), and each stream into {@code C = S / T} sequences of T
 * (a remainder shorter than T is left out). Batch j holds sequence j of every stream: inputs
 * {@code [B, T]} and targets {@code [B, T]}, both int64, with {@code targets[b][t]} the token after
 * {@code inputs[b][t]}. So row b of batch j + 1 continues row b of batch j exactly where it stopped,
 * and the state a model ends batch j with is the right start for batch j + 1 (PyTorch's
 * {@code word_language_model} example lays its data out the same way, time-major).
 *
 * <pre>{@code
 * int[] ids = vocabulary.encode(text);
 * DataLoader train = TokenStreams.loader(ids, 32, 128);     // 32 streams, sequences of 128
 * for (Batch batch : train.epoch(epoch)) {                  // batch j continues batch j - 1
 *     Tensor inputs = batch.inputs();                       // [32, 128] int64
 *     Tensor targets = batch.targets();                     // [32, 128] int64
 *     ...
 * }
 * }</pre>
 *
 * <p>The samples are those of a {@link TensorDataset} of two tensors: sample {@code j·B + b} is
 * sequence j of stream b. A {@link DataLoader} keeps the streams together only with batches of exactly
 * B samples in sequential order, which is what {@link #loader} makes.
 */
public final class TokenStreams {

    private TokenStreams() {}

    /**
     * The number of batches {@code tokens} tokens give: {@code ((tokens − 1) / streams) / length}.
     *
     * @param tokens  the number of tokens, N
     * @param streams the number of streams, B, at least 1
     * @param length  the sequence length, T, at least 1
     * @return the number of batches C (0 when the tokens do not fill one)
     * @throws IllegalArgumentException if {@code streams} or {@code length} is below 1, or {@code tokens}
     *     is negative
     */
    public static int batches(int tokens, int streams, int length) {
        check(tokens, streams, length);
        return tokens < 2 ? 0 : (tokens - 1) / streams / length;
    }

    private static void check(int tokens, int streams, int length) {
        if (streams < 1) {
            throw new IllegalArgumentException("the number of streams must be at least 1, got " + streams);
        }
        if (length < 1) {
            throw new IllegalArgumentException("the sequence length must be at least 1, got " + length);
        }
        if (tokens < 0) {
            throw new IllegalArgumentException("the number of tokens must be at least 0, got " + tokens);
        }
    }

    /**
     * The samples of {@code tokens} cut into streams and sequences as the class describes: a dataset of
     * two int64 tensors, inputs {@code [C·B, T]} and targets {@code [C·B, T]}, sample {@code j·B + b} being
     * sequence j of stream b.
     *
     * @param tokens  the token ids, each at least 0
     * @param streams the number of parallel streams, B (the batch size)
     * @param length  the length of each sequence, T
     * @return the dataset of C·B samples
     * @throws IllegalArgumentException if {@code streams} or {@code length} is below 1, a token is negative
     *     (naming it and its position), or there are too few tokens for one batch (the message gives the
     *     numbers)
     */
    public static TensorDataset dataset(int[] tokens, int streams, int length) {
        Objects.requireNonNull(tokens, "tokens");
        int c = batches(tokens.length, streams, length);
        if (c == 0) {
            throw new IllegalArgumentException(tokens.length + " tokens are too few for " + streams + " streams of"
                    + " sequences of " + length + ": one batch needs " + ((long) streams * length + 1) + " tokens");
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0) {
                throw new IllegalArgumentException("token " + i + " is negative: " + tokens[i]);
            }
        }
        int s = (tokens.length - 1) / streams;
        long rows = (long) c * streams;
        long[] inputs = new long[Math.toIntExact(rows * length)];
        long[] targets = new long[inputs.length];
        int k = 0;
        for (int j = 0; j < c; j++) {
            for (int b = 0; b < streams; b++) {
                int start = b * s + j * length;
                for (int t = 0; t < length; t++, k++) {
                    inputs[k] = tokens[start + t];
                    targets[k] = tokens[start + t + 1];
                }
            }
        }
        // The tensors only carry the values into the dataset, which copies them.
        try (Scope scope = Scope.open()) {
            return TensorDataset.of(Tensor.fromLongs(inputs, rows, length), Tensor.fromLongs(targets, rows, length));
        }
    }

    /**
     * A loader of the batches the class describes: {@link #dataset} in sequential order, B samples per
     * batch, so that each batch continues the one before it stream by stream.
     *
     * @param tokens  the token ids, each at least 0
     * @param streams the number of parallel streams, B
     * @param length  the length of each sequence, T
     * @return a loader of C batches of inputs {@code [B, T]} and targets {@code [B, T]}, int64
     * @throws IllegalArgumentException as {@link #dataset}
     */
    public static DataLoader loader(int[] tokens, int streams, int length) {
        return new DataLoader(dataset(tokens, streams, length), streams, Order.sequential(), LastBatch.DROP);
    }
}
