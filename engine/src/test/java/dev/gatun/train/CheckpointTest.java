package dev.gatun.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.Threads;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.io.ModelFileException;
import dev.gatun.nn.Init;
import dev.gatun.nn.ReLU;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.optim.ExponentialLR;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.SGD;
import dev.gatun.optim.StepLR;
import dev.gatun.nn.Dropout;
import dev.gatun.tensor.Generator;
import dev.gatun.nn.LSTM;
import dev.gatun.tensor.Tensor;
import dev.gatun.tensor.Scope;
import dev.gatun.nn.Linear;
import dev.gatun.nn.MultiheadAttention;
import dev.gatun.nn.PositionalEncoding;
import dev.gatun.nn.RecurrentLayer;
import dev.gatun.nn.Sequential;
import dev.gatun.testing.ChildJvm;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints: a killed run resumes to bit-identical weights, also when its task steps several optimizers
 * of its own; damaged files and checkpoints that do not fit the run are refused by name.
 */
class CheckpointTest {

    private static final int BATCHES = (CheckpointRun.SAMPLES + CheckpointRun.BATCH - 1) / CheckpointRun.BATCH;

    private static void assertBitIdentical(Map<String, float[]> expected, Map<String, float[]> actual, String what) {
        assertEquals(expected.keySet(), actual.keySet(), what);
        for (var e : expected.entrySet()) {
            float[] a = e.getValue();
            float[] b = actual.get(e.getKey());
            assertEquals(a.length, b.length, what + " " + e.getKey());
            for (int i = 0; i < a.length; i++) {
                if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                    throw new AssertionError(what + " '" + e.getKey() + "' element " + i + ": " + a[i] + " vs " + b[i]);
                }
            }
        }
    }

    private static void assertSameHistory(Trainer.History expected, Trainer.History actual) {
        assertEquals(expected.epochs().size(), actual.epochs().size());
        for (int i = 0; i < expected.epochs().size(); i++) {
            assertEquals(expected.epochs().get(i).trainLoss(), actual.epochs().get(i).trainLoss(), "epoch " + i);
            assertEquals(expected.epochs().get(i).trainAccuracy(), actual.epochs().get(i).trainAccuracy());
            assertEquals(expected.epochs().get(i).learningRate(), actual.epochs().get(i).learningRate());
        }
    }

    @Test
    void runKilledMidEpochAndResumedEndsWithTheWeightsOfAnUninterruptedRun(@TempDir Path tmp) throws Exception {
        CheckpointRun.Result reference = CheckpointRun.train(null, 0, null, 0, null);

        Path dir = tmp.resolve("ckpt");
        Path finalWeights = tmp.resolve("final.safetensors");
        List<String> cmd = new ArrayList<>();
        cmd.add(ChildJvm.java());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Dgatun.threads=" + Threads.get()); // the same arithmetic as this JVM's
        cmd.add("-Xmx256m");
        cmd.add("-cp");
        cmd.add(ChildJvm.classPath());
        cmd.add(CheckpointRun.class.getName());
        cmd.add(dir.toString());
        cmd.add("5"); // a checkpoint every 5 steps: 5, 10, 15, 20, 25, ... and at epoch ends 12, 24, ...
        cmd.add("60"); // ms per step, so that the kill lands while the run is in its second epoch
        cmd.add(finalWeights.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile()).start();
        long target = BATCHES + 3; // step 15: epoch 1, batch 3
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        try {
            while (true) {
                assertTrue(p.isAlive(), () -> "the training run ended before it was killed:\n" + log(tmp));
                if (Files.isDirectory(dir) && Checkpoint.list(dir).stream().anyMatch(f -> step(f) >= target)) break;
                assertTrue(System.nanoTime() < deadline, "no checkpoint of step " + target + " in time");
                Thread.sleep(2);
            }
            p.destroyForcibly(); // SIGKILL: no shutdown hooks, no flushing
        } finally {
            p.destroyForcibly();
            assertTrue(p.waitFor(1, TimeUnit.MINUTES));
        }
        assertFalse(Files.exists(finalWeights), "the run was killed before it finished");
        try (Checkpoint newest = Checkpoint.latest(dir, null)) {
            Checkpoint.Position at = newest.position();
            assertTrue(at.batch() > 0 && at.batch() < BATCHES, "killed mid-epoch, resuming at " + at);
            assertTrue(at.epoch() < CheckpointRun.EPOCHS);
        }

        ByteArrayOutputStream warnings = new ByteArrayOutputStream();
        CheckpointRun.Result resumed = CheckpointRun.train(dir, 5, dir, 0,
                new PrintStream(warnings, true, StandardCharsets.UTF_8));
        assertEquals("", warnings.toString(StandardCharsets.UTF_8));
        assertBitIdentical(reference.weights(), resumed.weights(), "weights");
        assertBitIdentical(reference.optimizer(), resumed.optimizer(), "Adam state");
        assertSameHistory(reference.history(), resumed.history());
    }

    @Test
    void truncatedOrAlteredCheckpointsAreRefusedAndTheDirectoryFallsBackToTheOneBefore(@TempDir Path tmp)
            throws Exception {
        CheckpointRun.Result reference = CheckpointRun.train(null, 0, null, 0, null);
        Path dir = tmp.resolve("ckpt");
        CheckpointRun.train(dir, 7, null, 0, null);
        List<Path> files = Checkpoint.list(dir);
        assertEquals(3, files.size(), "the newest 3 are kept: " + files);
        Path newest = files.get(2);
        Path before = files.get(1);
        assertEquals((long) CheckpointRun.EPOCHS * BATCHES, step(newest));
        byte[] good = Files.readAllBytes(newest);

        // Truncated: the last bytes of the data are missing.
        Files.write(newest, java.util.Arrays.copyOf(good, good.length - 100));
        ModelFileException e = assertThrows(ModelFileException.class, () -> Checkpoint.open(newest).close());
        assertTrue(e.getMessage().startsWith(newest.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("holds"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
        assertResumesFromTheOneBefore(dir, newest, before, reference);

        // One bit flipped in the data: the checksum catches it.
        byte[] flipped = good.clone();
        flipped[flipped.length - 1234] ^= 0x10;
        Files.write(newest, flipped);
        e = assertThrows(ModelFileException.class, () -> Checkpoint.open(newest).close());
        assertTrue(e.getMessage().startsWith(newest.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        assertResumesFromTheOneBefore(dir, newest, before, reference);

        // Resuming from the bad file itself is refused, not loaded.
        e = assertThrows(ModelFileException.class, () -> CheckpointRun.train(null, 0, newest, 0, null));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());

        // The good file opens, and a checkpoint whose loader differs is refused by name.
        Files.write(newest, good);
        try (Checkpoint c = Checkpoint.open(newest)) {
            assertEquals(new Checkpoint.Position(CheckpointRun.EPOCHS, 0), c.position());
            assertEquals(CheckpointRun.EPOCHS, c.history().size());
        }
    }

    private static void assertResumesFromTheOneBefore(Path dir, Path bad, Path before, CheckpointRun.Result reference)
            throws IOException {
        ByteArrayOutputStream w = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(w, true, StandardCharsets.UTF_8);
        try (Checkpoint c = Checkpoint.latest(dir, ps)) {
            assertEquals(before, c.file());
        }
        String text = w.toString(StandardCharsets.UTF_8);
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.startsWith("warning: skipping bad checkpoint " + bad), text);
        // The run resumed from the one before ends where an uninterrupted run does.
        CheckpointRun.Result resumed = CheckpointRun.train(null, 0, dir, 0, null);
        assertBitIdentical(reference.weights(), resumed.weights(), "weights resumed from " + before);
    }

    @Test
    void generatorStateRoundTripsAndMatchesSplittableRandom() {
        Generator g = new Generator(99);
        for (int i = 0; i < 37; i++) g.nextGaussian();
        long state = g.state();
        double[] expected = draws(g);
        Generator h = new Generator(0);
        h.setState(state);
        assertArrayEquals(expected, draws(h));
        assertEquals(g.state(), h.state());
        assertNotEquals(state, g.state());
        // The same stream as SplittableRandom, so seeds give the weights and masks they gave before.
        Generator a = new Generator(2024);
        SplittableRandom b = new SplittableRandom(2024);
        for (int i = 0; i < 1000; i++) {
            assertEquals(b.nextLong(), a.nextLong());
            assertEquals(b.nextInt(), a.nextInt());
            assertEquals(b.nextDouble(), a.nextDouble());
            assertEquals(b.nextFloat(), a.nextFloat());
            assertEquals(b.nextGaussian(), a.nextGaussian());
            assertEquals(b.nextInt(1 + i), a.nextInt(1 + i));
        }
    }

    @Test
    void dropoutWhoseGeneratorCannotBeSavedIsRefusedBeforeTraining(@TempDir Path tmp) {
        try (dev.gatun.nn.Module model = new dev.gatun.nn.Sequential(new dev.gatun.nn.Linear(6, 4),
                new dev.gatun.nn.Dropout(0.5f, new SplittableRandom(1)), new dev.gatun.nn.Linear(4, 3));
             dev.gatun.optim.SGD sgd = new dev.gatun.optim.SGD(model.parameters(), 0.1)) {
            var loader = new dev.gatun.data.DataLoader(CheckpointRun.data(), 20,
                    dev.gatun.data.DataLoader.Order.shuffled(1), dev.gatun.data.DataLoader.LastBatch.KEEP);
            Trainer.Config config = Trainer.Config.of(1).withOut(null)
                    .withCheckpointing(new Trainer.Checkpointing(tmp, 5, 3, List.of(), null));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Trainer.fit(model, sgd, dev.gatun.ops.Loss::crossEntropy, loader, null, config));
            assertTrue(e.getMessage().contains("dropout layer 'model.1'"), e.getMessage());
            assertEquals(0, sgd.steps(), "refused before any training");
        }
    }

    /**
     * Two runs sharing a checkpoint directory would mix their checkpoints, and keeping the newest three
     * deleted the second run's as it wrote them: a fresh run refuses a directory with checkpoints in it;
     * resuming from that directory continues there.
     */
    @Test
    void aFreshRunRefusesADirectoryHoldingAnotherRunsCheckpoints(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("ck");
        CheckpointRun.train(dir, 0, null, 0, null);
        List<Path> before = Checkpoint.list(dir);
        assertEquals(CheckpointRun.KEEP, before.size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CheckpointRun.train(dir, 0, null, 0, null));
        assertTrue(e.getMessage().contains("already holds " + CheckpointRun.KEEP + " checkpoint(s) of another run"),
                e.getMessage());
        assertEquals(before, Checkpoint.list(dir), "nothing deleted");
        CheckpointRun.train(dir, 0, before.get(0), 0, null); // resumed from one of them: continues there
    }

    /** A run that fails leaves a log of an earlier run as it was, its own lines in {@code <file>.partial}. */
    @Test
    void aFailedRunLeavesTheEarlierLogAsItWas(@TempDir Path tmp) throws IOException {
        Path log = tmp.resolve("log.csv");
        Files.writeString(log, "an earlier run's log\n");
        try (dev.gatun.nn.Module model = new dev.gatun.nn.Linear(6, 3);
             dev.gatun.optim.SGD sgd = new dev.gatun.optim.SGD(model.parameters(), 0.1)) {
            var loader = new dev.gatun.data.DataLoader(CheckpointRun.data(), 20,
                    dev.gatun.data.DataLoader.Order.shuffled(1), dev.gatun.data.DataLoader.LastBatch.KEEP);
            Trainer.Config config = Trainer.Config.of(3).withOut(null).withCsvLog(log).withListener(r -> {
                throw new IllegalStateException("a listener fails after the first epoch");
            });
            assertThrows(IllegalStateException.class,
                    () -> Trainer.fit(model, sgd, dev.gatun.ops.Loss::crossEntropy, loader, null, config));
            assertEquals("an earlier run's log\n", Files.readString(log));
            List<String> partial = Files.readAllLines(tmp.resolve("log.csv.partial"));
            assertEquals(2, partial.size(), "the header and the epoch that finished: " + partial);
            Trainer.fit(model, sgd, dev.gatun.ops.Loss::crossEntropy, loader, null,
                    Trainer.Config.of(2).withOut(null).withCsvLog(log));
            assertEquals(3, Files.readAllLines(log).size(), "a finished run's log replaces it");
            assertFalse(Files.exists(tmp.resolve("log.csv.partial")));
        }
    }

    /** An optimizer over another model's parameters would train nothing: refused before the first step. */
    @Test
    void anOptimizerOfAnotherModelIsRefused() {
        try (dev.gatun.nn.Module model = new dev.gatun.nn.Linear(6, 3);
             dev.gatun.nn.Module other = new dev.gatun.nn.Linear(6, 3);
             dev.gatun.optim.SGD sgd = new dev.gatun.optim.SGD(other.parameters(), 0.1)) {
            var loader = new dev.gatun.data.DataLoader(CheckpointRun.data(), 20,
                    dev.gatun.data.DataLoader.Order.shuffled(1), dev.gatun.data.DataLoader.LastBatch.KEEP);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.fit(model, sgd,
                    dev.gatun.ops.Loss::crossEntropy, loader, null, Trainer.Config.of(1).withOut(null)));
            assertTrue(e.getMessage().contains("updates none of the model's parameters"), e.getMessage());
            assertEquals(0, sgd.steps());
        }
    }

    private static double[] draws(Generator g) {
        double[] out = new double[400];
        for (int i = 0; i < out.length; i += 4) {
            out[i] = g.nextLong();
            out[i + 1] = g.nextInt(1000);
            out[i + 2] = g.nextDouble();
            out[i + 3] = g.nextGaussian();
        }
        return out;
    }

    private static long step(Path f) {
        String n = f.getFileName().toString();
        return Long.parseLong(n.substring("ckpt-".length(), n.length() - ".safetensors".length()));
    }

    private static String log(Path tmp) {
        try {
            return Files.readString(tmp.resolve("child.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /**
     * Every layer that draws dropout masks has its generator saved: attention, positional encodings and
     * recurrent layers with dropout between layers, beside dropout layers and Init's generator.
     */
    @Test
    void everyRandomModuleHasItsGeneratorSaved() {
        try (Sequential model = new Sequential(new PositionalEncoding(8, 16, 0.1f, false),
                new MultiheadAttention(8, 2, 0.1f, true, false), new Dropout(0.2f),
                new LSTM(8, 8, new RecurrentLayer.Options(2, true, false, false, 0.3f)), new LSTM(8, 8))) {
            Map<String, Generator> generators = Checkpoint.generators(model);
            assertEquals(Set.of("rng.init", "rng.model.0", "rng.model.1", "rng.model.2", "rng.model.3"),
                    generators.keySet());
            assertEquals(5, Set.copyOf(generators.values()).size(), "generators are distinct objects");
        }
    }


    /** A checkpoint whose optimizer part does not fit the run is refused before the weights are loaded. */
    @Test
    void aCheckpointThatDoesNotFitLeavesTheRunUntouched(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("ck.safetensors");
        dev.gatun.data.DataLoader loader = new dev.gatun.data.DataLoader(
                dev.gatun.data.TensorDataset.of(Tensor.zeros(8, 3)), 4, dev.gatun.data.DataLoader.Order.sequential(),
                dev.gatun.data.DataLoader.LastBatch.KEEP);
        try (Scope _ = Scope.open();
             Sequential saved = new Sequential(new Linear(3, 2), new Linear(2, 1));
             dev.gatun.optim.Adam adam = new dev.gatun.optim.Adam(saved.parameters(), 0.01)) {
            saved.forward(Tensor.ones(4, 3)).sum().backward();
            adam.step();
            Checkpoint.save(file, saved, adam, null, loader, new Checkpoint.Position(0, 1),
                    Checkpoint.TrainerState.START);
        }
        try (Scope _ = Scope.open();
             Sequential run = new Sequential(new Linear(3, 2), new Linear(2, 1));
             // the same optimizer over only the first layer: its state cannot take the saved one
             dev.gatun.optim.Adam partial = new dev.gatun.optim.Adam(run.parameters().subList(0, 2), 0.01);
             Checkpoint c = Checkpoint.open(file)) {
            Map<String, float[]> before = new java.util.LinkedHashMap<>();
            run.stateDict().forEach((k, v) -> before.put(k, v.toArray()));
            ModelFileException e = assertThrows(ModelFileException.class, () -> c.restore(run, partial, null, loader));
            assertTrue(e.getMessage().contains("does not fit this run") && e.getMessage().contains("parameters"),
                    e.getMessage());
            run.stateDict().forEach((k, v) -> assertArrayEquals(before.get(k), v.toArray(), k + " was changed"));
        }
    }

    // ---------------------------------------------------------------- a task that steps two optimizers

    /**
     * A model of two layers, each stepped by its own optimizer under its own schedule, as a GAN's two
     * networks are: Adam over the first layer, SGD with momentum over the last, dropout between them.
     */
    private static final class TwoNetworks implements AutoCloseable {
        final Sequential model;
        final Adam first;
        final SGD second;
        final List<LearningRateSchedule> schedules;

        TwoNetworks(long seed) {
            Init.manualSeed(seed);
            model = new Sequential(new Linear(6, 16), new ReLU(), new Dropout(0.2f), new Linear(16, 3));
            first = new Adam(model.parameters().subList(0, 2), 0.01);
            second = new SGD(model.parameters().subList(2, 4), 0.05, 0.9, 0, 0, false);
            schedules = List.of(new StepLR(first, 1, 0.7), new ExponentialLR(second, 0.9));
        }

        Map<String, Optimizer> named() {
            Map<String, Optimizer> m = new LinkedHashMap<>();
            m.put("first", first);
            m.put("second", second);
            return m;
        }

        Map<String, float[]> weights() {
            Map<String, float[]> w = new LinkedHashMap<>();
            model.stateDict().forEach((k, v) -> w.put(k, v.toArray()));
            return w;
        }

        /** Both optimizers' buffers by name. */
        Map<String, float[]> buffers() {
            Map<String, float[]> o = new LinkedHashMap<>();
            first.stateDict().buffers().forEach((k, v) -> o.put("first." + k, v.toArray()));
            second.stateDict().buffers().forEach((k, v) -> o.put("second." + k, v.toArray()));
            return o;
        }

        /** Both optimizers' step counts and learning rates and the schedules' epochs. */
        List<Object> counters() {
            return List.of(first.steps(), java.util.Arrays.toString(first.stateDict().parameterSteps()),
                    first.learningRate(), second.steps(), second.learningRate(), schedules.get(0).epoch(),
                    schedules.get(1).epoch());
        }

        @Override
        public void close() {
            first.close();
            second.close();
            model.close();
        }
    }

    /**
     * Each batch: a step of each named optimizer in turn, each after its own forward and backward pass;
     * the update numbered {@code failAt} (from 1; 0 for none) fails instead, as a crash would stop the run.
     */
    private static final class Alternating extends Trainer.Task {
        private final Map<String, Optimizer> optimizers;
        private final int failAt;
        private int updates;

        Alternating(Map<String, Optimizer> optimizers, int failAt) {
            this.optimizers = optimizers;
            this.failAt = failAt;
        }

        @Override
        public boolean updatesItself() {
            return true;
        }

        @Override
        public Map<String, Optimizer> optimizers() {
            return optimizers;
        }

        @Override
        public Trainer.BatchLoss update(dev.gatun.nn.Module model, Batch batch) {
            if (++updates == failAt) {
                throw new IllegalStateException("stopped at update " + updates);
            }
            Tensor loss = null;
            for (Optimizer o : optimizers.values()) {
                o.zeroGrad();
                loss = Loss.crossEntropy(model.forward(batch.inputs()), batch.labels());
                loss.backward();
                o.step();
            }
            return new Trainer.BatchLoss(loss.detach(), batch.size(), 0);
        }

        @Override
        public Trainer.BatchLoss step(dev.gatun.nn.Module model, Batch batch) {
            Tensor logits = model.forward(batch.inputs());
            return new Trainer.BatchLoss(Loss.crossEntropy(logits, batch.labels()), batch.size(),
                    Trainer.countCorrect(logits, batch.labels()));
        }
    }

    /** Three epochs of {@code task} on the checkpoint data, checkpoints every 5 steps into {@code dir}. */
    private static Trainer.History fitTwo(TwoNetworks n, Alternating task, Path dir, Checkpoint from)
            throws IOException {
        DataLoader loader = new DataLoader(CheckpointRun.data(), CheckpointRun.BATCH,
                Order.shuffled(CheckpointRun.SEED), LastBatch.KEEP);
        Trainer.Config config = Trainer.Config.of(3).withOut(null)
                .withListener(r -> n.schedules.forEach(LearningRateSchedule::step));
        if (dir != null || from != null) {
            config = config.withCheckpointing(new Trainer.Checkpointing(dir, 5, 3, n.schedules, from));
        }
        // The fit's own optimizer is the task's "second", as the GAN's is its generator's.
        return Trainer.fit(n.model, task.optimizers().getOrDefault("second", n.second), task, loader, null, config);
    }

    /**
     * A task that steps two optimizers itself, stopped by a failure in the middle of its second epoch and
     * resumed through the fit from the newest checkpoint (into a model initialised from another seed),
     * ends with the weights, optimizer states, learning rates and epoch figures of a run never stopped.
     */
    @Test
    void aTaskWithTwoOptimizersStoppedMidEpochResumesToTheStateOfAnUninterruptedRun(@TempDir Path tmp)
            throws IOException {
        Map<String, float[]> weights;
        Map<String, float[]> buffers;
        List<Object> counters;
        Trainer.History history;
        try (TwoNetworks n = new TwoNetworks(5)) {
            history = fitTwo(n, new Alternating(n.named(), 0), null, null);
            weights = n.weights();
            buffers = n.buffers();
            counters = n.counters();
        }
        Path dir = tmp.resolve("ckpt");
        try (TwoNetworks n = new TwoNetworks(5)) {
            // Update 17 is batch 5 of epoch 2: the newest checkpoint is step 15's, batch 3 of epoch 2.
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> fitTwo(n, new Alternating(n.named(), BATCHES + 5), dir, null));
            assertTrue(e.getMessage().contains("stopped at update 17"), e.getMessage());
        }
        try (Checkpoint from = Checkpoint.latest(dir, null); TwoNetworks n = new TwoNetworks(99)) {
            assertEquals(new Checkpoint.Position(1, 3), from.position());
            Trainer.History resumed = fitTwo(n, new Alternating(n.named(), 0), dir, from);
            assertBitIdentical(weights, n.weights(), "weights");
            assertBitIdentical(buffers, n.buffers(), "optimizer buffers");
            assertEquals(counters, n.counters(), "steps, learning rates and schedule epochs");
            assertSameHistory(history, resumed);
        }
    }

    /**
     * A checkpoint of a task with optimizers "first" (Adam) and "second" (SGD) is refused, naming the
     * optimizer, by a run whose task lacks one, has one of another class or over parameters of other
     * shapes, or names none; each run is left as it was: weights, optimizer states and schedules.
     */
    @Test
    void aCheckpointWhoseNamedOptimizersDoNotFitIsRefusedByNameAndLeavesTheRunUntouched(@TempDir Path tmp)
            throws IOException {
        Path dir = tmp.resolve("ckpt");
        try (TwoNetworks n = new TwoNetworks(5)) {
            fitTwo(n, new Alternating(n.named(), 0), dir, null);
        }
        try (Checkpoint from = Checkpoint.latest(dir, null)) {
            // In the saved order, so that a run whose "first" fits and "second" does not shows that nothing is
            // loaded before everything is checked.
            assertRefused(from, n -> named("first", n.first), "checkpoint holds the optimizers [first, second],"
                    + " this run's task steps [first]: 'second' is not this run's");
            assertRefused(from, n -> named("first", n.first, "second", n.second, "third",
                    new SGD(n.model.parameters().subList(0, 2), 0.1)), "checkpoint holds the optimizers [first,"
                    + " second], this run's task steps [first, second, third]: no state for 'third'");
            assertRefused(from, n -> named("first", n.first, "second",
                    new SGD(n.model.parameters().subList(0, 2), 0.05, 0.9, 0, 0, false)),
                    "does not fit this run: optimizer 'second': optimizer state: buffer '0.momentum_buffer' has"
                    + " shape [3, 16], its parameter [16, 6]");
            assertRefused(from, n -> named("first", n.first, "second",
                    new Adam(n.model.parameters().subList(2, 4), 0.05)), "optimizer 'second' as "
                    + SGD.class.getName() + ", this run's is " + Adam.class.getName());
            // The single-optimizer restore of a run whose task names none does not drop the others silently.
            try (TwoNetworks n = new TwoNetworks(99)) {
                Map<String, float[]> before = n.weights();
                DataLoader loader = new DataLoader(CheckpointRun.data(), CheckpointRun.BATCH,
                        Order.shuffled(CheckpointRun.SEED), LastBatch.KEEP);
                ModelFileException e = assertThrows(ModelFileException.class,
                        () -> from.restore(n.model, n.second, null, loader));
                assertTrue(e.getMessage().contains("'first', 'second' are not this run's"), e.getMessage());
                assertBitIdentical(before, n.weights(), "weights");
                // The checkpoint's fit optimizer was its task's "second", whose state is saved once, under its name.
                try (SGD other = new SGD(n.model.parameters().subList(2, 4), 0.05, 0.9, 0, 0, false)) {
                    e = assertThrows(ModelFileException.class,
                            () -> from.restore(n.model, other, n.named(), n.schedules, loader));
                    assertTrue(e.getMessage().contains("checkpoint was written by a run whose optimizer was its task's"
                            + " 'second', this run's is none of its task's"), e.getMessage());
                }
                assertBitIdentical(before, n.weights(), "weights");
                assertEquals(0, n.first.steps());
            }
        }
        // A name that cannot be saved is refused before any training.
        try (TwoNetworks n = new TwoNetworks(5)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fitTwo(n, new Alternating(named("a.b", n.first), 0), dir, null));
            assertTrue(e.getMessage().contains("'a.b'"), e.getMessage());
            assertEquals(0, n.first.steps());
        }
    }

    /** Names and optimizers in this order. */
    private static Map<String, Optimizer> named(Object... namesAndOptimizers) {
        Map<String, Optimizer> m = new LinkedHashMap<>();
        for (int i = 0; i < namesAndOptimizers.length; i += 2) {
            m.put((String) namesAndOptimizers[i], (Optimizer) namesAndOptimizers[i + 1]);
        }
        return m;
    }

    /** Resumes a fresh run whose task names {@code optimizers(run)} from {@code from}, expecting a refusal. */
    private static void assertRefused(Checkpoint from, Function<TwoNetworks, Map<String, Optimizer>> optimizers,
                                      String message) throws IOException {
        try (TwoNetworks n = new TwoNetworks(99)) {
            Map<String, Optimizer> named = optimizers.apply(n);
            try {
                Map<String, float[]> weights = n.weights();
                Map<String, float[]> buffers = n.buffers();
                List<Object> counters = n.counters();
                long rng = Init.generator().state();
                ModelFileException e = assertThrows(ModelFileException.class,
                        () -> fitTwo(n, new Alternating(named, 0), null, from));
                assertTrue(e.getMessage().startsWith(from.file().toString()) && e.getMessage().contains(message),
                        e.getMessage());
                assertBitIdentical(weights, n.weights(), "weights");
                assertBitIdentical(buffers, n.buffers(), "optimizer buffers");
                assertEquals(counters, n.counters(), "steps, learning rates and schedule epochs");
                assertEquals(rng, Init.generator().state(), "Init's generator");
                for (Optimizer o : named.values()) {
                    assertEquals(0, o.steps());
                }
            } finally {
                for (Optimizer o : named.values()) {
                    if (o != n.first && o != n.second) o.close();
                }
            }
        }
    }
}
