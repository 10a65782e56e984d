package dev.gatun.nn;

import dev.gatun.data.PaddedSequences;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A many-to-one recurrent classifier of token sequences of different lengths: an {@link Embedding} of the
 * tokens, a stack of unidirectional recurrent layers ({@link LSTM}, {@link GRU} or {@link RNN}, batch
 * first), and a {@link Linear} head on the top layer's output at each sequence's last token. Padding after
 * a sequence's end changes nothing: a unidirectional layer's output at step t depends only on steps up to
 * t, so the output at the last real token is the one PyTorch gives a packed sequence
 * ({@code pack_padded_sequence}), and the padding never reaches the logits or the gradients.
 *
 * <pre>{@code
 * SequenceClassifier model = new SequenceClassifier(CharRnn.Cell.GRU, vocabulary.size(), 32, 256, 1, 15, 0.2f);
 * Tensor logits = model.forward(tokens, lengths);   // tokens [B, T], lengths [B] (int64) -> [B, 15]
 * }</pre>
 */
public final class SequenceClassifier extends Module {

    private final CharRnn.Cell cell;
    private final int vocabularySize;
    private final int embeddingDim;
    private final int hiddenSize;
    private final int numLayers;
    private final int numClasses;
    private final float dropout;
    private final Embedding embedding;
    private final RecurrentLayer rnn;
    private final Dropout outputDropout; // null without dropout
    private final Linear head;

    /**
     * A classifier with freshly initialised weights.
     *
     * @param cell           the recurrent layer
     * @param vocabularySize the number of token ids, V
     * @param embeddingDim   the width of each token's vector
     * @param hiddenSize     the hidden size of each recurrent layer
     * @param numLayers      the number of stacked recurrent layers
     * @param numClasses     the number of classes, C
     * @param dropout        dropout between recurrent layers and before the head, in [0, 1)
     * @throws IllegalArgumentException if a size is below 1 or dropout is outside [0, 1)
     * @throws NullPointerException     if cell is null
     */
    public SequenceClassifier(CharRnn.Cell cell, int vocabularySize, int embeddingDim, int hiddenSize, int numLayers,
            int numClasses, float dropout) {
        Objects.requireNonNull(cell, "cell");
        if (vocabularySize < 1 || embeddingDim < 1 || hiddenSize < 1 || numLayers < 1 || numClasses < 1) {
            throw new IllegalArgumentException("SequenceClassifier needs positive sizes, got vocabulary="
                    + vocabularySize + " embedding=" + embeddingDim + " hidden=" + hiddenSize + " layers=" + numLayers
                    + " classes=" + numClasses);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("SequenceClassifier: dropout must be in [0, 1), got " + dropout);
        }
        this.cell = cell;
        this.vocabularySize = vocabularySize;
        this.embeddingDim = embeddingDim;
        this.hiddenSize = hiddenSize;
        this.numLayers = numLayers;
        this.numClasses = numClasses;
        this.dropout = dropout;
        this.embedding = addModule("embedding", new Embedding(vocabularySize, embeddingDim));
        this.rnn = addModule("rnn", cell.layer(embeddingDim, hiddenSize, numLayers, dropout));
        this.outputDropout = dropout > 0 ? addModule("dropout", new Dropout(dropout)) : null;
        this.head = addModule("head", new Linear(hiddenSize, numClasses));
    }

    /**
     * The number of classes.
     *
     * @return C
     */
    public int numClasses() {
        return numClasses;
    }

    /**
     * The logits of sequences that fill every column (no padding).
     *
     * @param tokens the token ids {@code [B, T]}, int64
     * @return the logits {@code [B, C]}
     * @throws IllegalArgumentException if tokens is not an int64 {@code [B, T]} tensor or an id is out of range
     */
    @Override
    public Tensor forward(Tensor tokens) {
        tokens.checkAlive();
        checkTokens(tokens);
        long[] full = new long[(int) tokens.size(0)];
        Arrays.fill(full, tokens.size(1));
        return forward(tokens, Tensor.fromLongs(full, full.length));
    }

    /**
     * The logits of padded sequences, each read up to its length; the columns after the longest (rounded
     * up to a multiple of 16) are not run at all.
     *
     * @param tokens  the token ids {@code [B, T]}, int64, padded after each sequence with any valid id
     * @param lengths the length of each sequence {@code [B]}, int64, in [1, T]
     * @return the logits {@code [B, C]}
     * @throws IllegalArgumentException if a shape or type does not fit, a length is outside [1, T], or an
     *     id is out of range, naming it
     */
    public Tensor forward(Tensor tokens, Tensor lengths) {
        tokens.checkAlive();
        lengths.checkAlive();
        checkTokens(tokens);
        // The longest sequence rounded up to a multiple of 16: each length the layers see costs a set of
        // backend primitives, and a few lengths keep the primitive cache from churning.
        long steps = Math.min(tokens.size(1), (PaddedSequences.longest(tokens, lengths) + 15) / 16 * 16);
        Tensor used = steps == tokens.size(1) ? tokens : tokens.slice(1, 0, steps).contiguous();
        Tensor out = rnn.forward(embedding.forward(used)); // [B, T', H]
        long b = out.size(0);
        long t = out.size(1);
        long[] l = lengths.toLongArray();
        long[] rows = new long[l.length];
        for (int i = 0; i < rows.length; i++) rows[i] = i * t + l[i] - 1;
        Tensor last = out.reshape(b * t, hiddenSize).indexSelect(0, Tensor.fromLongs(rows, rows.length));
        if (outputDropout != null) {
            last = outputDropout.forward(last);
        }
        return head.forward(last);
    }

    private static void checkTokens(Tensor tokens) {
        if (tokens.dim() != 2 || tokens.dtype() != DType.INT64) {
            throw new IllegalArgumentException("SequenceClassifier: tokens must be an int64 tensor [B, T], got "
                    + tokens.dtype() + " " + Arrays.toString(tokens.shape()));
        }
    }

    /**
     * {@inheritDoc}
     *
     * @return the type {@code "SequenceClassifier"}, the cell, the sizes and the dropout
     */
    @Override
    public Map<String, Object> spec() {
        return spec("SequenceClassifier", "cell", cell.name(), "vocabulary", vocabularySize, "embedding", embeddingDim,
                "hidden", hiddenSize, "numLayers", numLayers, "classes", numClasses, "dropout", dropout);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code SequenceClassifier(GRU, 80 tokens, embedding 32, 1 × 256, 15 classes)}
     */
    @Override
    public String describe() {
        return String.format(Locale.ROOT, "SequenceClassifier(%s, %d tokens, embedding %d, %d × %d, %d classes%s)",
                cell, vocabularySize, embeddingDim, numLayers, hiddenSize, numClasses,
                dropout > 0 ? ", dropout " + dropout : "");
    }
}
