package dev.gatun.cli;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Threads;
import dev.gatun.data.BrownCorpus;
import dev.gatun.data.DataLoader;
import dev.gatun.data.PaddedSequences;
import dev.gatun.data.TensorDataset;
import dev.gatun.data.Vocabulary;
import dev.gatun.nn.CharRnn;
import dev.gatun.nn.Init;
import dev.gatun.nn.SequenceClassifier;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.train.ConfusionMatrix;
import dev.gatun.train.Trainer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code gatun train genre}: the genre of a Brown corpus passage, many-to-one over padded sequences. */
@Command(name = "genre", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a recurrent classifier of the genre of passages of the Brown corpus"
                + " (scripts/fetch-data brown): each text is cut into passages of whole words of "
                + "--min-chars to --max-chars characters, batches pad them to their longest, and the classifier"
                + " (an embedding of the characters, stacked LSTM, GRU or RNN layers, a linear head on the"
                + " output at each passage's last character) ignores the padding. Reports the test accuracy per"
                + " passage and per text (the passages' log-probabilities summed) beside the majority-class"
                + " baseline, and the confusion matrix of the test passages.",
                "The texts are split by whole texts, per genre (--validation, --test, --seed), so that no test"
                        + " passage comes from a text seen in training.",
                "Default: GRU, embedding 32, 1 layer of 256, dropout 0.2, passages of 200 to 400 characters in"
                        + " batches of 32, Adam 2e-3 with a cosine schedule, gradient norm clipped to 1, 10 epochs,"
                        + " 15%% of the texts for validation and 15%% for the test."})
final class GenreCommand extends BrownCommand {

    @Option(names = "--cell", description = "Recurrent layer: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    CharRnn.Cell cell = CharRnn.Cell.GRU;

    @Option(names = "--embedding", description = "Width of each character's vector (default: ${DEFAULT-VALUE}).")
    int embedding = 32;

    @Option(names = "--hidden", description = "Hidden size of each recurrent layer (default: ${DEFAULT-VALUE}).")
    int hidden = 256;

    @Option(names = "--layers", description = "Stacked recurrent layers (default: ${DEFAULT-VALUE}).")
    int layers = 1;

    @Option(names = "--dropout", description = "Dropout between the recurrent layers and before the head, in [0, 1)"
            + " (default: ${DEFAULT-VALUE}).")
    float dropout = 0.2f;

    @Option(names = "--min-chars", description = "Shortest passage (default: ${DEFAULT-VALUE}).")
    int minChars = 200;

    @Option(names = "--max-chars", description = "Longest passage (default: ${DEFAULT-VALUE}).")
    int maxChars = 400;

    GenreCommand() {
        batchSize = 32;
        epochs = 10;
        validation = 0.15;
        test = 0.15;
        schedule = TrainCommand.ScheduleKind.COSINE;
    }

    /** The passages of a set of texts: their ids, genre classes, and which text each came from. */
    private record Passages(List<int[]> ids, int[] classes, int[] texts, TensorDataset dataset) {}

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        Checks checks = new Checks(spec.commandLine());
        checks.atLeast("--embedding", embedding, 1)
                .atLeast("--hidden", hidden, 1)
                .atLeast("--layers", layers, 1)
                .fraction("--dropout", dropout)
                .atLeast("--min-chars", minChars, 1)
                .require(maxChars >= minChars, "--max-chars " + maxChars + " is below --min-chars " + minChars)
                .require(maxChars <= 100_000, "--max-chars must be at most 100000, got " + maxChars);
        Integer useThreads = checkShared(checks);
        checks.add(tooLarge());
        checks.throwIfAny();

        BrownCorpus corpus = BrownCorpus.load(data);
        BrownCorpus.Split split = corpus.split(validation, test, seed);
        Vocabulary vocabulary = Vocabulary.of(BrownCorpus.join(corpus.texts()));
        List<Character> genres = corpus.texts().stream().map(BrownCorpus.Text::genre).distinct().sorted().toList();
        Passages train = passages(split.train(), vocabulary, genres, "training");
        Passages val = passages(split.validation(), vocabulary, genres, "validation");
        Passages tst = passages(split.test(), vocabulary, genres, "test");
        int majority = majority(train.classes(), genres.size());
        int majorityText = majority(textClasses(split.train(), genres), genres.size());

        if (useThreads != null) {
            Threads.set(useThreads);
        }
        Init.manualSeed(seed);
        DataLoader trainLoader = new DataLoader(train.dataset(), batchSize, DataLoader.Order.shuffled(seed),
                DataLoader.LastBatch.KEEP);
        DataLoader validationLoader = new DataLoader(val.dataset(), batchSize, DataLoader.Order.sequential(),
                DataLoader.LastBatch.KEEP);
        DataLoader testLoader = new DataLoader(tst.dataset(), batchSize, DataLoader.Order.sequential(),
                DataLoader.LastBatch.KEEP);
        try (SequenceClassifier model = new SequenceClassifier(cell, vocabulary.size(), embedding, hidden, layers,
                genres.size(), dropout);
             Optimizer opt = newOptimizer(model)) {
            out.println(model);
            out.printf(Locale.ROOT, "%,d parameters%n", model.parameterCount());
            out.printf(Locale.ROOT, "Brown corpus: %d texts in %d genres; passages of %d to %d chars: %,d from %d"
                            + " training texts, %,d from %d validation texts, %,d from %d test texts%n",
                    corpus.texts().size(), genres.size(), minChars, maxChars, train.ids().size(),
                    split.train().size(), val.ids().size(), split.validation().size(), tst.ids().size(),
                    split.test().size());
            out.printf(Locale.ROOT, "%s lr %s, %s schedule, batches of %d (%,d an epoch), gradient norm clipped to"
                            + " %s, %d threads%n", optimizer.name().toLowerCase(Locale.ROOT), lr,
                    schedule.name().toLowerCase(Locale.ROOT), batchSize, trainLoader.numBatches(),
                    clip > 0 ? clip : "(off)", Threads.get());
            Trainer.Config config = config(out, newSchedule(opt), () -> {});
            Trainer.Task task = Trainer.Task.sequenceClassification(Loss::crossEntropy);
            Trainer.History history = Trainer.fit(model, opt, task, trainLoader, validationLoader, config);

            List<String> names = genres.stream().map(g -> g + " " + BrownCorpus.GENRES.get(g)).toList();
            ConfusionMatrix passages = new ConfusionMatrix(names);
            ConfusionMatrix texts = new ConfusionMatrix(names);
            float[] logProbs = testLogProbabilities(model, testLoader);
            double[][] perText = new double[split.test().size()][genres.size()];
            int c = genres.size();
            for (int i = 0; i < tst.classes().length; i++) {
                float[] row = java.util.Arrays.copyOfRange(logProbs, i * c, (i + 1) * c);
                passages.add(tst.classes()[i], row);
                for (int k = 0; k < c; k++) perText[tst.texts()[i]][k] += row[k];
            }
            int[] testTextClasses = textClasses(split.test(), genres);
            for (int t = 0; t < perText.length; t++) {
                float[] sums = new float[c];
                for (int k = 0; k < c; k++) sums[k] = (float) perText[t][k];
                texts.add(testTextClasses[t], sums);
            }
            double basePassages = share(tst.classes(), majority);
            double baseTexts = share(testTextClasses, majorityText);
            out.printf(Locale.ROOT, "test passages: accuracy %.2f%% on %,d; majority class (%s) %.2f%%: %+.2f"
                            + " points%n", 100 * passages.accuracy(), passages.total(), names.get(majority),
                    100 * basePassages, 100 * (passages.accuracy() - basePassages));
            out.printf(Locale.ROOT, "test texts: accuracy %.2f%% on %d (each text's passages voting with their"
                            + " log-probabilities); majority class (%s) %.2f%%: %+.2f points%n",
                    100 * texts.accuracy(), texts.total(), names.get(majorityText), 100 * baseTexts,
                    100 * (texts.accuracy() - baseTexts));
            out.println("confusion matrix of the test passages (rows: true genre, columns: predicted):");
            out.print(passages.format());
            double trainSeconds = history.epochs().stream().mapToDouble(Trainer.EpochResult::seconds).sum();
            out.printf(Locale.ROOT, "speed: %.1f s per epoch of training, %,.0f passages/s%n",
                    trainSeconds / history.epochs().size(), history.epochs().stream()
                            .mapToDouble(Trainer.EpochResult::samplesPerSecond).average().orElse(0));
            if (csv != null) out.println("per-epoch log: " + csv);
            if (chartFile() != null) out.println("curves: " + chartFile());
        }
        return 0;
    }

    /** The passages of {@code texts}, each text cut with its own seed. */
    private Passages passages(List<BrownCorpus.Text> texts, Vocabulary vocabulary, List<Character> genres,
            String what) {
        List<int[]> ids = new ArrayList<>();
        List<Integer> classes = new ArrayList<>();
        List<Integer> owners = new ArrayList<>();
        for (int t = 0; t < texts.size(); t++) {
            BrownCorpus.Text text = texts.get(t);
            for (String p : BrownCorpus.passages(text.text(), minChars, maxChars, seed * 1_000_003L + t)) {
                ids.add(vocabulary.encode(p));
                classes.add(genres.indexOf(text.genre()));
                owners.add(t);
            }
        }
        if (ids.isEmpty()) {
            throw new IllegalArgumentException("the " + what + " texts give no passage of at least --min-chars "
                    + minChars + " characters");
        }
        int[] c = classes.stream().mapToInt(Integer::intValue).toArray();
        return new Passages(ids, c, owners.stream().mapToInt(Integer::intValue).toArray(),
                PaddedSequences.of(ids, c, genres.size(), 0));
    }

    private static int[] textClasses(List<BrownCorpus.Text> texts, List<Character> genres) {
        return texts.stream().mapToInt(t -> genres.indexOf(t.genre())).toArray();
    }

    /** The most frequent class (the smallest on a tie). */
    private static int majority(int[] classes, int n) {
        int[] counts = new int[n];
        for (int c : classes) counts[c]++;
        int best = 0;
        for (int c = 1; c < n; c++) if (counts[c] > counts[best]) best = c;
        return best;
    }

    private static double share(int[] classes, int c) {
        return (double) java.util.Arrays.stream(classes).filter(x -> x == c).count() / classes.length;
    }

    /** The log-probabilities of every test passage, in order, row after row. */
    private static float[] testLogProbabilities(SequenceClassifier model, DataLoader loader) {
        model.eval();
        int c = model.numClasses();
        float[] out = new float[loader.dataset().size() * c];
        int at = 0;
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            for (DataLoader.Batch b : loader.epoch(0)) {
                try (b; Scope step = Scope.open()) {
                    Tensor logProbs = model.forward(b.tensor(0), b.tensor(1)).logSoftmax(1);
                    float[] v = logProbs.contiguous().toArray();
                    System.arraycopy(v, 0, out, at, v.length);
                    at += v.length;
                }
            }
        }
        return out;
    }

    /**
     * Why this machine cannot train the model, or null: the weights with their gradients and Adam's
     * moments, and a batch's activations kept for the backward pass, against the physical memory.
     */
    private String tooLarge() {
        if (embedding < 1 || hidden < 1 || layers < 1 || batchSize < 1 || maxChars < 1) {
            return null; // reported above
        }
        double parameters = 128.0 * embedding + 4.0 * hidden * (embedding + hidden + 2)
                + (layers - 1) * 4.0 * hidden * (2.0 * hidden + 2) + 16.0 * hidden;
        double bytes = Float.BYTES * (parameters * 4
                + 2.0 * batchSize * maxChars * (embedding + layers * 7.0 * hidden));
        if (bytes > Memory.physical()) {
            return String.format(Locale.ROOT, "--hidden %d --layers %d --batch-size %d --max-chars %d need about %s"
                    + " for the weights and a batch's activations, more than the %s of memory this machine has",
                    hidden, layers, batchSize, maxChars, Memory.format(bytes), Memory.format(Memory.physical()));
        }
        return null;
    }
}
