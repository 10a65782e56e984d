package dev.gatun.cli;

import dev.gatun.backend.Threads;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.data.Mnist;
import dev.gatun.nn.Activations;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.Sequential;
import dev.gatun.ops.Loss;
import dev.gatun.optim.CosineAnnealingLR;
import dev.gatun.optim.ExponentialLR;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.StepLR;
import dev.gatun.optim.Optimizers;
import dev.gatun.train.Trainer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gatun train}: training commands. */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train a network on MNIST.",
        subcommands = {TrainCommand.Mlp.class, TrainCommand.Lenet5.class, TrainCommand.Resnet.class})
final class TrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** The hidden-layer non-linearity. */
    enum ActivationKind { RELU, SIGMOID, TANH, GELU, LEAKY_RELU }

    /** The learning-rate schedule, stepped after each epoch. */
    enum ScheduleKind { NONE, COSINE, STEP, EXPONENTIAL }

    /** What a network's command uses when an option is not given. */
    record Defaults(Optimizers.Kind optimizer, Double lr, double momentum, int epochs, int batchSize,
                    ScheduleKind schedule) {}

    /** The options every training command shares; unset ones take the command's {@link Defaults}. */
    static final class Options {
        @Option(names = "--data", description = "Directory with the MNIST IDX files (default: ${DEFAULT-VALUE}).")
        Path data = Mnist.defaultDirectory();

        @Option(names = "--optimizer", description = "${COMPLETION-CANDIDATES} (default: the network's).")
        Optimizers.Kind optimizer;

        @Option(names = "--lr", description = "Learning rate (default: the network's, else the optimizer's usual one).")
        Double lr;

        @Option(names = "--momentum", description = "Momentum for sgd and rmsprop (default: the network's).")
        Double momentum;

        @Option(names = "--weight-decay", description = "Weight decay (default: 0; 0.01 for adamw).")
        Double weightDecay;

        @Option(names = "--schedule", description = "Learning-rate schedule per epoch: ${COMPLETION-CANDIDATES}"
                + " (cosine: to 0 over --epochs; step: ×0.1 every third of --epochs; exponential: ×0.9;"
                + " default: the network's).")
        ScheduleKind schedule;

        @Option(names = "--epochs", description = "Maximum epochs (default: the network's).")
        Integer epochs;

        @Option(names = "--batch-size", description = "Mini-batch size (default: the network's).")
        Integer batchSize;

        @Option(names = "--validation", description = "Fraction of the training set held out (default: ${DEFAULT-VALUE}).")
        double validation = 1.0 / 12;

        @Option(names = "--patience", description = "Early stopping after this many epochs without a better validation"
                + " loss; 0 turns it off (default: ${DEFAULT-VALUE}).")
        int patience = 3;

        @Option(names = "--seed", description = "Seed for initialisation, shuffling and dropout (default: ${DEFAULT-VALUE}).")
        long seed = 1;

        @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads).")
        Integer threads;

        @Option(names = "--csv", description = "Write per-epoch figures to this CSV file.")
        Path csv;

        @Option(names = "--chart", description = "Draw loss and accuracy curves into this PNG file.")
        Path chart;

        /**
         * Loads MNIST with samples of {@code sampleShape}, builds the model, trains it with validation and
         * early stopping, and prints the summary, each epoch, test accuracy and speed.
         */
        void run(Supplier<Module> network, long[] sampleShape, Defaults defaults, PrintStream out) throws IOException {
            Optimizers.Kind kind = optimizer != null ? optimizer : defaults.optimizer();
            Double rate = lr != null ? lr : kind == defaults.optimizer() ? defaults.lr() : null;
            double mom = momentum != null ? momentum : kind == defaults.optimizer() ? defaults.momentum() : 0;
            int maxEpochs = epochs != null ? epochs : defaults.epochs();
            int batch = batchSize != null ? batchSize : defaults.batchSize();
            ScheduleKind sched = schedule != null ? schedule : defaults.schedule();
            if (threads != null) {
                Threads.set(threads);
            }
            if (validation < 0 || validation >= 1) {
                throw new IllegalArgumentException("--validation must be in [0, 1), got " + validation);
            }
            if (batch < 1) {
                throw new IllegalArgumentException("--batch-size must be >= 1, got " + batch);
            }
            if (maxEpochs < 1) {
                throw new IllegalArgumentException("--epochs must be >= 1, got " + maxEpochs);
            }
            Mnist mnist = Mnist.load(data);
            Dataset trainAll = mnist.train().reshape(sampleShape);
            Dataset test = mnist.test().reshape(sampleShape);
            Dataset.Stats stats = trainAll.stats();
            trainAll = trainAll.normalize(stats);
            test = test.normalize(stats);
            Dataset train = trainAll;
            Dataset val = null;
            if (validation > 0) {
                Dataset.Split split = trainAll.split(validation, seed);
                train = split.train();
                val = split.validation();
            }
            Init.manualSeed(seed);
            long[] summaryShape = new long[sampleShape.length + 1];
            summaryShape[0] = 1;
            System.arraycopy(sampleShape, 0, summaryShape, 1, sampleShape.length);
            try (Module model = network.get();
                 Optimizer opt = Optimizers.create(kind, model.parameters(), rate, mom, weightDecay)) {
                out.print(model.summary(summaryShape));
                out.printf(Locale.ROOT, "training on %,d samples, validating on %,d, testing on %,d; %s lr %s%s, batch %d,"
                        + " %d threads%n", train.size(), val == null ? 0 : val.size(), test.size(),
                        kind.name().toLowerCase(Locale.ROOT), opt.learningRate(), mom != 0 ? " momentum " + mom : "",
                        batch, Threads.get());
                DataLoader trainLoader = new DataLoader(train, batch, Order.shuffled(seed), LastBatch.KEEP);
                DataLoader valLoader = val == null ? null : new DataLoader(val, 1000, Order.sequential(), LastBatch.KEEP);
                LearningRateSchedule lrSchedule = switch (sched) {
                    case NONE -> null;
                    case COSINE -> new CosineAnnealingLR(opt, maxEpochs);
                    case STEP -> new StepLR(opt, Math.max(1, maxEpochs / 3), 0.1);
                    case EXPONENTIAL -> new ExponentialLR(opt, 0.9);
                };
                Trainer.Config config = Trainer.Config.of(maxEpochs).withOut(out).withCsvLog(csv).withChart(chart);
                if (lrSchedule != null) {
                    config = config.withListener(r -> lrSchedule.step());
                }
                if (patience > 0 && valLoader != null) {
                    config = config.withEarlyStopping(new Trainer.EarlyStopping(patience, 0, true));
                }
                Trainer.Objective objective = Loss::crossEntropy;
                long start = System.nanoTime();
                Trainer.History history = Trainer.fit(model, opt, objective, trainLoader, valLoader, config);
                double seconds = (System.nanoTime() - start) / 1e9;
                Trainer.Evaluation result = Trainer.evaluate(model, objective,
                        new DataLoader(test, 1000, Order.sequential(), LastBatch.KEEP));
                double trainSeconds = history.epochs().stream().mapToDouble(Trainer.EpochResult::seconds).sum();
                double samplesPerSecond = history.epochs().stream()
                        .mapToDouble(Trainer.EpochResult::samplesPerSecond).average().orElse(0);
                out.printf(Locale.ROOT, "test accuracy %.2f%% (loss %.4f) after %d epochs%s%n", 100 * result.accuracy(),
                        result.loss(), history.epochs().size(), history.stoppedEarly()
                                ? ", stopped early, weights of epoch " + (history.bestEpoch() + 1) : "");
                out.printf(Locale.ROOT, "speed: %.2f s per epoch of training, %,.0f samples/s; %.1f s in all%n",
                        trainSeconds / history.epochs().size(), samplesPerSecond, seconds);
                if (csv != null) out.println("per-epoch log: " + csv);
                if (chart != null) out.println("curves: " + chart);
            }
        }
    }

    @Command(name = "mlp", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train a multi-layer perceptron on MNIST (60k train / 10k test) and report test accuracy"
                    + " and speed.",
                    "Default: 784-512-256-10, ReLU, dropout 0.2, Adam 1e-3 with a cosine schedule over 15 epochs,"
                    + " batch 128. The seed lecture's network is --hidden 16,16 --activation sigmoid --dropout 0"
                    + " --batch-size 32 (95.7% test accuracy with --lr 0.005 --weight-decay 0.0005 --epochs 30"
                    + " --patience 0)."})
    static final class Mlp implements Callable<Integer> {

        @Mixin
        Options options;

        @Option(names = "--hidden", split = ",", description = "Hidden layer sizes (default: 512,256).")
        List<Integer> hidden = new ArrayList<>(List.of(512, 256));

        @Option(names = "--activation", description = "Hidden activation: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
        ActivationKind activation = ActivationKind.RELU;

        @Option(names = "--dropout", description = "Dropout after each hidden layer (default: ${DEFAULT-VALUE}).")
        float dropout = 0.2f;

        @Override
        public Integer call() throws Exception {
            if (hidden.isEmpty()) {
                throw new IllegalArgumentException("--hidden needs at least one layer size");
            }
            for (int h : hidden) {
                if (h < 1) {
                    throw new IllegalArgumentException("--hidden sizes must be positive, got " + h);
                }
            }
            options.run(this::build, new long[] {784},
                    new Defaults(Optimizers.Kind.ADAM, null, 0, 15, 128, ScheduleKind.COSINE), System.out);
            return 0;
        }

        private Module build() {
            List<Module> layers = new ArrayList<>();
            long in = 784;
            for (int h : hidden) {
                layers.add(new Linear(in, h));
                layers.add(switch (activation) {
                    case RELU -> new Activations.ReLU();
                    case SIGMOID -> new Activations.Sigmoid();
                    case TANH -> new Activations.Tanh();
                    case GELU -> new Activations.GELU();
                    case LEAKY_RELU -> new Activations.LeakyReLU();
                });
                if (dropout > 0) {
                    layers.add(new Dropout(dropout));
                }
                in = h;
            }
            layers.add(new Linear(in, 10));
            return new Sequential(layers.toArray(Module[]::new));
        }
    }

    @Command(name = "lenet5", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train LeNet-5 on MNIST and report test accuracy and speed: conv(1→20, 5×5, padding 2), ReLU,"
                    + " max-pool 2, conv(20→50, 5×5, padding 2), ReLU, max-pool 2, flatten 2450, linear 500, ReLU,"
                    + " linear 10.",
                    "Default: SGD 0.01 with momentum 0.9, batch 64, 10 epochs, cosine schedule."})
    static final class Lenet5 implements Callable<Integer> {

        @Mixin
        Options options;

        @Override
        public Integer call() throws Exception {
            options.run(Models::lenet5, new long[] {1, 28, 28},
                    new Defaults(Optimizers.Kind.SGD, 0.01, 0.9, 10, 64, ScheduleKind.COSINE), System.out);
            return 0;
        }
    }

    @Command(name = "resnet", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train the small ResNet of the benchmark workloads on MNIST (one input channel, 28×28):"
                    + " conv 3×3 to 32 channels, batch norm, ReLU, two residual blocks, global average pooling,"
                    + " linear 10.",
                    "With --stages: the same blocks in three stages (32, 64, 128 channels; stride 2 between"
                    + " them), whose last features span the whole digit.",
                    "Default: SGD 0.05 with momentum 0.9, batch 32, 10 epochs, cosine schedule."})
    static final class Resnet implements Callable<Integer> {

        @Mixin
        Options options;

        @Option(names = "--stages", description = "Train the three-stage variant (nn.Models.resnetStages).")
        boolean stages;

        @Override
        public Integer call() throws Exception {
            options.run(() -> stages ? Models.resnetStages(1) : Models.resnet(1), new long[] {1, 28, 28},
                    new Defaults(Optimizers.Kind.SGD, 0.05, 0.9, 10, 32, ScheduleKind.COSINE), System.out);
            return 0;
        }
    }
}
