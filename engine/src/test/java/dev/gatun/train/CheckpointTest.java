package dev.gatun.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.Threads;
import dev.gatun.io.ModelFileException;
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
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints: a killed run resumes to bit-identical weights; damaged files are refused by name. */
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
                    .withCheckpointing(new Trainer.Checkpointing(tmp, 5, 3, null, null));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Trainer.fit(model, sgd, dev.gatun.ops.Loss::crossEntropy, loader, null, config));
            assertTrue(e.getMessage().contains("dropout layer 'model.1'"), e.getMessage());
            assertEquals(0, sgd.steps(), "refused before any training");
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
}
