package dev.gatun.cli;

import dev.gatun.data.BrownCorpus;
import dev.gatun.optim.CosineAnnealingLR;
import dev.gatun.optim.ExponentialLR;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.Optimizers;
import dev.gatun.train.Trainer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The options every training command on the Brown corpus shares (the corpus, its split, the optimizer,
 * schedule, epochs and outputs), their checks, and the fit loop's settings made from them. A subclass
 * sets its own defaults in its constructor.
 */
abstract class BrownCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--data", description = "Directory of the Brown corpus's texts (default: ${DEFAULT-VALUE}).")
    Path data = BrownCorpus.defaultDirectory();

    @Option(names = "--batch-size", description = "Samples per batch (default: ${DEFAULT-VALUE}).")
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

    @Option(names = "--validation", description = "Share of each genre's texts held out for validation, in (0, 1)"
            + " (default: ${DEFAULT-VALUE}).")
    double validation = 0.1;

    @Option(names = "--test", description = "Share of each genre's texts held out for the test, in (0, 1)"
            + " (default: ${DEFAULT-VALUE}).")
    double test = 0.1;

    @Option(names = "--seed", description = "Seed for the split, initialisation, dropout, shuffling and samples"
            + " (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads).")
    Integer threads;

    @Option(names = "--csv", description = "Write per-epoch figures to this CSV file (to FILE.partial as the"
            + " run goes, moved over FILE when it finishes).")
    Path csv;

    @Option(names = "--chart", description = "Draw loss and accuracy curves into this PNG file.")
    Path chart;

    /** The chart's file, with {@code .png} added when its name lacks it; null for none. */
    Path chartFile() {
        return chart == null || chart.toString().toLowerCase(Locale.ROOT).endsWith(".png") ? chart
                : Path.of(chart + ".png");
    }

    /**
     * Adds the checks of the shared options.
     *
     * @return the threads asked for, or null to keep the default
     */
    Integer checkShared(Checks checks) {
        checks.atLeast("--batch-size", batchSize, 1)
                .require(lr > 0 && Double.isFinite(lr), "--lr must be a finite number > 0, got " + lr)
                .nonNegative("--weight-decay", weightDecay == null ? 0 : weightDecay)
                .nonNegative("--clip", clip)
                .atLeast("--epochs", epochs, 1)
                .atLeast("--patience", patience, 0)
                .fraction("--validation", validation)
                .fraction("--test", test)
                .require(validation > 0, "--validation must be above 0: the epochs report the validation loss")
                .require(test > 0, "--test must be above 0: the run ends with the test figures")
                .require(validation + test < 1, "--validation " + validation + " and --test " + test
                        + " leave no texts for training")
                .writable("--csv", String.valueOf(csv), csv)
                .writable("--chart", String.valueOf(chart), chartFile())
                .require(!readAsText(csv), "--csv " + csv + " would be read as a text of the corpus in " + data)
                .require(!readAsText(chartFile()), "--chart " + chartFile() + " would be read as a text of the"
                        + " corpus in " + data);
        return checks.threads("--threads", threads);
    }

    /**
     * Whether an output would replace a text of the corpus, or be read as one by the next run: named as a
     * text, in the corpus's directory.
     */
    boolean readAsText(Path output) {
        return output != null && output.getFileName() != null && BrownCorpus.isTextName(output.getFileName().toString())
                && output.toAbsolutePath().normalize().getParent().equals(data.toAbsolutePath().normalize());
    }

    /** The optimizer of {@code --optimizer}, {@code --lr} and {@code --weight-decay}. */
    Optimizer newOptimizer(dev.gatun.nn.Module model) {
        return Optimizers.create(optimizer, model.parameters(), lr, 0, weightDecay);
    }

    /** The schedule of {@code --schedule} for {@code opt}, stepped after each epoch; null for none. */
    LearningRateSchedule newSchedule(Optimizer opt) {
        return switch (schedule) {
            case NONE -> null;
            case COSINE -> new CosineAnnealingLR(opt, epochs);
            case STEP -> new dev.gatun.optim.StepLR(opt, Math.max(1, epochs / 3), 0.1);
            case EXPONENTIAL -> new ExponentialLR(opt, 0.9);
        };
    }

    /**
     * The fit loop's settings: epochs, output, CSV, chart, clipping, early stopping, and after each epoch
     * {@code afterEpoch} and then a step of {@code lrSchedule}.
     */
    Trainer.Config config(PrintStream out, LearningRateSchedule lrSchedule, Runnable afterEpoch) {
        Trainer.Config config = Trainer.Config.of(epochs).withOut(out).withCsvLog(csv).withChart(chartFile())
                .withGradClip(clip).withListener(r -> {
                    afterEpoch.run();
                    if (lrSchedule != null) {
                        lrSchedule.step();
                    }
                });
        return patience > 0 ? config.withEarlyStopping(new Trainer.EarlyStopping(patience, 0, true)) : config;
    }
}
