package dev.gatun.cli;

import dev.gatun.backend.Threads;
import dev.gatun.data.BrownCorpus;
import dev.gatun.data.DataLoader;
import dev.gatun.data.Vocabulary;
import dev.gatun.nn.Init;
import dev.gatun.nn.Module;
import dev.gatun.optim.CosineAnnealingLR;
import dev.gatun.optim.ExponentialLR;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.Optimizers;
import dev.gatun.optim.StepLR;
import dev.gatun.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What the character language models of the Brown corpus share ({@code gatun train charlm} and
 * {@code chargpt}): the data, its split and vocabulary, the optimizer and schedule, the fit loop with
 * samples after each epoch, the test report and the saved file. A subclass adds its model's options and
 * makes the model, its loaders and its samples.
 */
abstract class LanguageModelCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--data", description = "Directory of the Brown corpus's texts (default: ${DEFAULT-VALUE}).")
    Path data = BrownCorpus.defaultDirectory();

    @Option(names = "--seq-len", description = "Length T of each training sequence (default: ${DEFAULT-VALUE}).")
    int seqLen = 128;

    @Option(names = "--batch-size", description = "Sequences per batch (default: ${DEFAULT-VALUE}).")
    int batchSize = 64;

    @Option(names = "--optimizer", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Optimizers.Kind optimizer = Optimizers.Kind.ADAM;

    @Option(names = "--lr", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr = 2e-3;

    @Option(names = "--weight-decay", description = "Weight decay (default: the optimizer's, 0 or AdamW's 0.01).")
    Double weightDecay;

    @Option(names = "--clip", description = "Clip the gradients' total L2 norm to this after each backward pass;"
            + " 0 turns clipping off (default: ${DEFAULT-VALUE}).")
    double clip = 1.0;

    @Option(names = "--schedule", description = "Learning-rate schedule per epoch: ${COMPLETION-CANDIDATES}"
            + " (default: ${DEFAULT-VALUE}).")
    TrainCommand.ScheduleKind schedule = TrainCommand.ScheduleKind.NONE;

    @Option(names = "--epochs", description = "Epochs over the training texts (default: ${DEFAULT-VALUE}).")
    int epochs = 5;

    @Option(names = "--patience", description = "Early stopping after this many epochs without a better validation"
            + " loss, keeping the best weights; 0 turns it off (default: ${DEFAULT-VALUE}).")
    int patience = 0;

    @Option(names = "--validation", description = "Share of each genre's texts held out for validation, in [0, 1)"
            + " (default: ${DEFAULT-VALUE}).")
    double validation = 0.1;

    @Option(names = "--test", description = "Share of each genre's texts held out for the test, in [0, 1)"
            + " (default: ${DEFAULT-VALUE}).")
    double test = 0.1;

    @Option(names = "--seed", description = "Seed for the split, initialisation, dropout, shuffling and samples"
            + " (default: ${DEFAULT-VALUE}).")
    long seed = 1;

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

    @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads).")
    Integer threads;

    @Option(names = "--csv", description = "Write per-epoch figures to this CSV file.")
    Path csv;

    @Option(names = "--chart", description = "Draw loss and accuracy curves into this PNG file.")
    Path chart;

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
        Path chartFile = chart == null || chart.toString().toLowerCase(Locale.ROOT).endsWith(".png") ? chart
                : Path.of(chart + ".png");
        checkModel(checks);
        checks.atLeast("--seq-len", seqLen, 1)
                .atLeast("--batch-size", batchSize, 1)
                .require(lr > 0 && Double.isFinite(lr), "--lr must be a finite number > 0, got " + lr)
                .nonNegative("--weight-decay", weightDecay == null ? 0 : weightDecay)
                .nonNegative("--clip", clip)
                .atLeast("--epochs", epochs, 1)
                .atLeast("--patience", patience, 0)
                .fraction("--validation", validation)
                .fraction("--test", test)
                .require(validation > 0, "--validation must be above 0: the epochs report the validation loss")
                .require(test > 0, "--test must be above 0: the run reports the test loss")
                .require(validation + test < 1, "--validation " + validation + " and --test " + test
                        + " leave no texts for training")
                .atLeast("--sample-length", sampleLength, 0)
                .nonNegative("--temperature", temperature)
                .atLeast("--top-k", topK, 0)
                .require(!prompt.isEmpty(), "--prompt needs at least one character")
                .writable("--csv", String.valueOf(csv), csv)
                .writable("--chart", String.valueOf(chart), chartFile)
                .writable("--save", String.valueOf(save), save);
        checkMore(checks);
        Integer useThreads = checks.threads("--threads", threads);
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
             Optimizer opt = Optimizers.create(optimizer, model.parameters(), lr, 0, weightDecay)) {
            out.print(model.summary(1, seqLen));
            out.printf(Locale.ROOT, "Brown corpus: %d texts; training on %d (%,d chars), validating on %d (%,d),"
                            + " testing on %d (%,d); %d characters%n", corpus.texts().size(), split.train().size(),
                    trainIds.length, split.validation().size(), validationIds.length, split.test().size(),
                    testIds.length, vocabulary.size());
            out.printf(Locale.ROOT, "%s lr %s, batches of %d sequences of %d (%,d batches an epoch), gradient norm"
                            + " clipped to %s, %d threads%n", optimizer.name().toLowerCase(Locale.ROOT), lr,
                    trainLoader.batchSize(), seqLen, trainLoader.numBatches(), clip > 0 ? clip : "(off)",
                    Threads.get());
            LearningRateSchedule lrSchedule = switch (schedule) {
                case NONE -> null;
                case COSINE -> new CosineAnnealingLR(opt, epochs);
                case STEP -> new StepLR(opt, Math.max(1, epochs / 3), 0.1);
                case EXPONENTIAL -> new ExponentialLR(opt, 0.9);
            };
            Trainer.Config config = Trainer.Config.of(epochs).withOut(out).withCsvLog(csv).withChart(chartFile)
                    .withGradClip(clip).withListener(r -> {
                        if (sampleLength > 0) {
                            int[] ids = sample(model, promptIds, sampleLength, sampling);
                            out.println("sample: " + quote(prompt + vocabulary.decode(ids)));
                        }
                        if (lrSchedule != null) {
                            lrSchedule.step();
                        }
                    });
            if (patience > 0) {
                config = config.withEarlyStopping(new Trainer.EarlyStopping(patience, 0, true));
            }
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
            if (chartFile != null) out.println("curves: " + chartFile);
            afterTraining(model, vocabulary, out);
            if (save != null) {
                save(model, save, Map.of(Vocabulary.METADATA_KEY, vocabulary.toJson()));
                out.println("model: " + save);
            }
        }
        return 0;
    }

    /** {@code s} in double quotes, newlines and tabs shown as \n and \t, so that a sample stays on one line. */
    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
