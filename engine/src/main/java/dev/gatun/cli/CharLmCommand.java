package dev.gatun.cli;

import dev.gatun.backend.Threads;
import dev.gatun.data.BrownCorpus;
import dev.gatun.data.DataLoader;
import dev.gatun.data.TokenStreams;
import dev.gatun.data.Vocabulary;
import dev.gatun.nn.CharRnn;
import dev.gatun.nn.Init;
import dev.gatun.optim.CosineAnnealingLR;
import dev.gatun.optim.ExponentialLR;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.Optimizers;
import dev.gatun.optim.StepLR;
import dev.gatun.train.Trainer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gatun train charlm}: a character language model on the Brown corpus. */
@Command(name = "charlm", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a character language model on the Brown corpus (scripts/fetch-data brown) and report"
                + " the test loss in nats and bits per character: an embedding of the characters, stacked LSTM,"
                + " GRU or RNN layers, and a linear head at every step; cross-entropy over all steps, truncated"
                + " backpropagation through time with the state carried (detached) from batch to batch, gradient"
                + " clipping. After each epoch: the validation loss and a sample of generated text.",
                "The texts are split by whole texts, per genre (--validation, --test, --seed); the vocabulary is"
                        + " every character of the corpus.",
                "Default: LSTM, embedding 64, 1 layer of 512, sequences of 128 in 64 streams, Adam 2e-3, gradient"
                        + " norm clipped to 1, 5 epochs."})
final class CharLmCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--data", description = "Directory of the Brown corpus's texts (default: ${DEFAULT-VALUE}).")
    Path data = BrownCorpus.defaultDirectory();

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

    @Option(names = "--seq-len", description = "Steps of backpropagation through time: the length T of each"
            + " training sequence (default: ${DEFAULT-VALUE}).")
    int seqLen = 128;

    @Option(names = "--batch-size", description = "Parallel streams B of the text, the rows of a batch"
            + " (default: ${DEFAULT-VALUE}).")
    int batchSize = 64;

    @Option(names = "--optimizer", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Optimizers.Kind optimizer = Optimizers.Kind.ADAM;

    @Option(names = "--lr", description = "Learning rate (default: ${DEFAULT-VALUE}).")
    double lr = 2e-3;

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

    @Option(names = "--seed", description = "Seed for the split, initialisation, dropout and samples"
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

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        Checks checks = new Checks(spec.commandLine());
        Path chartFile = chart == null || chart.toString().toLowerCase(Locale.ROOT).endsWith(".png") ? chart
                : Path.of(chart + ".png");
        checks.atLeast("--embedding", embedding, 1)
                .atLeast("--hidden", hidden, 1)
                .atLeast("--layers", layers, 1)
                .fraction("--dropout", dropout)
                .atLeast("--seq-len", seqLen, 1)
                .atLeast("--batch-size", batchSize, 1)
                .require(lr > 0 && Double.isFinite(lr), "--lr must be a finite number > 0, got " + lr)
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
        Integer useThreads = checks.threads("--threads", threads);
        checks.add(tooLarge());
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
        DataLoader trainLoader = loader("training", trainIds, batchSize);
        DataLoader validationLoader = loader("validation", validationIds, batchSize);
        DataLoader testLoader = loader("test", testIds, batchSize);

        if (useThreads != null) {
            Threads.set(useThreads);
        }
        Init.manualSeed(seed);
        SplittableRandom sampling = new SplittableRandom(seed);
        try (CharRnn model = new CharRnn(cell, vocabulary.size(), embedding, hidden, layers, dropout);
             Optimizer opt = Optimizers.create(optimizer, model.parameters(), lr, 0)) {
            out.print(model.summary(1, seqLen));
            out.printf(Locale.ROOT, "Brown corpus: %d texts; training on %d (%,d chars), validating on %d (%,d),"
                            + " testing on %d (%,d); %d characters%n", corpus.texts().size(), split.train().size(),
                    trainIds.length, split.validation().size(), validationIds.length, split.test().size(),
                    testIds.length, vocabulary.size());
            out.printf(Locale.ROOT, "%s lr %s, %d streams of sequences of %d (%,d batches an epoch), gradient norm"
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
                            int[] ids = model.sample(promptIds, sampleLength, temperature, topK, sampling);
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
            if (save != null) {
                model.save(save, Map.of(Vocabulary.METADATA_KEY, vocabulary.toJson()));
                out.println("model: " + save);
            }
        }
        return 0;
    }

    /**
     * The batches of a split: {@code streams} streams, fewer when the split is too short to give each one
     * a sequence, so that a small validation or test set still makes a batch.
     */
    private DataLoader loader(String what, int[] ids, int streams) {
        int b = streams;
        while (b > 1 && TokenStreams.batches(ids.length, b, seqLen) == 0) {
            b = Math.max(1, b / 2);
        }
        if (TokenStreams.batches(ids.length, b, seqLen) == 0) {
            throw new IllegalArgumentException("the " + what + " texts hold " + ids.length + " characters, too few"
                    + " for one sequence of --seq-len " + seqLen + " and its next characters");
        }
        return TokenStreams.loader(ids, b, seqLen);
    }

    /**
     * Why this machine cannot train the model, or null: the weights, gradients and Adam's two moments, and
     * a batch's activations (embeddings, each layer's gates and states kept for the backward pass, logits,
     * and their gradients), against the physical memory.
     */
    private String tooLarge() {
        if (embedding < 1 || hidden < 1 || layers < 1 || seqLen < 1 || batchSize < 1) {
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

    /** {@code s} in double quotes, newlines and tabs shown as \n and \t, so that a sample stays on one line. */
    static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + "\"";
    }
}
