package dev.gatun.train;

import dev.gatun.autograd.Autograd;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.Dataset;
import dev.gatun.data.TensorDataset;
import dev.gatun.nn.CharRnn;
import dev.gatun.nn.Module;
import dev.gatun.nn.RecurrentLayer;
import dev.gatun.nn.SequenceClassifier;
import dev.gatun.ops.Loss;
import dev.gatun.optim.GradClip;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The fit loop: mini-batch training, validation after each epoch, early stopping with restoration of
 * the best weights, gradient clipping, a console progress bar, a CSV log and a PNG of the curves.
 *
 * <p>What a batch's loss is comes from a {@link Task}: {@link Task#classification} for classifiers (a
 * loss on logits and class labels, the mean per sample, and accuracy), {@link Task#nextToken()} for
 * language models (cross-entropy of the next token at every position, the mean per token, with a
 * recurrent model's state carried from one batch to the next for truncated backpropagation through
 * time). Losses and accuracies are averaged over what the task counts: samples or tokens.
 *
 * <p>Each training step runs in its own {@link Scope}: the batch, the activations and the
 * intermediate gradients are freed when the step ends; parameters, their gradients and optimizer
 * state live in their owners' scopes.
 */
public final class Trainer {

    /** The loss of a batch: logits [N, C] and labels → a 0-d tensor, e.g. {@code Loss::crossEntropy}. */
    @FunctionalInterface
    public interface Objective {
        /**
         * The loss of one batch, recorded for autograd.
         *
         * @param logits the model's output [N, C]
         * @param labels the class of each sample, {@code int[N]}
         * @return the mean loss as a 0-d tensor
         */
        Tensor loss(Tensor logits, int[] labels);
    }

    /**
     * A batch's loss and what it counts, as a {@link Task} computes it.
     *
     * @param loss    the mean loss over the batch's {@code count} units, a 0-d tensor recorded for autograd
     *                when training
     * @param count   the units the loss is the mean over: samples, or tokens for a language model
     * @param correct how many of them the model got right (the largest logit at the target)
     */
    public record BatchLoss(Tensor loss, long count, long correct) {
        /**
         * Checks the counts.
         *
         * @throws NullPointerException     if {@code loss} is null
         * @throws IllegalArgumentException if {@code count < 1} or {@code correct} lies outside [0, count]
         */
        public BatchLoss {
            Objects.requireNonNull(loss, "loss");
            if (count < 1 || correct < 0 || correct > count) {
                throw new IllegalArgumentException("a batch counts at least 1 unit and at most that many correct,"
                        + " got count " + count + " and correct " + correct);
            }
        }
    }

    /**
     * What the fit loop trains a model to do: the loss of each batch. The loop calls {@link #startPass}
     * before each pass over a loader (a training epoch, an evaluation), {@link #step} for each batch in
     * order, and {@link #endPass} after the pass, also when it fails. A task may carry state from one batch
     * of a pass to the next (a recurrent model's hidden state); such state is not part of checkpoints, so a
     * run resumed in the middle of an epoch continues that epoch from a fresh state.
     */
    public abstract static class Task {

        /** For subclasses. */
        protected Task() {}

        /**
         * Checks, before anything runs, that the task can use the batches of {@code loader}.
         *
         * @param model  the model to be trained or evaluated
         * @param loader the loader
         * @param what   the loader's role for messages: "training", "validation" or "evaluation"
         * @throws IllegalArgumentException if it cannot, saying why
         */
        public void check(Module model, DataLoader loader, String what) {}

        /**
         * Starts a pass over a loader: forgets anything carried over from an earlier pass.
         *
         * @param model the model of the pass
         */
        public void startPass(Module model) {}

        /**
         * The loss of one batch: runs the model on the batch's inputs. In training the loop then calls
         * {@code backward} on the loss; in evaluation nothing is recorded.
         *
         * @param model the model, in training or evaluation mode
         * @param batch the batch, in the step's scope
         * @return the batch's mean loss and its counts
         */
        public abstract BatchLoss step(Module model, Batch batch);

        /**
         * Ends a pass: frees what the pass carried. Called after the last batch or a failure.
         */
        public void endPass() {}

        /**
         * The unit the task's loss is a mean over, for messages (singular).
         *
         * @return {@code "sample"} by default; {@code "char"} or {@code "token"} for a language model
         */
        public String unit() {
            return "sample";
        }

        /**
         * Whether the task updates the parameters itself ({@link #update}) rather than through the loop's
         * one backward pass and optimizer step: a GAN, whose generator and discriminator each have their
         * own optimizer and take turns.
         *
         * @return false by default
         */
        public boolean updatesItself() {
            return false;
        }

        /**
         * One training step of a task that {@link #updatesItself}, called by the loop instead of zeroing
         * the gradients, {@link #step}, the backward pass, clipping and the fit's optimizer step: the
         * task's own forward and backward passes and optimizer steps on the batch. The fit's optimizer
         * then only gives the learning rate the epoch results report, and gradient clipping is the task's.
         *
         * @param model the model, in training mode
         * @param batch the batch, in the step's scope
         * @return the batch's loss (a 0-d tensor, which need not be recorded) and its counts; a loss that
         *     is not finite stops the fit as for {@link #step}, after the updates
         * @throws UnsupportedOperationException if the task does not update itself (the default)
         */
        public BatchLoss update(Module model, Batch batch) {
            throw new UnsupportedOperationException("this task leaves the updates to the fit loop");
        }

        /**
         * The optimizers a task that {@link #updatesItself} steps, by name, so that the fit can checkpoint
         * it: each one's state is saved and restored with the run's (under {@code optimizers.<name>.} in a
         * {@link Checkpoint}). The fit refuses checkpoints of a task that updates itself and names none.
         *
         * @return the optimizers by name (letters, digits, '_' and '-'), in a fixed order, the same on every
         *     call; empty by default
         */
        public Map<String, Optimizer> optimizers() {
            return Map.of();
        }

        /**
         * Whether the loss is a cross-entropy in nats, so that epoch lines give it in bits per unit as well.
         *
         * @return false by default
         */
        public boolean inNats() {
            return false;
        }

        /**
         * A classifier's task: the model maps the inputs [N, ...] of a {@link Dataset}'s batches to logits
         * [N, C], {@code objective} gives the mean loss per sample, and a sample is right when its largest
         * logit is its label's.
         *
         * @param objective the loss on logits and labels, e.g. {@code Loss::crossEntropy}
         * @return the task
         * @throws NullPointerException if {@code objective} is null
         */
        public static Task classification(Objective objective) {
            Objects.requireNonNull(objective, "objective");
            return new Task() {
                @Override
                public void check(Module model, DataLoader loader, String what) {
                    requireLabels(loader, what);
                }

                @Override
                public BatchLoss step(Module model, Batch batch) {
                    Tensor logits = model.forward(batch.inputs());
                    Tensor loss = objective.loss(logits, batch.labels());
                    return new BatchLoss(loss, batch.size(), countCorrect(logits, batch.labels()));
                }
            };
        }

        /**
         * A classifier of padded variable-length sequences: the batches hold three int64 tensors, as
         * {@link dev.gatun.data.PaddedSequences} makes them: tokens [B, T], lengths [B] and classes [B]; a
         * {@link SequenceClassifier} maps tokens and lengths to logits [B, C], reading each sequence up to
         * its length, and {@code objective} gives the mean loss per sequence. A sequence is right when its
         * largest logit is its class's.
         *
         * @param objective the loss on logits and labels, e.g. {@code Loss::crossEntropy}
         * @return the task
         * @throws NullPointerException if {@code objective} is null
         */
        public static Task sequenceClassification(Objective objective) {
            Objects.requireNonNull(objective, "objective");
            return new Task() {
                @Override
                public void check(Module model, DataLoader loader, String what) {
                    if (!(model instanceof SequenceClassifier)) {
                        throw new IllegalArgumentException("sequence classification trains a SequenceClassifier,"
                                + " got " + model.getClass().getSimpleName());
                    }
                    if (!(loader.dataset() instanceof TensorDataset t) || t.numTensors() != 3
                            || t.sampleShape(0).length != 1 || t.sampleShape(1).length != 0
                            || t.sampleShape(2).length != 0) {
                        throw new IllegalArgumentException("the " + what + " loader must read padded sequences:"
                                + " a TensorDataset of tokens [N, T], lengths [N] and classes [N]"
                                + " (PaddedSequences.of), got " + loader.dataset());
                    }
                }

                @Override
                public BatchLoss step(Module model, Batch batch) {
                    Tensor logits = ((SequenceClassifier) model).forward(batch.tensor(0), batch.tensor(1));
                    long[] classes = batch.tensor(2).toLongArray();
                    int[] labels = new int[classes.length];
                    for (int i = 0; i < labels.length; i++) labels[i] = Math.toIntExact(classes[i]);
                    Tensor loss = objective.loss(logits, labels);
                    return new BatchLoss(loss, batch.size(), countCorrect(logits, labels));
                }
            };
        }

        /**
         * A language model's task, in characters (see {@link #nextToken(String)}).
         *
         * @return the task, its unit {@code "char"}
         */
        public static Task nextToken() {
            return nextToken("char");
        }

        /**
         * A language model's task: the batches hold token ids, inputs [B, T] and the next token of each
         * position, targets [B, T] (int64, as {@link dev.gatun.data.TokenStreams} makes them); the model
         * maps the inputs to logits [B, T, V], and the loss is the cross-entropy of every position's target,
         * the mean per token, in nats. A token is right when its largest logit is the target's.
         *
         * <p>A {@link CharRnn} carries its recurrent state from one batch of a pass to the next, detached
         * from the graph (truncated backpropagation through time), so that each row of a batch continues
         * the row of the batch before; each pass starts from zeros. Its loaders must then be sequential, as
         * {@code TokenStreams.loader} makes them. Other models run on each batch alone.
         *
         * @param unit the token's name for messages, e.g. {@code "char"}
         * @return the task
         * @throws IllegalArgumentException if {@code unit} is blank
         */
        public static Task nextToken(String unit) {
            if (unit == null || unit.isBlank()) {
                throw new IllegalArgumentException("the unit of a token needs a name, got '" + unit + "'");
            }
            return new NextToken(unit);
        }
    }

    /** {@link Task#nextToken(String)}. */
    private static final class NextToken extends Task {
        private final String unit;
        /** The state carried between batches: two buffers, so that a step never overwrites its own start. */
        private Scope stateScope;
        private final RecurrentLayer.State[] buffers = new RecurrentLayer.State[2];
        private RecurrentLayer.State carried;
        private int next;

        NextToken(String unit) {
            this.unit = unit;
        }

        @Override
        public void check(Module model, DataLoader loader, String what) {
            if (!(loader.dataset() instanceof TensorDataset t) || t.numTensors() != 2 || t.sampleShape(0).length != 1
                    || !java.util.Arrays.equals(t.sampleShape(0), t.sampleShape(1))) {
                throw new IllegalArgumentException("a language model's " + what + " loader must read a TensorDataset"
                        + " of token sequences and their next tokens, two tensors [N, T], got " + loader.dataset());
            }
            if (model instanceof CharRnn && !(loader.order() instanceof DataLoader.Order.Sequential)) {
                throw new IllegalArgumentException("the " + what + " loader must visit its batches in order, so that"
                        + " the recurrent state carries from each batch to the next, got " + loader.order()
                        + " (use TokenStreams.loader)");
            }
        }

        @Override
        public void startPass(Module model) {
            endPass();
        }

        @Override
        public BatchLoss step(Module model, Batch batch) {
            Tensor inputs = batch.inputs();
            Tensor targets = batch.targets();
            Tensor logits;
            if (model instanceof CharRnn m) {
                if (carried != null && carried.h().size(1) != inputs.size(0)) {
                    endPass(); // another batch size: the streams do not continue
                }
                CharRnn.Output out = m.forward(inputs, carried);
                logits = out.logits();
                carried = keep(out.state());
            } else {
                logits = model.forward(inputs);
            }
            long n = targets.numel();
            if (logits.dim() != 3 || logits.size(0) != inputs.size(0) || logits.size(1) != inputs.size(1)) {
                throw new IllegalArgumentException("a language model maps tokens [B, T] to logits [B, T, V]; tokens "
                        + java.util.Arrays.toString(inputs.shape()) + " gave "
                        + java.util.Arrays.toString(logits.shape()));
            }
            Tensor flat = logits.reshape(n, logits.size(2));
            Tensor loss = Loss.crossEntropy(flat, targets.reshape(n));
            long[] expected = targets.toLongArray();
            int[] labels = new int[expected.length];
            for (int i = 0; i < labels.length; i++) labels[i] = (int) expected[i];
            return new BatchLoss(loss, n, countCorrect(flat, labels));
        }

        /** A detached copy of {@code s} in the buffer the current step did not start from. */
        private RecurrentLayer.State keep(RecurrentLayer.State s) {
            if (stateScope == null) {
                stateScope = Scope.local();
            }
            RecurrentLayer.State b = buffers[next];
            if (b == null) {
                b = new RecurrentLayer.State(Tensor.zeros(stateScope, s.h().shape()),
                        s.c() == null ? null : Tensor.zeros(stateScope, s.c().shape()));
                buffers[next] = b;
            }
            b.h().copyFrom(s.h().detach());
            if (s.c() != null) {
                b.c().copyFrom(s.c().detach());
            }
            next = 1 - next;
            return b;
        }

        @Override
        public void endPass() {
            carried = null;
            buffers[0] = null;
            buffers[1] = null;
            next = 0;
            if (stateScope != null) {
                stateScope.close();
                stateScope = null;
            }
        }

        @Override
        public String unit() {
            return unit;
        }

        @Override
        public boolean inNats() {
            return true;
        }
    }

    /**
     * How a fit runs as one of several data-parallel processes, each training the same model on its share
     * of every batch ({@code dev.gatun.distributed.DistributedDataParallel}); {@link #SINGLE} for a fit in
     * one process. The loop takes each epoch's batches from {@link #batches}, calls
     * {@link #gradientsReady} after each backward pass (before clipping and the optimizer step), and sums
     * the epoch's and the validation's figures over the processes with {@link #sum}.
     */
    public interface DataParallel {
        /** One process: the loader's own batches, the gradients as they are, sums of one. */
        DataParallel SINGLE = new DataParallel() {};

        /**
         * This process's batches of an epoch.
         *
         * @param train the training loader
         * @param epoch the epoch, from 0
         * @return {@code train.numBatches()} batches: this process's share of each of the loader's batches
         */
        default Iterable<Batch> batches(DataLoader train, int epoch) {
            return train.epoch(epoch);
        }

        /**
         * Called after each backward pass, before clipping and the optimizer step: makes the gradients of
         * the model's parameters those of the whole batch (the mean over the processes).
         *
         * @param model the model trained
         */
        default void gradientsReady(Module model) {}

        /**
         * The element-wise sums of {@code values} over the processes.
         *
         * @param values the same number of figures in every process
         * @return the sums; for one process, the values
         */
        default double[] sum(double[] values) {
            return values;
        }

        /**
         * An evaluation of this process's share of a data set combined with the other processes' into the
         * evaluation of the whole.
         *
         * @param local this process's evaluation
         * @return the evaluation over every process's samples
         */
        default Evaluation reduce(Evaluation local) {
            if (this == SINGLE) {
                return local;
            }
            double n = local.samples();
            double[] t = sum(new double[] {n == 0 ? 0 : local.loss() * n, n == 0 ? 0 : local.accuracy() * n, n});
            return new Evaluation(t[0] / t[2], Math.rint(t[1]) / t[2], (int) Math.min(t[2], Integer.MAX_VALUE));
        }
    }

    /** Called after each epoch with its result, e.g. to step a learning-rate schedule. */
    @FunctionalInterface
    public interface EpochListener {
        /**
         * Receives an epoch's result, after validation and before any early stop.
         *
         * @param result the epoch's figures
         */
        void epochEnded(EpochResult result);
    }

    /**
     * Early stopping on validation loss: stop after {@code patience} epochs without an improvement of
     * more than {@code minDelta}; with {@code restoreBest}, put back the weights of the best epoch.
     *
     * @param patience    the epochs without improvement to wait, at least 1
     * @param minDelta    the least decrease of the validation loss that counts as an improvement, at least 0
     * @param restoreBest whether to put back the best epoch's weights when the fit ends
     */
    public record EarlyStopping(int patience, double minDelta, boolean restoreBest) {
        /**
         * Checks the settings.
         *
         * @throws IllegalArgumentException if {@code patience < 1} or {@code minDelta} is negative or NaN
         */
        public EarlyStopping {
            if (patience < 1) throw new IllegalArgumentException("patience must be >= 1, got " + patience);
            if (!(minDelta >= 0)) throw new IllegalArgumentException("minDelta must be >= 0, got " + minDelta);
        }
    }

    /**
     * How to train.
     *
     * @param epochs        the maximum number of epochs
     * @param earlyStopping null to train all epochs
     * @param csvLog        where to write one line per epoch, or null
     * @param chart         where to draw the loss and accuracy curves (PNG), or null
     * @param out           progress and epoch lines, or null for silence
     * @param listener      called after each epoch, or null
     * @param checkpointing where and when to write checkpoints and what to resume from, or null for none
     * @param maxGradNorm   clip the gradients of the model's parameters to this total L2 norm after each
     *                      backward pass ({@link GradClip#clipGradNorm}); 0 for no clipping
     */
    public record Config(int epochs, EarlyStopping earlyStopping, Path csvLog, Path chart, PrintStream out,
                         EpochListener listener, Checkpointing checkpointing, double maxGradNorm) {
        /**
         * Checks the settings.
         *
         * @throws IllegalArgumentException if {@code epochs < 1}, or {@code maxGradNorm} is negative or not
         *     finite
         */
        public Config {
            if (epochs < 1) throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
            if (!(maxGradNorm >= 0 && Double.isFinite(maxGradNorm))) {
                throw new IllegalArgumentException("the gradient norm to clip to must be finite and >= 0 (0: no"
                        + " clipping), got " + maxGradNorm);
            }
        }

        /**
         * The settings without gradient clipping.
         *
         * @param epochs        the maximum number of epochs
         * @param earlyStopping null to train all epochs
         * @param csvLog        where to write one line per epoch, or null
         * @param chart         where to draw the loss and accuracy curves (PNG), or null
         * @param out           progress and epoch lines, or null for silence
         * @param listener      called after each epoch, or null
         * @param checkpointing where and when to write checkpoints and what to resume from, or null for none
         * @throws IllegalArgumentException if {@code epochs < 1}
         */
        public Config(int epochs, EarlyStopping earlyStopping, Path csvLog, Path chart, PrintStream out,
                      EpochListener listener, Checkpointing checkpointing) {
            this(epochs, earlyStopping, csvLog, chart, out, listener, checkpointing, 0);
        }

        /**
         * A configuration that trains {@code epochs} epochs, printing to {@code System.out}, with nothing else.
         *
         * @param epochs the number of epochs, at least 1
         * @return the configuration
         * @throws IllegalArgumentException if {@code epochs < 1}
         */
        public static Config of(int epochs) {
            return new Config(epochs, null, null, null, System.out, null, null, 0);
        }

        /**
         * This configuration with early stopping.
         *
         * @param e the early-stopping settings, or null for none
         * @return a new configuration
         */
        public Config withEarlyStopping(EarlyStopping e) {
            return new Config(epochs, e, csvLog, chart, out, listener, checkpointing, maxGradNorm);
        }

        /**
         * This configuration with a CSV log.
         *
         * @param p the file to write one line per epoch to, or null for none
         * @return a new configuration
         */
        public Config withCsvLog(Path p) {
            return new Config(epochs, earlyStopping, p, chart, out, listener, checkpointing, maxGradNorm);
        }

        /**
         * This configuration with a chart of the curves.
         *
         * @param p the PNG file to draw the loss and accuracy curves in, or null for none
         * @return a new configuration
         */
        public Config withChart(Path p) {
            return new Config(epochs, earlyStopping, csvLog, p, out, listener, checkpointing, maxGradNorm);
        }

        /**
         * This configuration with another output stream.
         *
         * @param s where progress and epoch lines go, or null for silence
         * @return a new configuration
         */
        public Config withOut(PrintStream s) {
            return new Config(epochs, earlyStopping, csvLog, chart, s, listener, checkpointing, maxGradNorm);
        }

        /**
         * This configuration with an epoch listener.
         *
         * @param l called after each epoch, or null for none
         * @return a new configuration
         */
        public Config withListener(EpochListener l) {
            return new Config(epochs, earlyStopping, csvLog, chart, out, l, checkpointing, maxGradNorm);
        }

        /**
         * This configuration with checkpoints.
         *
         * @param c where and when to write checkpoints and what to resume from, or null for none
         * @return a new configuration
         */
        public Config withCheckpointing(Checkpointing c) {
            return new Config(epochs, earlyStopping, csvLog, chart, out, listener, c, maxGradNorm);
        }

        /**
         * This configuration with gradient clipping.
         *
         * @param maxNorm the total L2 norm to clip the gradients to after each backward pass; 0 for none
         * @return a new configuration
         * @throws IllegalArgumentException if {@code maxNorm} is negative or not finite
         */
        public Config withGradClip(double maxNorm) {
            return new Config(epochs, earlyStopping, csvLog, chart, out, listener, checkpointing, maxNorm);
        }
    }

    /**
     * Checkpoints ({@link Checkpoint}): written to {@code directory} (null: none) every {@code everySteps}
     * optimizer steps (0: only at the end of each epoch) and at the end of each epoch (the one early stopping
     * ends with included), keeping the newest {@code keep}; and a run resumed from {@code resume} (null: a
     * fresh start), which continues at the checkpoint's epoch and batch with the batches, dropout masks and
     * optimizer state it would have had (a run resumed from the epoch that stopped it early stays stopped).
     *
     * @param directory  the directory checkpoints are written to, or null for none
     * @param everySteps the optimizer steps between checkpoints, or 0 for the ends of epochs only
     * @param keep       how many of the newest checkpoints to keep, at least 1
     * @param schedules  the learning-rate schedules the epoch listener steps (e.g. one for each optimizer
     *                   of a task that steps its own), whose states are saved and restored with the rest in
     *                   this order; null or empty when there are none
     * @param resume     the checkpoint to resume from, or null for a fresh start
     */
    public record Checkpointing(Path directory, int everySteps, int keep, List<LearningRateSchedule> schedules,
                                Checkpoint resume) {
        /**
         * Checks the settings and copies the schedules.
         *
         * @throws IllegalArgumentException if {@code everySteps < 0} or {@code keep < 1}
         * @throws NullPointerException     if a schedule is null
         */
        public Checkpointing {
            if (everySteps < 0) {
                throw new IllegalArgumentException("checkpoint interval must be >= 0 steps, got " + everySteps);
            }
            if (keep < 1) throw new IllegalArgumentException("checkpoints to keep must be >= 1, got " + keep);
            schedules = schedules == null ? List.of() : List.copyOf(schedules);
        }

        /**
         * The settings of a run with at most one learning-rate schedule.
         *
         * @param directory  the directory checkpoints are written to, or null for none
         * @param everySteps the optimizer steps between checkpoints, or 0 for the ends of epochs only
         * @param keep       how many of the newest checkpoints to keep, at least 1
         * @param schedule   the learning-rate schedule the epoch listener steps, whose state is saved and
         *                   restored with the rest (null when there is none)
         * @param resume     the checkpoint to resume from, or null for a fresh start
         * @throws IllegalArgumentException if {@code everySteps < 0} or {@code keep < 1}
         */
        public Checkpointing(Path directory, int everySteps, int keep, LearningRateSchedule schedule,
                             Checkpoint resume) {
            this(directory, everySteps, keep, schedule == null ? List.of() : List.of(schedule), resume);
        }
    }

    /**
     * Loss and accuracy over a dataset, per sample (per token for a language model's {@link Task}).
     *
     * @param loss     the mean loss per sample (or token)
     * @param accuracy the share of samples (or tokens) the model got right, in [0, 1]
     * @param samples  the number of samples (or tokens) evaluated
     */
    public record Evaluation(double loss, double accuracy, int samples) {}

    /**
     * One epoch's figures; validation figures are NaN when there is no validation set. Means and rates
     * are per sample, or per token for a language model's {@link Task} ({@link Task#unit()}).
     *
     * @param epoch              the epoch's number, from 1
     * @param trainLoss          the mean training loss per sample (or token) over the epoch
     * @param trainAccuracy      the share of training samples (or tokens) the model got right during the epoch
     * @param validationLoss     the mean validation loss per sample (or token) after the epoch, or NaN
     * @param validationAccuracy the validation accuracy after the epoch, or NaN
     * @param learningRate       the optimizer's learning rate at the end of the epoch
     * @param seconds            the training time of the epoch, without validation
     * @param samplesPerSecond   training samples (or tokens) per second
     */
    public record EpochResult(int epoch, double trainLoss, double trainAccuracy, double validationLoss,
                              double validationAccuracy, double learningRate, double seconds,
                              double samplesPerSecond) {}

    /**
     * What a fit did.
     *
     * @param epochs       every epoch's result, in order (after a resume, the checkpoint's epochs first)
     * @param bestEpoch    the index in {@code epochs} of the epoch early stopping judged best, or -1 when
     *                     early stopping was off
     * @param stoppedEarly whether early stopping ended the fit before the last epoch
     */
    public record History(List<EpochResult> epochs, int bestEpoch, boolean stoppedEarly) {
        /**
         * The best epoch: with early stopping, the one it judged best (whose weights the model holds when
         * it restores them); otherwise the one with the lowest validation loss, or, without a validation
         * set, the lowest training loss. Ties go to the earlier epoch; epochs whose loss is NaN are passed
         * over (all NaN: the last epoch).
         *
         * @return that epoch's result
         * @throws IllegalStateException if no epoch was trained
         */
        public EpochResult best() {
            if (epochs.isEmpty()) {
                throw new IllegalStateException("no epoch was trained, so none is best");
            }
            if (bestEpoch >= 0) {
                return epochs.get(bestEpoch);
            }
            boolean validated = epochs.stream().anyMatch(r -> !Double.isNaN(r.validationLoss()));
            EpochResult best = null;
            double bestLoss = Double.NaN;
            for (EpochResult r : epochs) {
                double loss = validated ? r.validationLoss() : r.trainLoss();
                if (!Double.isNaN(loss) && (best == null || loss < bestLoss)) {
                    best = r;
                    bestLoss = loss;
                }
            }
            return best != null ? best : epochs.getLast();
        }
    }

    private Trainer() {}

    /**
     * Trains a classifier: {@link #fit(Module, Optimizer, Task, DataLoader, DataLoader, Config)} with
     * {@link Task#classification}{@code (objective)}.
     *
     * @param model      the classifier, trained in place
     * @param optimizer  the optimizer of the model's parameters
     * @param objective  the loss of a batch
     * @param train      the training batches, from a {@link Dataset}
     * @param validation the validation batches, from a {@link Dataset}, or null for none
     * @param config     epochs, early stopping, logs, chart, listener and checkpoints
     * @return what the fit did
     * @throws IOException if the CSV log, the chart or a checkpoint cannot be written
     * @throws IllegalArgumentException if a loader does not read a {@link Dataset} (class labels), or early
     *     stopping is asked for without a validation set
     * @throws TrainingDivergedException at the first non-finite loss, naming the epoch and batch
     */
    public static History fit(Module model, Optimizer optimizer, Objective objective, DataLoader train,
                              DataLoader validation, Config config) throws IOException {
        return fit(model, optimizer, Task.classification(objective), train, validation, config);
    }

    /**
     * Trains {@code model} on {@code train} for {@code task} and, after each epoch, evaluates on
     * {@code validation} (may be null). Each step computes the task's loss, backpropagates it, clips the
     * gradients when the configuration says so, and steps the optimizer. Throws
     * {@link TrainingDivergedException} at the first non-finite loss.
     *
     * @param model      the model, trained in place
     * @param optimizer  the optimizer of the model's parameters
     * @param task       what the loss of a batch is
     * @param train      the training batches
     * @param validation the validation batches, or null for none
     * @param config     epochs, early stopping, gradient clipping, logs, chart, listener and checkpoints
     * @return what the fit did; losses and accuracies are means over the task's units
     * @throws IOException if the CSV log, the chart or a checkpoint cannot be written
     * @throws IllegalArgumentException if the task cannot use a loader's batches ({@link Task#check}), early
     *     stopping is asked for without a validation set, or checkpoints for a task that {@link
     *     Task#updatesItself} and names none of its {@link Task#optimizers}
     * @throws TrainingDivergedException at the first non-finite loss, naming the epoch and batch
     */
    public static History fit(Module model, Optimizer optimizer, Task task, DataLoader train,
                              DataLoader validation, Config config) throws IOException {
        return fit(model, optimizer, task, train, validation, config, DataParallel.SINGLE);
    }

    /**
     * {@link #fit(Module, Optimizer, Task, DataLoader, DataLoader, Config)} as one of several data-parallel
     * processes: each epoch's batches, the gradients and the reported figures go through {@code parallel}.
     * Every process calls it with the same model, loaders and settings; only one should be given an
     * output stream, logs and checkpoints. {@code validation} is this process's share of the validation set.
     *
     * @param model      the model, trained in place, the same in every process
     * @param optimizer  the optimizer of the model's parameters
     * @param task       what the loss of a batch is
     * @param train      the training batches (the whole of each batch; {@code parallel} takes its share)
     * @param validation this process's validation batches, or null for none
     * @param config     epochs, early stopping, gradient clipping, logs, chart, listener and checkpoints
     * @param parallel   how the processes share the work, or {@link DataParallel#SINGLE}
     * @return what the fit did; losses and accuracies are means over every process's units
     * @throws IOException if the CSV log, the chart or a checkpoint cannot be written
     * @throws IllegalArgumentException as for the fit in one process, or if the task {@link Task#updatesItself}
     *     and {@code parallel} is not {@link DataParallel#SINGLE}
     * @throws TrainingDivergedException at the first non-finite loss, naming the epoch and batch
     */
    public static History fit(Module model, Optimizer optimizer, Task task, DataLoader train,
                              DataLoader validation, Config config, DataParallel parallel) throws IOException {
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(parallel, "parallel");
        task.check(model, train, "training");
        if (validation != null) {
            task.check(model, validation, "validation");
        }
        if (config.earlyStopping() != null && validation == null) {
            throw new IllegalArgumentException("early stopping needs a validation set");
        }
        if (task.updatesItself() && parallel != DataParallel.SINGLE) {
            throw new IllegalArgumentException("data-parallel training averages the gradients of the fit's one backward"
                    + " pass, and this task runs its own");
        }
        if (!task.updatesItself() && optimizer != null) {
            // An optimizer made for another model steps tensors this fit never gives a gradient: nothing trains.
            java.util.Set<Tensor> own = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            own.addAll(model.parameters());
            if (optimizer.parameters().stream().noneMatch(own::contains)) {
                throw new IllegalArgumentException("the optimizer updates none of the model's parameters (it was made"
                        + " for another model?): training would change nothing");
            }
        }
        Map<String, Optimizer> optimizers = Objects.requireNonNull(task.optimizers(), "task.optimizers()");
        if (task.updatesItself() && config.checkpointing() != null && optimizers.isEmpty()) {
            throw new IllegalArgumentException("checkpoints save the fit's one optimizer, and this task steps its own");
        }
        if (config.checkpointing() != null) {
            Checkpoint.checkOptimizers(optimizers); // a bad name is refused before training, not at the first save
        }
        if (config.chart() != null) {
            Curves.requireXChart(); // before training, not after it
        }
        Run run = new Run(model, optimizer, optimizers, task, train, config, parallel);
        List<EpochResult> results = run.results;
        boolean stoppedEarly = false;
        CsvLog csv = config.csvLog() == null ? null : new CsvLog(config.csvLog());
        try {
            int startEpoch = 0;
            Checkpointing ck = config.checkpointing();
            if (ck != null && ck.directory() != null) {
                Checkpoint.generators(model); // refuses, before any training, a model whose randomness cannot be saved
                Checkpoint.requireOwnDirectory(ck.directory(), ck.resume());
            }
            if (ck != null && ck.resume() != null) {
                startEpoch = run.resume(ck.resume());
                if (csv != null) {
                    for (EpochResult r : results) csv.append(r); // the log of the whole run, not only its end
                }
            }
            if (config.earlyStopping() != null && run.sinceBest >= config.earlyStopping().patience()) {
                // Resumed from the checkpoint of the epoch that stopped the run: it stays stopped.
                stoppedEarly = true;
                startEpoch = config.epochs();
            }
            for (int epoch = startEpoch; epoch < config.epochs(); epoch++) {
                EpochResult r = run.trainEpoch(validation, epoch);
                results.add(r);
                if (csv != null) {
                    csv.append(r);
                }
                if (config.out() != null) {
                    config.out().println(formatEpoch(r, config.epochs(), task));
                }
                if (config.listener() != null) {
                    config.listener().epochEnded(r);
                }
                if (config.earlyStopping() != null) {
                    EarlyStopping es = config.earlyStopping();
                    if (r.validationLoss() < run.bestLoss - es.minDelta()) {
                        run.bestLoss = r.validationLoss();
                        run.bestEpoch = epoch;
                        run.sinceBest = 0;
                        if (es.restoreBest()) {
                            run.bestWeights = snapshot(model);
                        }
                    } else if (++run.sinceBest >= es.patience()) {
                        stoppedEarly = true;
                        // The stopping epoch ends with a checkpoint like every other; resumed, the run stays stopped.
                        run.checkpoint(new Checkpoint.Position(epoch + 1, 0), 0, 0, 0);
                        if (config.out() != null && run.bestEpoch < 0) {
                            // No epoch had a finite validation loss: there is no best one to name.
                            config.out().printf(Locale.ROOT, "early stopping: the validation loss was never finite"
                                    + " in %d epochs (last %s): check the validation data%n", es.patience(),
                                    r.validationLoss());
                        } else if (config.out() != null) {
                            config.out().printf(Locale.ROOT, "early stopping: validation loss has not improved for"
                                    + " %d epochs (best %.4f at epoch %d)%n", es.patience(), run.bestLoss,
                                    run.bestEpoch + 1);
                        }
                        break;
                    }
                }
                run.checkpoint(new Checkpoint.Position(epoch + 1, 0), 0, 0, 0);
            }
            if (csv != null) {
                csv.commit();
            }
        } finally {
            if (csv != null) {
                csv.close();
            }
        }
        Map<String, float[]> bestWeights = run.bestWeights;
        int bestEpoch = run.bestEpoch;
        if (bestWeights != null) {
            restore(model, bestWeights);
            if (config.out() != null) {
                config.out().printf("restored the weights of epoch %d%n", bestEpoch + 1);
            }
        }
        History history = new History(List.copyOf(results), config.earlyStopping() != null ? bestEpoch : -1,
                stoppedEarly);
        if (config.chart() != null) {
            Curves.write(history, config.chart());
        }
        return history;
    }

    /** The state of one fit: what it trains and where it stands, for the epochs and for checkpoints. */
    private static final class Run {
        final Module model;
        final Optimizer optimizer;
        /** The optimizers the task steps itself, saved in checkpoints beside {@link #optimizer}. */
        final Map<String, Optimizer> optimizers;
        final Task task;
        final DataLoader train;
        final Config config;
        final DataParallel parallel;
        final List<EpochResult> results = new ArrayList<>();
        Map<String, float[]> bestWeights;
        double bestLoss = Double.POSITIVE_INFINITY;
        int bestEpoch = -1;
        int sinceBest;
        /** Where the first epoch trained starts and its sums so far (non-zero after a resume). */
        int startBatch;
        Checkpoint.TrainerState startSums = Checkpoint.TrainerState.START;

        Run(Module model, Optimizer optimizer, Map<String, Optimizer> optimizers, Task task, DataLoader train,
            Config config, DataParallel parallel) {
            this.parallel = parallel;
            this.model = model;
            this.optimizer = optimizer;
            this.optimizers = optimizers;
            this.task = task;
            this.train = train;
            this.config = config;
        }

        /** Loads {@code c} into the run; returns the epoch to continue with. */
        int resume(Checkpoint c) throws IOException {
            Checkpointing ck = config.checkpointing();
            c.restore(model, optimizer, optimizers, ck.schedules(), train);
            Checkpoint.Position p = c.position();
            Checkpoint.TrainerState t = c.trainerState();
            results.addAll(c.history());
            bestLoss = t.bestLoss();
            bestEpoch = t.bestEpoch();
            sinceBest = t.sinceBest();
            bestWeights = c.bestWeights();
            startBatch = p.batch();
            startSums = t;
            if (p.batch() > train.numBatches()) {
                throw new dev.gatun.io.ModelFileException(c.file(), "checkpoint position batch " + p.batch()
                        + " is past the " + train.numBatches() + " batches of an epoch");
            }
            if (config.out() != null) {
                config.out().printf("resuming from %s at epoch %d, batch %d%n", c.file(), p.epoch() + 1, p.batch());
            }
            return p.epoch();
        }

        /** Whether a float32 tensor holds a NaN or an infinity (read only once the loss has diverged). */
        private static boolean nonFinite(Tensor t) {
            if (t == null || t.dtype() != dev.gatun.tensor.DType.FLOAT32 || !t.isAlive()) {
                return false;
            }
            for (float v : t.toArray()) {
                if (!Float.isFinite(v)) {
                    return true;
                }
            }
            return false;
        }

        /** Writes a checkpoint at {@code position} when checkpoints are configured. */
        void checkpoint(Checkpoint.Position position, double lossSum, long correct, long seen) {
            Checkpointing ck = config.checkpointing();
            if (ck == null || ck.directory() == null) return;
            long step = (long) position.epoch() * train.numBatches() + position.batch();
            Path file = ck.directory().resolve(Checkpoint.fileName(step));
            try {
                Checkpoint.save(file, model, optimizer, optimizers, ck.schedules(), train, position,
                        new Checkpoint.TrainerState(lossSum, correct, seen, bestLoss, bestEpoch, sinceBest),
                        results, bestWeights);
                Checkpoint.prune(ck.directory(), ck.keep(), file);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot write checkpoint " + file + ": " + e.getMessage(), e);
            }
        }

        EpochResult trainEpoch(DataLoader validation, int epoch) {
            model.train();
            Progress progress = config.out() == null ? null
                    : new Progress(config.out(), "epoch " + (epoch + 1) + "/" + config.epochs(), train.numBatches());
            long start = System.nanoTime();
            double lossSum = startSums.lossSum();
            long correct = startSums.correct();
            long seen = startSums.seen();
            int batchIndex = 0;
            int skip = startBatch;
            startBatch = 0;
            startSums = Checkpoint.TrainerState.START;
            Checkpointing ck = config.checkpointing();
            int every = ck == null || ck.directory() == null ? 0 : ck.everySteps();
            Iterator<Batch> it = parallel.batches(train, epoch).iterator();
            // After a resume, the batches the checkpoint had already trained on: the same order, not trained again.
            for (; batchIndex < skip && it.hasNext(); batchIndex++) {
                try (Scope s = Scope.open()) {
                    it.next();
                }
            }
            task.startPass(model);
            try {
                while (it.hasNext()) {
                    // The batch is made inside the step's scope, so it is freed with the step.
                    try (Scope step = Scope.open()) {
                        Batch batch = it.next();
                        boolean own = task.updatesItself(); // e.g. a GAN, which steps two optimizers itself
                        if (!own) {
                            optimizer.zeroGrad();
                        }
                        BatchLoss b = own ? task.update(model, batch) : task.step(model, batch);
                        float value = b.loss().item();
                        if (!Float.isFinite(value)) {
                            throw new TrainingDivergedException(epoch + 1, batchIndex + 1, value,
                                    nonFinite(batch.inputs()));
                        }
                        if (!own) {
                            b.loss().backward();
                            parallel.gradientsReady(model);
                            if (config.maxGradNorm() > 0) {
                                GradClip.clipGradNorm(model.parameters(), config.maxGradNorm());
                            }
                            optimizer.step();
                        }
                        lossSum += (double) value * b.count();
                        correct += b.correct();
                        seen += b.count();
                    }
                    batchIndex++;
                    long globalStep = (long) epoch * train.numBatches() + batchIndex;
                    // The last batch's checkpoint is the end of the epoch's, after validation and the listener.
                    if (every > 0 && globalStep % every == 0 && batchIndex < train.numBatches()) {
                        checkpoint(new Checkpoint.Position(epoch, batchIndex), lossSum, correct, seen);
                    }
                    if (progress != null) {
                        progress.update(batchIndex, lossSum / seen, (double) correct / seen, seen,
                                (System.nanoTime() - start) / 1e9);
                    }
                }
            } finally {
                task.endPass();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            if (progress != null) {
                progress.finish();
            }
            if (parallel != DataParallel.SINGLE) {
                double[] t = parallel.sum(new double[] {lossSum, correct, seen});
                lossSum = t[0];
                correct = (long) t[1];
                seen = (long) t[2];
            }
            Evaluation v = validation == null ? null : parallel.reduce(evaluate(model, task, validation));
            return new EpochResult(epoch + 1, lossSum / seen, (double) correct / seen,
                    v == null ? Double.NaN : v.loss(), v == null ? Double.NaN : v.accuracy(),
                    optimizer.learningRate(), seconds, seen / seconds);
        }
    }

    /** The Trainer classifies: its loss and accuracy need class labels, which only a Dataset's batches have. */
    private static void requireLabels(DataLoader loader, String what) {
        if (!(loader.dataset() instanceof Dataset)) {
            throw new IllegalArgumentException("the Trainer fits classifiers, so the " + what + " loader must read"
                    + " a Dataset with class labels, got " + loader.dataset() + "; train on other data with another"
                    + " Trainer.Task or a loop over DataLoader.epoch");
        }
    }

    /**
     * Loss and accuracy of a classifier in evaluation mode, without recording, over every batch of
     * {@code data}; the model's mode is restored after.
     *
     * @param model     the classifier
     * @param objective the loss of a batch
     * @param data      the batches, from a {@link Dataset}
     * @return the mean loss, the accuracy and the number of samples
     * @throws IllegalArgumentException if {@code data} does not read a {@link Dataset}
     */
    public static Evaluation evaluate(Module model, Objective objective, DataLoader data) {
        return evaluate(model, Task.classification(objective), data);
    }

    /**
     * Loss and accuracy of {@code model} for {@code task} in evaluation mode, without recording, over every
     * batch of {@code data} in one pass; the model's mode is restored after.
     *
     * @param model the model
     * @param task  what the loss of a batch is
     * @param data  the batches
     * @return the mean loss and accuracy over the task's units, and the number of units (at most
     *     {@link Integer#MAX_VALUE})
     * @throws IllegalArgumentException if the task cannot use the batches ({@link Task#check})
     */
    public static Evaluation evaluate(Module model, Task task, DataLoader data) {
        task.check(model, data, "evaluation");
        boolean wasTraining = model.isTraining();
        model.eval();
        double lossSum = 0;
        long correct = 0;
        long seen = 0;
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            task.startPass(model);
            Iterator<Batch> it = data.epoch(0).iterator();
            while (it.hasNext()) {
                try (Scope step = Scope.open()) {
                    Batch batch = it.next();
                    BatchLoss b = task.step(model, batch);
                    lossSum += (double) b.loss().item() * b.count();
                    correct += b.correct();
                    seen += b.count();
                }
            }
        } finally {
            task.endPass();
            if (wasTraining) {
                model.train();
            }
        }
        return new Evaluation(lossSum / seen, (double) correct / seen, (int) Math.min(seen, Integer.MAX_VALUE));
    }

    /**
     * How many rows of logits [N, C] have their largest value at the label's column (the first largest
     * on a tie).
     *
     * @param logits the model's output [N, C]
     * @param labels the class of each row, {@code int[N]}
     * @return the number of correct rows
     * @throws IllegalArgumentException if logits are not [N, C] with N the number of labels
     */
    public static long countCorrect(Tensor logits, int[] labels) {
        if (logits.dim() != 2 || logits.size(0) != labels.length) {
            throw new IllegalArgumentException("accuracy needs logits [N, C] with N = " + labels.length
                    + " labels, got " + java.util.Arrays.toString(logits.shape()));
        }
        float[] z = logits.toArray();
        int classes = (int) logits.size(1);
        long correct = 0;
        for (int r = 0; r < labels.length; r++) {
            if (ConfusionMatrix.argmax(z, r * classes, classes) == labels[r]) correct++;
        }
        return correct;
    }

    static Map<String, float[]> snapshot(Module model) {
        Map<String, float[]> out = new LinkedHashMap<>();
        model.namedParameters().forEach((k, v) -> out.put("p:" + k, v.toArray()));
        model.namedBuffers().forEach((k, v) -> out.put("b:" + k, v.toArray()));
        return out;
    }

    private static void restore(Module model, Map<String, float[]> weights) {
        model.namedParameters().forEach((k, v) -> v.copyFrom(weights.get("p:" + k)));
        model.namedBuffers().forEach((k, v) -> v.copyFrom(weights.get("b:" + k)));
    }

    static String formatEpoch(EpochResult r, int epochs) {
        return formatEpoch(r, epochs, Task.classification(Loss::crossEntropy));
    }

    /** The line of an epoch; for a task in nats, the losses in bits per unit as well, and units per second. */
    static String formatEpoch(EpochResult r, int epochs, Task task) {
        boolean bits = task.inNats();
        String unit = task.unit();
        String validation = Double.isNaN(r.validationLoss()) ? ""
                : String.format(Locale.ROOT, " | val loss %.4f%s acc %.2f%%", r.validationLoss(),
                        bits ? bitsPer(r.validationLoss(), unit) : "", 100 * r.validationAccuracy());
        return String.format(Locale.ROOT, "epoch %d/%d: loss %.4f%s acc %.2f%%%s | %.1f s, %,.0f %ss/s", r.epoch(),
                epochs, r.trainLoss(), bits ? bitsPer(r.trainLoss(), unit) : "", 100 * r.trainAccuracy(), validation,
                r.seconds(), r.samplesPerSecond(), unit);
    }

    /** A loss in nats as bits per unit: " (2.311 bits/char)". */
    private static String bitsPer(double nats, String unit) {
        return String.format(Locale.ROOT, " (%.3f bits/%s)", nats / Math.log(2), unit);
    }
}
