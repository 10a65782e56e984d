package dev.gatun.cli;

import dev.gatun.data.DataLoader;
import dev.gatun.data.TokenStreams;
import dev.gatun.data.Vocabulary;
import dev.gatun.io.ModelFile;
import dev.gatun.nn.GPT;
import dev.gatun.nn.Module;
import dev.gatun.optim.Optimizers;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code gatun train chargpt}: a decoder-only Transformer character language model on the Brown corpus. */
@Command(name = "chargpt", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a character GPT on the Brown corpus (scripts/fetch-data brown) and report the test loss"
                + " in nats and bits per character: an embedding of the characters plus learned positions, pre-norm"
                + " layers of causal self-attention and a GELU feed-forward network, a final layer norm and a linear"
                + " head at every position; cross-entropy over all positions. After each epoch: the validation"
                + " loss and a sample generated with the keys and values of earlier positions cached. After"
                + " training: the generation speed with and without that cache, and (--attention) a PNG of every"
                + " head's attention over a sentence.",
                "The texts are split by whole texts, per genre (--validation, --test, --seed); the vocabulary is"
                        + " every character of the corpus. The training batches are --batch-size windows of"
                        + " --seq-len characters in a new shuffled order each epoch.",
                "Default: d_model 160, 4 layers of 4 heads, FFN 640, dropout 0.1 (about the parameters of the"
                        + " default charlm), windows of 128 in batches of 64, AdamW 1e-3 with weight decay 0.01, a"
                        + " cosine schedule, gradient norm clipped to 1, 5 epochs."})
final class CharGptCommand extends LanguageModelCommand {

    @Option(names = "--d-model", description = "Width of every position's vector (default: ${DEFAULT-VALUE}).")
    int dModel = 160;

    @Option(names = "--layers", description = "Transformer layers (default: ${DEFAULT-VALUE}).")
    int layers = 4;

    @Option(names = "--heads", description = "Attention heads per layer, dividing --d-model"
            + " (default: ${DEFAULT-VALUE}).")
    int heads = 4;

    @Option(names = "--ffn", description = "Hidden width of each feed-forward network (default: ${DEFAULT-VALUE}).")
    int ffn = 640;

    @Option(names = "--dropout", description = "Dropout everywhere, in [0, 1) (default: ${DEFAULT-VALUE}).")
    float dropout = 0.1f;

    @Option(names = "--attention", description = "Write a PNG heat map of every layer's and head's attention over"
            + " --attention-text to this file.")
    Path attention;

    @Option(names = "--attention-text", description = "The text of the heat map, at most --seq-len and "
            + AttentionMaps.MAX_LENGTH + " characters (default: \"${DEFAULT-VALUE}\").")
    String attentionText = "The jury said it did find that the election was conducted well.";

    @Option(names = "--speed-runs", description = "Timed generations of each kind (with and without the cache) after"
            + " training; 0 skips the measurement (default: ${DEFAULT-VALUE}).")
    int speedRuns = 5;

    CharGptCommand() {
        optimizer = Optimizers.Kind.ADAMW;
        lr = 1e-3;
        schedule = TrainCommand.ScheduleKind.COSINE;
    }

    @Override
    void checkModel(Checks checks) {
        checks.atLeast("--d-model", dModel, 1)
                .atLeast("--layers", layers, 1)
                .atLeast("--heads", heads, 1)
                .require(heads < 1 || dModel < 1 || dModel % heads == 0, "--heads " + heads + " does not divide"
                        + " --d-model " + dModel)
                .atLeast("--ffn", ffn, 1)
                .fraction("--dropout", dropout);
    }

    @Override
    void checkMore(Checks checks) {
        checks.require(attention == null || !attentionText.isEmpty() && attentionText.length() <= Math.min(seqLen,
                        AttentionMaps.MAX_LENGTH), "--attention-text must have 1 to " + Math.min(seqLen,
                        AttentionMaps.MAX_LENGTH) + " characters (--seq-len and the picture's limit), got "
                        + attentionText.length())
                .writable("--attention", String.valueOf(attention), attention)
                .atLeast("--speed-runs", speedRuns, 0);
    }

    @Override
    Module newModel(int vocabularySize) {
        return new GPT(new GPT.Config(vocabularySize, seqLen, dModel, layers, heads, ffn, dropout));
    }

    /**
     * Windows of {@code seqLen} characters and their next characters, cut from the text one after another;
     * the training loader shuffles them each epoch, the others read them in order.
     */
    @Override
    DataLoader loader(String what, int[] ids, boolean training) {
        int b = streams(what, ids);
        DataLoader.Order order = training ? DataLoader.Order.shuffled(seed) : DataLoader.Order.sequential();
        return new DataLoader(TokenStreams.dataset(ids, b, seqLen), b, order, DataLoader.LastBatch.KEEP);
    }

    @Override
    int[] sample(Module model, int[] prompt, int length, SplittableRandom rng) {
        GPT gpt = (GPT) model;
        long[] p = Arrays.stream(prompt).asLongStream().toArray();
        GPT.Sampling how = temperature == 0 ? GPT.Sampling.greedy()
                : GPT.Sampling.sample((float) temperature, topK);
        long[] all = gpt.generate(p, length, how, rng);
        return Arrays.stream(all, p.length, all.length).mapToInt(v -> (int) v).toArray();
    }

    @Override
    void save(Module model, Path file, Map<String, String> metadata) throws IOException {
        ModelFile.save(model, file, metadata, (long[]) null);
    }

    @Override
    void afterTraining(Module model, Vocabulary vocabulary, PrintStream out) throws IOException {
        GPT gpt = (GPT) model;
        long[] p = Arrays.stream(vocabulary.encode(prompt)).asLongStream().toArray();
        int n = (int) (gpt.config().blockSize() - p.length);
        if (speedRuns > 0 && n > 0) {
            double cached = speed(gpt, p, n, true);
            double uncached = speed(gpt, p, n, false);
            out.printf(Locale.ROOT, "generation, %d characters after a prompt of %d, greedy: %,.0f"
                            + " chars/s with the KV cache, %,.0f without (%.1f×), best of %d%n", n, p.length, cached,
                    uncached, cached / uncached, speedRuns);
        }
        if (attention != null) {
            long[] ids;
            try {
                ids = Arrays.stream(vocabulary.encode(attentionText)).asLongStream().toArray();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--attention-text: " + e.getMessage());
            }
            List<float[][][]> maps = new ArrayList<>();
            try (Scope ignored = Scope.open()) {
                for (Tensor w : gpt.attentionWeights(ids)) {
                    int h = (int) w.size(0);
                    int t = (int) w.size(1);
                    float[] v = w.contiguous().toArray();
                    float[][][] layer = new float[h][t][t];
                    for (int k = 0; k < h; k++) {
                        for (int i = 0; i < t; i++) {
                            System.arraycopy(v, (k * t + i) * t, layer[k][i], 0, t);
                        }
                    }
                    maps.add(layer);
                }
            }
            AttentionMaps.write(attention, attentionText, maps, String.format(Locale.ROOT,
                    "Character GPT on the Brown corpus: attention of each layer's heads (d_model %d, %d layers of %d"
                            + " heads)", dModel, layers, heads));
            out.println("attention maps: " + attention);
        }
    }

    /** The best of {@link #speedRuns} generations of n characters, in characters per second. */
    private double speed(GPT gpt, long[] prompt, int n, boolean cache) {
        gpt.generate(prompt, n, GPT.Sampling.greedy(), null, cache); // warm up
        long best = Long.MAX_VALUE;
        for (int r = 0; r < speedRuns; r++) {
            long t0 = System.nanoTime();
            gpt.generate(prompt, n, GPT.Sampling.greedy(), null, cache);
            best = Math.min(best, System.nanoTime() - t0);
        }
        return n / (best / 1e9);
    }

    /**
     * Why this machine cannot train the model, or null: the weights with their gradients and AdamW's
     * moments, and a batch's activations (every layer's projections, attention scores and feed-forward
     * values, kept for the backward pass, and their gradients), against the physical memory.
     */
    @Override
    String tooLarge() {
        if (dModel < 1 || layers < 1 || heads < 1 || ffn < 1) {
            return null; // reported above
        }
        double v = 128;
        double parameters = (v + seqLen) * dModel + layers * (4.0 * dModel * dModel + 2.0 * dModel * ffn)
                + dModel * v;
        double activations = 2.0 * Float.BYTES * batchSize * seqLen * (layers * (10.0 * dModel + 2.0 * ffn
                + 2.0 * heads * seqLen) + 3 * v);
        double bytes = Float.BYTES * parameters * 4 + activations;
        if (bytes > Memory.physical()) {
            return String.format(Locale.ROOT, "--d-model %d --layers %d --ffn %d --batch-size %d --seq-len %d need"
                    + " about %s for the weights, their gradients, the optimizer's state and a batch's activations,"
                    + " more than the %s of memory this machine has", dModel, layers, ffn, batchSize, seqLen,
                    Memory.format(bytes), Memory.format(Memory.physical()));
        }
        return null;
    }
}
