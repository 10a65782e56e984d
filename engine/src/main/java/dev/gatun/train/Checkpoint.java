package dev.gatun.train;

import dev.gatun.data.DataLoader;
import dev.gatun.io.StorageType;
import dev.gatun.io.ModelFileException;
import dev.gatun.io.SafeTensors;
import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.RandomModule;
import dev.gatun.tensor.Generator;
import dev.gatun.nn.Init;
import dev.gatun.nn.Module;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A training checkpoint: one safetensors file holding everything a run needs to continue as if it had
 * never stopped, so that a resumed run ends with bit-identical weights.
 *
 * <ul>
 *   <li>{@code model.<name>}: the model's state dict (F32), and {@code counter.model.<name>} the integer
 *       counters of its layers (BatchNorm's {@code num_batches_tracked});
 *   <li>{@code optimizer.state.<i>.<slot>}: the optimizer's per-parameter buffers (F32, e.g.
 *       {@code optimizer.state.0.exp_avg}); {@code optimizer.steps}, {@code optimizer.parameter_steps} and
 *       {@code optimizer.learning_rate} (the double's bits) its counters, {@code optimizer.has_grad} which
 *       of its parameters had a gradient buffer;
 *   <li>{@code optimizers.<name>.state.<i>.<slot>}, {@code optimizers.<name>.steps} and the like: the same
 *       for each optimizer a task that updates itself names ({@link Trainer.Task#optimizers}), e.g. a GAN's
 *       {@code discriminator} and {@code generator}; when the fit's optimizer is one of them, its buffers
 *       and gradient flags are only there, and the metadata {@code optimizer.named} holds its name;
 *   <li>{@code schedule.epoch}: the ended epochs of each learning-rate schedule, in the run's order, when
 *       there are schedules;
 *   <li>{@code rng.init} and {@code rng.model.<module>}: the state of every {@link Generator}: the default
 *       one of {@link Init} and each dropout layer's;
 *   <li>{@code position}: the epoch and the index of the next batch in it; {@code loader}: the loader's
 *       number of samples, batch size and batches per epoch, checked on resume (its order is derived from
 *       its seed and the epoch, so the position is all that is needed to continue it);
 *   <li>{@code trainer}: the fit loop's sums over the epoch in progress and its early-stopping figures.
 * </ul>
 *
 * <p>The metadata hold the format, the optimizer's class, the named optimizers ({@code optimizers}: their
 * names, comma-separated; {@code optimizers.<name>}: each one's class), the schedules' classes
 * (comma-separated) and a SHA-256 checksum over every tensor's name,
 * dtype, shape and bytes and over the other metadata, verified by {@link #open}: a file altered or cut
 * short is refused with an exception naming it and what is wrong. Files are written atomically (temporary
 * file, fsync, rename) under names {@code ckpt-<global step>.safetensors}, so a crash while writing leaves
 * the previous checkpoint as it was; {@link #latest} finds the newest good one in a directory.
 */
public final class Checkpoint implements AutoCloseable {

    /** The value of the {@code format} metadata. */
    public static final String FORMAT = "gatun-checkpoint-1";

    private static final Pattern NAME = Pattern.compile("ckpt-(\\d+)\\.safetensors");

    private static final Pattern OPTIMIZER_NAME = Pattern.compile("[A-Za-z0-9_-]+");

    /**
     * Where training stands: the next batch to train is batch {@code batch} (0-based) of epoch {@code epoch}
     * (0-based); {@code batch} 0 is the start of an epoch.
     *
     * @param epoch the epoch, counted from 0
     * @param batch the next batch to train in that epoch, counted from 0
     */
    public record Position(int epoch, int batch) {
        /**
         * Checks the position.
         *
         * @param epoch the epoch, counted from 0
         * @param batch the next batch to train in that epoch, counted from 0
         * @throws IllegalArgumentException if either is negative
         */
        public Position {
            if (epoch < 0 || batch < 0) {
                throw new IllegalArgumentException("checkpoint position needs epoch and batch >= 0, got epoch "
                        + epoch + ", batch " + batch);
            }
        }
    }

    /**
     * The fit loop's bookkeeping: loss sum, correct predictions and samples of the epoch in progress, and
     * the best validation loss, its epoch and the epochs since it (early stopping).
     *
     * @param lossSum   the sum of the per-batch mean losses of the epoch in progress, each weighted by its
     *                  batch's sample count
     * @param correct   the correct predictions of the epoch in progress
     * @param seen      the samples trained on in the epoch in progress
     * @param bestLoss  the best validation loss so far, {@link Double#POSITIVE_INFINITY} before the first
     * @param bestEpoch the epoch of the best validation loss (counted from 0), -1 before the first
     * @param sinceBest the epochs ended since the best validation loss
     */
    public record TrainerState(double lossSum, long correct, long seen, double bestLoss, int bestEpoch,
                               int sinceBest) {
        /** The state at the start of training. */
        public static final TrainerState START = new TrainerState(0, 0, 0, Double.POSITIVE_INFINITY, -1, 0);
    }

    private final SafeTensors file;

    private Checkpoint(SafeTensors file) {
        this.file = file;
    }

    /**
     * The file name of a checkpoint, which {@link #latest} recognises and orders by step.
     *
     * @param step the global step: batches trained since the start of the run
     * @return {@code ckpt-<step>.safetensors}, the step zero-padded to 12 digits
     */
    public static String fileName(long step) {
        return String.format("ckpt-%012d.safetensors", step);
    }

    /**
     * Writes a checkpoint of a run to {@code file} atomically, with no epoch history and no best weights.
     * Call it between steps, on the training thread.
     *
     * @param file      the file to write, conventionally {@link #fileName(long)} in a checkpoint directory;
     *                  an existing file is replaced
     * @param model     the model being trained; its weights, BatchNorm counters and random generators are
     *                  saved
     * @param optimizer the run's optimizer; its state, step counts and learning rate are saved
     * @param schedule  the run's learning-rate schedule, or null if it has none
     * @param loader    the run's training loader; its sample count, batch size and batches per epoch are
     *                  saved to be checked on resume
     * @param position  the next batch to train
     * @param trainer   the fit loop's bookkeeping ({@link TrainerState#START} at the start)
     * @throws IllegalArgumentException if a dropout layer of the model draws from a random generator whose
     *                                  state cannot be saved
     * @throws IllegalStateException    if a tensor to save was closed
     * @throws IOException              if the file cannot be written
     */
    public static void save(Path file, Module model, Optimizer optimizer, LearningRateSchedule schedule,
                            DataLoader loader, Position position, TrainerState trainer) throws IOException {
        save(file, model, optimizer, schedule, loader, position, trainer, List.of(), null);
    }

    /**
     * Writes a checkpoint of a run to {@code file} atomically, with the results of the epochs ended so far
     * and the best weights kept for early stopping (null if none), so that a resumed fit reports the whole
     * run and can still put the best weights back.
     *
     * @param file      the file to write, conventionally {@link #fileName(long)} in a checkpoint directory;
     *                  an existing file is replaced
     * @param model     the model being trained; its weights, BatchNorm counters and random generators are
     *                  saved
     * @param optimizer the run's optimizer; its state, step counts and learning rate are saved
     * @param schedule  the run's learning-rate schedule, or null if it has none
     * @param loader    the run's training loader; its sample count, batch size and batches per epoch are
     *                  saved to be checked on resume
     * @param position  the next batch to train
     * @param trainer   the fit loop's bookkeeping ({@link TrainerState#START} at the start)
     * @param history     the results of the epochs ended so far (empty at the start)
     * @param bestWeights the best weights by state-dict name, or null if none are kept
     * @throws IllegalArgumentException if a dropout layer of the model draws from a random generator whose
     *                                  state cannot be saved
     * @throws IllegalStateException    if a tensor to save was closed
     * @throws IOException              if the file cannot be written
     */
    public static void save(Path file, Module model, Optimizer optimizer, LearningRateSchedule schedule,
                            DataLoader loader, Position position, TrainerState trainer,
                            List<Trainer.EpochResult> history, Map<String, float[]> bestWeights) throws IOException {
        save(file, model, optimizer, Map.of(), schedule == null ? List.of() : List.of(schedule), loader, position,
                trainer, history, bestWeights);
    }

    /**
     * Writes a checkpoint of a run to {@code file} atomically: the model, the fit's optimizer and the
     * optimizers a self-updating task steps, every learning-rate schedule, the loader's figures, the
     * position, the fit loop's bookkeeping, the results of the epochs ended so far and the best weights
     * kept for early stopping (null if none).
     *
     * @param file        the file to write, conventionally {@link #fileName(long)} in a checkpoint directory;
     *                    an existing file is replaced
     * @param model       the model being trained; its weights, BatchNorm counters and random generators are
     *                    saved
     * @param optimizer   the fit's optimizer; its state, step counts and learning rate are saved
     * @param optimizers  the optimizers the task steps itself by name ({@link Trainer.Task#optimizers}), each
     *                    saved as the fit's is under {@code optimizers.<name>.}; empty for none (the fit's
     *                    optimizer may be among them)
     * @param schedules   the run's learning-rate schedules in a fixed order, empty for none
     * @param loader      the run's training loader; its sample count, batch size and batches per epoch are
     *                    saved to be checked on resume
     * @param position    the next batch to train
     * @param trainer     the fit loop's bookkeeping ({@link TrainerState#START} at the start)
     * @param history     the results of the epochs ended so far (empty at the start)
     * @param bestWeights the best weights by state-dict name, or null if none are kept
     * @throws IllegalArgumentException if a dropout layer of the model draws from a random generator whose
     *                                  state cannot be saved, or an optimizer's name is not letters, digits,
     *                                  '_' and '-'
     * @throws NullPointerException     if {@code optimizers} or {@code schedules} is or holds null
     * @throws IllegalStateException    if a tensor to save was closed
     * @throws IOException              if the file cannot be written
     */
    public static void save(Path file, Module model, Optimizer optimizer, Map<String, Optimizer> optimizers,
                            List<LearningRateSchedule> schedules, DataLoader loader, Position position,
                            TrainerState trainer, List<Trainer.EpochResult> history, Map<String, float[]> bestWeights)
            throws IOException {
        checkOptimizers(optimizers);
        List<LearningRateSchedule> s = List.copyOf(schedules);
        try (Scope scope = Scope.open()) {
            write(file, model, optimizer, optimizers, s, loader, position, trainer, history, bestWeights);
        }
    }

    /**
     * Checks the names of a task's optimizers: each one a name of letters, digits, '_' and '-' (so that
     * it makes unambiguous tensor names and a comma-separated list), each optimizer there.
     *
     * @throws IllegalArgumentException naming a bad name
     * @throws NullPointerException     if the map or an optimizer is null
     */
    static void checkOptimizers(Map<String, Optimizer> optimizers) {
        Objects.requireNonNull(optimizers, "optimizers");
        for (var e : optimizers.entrySet()) {
            if (e.getKey() == null || !OPTIMIZER_NAME.matcher(e.getKey()).matches()) {
                throw new IllegalArgumentException("an optimizer's name in a checkpoint must be letters, digits, '_'"
                        + " and '-', got '" + e.getKey() + "'");
            }
            Objects.requireNonNull(e.getValue(), () -> "optimizer '" + e.getKey() + "'");
        }
    }

    private static void write(Path file, Module model, Optimizer optimizer, Map<String, Optimizer> optimizers,
                              List<LearningRateSchedule> schedules, DataLoader loader, Position position,
                              TrainerState trainer, List<Trainer.EpochResult> history, Map<String, float[]> bestWeights)
            throws IOException {
        SafeTensors.Writer w = new SafeTensors.Writer();
        Map<String, Object> content = new TreeMap<>(); // name → Tensor or long[] (for the checksum)
        if (bestWeights != null) {
            for (var e : bestWeights.entrySet()) {
                Tensor t = Tensor.fromArray(e.getValue());
                w.add("best." + e.getKey(), t);
                content.put("best." + e.getKey(), t);
            }
        }
        long[] h = new long[history.size() * 8];
        for (int i = 0; i < history.size(); i++) {
            Trainer.EpochResult r = history.get(i);
            double[] v = {r.epoch(), r.trainLoss(), r.trainAccuracy(), r.validationLoss(), r.validationAccuracy(),
                r.learningRate(), r.seconds(), r.samplesPerSecond()};
            for (int k = 0; k < 8; k++) h[8 * i + k] = Double.doubleToRawLongBits(v[k]);
        }
        longs(w, content, "history", h);
        for (var e : model.stateDict().entrySet()) {
            w.add("model." + e.getKey(), e.getValue());
            content.put("model." + e.getKey(), e.getValue());
        }
        for (var e : counters(model).entrySet()) {
            longs(w, content, e.getKey(), e.getValue().numBatchesTracked());
        }
        String shared = sharedName(optimizer, optimizers);
        if (shared == null) {
            addOptimizer(w, content, "optimizer.", optimizer);
        } else {
            // The fit's optimizer is one of the task's, whose state is saved under its name: only the counters
            // every checkpoint has are repeated here, not the buffers.
            Optimizer.State os = optimizer.stateDict();
            longs(w, content, "optimizer.steps", os.steps());
            longs(w, content, "optimizer.parameter_steps", os.parameterSteps());
            longs(w, content, "optimizer.learning_rate", Double.doubleToRawLongBits(os.learningRate()));
        }
        for (var e : optimizers.entrySet()) {
            addOptimizer(w, content, "optimizers." + e.getKey() + ".", e.getValue());
        }
        if (!schedules.isEmpty()) {
            longs(w, content, "schedule.epoch", schedules.stream().mapToLong(LearningRateSchedule::epoch).toArray());
        }
        for (var e : generators(model).entrySet()) {
            longs(w, content, e.getKey(), e.getValue().state());
        }
        longs(w, content, "position", position.epoch(), position.batch());
        longs(w, content, "loader", loader.dataset().size(), loader.batchSize(), loader.numBatches());
        longs(w, content, "trainer", Double.doubleToRawLongBits(trainer.lossSum()), trainer.correct(),
                trainer.seen(), Double.doubleToRawLongBits(trainer.bestLoss()), trainer.bestEpoch(),
                trainer.sinceBest());
        Map<String, String> metadata = new TreeMap<>();
        metadata.put("format", FORMAT);
        metadata.put("optimizer", optimizer.getClass().getName());
        if (shared != null) {
            metadata.put("optimizer.named", shared);
        }
        metadata.put("schedule", classNames(schedules));
        if (!schedules.isEmpty()) {
            metadata.put("schedule.rates", scheduleRates(schedules));
        }
        if (!optimizers.isEmpty()) {
            metadata.put("optimizers", String.join(",", optimizers.keySet()));
            optimizers.forEach((name, o) -> metadata.put("optimizers." + name, o.getClass().getName()));
        }
        metadata.forEach(w::metadata);
        w.metadata("checksum", checksum(content, metadata));
        w.write(file);
    }

    /** An optimizer's state, step counts, learning rate and which parameters had gradients, under {@code prefix}. */
    private static void addOptimizer(SafeTensors.Writer w, Map<String, Object> content, String prefix, Optimizer o) {
        Optimizer.State os = o.stateDict();
        for (var e : os.buffers().entrySet()) {
            w.add(prefix + "state." + e.getKey(), e.getValue());
            content.put(prefix + "state." + e.getKey(), e.getValue());
        }
        longs(w, content, prefix + "steps", os.steps());
        longs(w, content, prefix + "parameter_steps", os.parameterSteps());
        longs(w, content, prefix + "learning_rate", Double.doubleToRawLongBits(os.learningRate()));
        long[] grads = new long[o.parameters().size()];
        for (int i = 0; i < grads.length; i++) {
            Tensor g = o.parameters().get(i).grad();
            grads[i] = g != null && g.isAlive() ? 1 : 0;
        }
        longs(w, content, prefix + "has_grad", grads);
    }

    /** The name under which {@code optimizers} holds the fit's {@code optimizer} itself, or null. */
    private static String sharedName(Optimizer optimizer, Map<String, Optimizer> optimizers) {
        for (var e : optimizers.entrySet()) {
            if (e.getValue() == optimizer) return e.getKey();
        }
        return null;
    }

    /** The schedules' classes, comma-separated: the {@code schedule} metadata ("" for none). */
    /** Epochs of each schedule's rates a checkpoint records, to tell one schedule's settings from another's. */
    private static final int SCHEDULE_EPOCHS = 64;

    /**
     * What each schedule gives for epochs 0 to {@value #SCHEDULE_EPOCHS} − 1, exactly (a schedule is a
     * function of the epoch and its base rate alone): another base rate, horizon or decay shows there.
     */
    private static String scheduleRates(List<LearningRateSchedule> schedules) {
        StringBuilder sb = new StringBuilder();
        for (LearningRateSchedule schedule : schedules) {
            for (int e = 0; e < SCHEDULE_EPOCHS; e++) {
                sb.append(sb.isEmpty() ? "" : ",").append(Double.toHexString(schedule.learningRateAt(e)));
            }
        }
        return sb.toString();
    }

    private static String classNames(List<LearningRateSchedule> schedules) {
        return String.join(",", schedules.stream().map(x -> x.getClass().getName()).toList());
    }

    private static void longs(SafeTensors.Writer w, Map<String, Object> content, String name, long... values) {
        w.addLongs(name, new long[] {values.length}, values);
        content.put(name, values.clone());
    }

    /** The SHA-256 of the tensors (by name: name, dtype, shape, little-endian bytes) and the metadata, in hex. */
    private static String checksum(Map<String, Object> content, Map<String, String> metadata) {
        MessageDigest d = sha256();
        for (var e : content.entrySet()) {
            ByteBuffer b;
            long[] shape;
            String dtype;
            if (e.getValue() instanceof Tensor t) {
                float[] v = t.toArray();
                b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float f : v) b.putInt(Float.floatToRawIntBits(f));
                shape = t.shape();
                dtype = StorageType.F32.toString();
            } else {
                long[] v = (long[]) e.getValue();
                b = ByteBuffer.allocate(v.length * 8).order(ByteOrder.LITTLE_ENDIAN);
                for (long x : v) b.putLong(x);
                shape = new long[] {v.length};
                dtype = StorageType.I64.toString();
            }
            entryHeader(d, e.getKey(), dtype, shape, b.capacity());
            d.update(b.flip());
        }
        metadataDigest(d, metadata);
        return HexFormat.of().formatHex(d.digest());
    }

    private static void entryHeader(MessageDigest d, String name, String dtype, long[] shape, long bytes) {
        d.update((name + '\0' + dtype + '\0').getBytes(StandardCharsets.UTF_8));
        ByteBuffer h = ByteBuffer.allocate(8 * (shape.length + 2)).order(ByteOrder.LITTLE_ENDIAN);
        h.putLong(shape.length);
        for (long s : shape) h.putLong(s);
        h.putLong(bytes);
        d.update(h.flip());
    }

    private static void metadataDigest(MessageDigest d, Map<String, String> metadata) {
        for (var m : new TreeMap<>(metadata).entrySet()) {
            if (!m.getKey().equals("checksum")) {
                d.update(("meta\0" + m.getKey() + '\0' + m.getValue() + '\0').getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }

    /**
     * Opens {@code file} and verifies it: a safetensors file of this format whose checksum matches and
     * which holds the entries every checkpoint has.
     *
     * @param file the checkpoint file
     * @return the open checkpoint; the caller closes it
     * @throws NoSuchFileException if the file does not exist
     * @throws ModelFileException naming the file and what is wrong (truncated, altered, not a checkpoint)
     * @throws IOException        when it cannot be read
     */
    public static Checkpoint open(Path file) throws IOException {
        SafeTensors st = SafeTensors.open(file);
        try {
            Map<String, String> meta = st.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new ModelFileException(file, "not a gatun checkpoint (metadata format is "
                        + (meta.get("format") == null ? "missing" : "'" + meta.get("format") + "'")
                        + ", expected '" + FORMAT + "')");
            }
            String stored = meta.get("checksum");
            if (stored == null) {
                throw new ModelFileException(file, "checkpoint has no checksum in its metadata");
            }
            MessageDigest d = sha256();
            for (String name : new TreeMap<>(st.entries()).keySet()) {
                SafeTensors.Entry e = st.entry(name);
                MemorySegment bytes = st.bytes(name);
                entryHeader(d, name, e.dtype().toString(), e.shape(), bytes.byteSize());
                d.update(bytes.asByteBuffer());
            }
            metadataDigest(d, meta);
            String actual = HexFormat.of().formatHex(d.digest());
            if (!actual.equals(stored)) {
                throw new ModelFileException(file, "checksum mismatch: the content hashes to SHA-256 " + actual
                        + " but the file records " + stored + " (the file was altered or damaged)");
            }
            for (String required : List.of("position", "loader", "trainer", "optimizer.steps",
                    "optimizer.parameter_steps", "optimizer.learning_rate", "rng.init")) {
                st.entry(required); // throws naming the missing tensor
            }
            return new Checkpoint(st);
        } catch (IOException | RuntimeException e) {
            st.close();
            throw e;
        }
    }

    /**
     * The file this checkpoint was read from.
     *
     * @return the path given to {@link #open(Path)}
     */
    public Path file() {
        return file.file();
    }

    /**
     * Where the run stood when the checkpoint was written.
     *
     * @return the next batch to train
     * @throws ModelFileException if the stored position is malformed or out of range
     */
    public Position position() throws ModelFileException {
        long[] p = exactly("position", 2);
        return new Position(toInt("position epoch", p[0]), toInt("position batch", p[1]));
    }

    /**
     * The fit loop's bookkeeping at the checkpoint.
     *
     * @return the saved state
     * @throws ModelFileException if the stored state is malformed or out of range
     */
    public TrainerState trainerState() throws ModelFileException {
        long[] t = exactly("trainer", 6);
        return new TrainerState(Double.longBitsToDouble(t[0]), t[1], t[2], Double.longBitsToDouble(t[3]),
                toInt("trainer best epoch", t[4]), toInt("trainer epochs since best", t[5]));
    }

    /**
     * The results of the epochs that had ended when the checkpoint was written.
     *
     * @return the results in epoch order; empty if none had ended or the checkpoint predates histories
     * @throws ModelFileException if the stored history is malformed
     */
    public List<Trainer.EpochResult> history() throws ModelFileException {
        long[] h = file.entries().containsKey("history") ? file.toLongs("history") : new long[0];
        if (h.length % 8 != 0) {
            throw new ModelFileException(file(), "tensor 'history' has " + h.length + " values, not a multiple of 8");
        }
        List<Trainer.EpochResult> out = new ArrayList<>();
        for (int i = 0; i < h.length; i += 8) {
            double[] v = new double[8];
            for (int k = 0; k < 8; k++) v[k] = Double.longBitsToDouble(h[i + k]);
            out.add(new Trainer.EpochResult((int) v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]));
        }
        return out;
    }

    /**
     * The best weights kept for early stopping, as the fit loop keeps them.
     *
     * @return state-dict name to a new array of the weights (row-major), or null when there are none
     * @throws ModelFileException if a stored weight cannot be read as float32
     */
    public Map<String, float[]> bestWeights() throws ModelFileException {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (Scope scope = Scope.open()) {
            for (String name : file.entries().keySet()) {
                if (name.startsWith("best.")) {
                    out.put(name.substring("best.".length()), file.toTensor(name).toArray());
                }
            }
        }
        return out.isEmpty() ? null : out;
    }

    /**
     * Puts the saved state into a run set up as the saved one was (same model, optimizer kind and options,
     * schedule and loader): weights and buffers, optimizer state, schedule, every generator's state.
     *
     * Everything is checked before the model and optimizer change. Call it on the training thread, before
     * training resumes.
     *
     * @param model     the run's model, built as the saved one was
     * @param optimizer the run's optimizer, of the saved one's class and options over the model's parameters
     * @param schedule  null when the run has none (then the checkpoint must have none either)
     * @param loader    the run's training loader, with the saved sample count, batch size and batches per
     *                  epoch
     * @throws ModelFileException naming the file when the checkpoint does not fit the run
     */
    public void restore(Module model, Optimizer optimizer, LearningRateSchedule schedule, DataLoader loader)
            throws ModelFileException {
        restore(model, optimizer, Map.of(), schedule == null ? List.of() : List.of(schedule), loader);
    }

    /**
     * Puts the saved state into a run set up as the saved one was (same model, optimizers of the same
     * kinds and options, schedules and loader): weights and buffers, the fit's optimizer's state and that
     * of each optimizer the task names, the schedules, every generator's state.
     *
     * <p>Every part is checked against the run before anything changes: a checkpoint that does not fit (a
     * loader of other figures, an optimizer of another class or over parameters of other shapes, a named
     * optimizer missing on either side, other schedules) leaves the run as it was, and the exception names
     * what does not fit. Call it on the training thread, before training resumes.
     *
     * @param model      the run's model, built as the saved one was
     * @param optimizer  the fit's optimizer, of the saved one's class and options over the same parameters
     * @param optimizers the optimizers the run's task steps itself, by name ({@link Trainer.Task#optimizers});
     *                   the checkpoint must hold the same names, each of the same class and options over
     *                   parameters of the same shapes
     * @param schedules  the run's learning-rate schedules, of the saved ones' classes in the same order
     *                   (empty when the run has none)
     * @param loader     the run's training loader, with the saved sample count, batch size and batches per
     *                   epoch
     * @throws ModelFileException   naming the file when the checkpoint does not fit the run
     * @throws IllegalArgumentException if an optimizer's name is not letters, digits, '_' and '-'
     * @throws NullPointerException if {@code optimizers} or {@code schedules} is or holds null
     */
    public void restore(Module model, Optimizer optimizer, Map<String, Optimizer> optimizers,
                        List<LearningRateSchedule> schedules, DataLoader loader) throws ModelFileException {
        checkOptimizers(optimizers);
        schedules = List.copyOf(schedules);
        Path path = file();
        long[] l = exactly("loader", 3);
        if (l[0] != loader.dataset().size() || l[1] != loader.batchSize() || l[2] != loader.numBatches()) {
            throw new ModelFileException(path, "checkpoint was written for a loader of " + l[0] + " samples in "
                    + "batches of " + l[1] + " (" + l[2] + " per epoch), this run has " + loader.dataset().size()
                    + " samples in batches of " + loader.batchSize() + " (" + loader.numBatches() + " per epoch)");
        }
        checkOptimizerNames(optimizers);
        String shared = file.metadata().get("optimizer.named");
        String runShared = sharedName(optimizer, optimizers);
        if (!Objects.equals(shared, runShared)) {
            throw new ModelFileException(path, "checkpoint was written by a run whose optimizer was "
                    + (shared == null ? "none of its task's" : "its task's '" + shared + "'") + ", this run's is "
                    + (runShared == null ? "none of its task's" : "its task's '" + runShared + "'"));
        }
        String savedOptimizer = file.metadata().get("optimizer");
        if (!optimizer.getClass().getName().equals(savedOptimizer)) {
            throw new ModelFileException(path, "checkpoint holds the state of optimizer " + savedOptimizer
                    + ", this run uses " + optimizer.getClass().getName());
        }
        String savedSchedule = file.metadata().getOrDefault("schedule", "");
        String runSchedule = classNames(schedules);
        if (!savedSchedule.equals(runSchedule)) {
            throw new ModelFileException(path, "checkpoint was written with schedule '" + savedSchedule
                    + "', this run has '" + runSchedule + "'");
        }
        String savedRates = file.metadata().get("schedule.rates"); // absent in checkpoints of older versions
        if (savedRates != null && !schedules.isEmpty()) {
            String[] saved = savedRates.split(",", -1);
            String[] run = scheduleRates(schedules).split(",", -1);
            for (int i = 0; i < Math.min(saved.length, run.length); i++) {
                if (!saved[i].equals(run[i])) {
                    throw new ModelFileException(path, "checkpoint was written by a run whose learning-rate schedule"
                            + " gives " + decimal(saved[i]) + " at epoch " + (i % SCHEDULE_EPOCHS + 1) + ", this run's"
                            + " gives " + decimal(run[i]) + ": another learning rate, number of epochs or schedule"
                            + " setting than the run it continues");
                }
            }
        }
        Map<String, Generator> generators = generators(model);
        Map<String, BatchNorm> counters = counters(model);
        List<String> unexpected = new ArrayList<>();
        for (String name : file.entries().keySet()) {
            if ((name.startsWith("rng.") && !generators.containsKey(name))
                    || (name.startsWith("counter.") && !counters.containsKey(name))) {
                unexpected.add(name);
            }
        }
        if (!unexpected.isEmpty()) {
            throw new ModelFileException(path, "checkpoint has state the model lacks: " + unexpected);
        }
        try (Scope scope = Scope.open()) {
            Map<String, Tensor> weights = new LinkedHashMap<>();
            for (String name : file.entries().keySet()) {
                if (name.startsWith("model.")) {
                    weights.put(name.substring("model.".length()), file.toTensor(name));
                }
            }
            // The fit's optimizer under "" and each named one under its name, with its saved state.
            Map<String, Optimizer> all = new LinkedHashMap<>();
            if (shared == null) {
                all.put("", optimizer); // else it is loaded under its name
            }
            all.putAll(optimizers);
            Map<String, Optimizer.State> states = new LinkedHashMap<>();
            Map<String, long[]> hadGrads = new LinkedHashMap<>();
            for (var e : all.entrySet()) {
                String prefix = prefix(e.getKey());
                states.put(e.getKey(), optimizerState(prefix));
                // A checkpoint from before gradient flags were saved has none: no buffers are made.
                hadGrads.put(e.getKey(), file.entries().containsKey(prefix + "has_grad")
                        ? file.toLongs(prefix + "has_grad") : new long[0]);
            }
            Map<String, Long> genStates = new LinkedHashMap<>();
            for (String name : generators.keySet()) {
                genStates.put(name, exactly(name, 1)[0]);
            }
            Map<String, Long> counterValues = new LinkedHashMap<>();
            for (String name : counters.keySet()) {
                counterValues.put(name, exactly(name, 1)[0]);
            }
            long[] scheduleEpochs = schedules.isEmpty() ? new long[0] : exactly("schedule.epoch", schedules.size());
            try {
                // Every part is checked before any is loaded: a checkpoint that does not fit leaves the run
                // as it was.
                model.checkStateDict(weights);
                for (var e : all.entrySet()) {
                    try {
                        e.getValue().checkStateDict(states.get(e.getKey()));
                        int flags = hadGrads.get(e.getKey()).length;
                        if (flags != 0 && flags != e.getValue().parameters().size()) {
                            throw new IllegalArgumentException("tensor '" + prefix(e.getKey()) + "has_grad' has "
                                    + flags + " values, the optimizer has " + e.getValue().parameters().size()
                                    + " parameters");
                        }
                    } catch (IllegalArgumentException x) {
                        throw e.getKey().isEmpty() ? x
                                : new IllegalArgumentException("optimizer '" + e.getKey() + "': " + x.getMessage(), x);
                    }
                }
                for (long epoch : scheduleEpochs) {
                    if (epoch < 0) {
                        throw new IllegalArgumentException("schedule epoch must be >= 0, got " + epoch);
                    }
                }
                model.loadStateDict(weights);
                for (int i = 0; i < schedules.size(); i++) {
                    schedules.get(i).restoreEpoch(scheduleEpochs[i]);
                }
                // After the schedules: the saved learning rates are the ones in use.
                all.forEach((name, o) -> o.loadStateDict(states.get(name)));
                counters.forEach((name, bn) -> bn.setNumBatchesTracked(counterValues.get(name)));
            } catch (IllegalArgumentException e) {
                throw new ModelFileException(path, "checkpoint does not fit this run: " + e.getMessage(), e);
            }
            generators.forEach((name, g) -> g.setState(genStates.get(name)));
            // A parameter that had a gradient buffer gets one again: backward writes an existing buffer in
            // place by another path than it makes a new one, and the two may round differently.
            all.forEach((name, o) -> {
                long[] hadGrad = hadGrads.get(name);
                for (int i = 0; i < hadGrad.length; i++) {
                    Tensor p = o.parameters().get(i);
                    if (hadGrad[i] != 0 && p.grad() == null) {
                        p.accumulateGrad(Tensor.zeros(p.shape()));
                        p.zeroGrad();
                    }
                }
            });
        }
    }

    /** A rate recorded in hexadecimal, as a decimal for a message. */
    private static String decimal(String hex) {
        try {
            return Double.toString(Double.parseDouble(hex));
        } catch (NumberFormatException e) {
            return "'" + hex + "'";
        }
    }

    /** The tensor-name prefix of an optimizer: the fit's ("") or a named one's. */
    private static String prefix(String name) {
        return name.isEmpty() ? "optimizer." : "optimizers." + name + ".";
    }

    /** Refuses a checkpoint whose named optimizers are not the run's, by name and class. */
    private void checkOptimizerNames(Map<String, Optimizer> optimizers) throws ModelFileException {
        String list = file.metadata().getOrDefault("optimizers", "");
        List<String> saved = list.isEmpty() ? List.of() : List.of(list.split(",", -1));
        List<String> missing = new ArrayList<>();
        for (String name : optimizers.keySet()) {
            if (!saved.contains(name)) missing.add(name);
        }
        List<String> extra = new ArrayList<>();
        for (String name : saved) {
            if (!optimizers.containsKey(name)) extra.add(name);
        }
        if (!missing.isEmpty() || !extra.isEmpty()) {
            throw new ModelFileException(file(), "checkpoint holds the optimizers " + saved + ", this run's task"
                    + " steps " + List.copyOf(optimizers.keySet())
                    + (missing.isEmpty() ? "" : ": no state for " + quoted(missing))
                    + (extra.isEmpty() ? "" : (missing.isEmpty() ? ": " : "; ") + quoted(extra)
                            + (extra.size() == 1 ? " is" : " are") + " not this run's"));
        }
        for (var e : optimizers.entrySet()) {
            String savedClass = file.metadata().get("optimizers." + e.getKey());
            if (!e.getValue().getClass().getName().equals(savedClass)) {
                throw new ModelFileException(file(), "checkpoint holds the state of optimizer '" + e.getKey()
                        + "' as " + savedClass + ", this run's is " + e.getValue().getClass().getName());
            }
        }
    }

    private static String quoted(List<String> names) {
        return String.join(", ", names.stream().map(n -> "'" + n + "'").toList());
    }

    /** The saved state of the optimizer whose tensors are under {@code prefix}, in the current scope. */
    private Optimizer.State optimizerState(String prefix) throws ModelFileException {
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        String stateKey = prefix + "state.";
        for (String name : file.entries().keySet()) {
            if (name.startsWith(stateKey)) {
                buffers.put(name.substring(stateKey.length()), file.toTensor(name));
            }
        }
        long[] steps = exactly(prefix + "steps", 1);
        long[] parameterSteps = file.toLongs(prefix + "parameter_steps");
        double lr = Double.longBitsToDouble(exactly(prefix + "learning_rate", 1)[0]);
        return new Optimizer.State(steps[0], parameterSteps, lr, buffers);
    }

    private long[] exactly(String name, int n) throws ModelFileException {
        long[] v = file.toLongs(name);
        if (v.length != n) {
            throw new ModelFileException(file(), "tensor '" + name + "' has " + v.length + " values, expected " + n);
        }
        return v;
    }

    private int toInt(String what, long v) throws ModelFileException {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE || (v < 0 && !what.contains("best epoch"))) {
            throw new ModelFileException(file(), what + " " + v + " is out of range");
        }
        return (int) v;
    }

    /**
     * Every {@link Generator} training draws from, by checkpoint name: Init's and each random module's
     * (dropout layers, attention, positional encodings and recurrent layers with dropout).
     *
     * @throws IllegalArgumentException when a dropout layer draws from a generator of another kind, whose
     *                                  state cannot be saved: a resumed run would not repeat its masks
     */
    static Map<String, Generator> generators(Module model) {
        Map<String, Generator> out = new LinkedHashMap<>();
        out.put("rng.init", Init.generator());
        walk(model, "", (path, m) -> {
            if (m instanceof RandomModule r && !(m instanceof Dropout) && r.generator() != null) {
                out.put("rng.model" + path, r.generator());
            }
            if (m instanceof Dropout d) {
                if (d.generator() == null) {
                    throw new IllegalArgumentException("cannot checkpoint dropout layer 'model" + path + "': it draws"
                            + " from a random generator whose state cannot be saved; make it with a "
                            + Generator.class.getName());
                }
                out.put("rng.model" + path, d.generator());
            }
        });
        return out;
    }

    private static Map<String, BatchNorm> counters(Module model) {
        Map<String, BatchNorm> out = new LinkedHashMap<>();
        walk(model, "", (path, m) -> {
            if (m instanceof BatchNorm bn) {
                out.put("counter.model" + path + ".num_batches_tracked", bn);
            }
        });
        return out;
    }

    private interface Visitor {
        void visit(String path, Module m);
    }

    private static void walk(Module m, String path, Visitor v) {
        v.visit(path, m);
        for (var c : m.children().entrySet()) {
            walk(c.getValue(), path + "." + c.getKey(), v);
        }
    }

    /**
     * The newest checkpoint in {@code dir} that opens and verifies; each newer one that does not is
     * reported on {@code warnings} (may be null) in one line naming the file and what is wrong.
     *
     * @param dir      the checkpoint directory
     * @param warnings where to report skipped checkpoints, or null for nowhere
     * @return the newest good checkpoint, open; the caller closes it
     * @throws ModelFileException when the directory holds no good checkpoint (naming the last problem)
     * @throws IOException        if the directory cannot be listed
     */
    public static Checkpoint latest(Path dir, PrintStream warnings) throws IOException {
        List<Path> files = list(dir);
        if (files.isEmpty()) {
            throw new ModelFileException(dir, "no checkpoint (ckpt-<step>.safetensors) in this directory");
        }
        ModelFileException last = null;
        for (int i = files.size() - 1; i >= 0; i--) {
            try {
                return open(files.get(i));
            } catch (ModelFileException e) {
                last = e;
                if (warnings != null) {
                    warnings.println("warning: skipping bad checkpoint " + e.getMessage());
                }
            }
        }
        throw new ModelFileException(dir, "none of the " + files.size() + " checkpoints in this directory is good;"
                + " the oldest: " + last.getMessage(), last);
    }

    /**
     * Opens a checkpoint named on a command line: a file, or the newest good one in a directory.
     *
     * @param fileOrDir a checkpoint file ({@link #open}) or directory ({@link #latest})
     * @param warnings  where to report skipped checkpoints of a directory, or null for nowhere
     * @return the open checkpoint; the caller closes it
     * @throws NoSuchFileException if {@code fileOrDir} does not exist
     * @throws ModelFileException  if the file, or every checkpoint in the directory, is bad
     * @throws IOException         if reading fails otherwise
     */
    public static Checkpoint resolve(Path fileOrDir, PrintStream warnings) throws IOException {
        if (Files.isDirectory(fileOrDir)) {
            return latest(fileOrDir, warnings);
        }
        if (!Files.exists(fileOrDir)) {
            throw new NoSuchFileException(fileOrDir.toString(), null, "no such checkpoint file or directory");
        }
        return open(fileOrDir);
    }

    /** The checkpoint files of {@code dir}, oldest (lowest step) first. */
    static List<Path> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new ModelFileException(dir, Files.exists(dir) ? "is not a directory of checkpoints"
                    : "no such directory");
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> NAME.matcher(p.getFileName().toString()).matches() && Files.isRegularFile(p))
                    .forEach(out::add);
        }
        out.sort(Comparator.comparingLong(Checkpoint::step).thenComparing(Path::toString));
        return out;
    }

    private static long step(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        if (!m.matches()) return -1;
        try {
            return Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }

    /** Removes all but the newest {@code keep} checkpoints of {@code dir}. */
    static void prune(Path dir, int keep, Path written) throws IOException {
        List<Path> files = list(dir);
        for (int i = 0; i < files.size() - keep; i++) {
            if (!files.get(i).equals(written)) { // never the one this run has just written
                Files.deleteIfExists(files.get(i));
            }
        }
    }

    /**
     * Refuses a checkpoint directory that holds checkpoints of another run: those of a fresh run (or of a
     * run resumed from a checkpoint elsewhere) would mix with them, and keeping the newest could delete
     * either run's. A run resumed from a checkpoint of the directory continues there.
     *
     * @throws IllegalArgumentException naming the directory and its newest checkpoint
     */
    static void requireOwnDirectory(Path dir, Checkpoint resume) throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        List<Path> there = list(dir);
        if (there.isEmpty()) {
            return;
        }
        Path from = resume == null ? null : resume.file().toAbsolutePath().normalize().getParent();
        if (from != null && from.equals(dir.toAbsolutePath().normalize())) {
            return;
        }
        throw new IllegalArgumentException("checkpoint directory " + dir + " already holds " + there.size()
                + " checkpoint(s) of another run (newest " + there.get(there.size() - 1).getFileName() + "): resume"
                + " that run from it, or give an empty directory");
    }

    /** Unmaps the file. Values read from it stay valid. Idempotent. */
    @Override
    public void close() {
        file.close();
    }
}
