package dev.gatun.cli;

import dev.gatun.backend.Threads;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.data.Mnist;
import dev.gatun.distributed.Communicator;
import dev.gatun.distributed.DistributedDataParallel;
import dev.gatun.distributed.ShardedSampler;
import dev.gatun.io.ModelFile;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.GELU;
import dev.gatun.nn.Init;
import dev.gatun.nn.LeakyReLU;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.nn.Sigmoid;
import dev.gatun.nn.Tanh;
import dev.gatun.ops.Loss;
import dev.gatun.optim.CosineAnnealingLR;
import dev.gatun.optim.ExponentialLR;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.StepLR;
import dev.gatun.optim.Optimizers;
import dev.gatun.train.Checkpoint;
import dev.gatun.train.Trainer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gatun train}: training commands. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a network on MNIST, or a character language model or a genre classifier on the Brown"
                + " corpus.",
        subcommands = {TrainCommand.Mlp.class, TrainCommand.Lenet5.class, TrainCommand.Resnet.class,
                GenerativeCommands.Ae.class, GenerativeCommands.Dae.class,
                GenerativeCommands.Vae.class, GenerativeCommands.Gan.class,
                CharLmCommand.class, CharGptCommand.class, GenreCommand.class})
final class TrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        // Without a model to train: the usage, as a usage error (--help prints it with exit code 0).
        spec.commandLine().usage(spec.commandLine().getErr());
        return CommandLine.ExitCode.USAGE;
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

        @Option(names = "--validation", description = "Fraction of the training set held out, in [0, 1)"
                + " (default: ${DEFAULT-VALUE}).")
        double validation = 1.0 / 12;

        @Option(names = "--patience", description = "Early stopping after this many epochs without a better validation"
                + " loss; 0 turns it off (default: ${DEFAULT-VALUE}).")
        int patience = 3;

        @Option(names = "--seed", description = "Seed for initialisation, shuffling and dropout (default: ${DEFAULT-VALUE}).")
        long seed = 1;

        @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads). More than"
                + " the available processors is lowered to their number with a warning: extra threads only wait for"
                + " each other and make training many times slower.")
        Integer threads;

        @Option(names = "--csv", description = "Write per-epoch figures to this CSV file (to FILE.partial as the"
                + " run goes, moved over FILE when it finishes).")
        Path csv;

        @Option(names = "--chart", description = "Draw loss and accuracy curves into this PNG file; a name not"
                + " ending in .png gets it appended.")
        Path chart;

        @Option(names = "--save", description = "Write the trained model (architecture and weights) to this"
                + " safetensors file; gatun and PyTorch read it.")
        Path save;

        @Option(names = "--checkpoint-dir", paramLabel = "DIR", description = "Write checkpoints (weights, optimizer,"
                + " schedule, random generators, position) into this directory as ckpt-<step>.safetensors at the end"
                + " of each epoch and every --checkpoint-every steps, keeping the newest 3.")
        Path checkpointDir;

        @Option(names = "--checkpoint-every", paramLabel = "N", description = "Also write a checkpoint every N"
                + " training steps (batches); 0: only at the end of each epoch (default: ${DEFAULT-VALUE}).")
        int checkpointEvery = 0;

        @Option(names = "--resume", paramLabel = "FILE|DIR", description = "Continue the run a checkpoint was written"
                + " by (same network, options and --seed): a checkpoint file, or a directory to take its newest good"
                + " one. The result is bit-identical to a run that was never stopped.")
        Path resume;

        @Option(names = "--distributed", negatable = true, description = "Train data-parallel over MPI, one process"
                + " of `mpirun -np N` each: every process trains on --batch-size/N samples of each batch and the"
                + " gradients are averaged; only rank 0 prints and writes files (default: on when an MPI launcher"
                + " started several processes).")
        Boolean distributed;

        @Option(names = "--bucket-mb", paramLabel = "MB", description = "With --distributed, the gradient megabytes"
                + " averaged per allreduce (default: ${DEFAULT-VALUE}).")
        double bucketMb = DistributedDataParallel.DEFAULT_BUCKET_BYTES / (double) (1 << 20);

        @Option(names = "--overlap-allreduce", negatable = true, description = "With --distributed, start each"
                + " bucket's allreduce during backward, as soon as its gradients are final (default: "
                + DistributedDataParallel.DEFAULT_OVERLAP + "; it pays over a network, not between the processes of"
                + " one machine: bench/results/distributed.md).")
        boolean overlapAllreduce = DistributedDataParallel.DEFAULT_OVERLAP;

        /**
         * Checks every option (adding to {@code checks}, which may hold the network's own problems already),
         * then the network's memory against the machine, loads MNIST with samples of the network's shape and
         * checks it, and only then builds the model, trains it with validation and early stopping, and prints
         * the summary, each epoch, test accuracy and speed.
         */
        void run(Checks checks, Network network, Defaults defaults, PrintStream out) throws IOException {
            boolean parallel = distributed != null ? distributed : Communicator.launchedAsMany();
            if (!parallel) {
                run(checks, network, defaults, out, null);
                return;
            }
            checks.require(bucketMb * (1 << 20) >= Float.BYTES && Double.isFinite(bucketMb), "--bucket-mb must hold"
                    + " at least one float, got " + bucketMb);
            checks.throwIfAny();
            // Each process is one of the job; MPI is finalised only after a run that went well, so that a
            // process that fails exits without it and mpirun ends the others (README, "Distributed training").
            Communicator comm = Communicator.world(Communicator.ThreadLevel.SERIALIZED);
            run(checks, network, defaults, out, comm);
            comm.close();
        }

        /** {@link #run(Checks, Network, Defaults, PrintStream)} in one process, or as one of {@code comm}'s. */
        private void run(Checks checks, Network network, Defaults defaults, PrintStream out, Communicator comm)
                throws IOException {
            int ranks = comm == null ? 1 : comm.size();
            boolean main = comm == null || comm.rank() == 0;
            if (!main) {
                // Only rank 0 prints and writes files; the others check the same options and train.
                out = new PrintStream(OutputStream.nullOutputStream());
            }
            Path csv = main ? this.csv : null;
            Path chart = main ? this.chart : null;
            Path save = main ? this.save : null;
            Path checkpointDir = main ? this.checkpointDir : null;
            Optimizers.Kind kind = optimizer != null ? optimizer : defaults.optimizer();
            Double rate = lr != null ? lr : kind == defaults.optimizer() ? defaults.lr() : null;
            double mom = momentum != null ? momentum : kind == defaults.optimizer() ? defaults.momentum() : 0;
            int maxEpochs = epochs != null ? epochs : defaults.epochs();
            int batch = batchSize != null ? batchSize : defaults.batchSize();
            ScheduleKind sched = schedule != null ? schedule : defaults.schedule();
            Path chartFile = chart == null || chart.toString().toLowerCase(Locale.ROOT).endsWith(".png") ? chart
                    : Path.of(chart + ".png"); // what the chart writer names it
            checks.nonNegative("--lr", lr)
                    .nonNegative("--momentum", momentum)
                    .require(momentum == null || !(momentum > 0) || kind == Optimizers.Kind.SGD
                            || kind == Optimizers.Kind.RMSPROP, "--momentum applies to sgd and rmsprop only, not "
                            + kind.name().toLowerCase(Locale.ROOT) + ", got " + momentum)
                    .nonNegative("--weight-decay", weightDecay)
                    .atLeast("--epochs", maxEpochs, 1)
                    .atLeast("--batch-size", batch, 1)
                    .require(batch % ranks == 0, "--batch-size " + batch + " must be a multiple of the " + ranks
                            + " processes, so that each trains on as many samples of every batch")
                    .fraction("--validation", validation)
                    .atLeast("--patience", patience, 0)
                    .writable("--csv", String.valueOf(csv), csv)
                    .writable("--chart", String.valueOf(chart), chartFile)
                    .require(!Checks.sameFile(csv, chartFile), "--csv and --chart name the same file, " + csv)
                    .writable("--save", String.valueOf(save), save)
                    .require(!Checks.sameFile(save, csv) && !Checks.sameFile(save, chartFile),
                            "--save names the same file as --csv or --chart, " + save)
                    .atLeast("--checkpoint-every", checkpointEvery, 0)
                    .require(checkpointEvery == 0 || this.checkpointDir != null, "--checkpoint-every "
                            + checkpointEvery
                            + " needs --checkpoint-dir")
                    .require(checkpointDir == null || !Files.exists(checkpointDir) || Files.isDirectory(checkpointDir),
                            "--checkpoint-dir " + checkpointDir + " is a file, not a directory")
                    .require(resume == null || Files.exists(resume), "--resume " + resume
                            + ": no such checkpoint file or directory");
            // An output must not replace what the run reads: the data, or the checkpoint it resumes from.
            List<Path> inputs = new ArrayList<>(Mnist.inputFiles(data));
            if (resume != null && Files.isRegularFile(resume)) {
                inputs.add(resume);
            }
            for (Object[] output : new Object[][] {{"--save", save}, {"--csv", csv}, {"--chart", chartFile}}) {
                Path o = (Path) output[1];
                checks.notAnInput((String) output[0], o, inputs);
                checks.require(o == null || checkpointDir == null || !inside(o, checkpointDir), output[0] + " " + o
                        + " is inside --checkpoint-dir " + checkpointDir + ", whose old checkpoints the run deletes");
            }
            Integer useThreads = checks.threads("--threads", threads);
            checks.throwIfAny();
            int slots = stateSlots(kind, mom);
            boolean snapshot = patience > 0 && validation > 0;
            // The network alone, before reading the data; the batches once the data says how large they get.
            checks.add(network.tooLarge(kind, slots, 0, 0, snapshot, 0));
            checks.throwIfAny();

            long[] sampleShape = network.sampleShape();
            Mnist mnist = Mnist.load(data);
            if (mnist.train().size() == 0) {
                throw new IllegalArgumentException("the training set in " + data + " (" + Mnist.FILES.get(0)
                        + ") has no samples: there is nothing to train on");
            }
            if (mnist.test().size() == 0) {
                throw new IllegalArgumentException("the test set in " + data + " (" + Mnist.FILES.get(2)
                        + ") has no samples: there would be nothing to measure the accuracy on");
            }
            Dataset trainAll = mnist.train().reshape(sampleShape);
            Dataset test = mnist.test().reshape(sampleShape);
            int n = trainAll.size();
            long held = validation > 0 ? Math.round(validation * n) : 0; // as Dataset.split rounds
            checks.require(validation == 0 || (held >= 1 && held <= n - 1), "--validation " + validation + " of the "
                    + n + " training samples leaves " + held + " for validation and " + (n - held) + " for training;"
                    + " each needs at least one (--validation 0 trains on all)");
            checks.add(network.tooLarge(kind, slots, Math.min(batch, n - held),
                    Math.min(EVALUATION_BATCH, Math.max(held, test.size())), snapshot, batch));
            checks.throwIfAny();

            if (useThreads != null) {
                Threads.set(useThreads);
            }
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
            int valSize = val == null ? 0 : val.size();
            int testSize = test.size();
            if (comm != null) {
                // Each process evaluates a block of the validation and test sets; the figures are summed.
                if (val != null && val.size() >= ranks) {
                    val = val.subset(ShardedSampler.block(val.size(), comm.rank(), ranks));
                }
                if (test.size() >= ranks) {
                    test = test.subset(ShardedSampler.block(test.size(), comm.rank(), ranks));
                }
            }
            Init.manualSeed(seed);
            long[] summaryShape = new long[sampleShape.length + 1];
            summaryShape[0] = 1;
            System.arraycopy(sampleShape, 0, summaryShape, 1, sampleShape.length);
            try (Module model = network.build().get();
                 Optimizer opt = Optimizers.create(kind, model.parameters(), rate, mom, weightDecay);
                 DistributedDataParallel ddp = comm == null ? null
                         : new DistributedDataParallel(comm, model, (long) (bucketMb * (1 << 20)),
                                 overlapAllreduce)) {
                Trainer.DataParallel dataParallel = ddp == null ? Trainer.DataParallel.SINGLE : ddp;
                out.print(model.summary(summaryShape));
                out.printf(Locale.ROOT, "training on %,d samples, validating on %,d, testing on %,d; %s lr %s%s, batch %d,"
                        + " %d threads%n", train.size(), valSize, testSize,
                        kind.name().toLowerCase(Locale.ROOT), opt.learningRate(), mom != 0 ? " momentum " + mom : "",
                        batch, Threads.get());
                if (ddp != null) {
                    out.printf(Locale.ROOT, "data-parallel over %d MPI processes: %d samples of each batch per process,"
                            + " gradients averaged in %d bucket(s)%n", ranks, batch / ranks, ddp.bucketCount());
                }
                // Data-parallel processes share each batch evenly, so a last partial batch is dropped.
                DataLoader trainLoader = new DataLoader(train, batch, Order.shuffled(seed),
                        ddp == null ? LastBatch.KEEP : LastBatch.DROP);
                DataLoader valLoader = val == null ? null
                        : new DataLoader(val, EVALUATION_BATCH, Order.sequential(), LastBatch.KEEP);
                DataLoader testLoader = new DataLoader(test, EVALUATION_BATCH, Order.sequential(), LastBatch.KEEP);
                LearningRateSchedule lrSchedule = switch (sched) {
                    case NONE -> null;
                    case COSINE -> new CosineAnnealingLR(opt, maxEpochs);
                    case STEP -> new StepLR(opt, Math.max(1, maxEpochs / 3), 0.1);
                    case EXPONENTIAL -> new ExponentialLR(opt, 0.9);
                };
                Trainer.Config config = Trainer.Config.of(maxEpochs).withOut(out).withCsvLog(csv).withChart(chartFile);
                if (lrSchedule != null) {
                    config = config.withListener(r -> lrSchedule.step());
                }
                if (patience > 0 && valLoader != null) {
                    config = config.withEarlyStopping(new Trainer.EarlyStopping(patience, 0, true));
                }
                Trainer.Objective objective = Loss::crossEntropy;
                long start = System.nanoTime();
                Trainer.History history;
                // Resuming: the model, optimizer and loaders are made from the options and seed as in the first
                // run, then the checkpoint puts back what training had changed.
                try (Checkpoint from = resume == null ? null : Checkpoint.resolve(resume, System.err)) {
                    if (checkpointDir != null || from != null) {
                        config = config.withCheckpointing(new Trainer.Checkpointing(checkpointDir, checkpointEvery,
                                3, lrSchedule, from));
                    }
                    history = Trainer.fit(model, opt, Trainer.Task.classification(objective), trainLoader, valLoader,
                            config, dataParallel);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                Trainer.Evaluation result = dataParallel.reduce(Trainer.evaluate(model, objective, testLoader));
                double trainSeconds = history.epochs().stream().mapToDouble(Trainer.EpochResult::seconds).sum();
                double samplesPerSecond = history.epochs().stream()
                        .mapToDouble(Trainer.EpochResult::samplesPerSecond).average().orElse(0);
                out.printf(Locale.ROOT, "test accuracy %.2f%% (loss %.4f) after %d epochs%s%n", 100 * result.accuracy(),
                        result.loss(), history.epochs().size(), history.stoppedEarly()
                                ? ", stopped early, weights of epoch " + (history.bestEpoch() + 1) : "");
                out.printf(Locale.ROOT, "speed: %.2f s per epoch of training, %,.0f samples/s; %.1f s in all%n",
                        trainSeconds / history.epochs().size(), samplesPerSecond, seconds);
                if (csv != null) out.println("per-epoch log: " + csv);
                if (chartFile != null) out.println("curves: " + chartFile);
                if (save != null) {
                    ModelFile.save(model, save, sampleShape); // gatun serve reads the input shape from it
                    out.println("model: " + save);
                }
                if (ddp != null) {
                    long steps = Math.max(1, ddp.steps());
                    out.printf(Locale.ROOT, "gradient averaging: %.2f ms per step on rank 0, waiting for the slower"
                            + " process included%n",
                            ddp.communicationNanos() / 1e6 / steps);
                }
            }
        }
    }

    /** Whether {@code file} lies in {@code dir} or below it. */
    private static boolean inside(Path file, Path dir) {
        return file.toAbsolutePath().normalize().startsWith(dir.toAbsolutePath().normalize());
    }

    /** Validation and test sets are evaluated in batches of this many samples. */
    static final int EVALUATION_BATCH = 1000;

    /** Tensors of optimizer state per parameter tensor (momentum buffers, moment estimates). */
    static int stateSlots(Optimizers.Kind kind, double momentum) {
        return switch (kind) {
            case SGD -> momentum != 0 ? 1 : 0;
            case ADAGRAD -> 1;
            case RMSPROP -> momentum != 0 ? 2 : 1;
            case ADADELTA, ADAM, ADAMW -> 2;
        };
    }

    /**
     * A network a command trains: how to build it, the shape of one sample, and what it costs, counted
     * without building it so that a size the machine cannot hold is refused before anything is allocated.
     *
     * @param name                 the network, for messages
     * @param sizeOption           the option and value that set its size (e.g. {@code --hidden 512,256}), or
     *                             null for a network of fixed size
     * @param parameters           its number of parameters
     * @param largestParameter     the elements of its largest parameter tensor
     * @param activationsPerSample floats of layer outputs (and what layers keep for backward) per sample
     */
    record Network(String name, String sizeOption, Supplier<Module> build, long[] sampleShape, double parameters,
                   double largestParameter, double activationsPerSample) {

        /**
         * Why this machine cannot train the network with batches of {@code batch} samples and evaluate
         * {@code evaluationBatch} at a time (0 and 0: the network alone), or null. Tensors, outside the Java
         * heap, are compared with the physical memory: weights, gradients and {@code slots} optimizer state
         * tensors per parameter, plus the larger of a training batch (inputs, layer outputs and their
         * gradients) and an evaluation batch (inputs and outputs). The Java heap holds the array that
         * initialises the largest weight and, with early stopping ({@code snapshot}), a copy of the best
         * weights. {@code batchOption} is the --batch-size asked for, to name in the message.
         */
        String tooLarge(Optimizers.Kind kind, int slots, long batch, long evaluationBatch, boolean snapshot,
                        int batchOption) {
            double inputs = 1;
            for (long d : sampleShape) inputs *= d;
            double weights = Float.BYTES * parameters * (2 + slots);
            double training = Float.BYTES * batch * (inputs + 2 * activationsPerSample);
            double evaluation = Float.BYTES * evaluationBatch * (inputs + activationsPerSample);
            long physical = Memory.physical();
            String sized = sizeOption != null ? sizeOption : name;
            String more = ", more than the " + Memory.format(physical) + " of memory this machine has";
            if (weights > physical) {
                return String.format(Locale.ROOT, "%s makes a network of %,.0f parameters, whose weights, gradients"
                        + " and %s state need %s%s", sized, parameters, kind.name().toLowerCase(Locale.ROOT),
                        Memory.format(weights), more);
            }
            if (weights + Math.max(training, evaluation) > physical) {
                return training >= evaluation
                        ? String.format(Locale.ROOT, "--batch-size %d needs %s for a batch's inputs, activations and"
                                + " their gradients (%s a sample for %s) besides %s for the weights%s", batchOption,
                                Memory.format(training), Memory.format(training / batch), name,
                                Memory.format(weights), more)
                        : String.format(Locale.ROOT, "%s needs %s to evaluate batches of %d samples besides %s for"
                                + " the weights%s", name, Memory.format(evaluation), evaluationBatch,
                                Memory.format(weights), more);
            }
            if (largestParameter > Memory.MAX_ARRAY) {
                return String.format(Locale.ROOT, "%s makes a weight of %,.0f elements; weights are initialised from"
                        + " a Java array, which holds at most %,d", sized, largestParameter, Memory.MAX_ARRAY);
            }
            double heap = Float.BYTES * (largestParameter + (snapshot ? parameters : 0));
            long available = Memory.heapAvailable();
            if (heap > available) {
                return String.format(Locale.ROOT, "%s needs %s of Java heap (to initialise its largest weight%s),"
                        + " more than the %s available; raise it with -Xmx%s", sized, Memory.format(heap),
                        snapshot ? " and keep the best weights for early stopping" : "", Memory.format(available),
                        snapshot ? " or turn early stopping off with --patience 0" : "");
            }
            return null;
        }
    }

    /** Parameters of a convolution with bias or not. */
    private static double conv(long in, long out, long k, boolean bias) {
        return (double) in * out * k * k + (bias ? out : 0);
    }

    /** Parameters of a {@link dev.gatun.nn.BasicBlock}: two 3×3 convolutions, two batch norms, a projection. */
    private static double basicBlock(long in, long out, int stride) {
        boolean project = in != out || stride != 1;
        return conv(in, out, 3, false) + 2 * out + conv(out, out, 3, false) + 2 * out
                + (project ? conv(in, out, 1, false) + 2 * out : 0);
    }

    @Command(name = "mlp", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train a multi-layer perceptron on MNIST (60k train / 10k test) and report test accuracy"
                    + " and speed.",
                    "Default: 784-512-256-10, ReLU, dropout 0.2, Adam 1e-3 with a cosine schedule over 15 epochs,"
                    + " batch 128. The seed lecture's network is --hidden 16,16 --activation sigmoid --dropout 0"
                    + " --batch-size 32 (95.7%% test accuracy with --lr 0.005 --weight-decay 0.0005 --epochs 30"
                    + " --patience 0)."})
    static final class Mlp implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @Mixin
        Options options;

        @Option(names = "--hidden", split = ",", description = "Hidden layer sizes (default: 512,256). Sizes whose"
                + " network does not fit in this machine's memory are refused before anything runs.")
        List<Integer> hidden = new ArrayList<>(List.of(512, 256));

        @Option(names = "--activation", description = "Hidden activation: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
        ActivationKind activation = ActivationKind.RELU;

        @Option(names = "--dropout",
                description = "Dropout after each hidden layer, in [0, 1) (default: ${DEFAULT-VALUE}).")
        float dropout = 0.2f;

        @Override
        public Integer call() throws Exception {
            Checks checks = new Checks(spec.commandLine());
            checks.require(!hidden.isEmpty(), "--hidden needs at least one layer size");
            for (int h : hidden) {
                checks.require(h >= 1, "--hidden sizes must be positive, got " + h);
            }
            checks.fraction("--dropout", dropout);
            options.run(checks, network(hidden, dropout, this::build),
                    new Defaults(Optimizers.Kind.ADAM, null, 0, 15, 128, ScheduleKind.COSINE), System.out);
            return 0;
        }

        /** The perceptron 784-hidden…-10 with dropout after each hidden layer when {@code dropout > 0}. */
        static Network network(List<Integer> hidden, float dropout, Supplier<Module> build) {
            double parameters = 0;
            double largest = 0;
            double activations = 10; // the logits
            long in = 784;
            for (int h : hidden) {
                parameters += (double) in * h + h;
                largest = Math.max(largest, (double) in * h);
                // the linear layer's output and the activation's; dropout's mask and output
                activations += (double) h * (dropout > 0 ? 4 : 2);
                in = h;
            }
            parameters += in * 10.0 + 10;
            largest = Math.max(largest, in * 10.0);
            String size = "--hidden " + String.join(",", hidden.stream().map(String::valueOf).toList());
            return new Network("the perceptron", size, build, new long[] {784}, parameters, largest, activations);
        }

        private Module build() {
            List<Module> layers = new ArrayList<>();
            long in = 784;
            for (int h : hidden) {
                layers.add(new Linear(in, h));
                layers.add(switch (activation) {
                    case RELU -> new ReLU();
                    case SIGMOID -> new Sigmoid();
                    case TANH -> new Tanh();
                    case GELU -> new GELU();
                    case LEAKY_RELU -> new LeakyReLU();
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

        @Spec
        CommandSpec spec;

        @Mixin
        Options options;

        /** LeNet-5 as {@link Models#lenet5()} builds it. */
        static final Network NETWORK = new Network("lenet5", null, Models::lenet5, new long[] {1, 28, 28},
                conv(1, 20, 5, true) + conv(20, 50, 5, true) + 2450 * 500 + 500 + 500 * 10 + 10, 2450 * 500,
                // convolution, ReLU, max-pooling and its indices; twice; then 500, ReLU, 10
                2 * 20 * 28 * 28 + 2 * 20 * 14 * 14 + 2 * 50 * 14 * 14 + 2 * 50 * 7 * 7 + 2 * 500 + 10);

        @Override
        public Integer call() throws Exception {
            options.run(new Checks(spec.commandLine()), NETWORK,
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

        @Spec
        CommandSpec spec;

        @Mixin
        Options options;

        @Option(names = "--stages", description = "Train the three-stage variant (nn.Models.resnetStages).")
        boolean stages;

        // Outputs kept per sample: the stem's convolution, batch norm and ReLU (3 tensors); per block its two
        // convolutions, batch norms and ReLUs and the sum (7), and a projection's convolution and batch norm (2).
        private static final int STEM = 32 * 28 * 28;

        /** {@link Models#resnet} for one input channel. */
        static final Network RESNET = new Network("resnet", null, () -> Models.resnet(1), new long[] {1, 28, 28},
                conv(1, 32, 3, false) + 2 * 32 + 2 * basicBlock(32, 32, 1) + 32 * 10 + 10, 32 * 32 * 9,
                (3 + 7 + 7) * STEM + 32 + 10);

        /** {@link Models#resnetStages} for one input channel. */
        static final Network RESNET_STAGES = new Network("resnet --stages", null, () -> Models.resnetStages(1),
                new long[] {1, 28, 28}, conv(1, 32, 3, false) + 2 * 32 + basicBlock(32, 32, 1) + basicBlock(32, 64, 2)
                        + basicBlock(64, 128, 2) + 128 * 10 + 10, 128 * 128 * 9,
                (3 + 7) * STEM + (7 + 2) * 64 * 14 * 14 + (7 + 2) * 128 * 7 * 7 + 128 + 10);

        @Override
        public Integer call() throws Exception {
            options.run(new Checks(spec.commandLine()), stages ? RESNET_STAGES : RESNET,
                    new Defaults(Optimizers.Kind.SGD, 0.05, 0.9, 10, 32, ScheduleKind.COSINE), System.out);
            return 0;
        }
    }
}
