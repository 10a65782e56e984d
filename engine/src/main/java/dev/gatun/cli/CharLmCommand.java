package dev.gatun.cli;

import dev.gatun.data.DataLoader;
import dev.gatun.data.TokenStreams;
import dev.gatun.nn.CharRnn;
import dev.gatun.nn.Module;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code gatun train charlm}: a recurrent character language model on the Brown corpus. */
@Command(name = "charlm", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a character language model on the Brown corpus (scripts/fetch-data brown) and report"
                + " the test loss in nats and bits per character: an embedding of the characters, stacked LSTM,"
                + " GRU or RNN layers, and a linear head at every step; cross-entropy over all steps, truncated"
                + " backpropagation through time with the state carried (detached) from batch to batch, gradient"
                + " clipping. After each epoch: the validation loss and a sample of generated text.",
                "The texts are split by whole texts, per genre (--validation, --test, --seed); the vocabulary is"
                        + " every character of the corpus. The batches are --batch-size parallel streams of the"
                        + " text, each row continuing the row of the batch before.",
                "Default: LSTM, embedding 64, 1 layer of 512, sequences of 128 in 64 streams, Adam 2e-3, gradient"
                        + " norm clipped to 1, 5 epochs."})
final class CharLmCommand extends LanguageModelCommand {

    @Option(names = "--cell", description = "Recurrent layer: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    CharRnn.Cell cell = CharRnn.Cell.LSTM;

    @Option(names = "--embedding", description = "Width of each character's vector (default: ${DEFAULT-VALUE}).")
    int embedding = 64;

    @Option(names = "--hidden", description = "Hidden size of each recurrent layer (default: ${DEFAULT-VALUE}).")
    int hidden = 512;

    @Option(names = "--layers", description = "Stacked recurrent layers (default: ${DEFAULT-VALUE}).")
    int layers = 1;

    @Option(names = "--dropout", description = "Dropout between the recurrent layers and before the head, in [0, 1)"
            + " (default: ${DEFAULT-VALUE}).")
    float dropout = 0f;

    @Override
    void checkModel(Checks checks) {
        checks.atLeast("--embedding", embedding, 1)
                .atLeast("--hidden", hidden, 1)
                .atLeast("--layers", layers, 1)
                .fraction("--dropout", dropout);
    }

    @Override
    Module newModel(int vocabularySize) {
        return new CharRnn(cell, vocabularySize, embedding, hidden, layers, dropout);
    }

    /** The batches of a split: parallel streams of the text, each batch continuing the one before. */
    @Override
    DataLoader loader(String what, int[] ids, boolean training) {
        return TokenStreams.loader(ids, streams(what, ids), seqLen);
    }

    @Override
    int[] sample(Module model, int[] prompt, int length, SplittableRandom rng) {
        return ((CharRnn) model).sample(prompt, length, temperature, topK, rng);
    }

    @Override
    void save(Module model, Path file, Map<String, String> metadata) throws IOException {
        ((CharRnn) model).save(file, metadata);
    }

    /**
     * Why this machine cannot train the model, or null: the weights, gradients and Adam's two moments, and
     * a batch's activations (embeddings, each layer's gates and states kept for the backward pass, logits,
     * and their gradients), against the physical memory.
     */
    @Override
    String tooLarge() {
        if (embedding < 1 || hidden < 1 || layers < 1) {
            return null; // reported above
        }
        double gates = switch (cell) {
            case LSTM -> 4;
            case GRU -> 3;
            case RNN -> 1;
        };
        int v = 128; // about the corpus's characters
        double parameters = (double) v * embedding + gates * hidden * (embedding + hidden + 2)
                + (layers - 1) * gates * hidden * (2.0 * hidden + 2) + (double) hidden * v + v;
        double weights = Float.BYTES * parameters * 4;
        double activations = 2.0 * Float.BYTES * batchSize * seqLen * (embedding + layers * (gates + 3) * hidden
                + 3.0 * v);
        long physical = Memory.physical();
        if (weights + activations > physical) {
            return String.format(Locale.ROOT, "--hidden %d --layers %d --batch-size %d --seq-len %d need about %s for"
                    + " the weights, their gradients, the optimizer's state and a batch's activations, more than the"
                    + " %s of memory this machine has", hidden, layers, batchSize, seqLen,
                    Memory.format(weights + activations), Memory.format(physical));
        }
        if (Float.BYTES * Math.max(gates * hidden * Math.max(embedding, hidden), (double) hidden * v)
                > Memory.heapAvailable() || gates * hidden * Math.max(embedding, hidden) > Memory.MAX_ARRAY) {
            return "--hidden " + hidden + " makes a weight too large to initialise from a Java array in the"
                    + " available heap";
        }
        return null;
    }
}
