package dev.gatun.cli;

import dev.gatun.backend.Threads;
import dev.gatun.data.BrownCorpus;
import dev.gatun.data.DataLoader;
import dev.gatun.data.TokenStreams;
import dev.gatun.data.Vocabulary;
import dev.gatun.nn.Init;
import dev.gatun.nn.Module;
import dev.gatun.optim.Optimizer;
import dev.gatun.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import picocli.CommandLine.Option;

/**
 * What the character language models of the Brown corpus share ({@code gatun train charlm} and
 * {@code chargpt}): the data, its split and vocabulary, the optimizer and schedule, the fit loop with
 * samples after each epoch, the test report and the saved file. A subclass adds its model's options and
 * makes the model, its loaders and its samples.
 */
abstract class LanguageModelCommand extends BrownCommand {

    @Option(names = "--seq-len", description = "Length T of each training sequence (default: ${DEFAULT-VALUE}).")
    int seqLen = 128;

    @Option(names = "--sample-length", description = "Characters of generated text printed after each epoch; 0"
            + " prints none (default: ${DEFAULT-VALUE}).")
    int sampleLength = 300;

    @Option(names = "--temperature", description = "Temperature of the samples; 0 picks the likeliest character"
            + " (default: ${DEFAULT-VALUE}).")
    double temperature = 0.8;

    @Option(names = "--top-k", description = "Draw the samples among the k likeliest characters; 0 for all"
            + " (default: ${DEFAULT-VALUE}).")
    int topK = 0;

    @Option(names = "--prompt", description = "Text the samples start from (default: \"${DEFAULT-VALUE}\").")
    String prompt = "The ";

    @Option(names = "--save", description = "Write the trained model with its vocabulary to this safetensors file"
            + " (gatun sample reads it).")
    Path save;

    /** Adds the checks of the model's own options. */
    abstract void checkModel(Checks checks);

    /** Why this machine cannot train the model, or null (called only when the sizes passed their checks). */
    abstract String tooLarge();

    /** A new model for {@code vocabularySize} characters. */
    abstract Module newModel(int vocabularySize);

    /** The batches of a split; {@code training} for the loader of the training epochs. */
    abstract DataLoader loader(String what, int[] ids, boolean training);

    /** {@code length} characters generated after {@code prompt}. */
    abstract int[] sample(Module model, int[] prompt, int length, SplittableRandom rng);

    /** Writes the trained model with {@code metadata}. */
    abstract void save(Module model, Path file, Map<String, String> metadata) throws IOException;

    /** Runs after the test report, before the model is saved: e.g. speeds or pictures of the trained model. */
    void afterTraining(Module model, Vocabulary vocabulary, PrintStream out) throws IOException {}

    /** Adds the checks of later steps' options (after the model's). */
    void checkMore(Checks checks) {}

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        Checks checks = new Checks(spec.commandLine());
        checkModel(checks);
        checks.atLeast("--seq-len", seqLen, 1)
                .atLeast("--sample-length", sampleLength, 0)
                .nonNegative("--temperature", temperature)
                .atLeast("--top-k", topK, 0)
                .require(!prompt.isEmpty(), "--prompt needs at least one character")
                .writable("--save", String.valueOf(save), save)
                .require(!readAsText(save), "--save " + save + " would be read as a text of the corpus in " + data);
        Integer useThreads = checkShared(checks);
        checkMore(checks);
        if (seqLen >= 1 && batchSize >= 1) {
            checks.add(tooLarge());
        }
        checks.throwIfAny();

        BrownCorpus corpus = BrownCorpus.load(data);
        BrownCorpus.Split split = corpus.split(validation, test, seed);
        Vocabulary vocabulary = Vocabulary.of(BrownCorpus.join(corpus.texts()));
        int[] trainIds = vocabulary.encode(BrownCorpus.join(split.train()));
        int[] validationIds = vocabulary.encode(BrownCorpus.join(split.validation()));
        int[] testIds = vocabulary.encode(BrownCorpus.join(split.test()));
        int[] promptIds;
        try {
            promptIds = vocabulary.encode(prompt);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--prompt: " + e.getMessage());
        }
        DataLoader trainLoader = loader("training", trainIds, true);
        DataLoader validationLoader = loader("validation", validationIds, false);
        DataLoader testLoader = loader("test", testIds, false);

        if (useThreads != null) {
            Threads.set(useThreads);
        }
        Init.manualSeed(seed);
        SplittableRandom sampling = new SplittableRandom(seed);
        try (Module model = newModel(vocabulary.size());
             Optimizer opt = newOptimizer(model)) {
            out.print(model.summary(1, seqLen));
            out.printf(Locale.ROOT, "Brown corpus: %d texts; training on %d (%,d chars), validating on %d (%,d),"
                            + " testing on %d (%,d); %d characters%n", corpus.texts().size(), split.train().size(),
                    trainIds.length, split.validation().size(), validationIds.length, split.test().size(),
                    testIds.length, vocabulary.size());
            out.printf(Locale.ROOT, "%s lr %s, batches of %d sequences of %d (%,d batches an epoch), gradient norm"
                            + " clipped to %s, %d threads%n", optimizer.name().toLowerCase(Locale.ROOT), lr,
                    trainLoader.batchSize(), seqLen, trainLoader.numBatches(), clip > 0 ? clip : "(off)",
                    Threads.get());
            Trainer.Config config = config(out, newSchedule(opt), () -> {
                if (sampleLength > 0) {
                    int[] ids = sample(model, promptIds, sampleLength, sampling);
                    out.println("sample: " + quote(prompt + vocabulary.decode(ids)));
                }
            });
            Trainer.Task task = Trainer.Task.nextToken("char");
            long start = System.nanoTime();
            Trainer.History history = Trainer.fit(model, opt, task, trainLoader, validationLoader, config);
            double seconds = (System.nanoTime() - start) / 1e9;
            Trainer.Evaluation result = Trainer.evaluate(model, task, testLoader);
            double trainSeconds = history.epochs().stream().mapToDouble(Trainer.EpochResult::seconds).sum();
            out.printf(Locale.ROOT, "test loss %.4f nats (%.3f bits/char), next-character accuracy %.2f%% on %,d"
                            + " chars, after %d epochs%s%n", result.loss(), result.loss() / Math.log(2),
                    100 * result.accuracy(), result.samples(), history.epochs().size(), history.stoppedEarly()
                            ? ", stopped early, weights of epoch " + (history.bestEpoch() + 1) : "");
            out.printf(Locale.ROOT, "speed: %.1f s per epoch of training, %,.0f chars/s; %.1f s in all%n",
                    trainSeconds / history.epochs().size(), history.epochs().stream()
                            .mapToDouble(Trainer.EpochResult::samplesPerSecond).average().orElse(0), seconds);
            if (csv != null) out.println("per-epoch log: " + csv);
            if (chartFile() != null) out.println("curves: " + chartFile());
            afterTraining(model, vocabulary, out);
            if (save != null) {
                save(model, save, Map.of(Vocabulary.METADATA_KEY, vocabulary.toJson()));
                out.println("model: " + save);
            }
        }
        return 0;
    }

    /**
     * The streams (rows) of a split's batches: {@code --batch-size}, halved until the split gives each one a
     * sequence, so that a small validation or test set still makes a batch.
     *
     * @throws IllegalArgumentException if the split is too short for even one sequence
     */
    int streams(String what, int[] ids) {
        int b = batchSize;
        while (b > 1 && TokenStreams.batches(ids.length, b, seqLen) == 0) {
            b = Math.max(1, b / 2);
        }
        if (TokenStreams.batches(ids.length, b, seqLen) == 0) {
            throw new IllegalArgumentException("the " + what + " texts hold " + ids.length + " characters, too few"
                    + " for one sequence of --seq-len " + seqLen + " and its next characters");
        }
        return b;
    }

    /** {@code s} in double quotes, newlines and tabs shown as \n and \t, so that a sample stays on one line. */
    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
