package dev.gatun.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.data.TensorDataset;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.ops.Loss;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {

    /** Two Gaussian blobs in 2-d, labels 0 and 1. */
    private static Dataset blobs(int n, long seed, double separation) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] x = new float[2 * n];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 2;
            double c = y[i] == 0 ? -separation : separation;
            x[2 * i] = (float) (c + rng.nextGaussian());
            x[2 * i + 1] = (float) (c + rng.nextGaussian());
        }
        return Dataset.of(x, y, 2, 2);
    }

    private static final Trainer.Objective CE = Loss::crossEntropy;

    @Test
    void learnsSeparableDataAndLogsEveryEpoch(@TempDir Path dir) throws IOException {
        Init.manualSeed(1);
        try (Sequential net = new Sequential(new Linear(2, 8), new ReLU(), new Linear(8, 2));
             SGD sgd = new SGD(net.parameters(), 0.1)) {
            DataLoader train = new DataLoader(blobs(400, 1, 2), 32, Order.shuffled(3), LastBatch.KEEP);
            DataLoader val = new DataLoader(blobs(200, 2, 2), 50, Order.sequential(), LastBatch.KEEP);
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            Path csv = dir.resolve("log.csv");
            Path png = dir.resolve("curves.png");
            Trainer.History h = Trainer.fit(net, sgd, CE, train, val, Trainer.Config.of(5)
                    .withOut(new PrintStream(log, true, StandardCharsets.UTF_8)).withCsvLog(csv).withChart(png));
            assertEquals(5, h.epochs().size());
            assertTrue(h.epochs().getLast().validationAccuracy() > 0.95, h.epochs().getLast().toString());
            assertTrue(h.epochs().getLast().trainLoss() < h.epochs().getFirst().trainLoss());
            List<String> lines = Files.readAllLines(csv);
            assertEquals(CsvLog.HEADER, lines.getFirst());
            assertEquals(6, lines.size());
            assertTrue(lines.get(1).startsWith("1,"), lines.get(1));
            byte[] head = Files.readAllBytes(png);
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(head, 4));
            String text = log.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains("epoch 5/5: loss"), text);
            double lowest = h.epochs().stream().mapToDouble(Trainer.EpochResult::validationLoss).min().orElseThrow();
            assertEquals(lowest, h.best().validationLoss(), "without early stopping, the lowest validation loss");
            Trainer.Evaluation e = Trainer.evaluate(net, CE, val);
            assertEquals(200, e.samples());
            assertEquals(h.epochs().getLast().validationAccuracy(), e.accuracy(), 1e-12);
        }
    }

    @Test
    void earlyStoppingRestoresTheBestWeights() throws IOException {
        Init.manualSeed(2);
        // Noisy labels and a large learning rate: validation loss stops improving quickly.
        try (Sequential net = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 2));
             SGD sgd = new SGD(net.parameters(), 0.5)) {
            DataLoader train = new DataLoader(blobs(60, 3, 0.3), 4, Order.shuffled(1), LastBatch.KEEP);
            DataLoader val = new DataLoader(blobs(200, 4, 0.3), 50, Order.sequential(), LastBatch.KEEP);
            int[] epochsSeen = {0};
            Trainer.EpochListener remember = r -> epochsSeen[0]++;
            Trainer.History h = Trainer.fit(net, sgd, CE, train, val, Trainer.Config.of(100).withOut(null)
                    .withEarlyStopping(new Trainer.EarlyStopping(2, 0, true)).withListener(remember));
            assertTrue(h.stoppedEarly(), "stopped before 100 epochs");
            assertEquals(h.epochs().size(), epochsSeen[0]);
            assertEquals(h.bestEpoch() + 3, h.epochs().size(), "two epochs of patience after the best");
            Trainer.Evaluation now = Trainer.evaluate(net, CE, val);
            assertEquals(h.best().validationLoss(), now.loss(), 1e-6, "the model holds the best epoch's weights");
        }
    }

    /**
     * The epoch that early stopping ends with writes its checkpoint like every other, and a run resumed from
     * it trains no further epoch: it stays stopped, with the best epoch's weights.
     */
    @Test
    void theStoppingEpochIsCheckpointedAndAResumedRunStaysStopped(@TempDir Path dir) throws IOException {
        Trainer.EarlyStopping stopping = new Trainer.EarlyStopping(2, 0, true);
        DataLoader val = new DataLoader(blobs(200, 4, 0.3), 50, Order.sequential(), LastBatch.KEEP);
        Trainer.History first;
        Init.manualSeed(2);
        try (Sequential net = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 2));
             SGD sgd = new SGD(net.parameters(), 0.5)) {
            DataLoader train = new DataLoader(blobs(60, 3, 0.3), 4, Order.shuffled(1), LastBatch.KEEP);
            first = Trainer.fit(net, sgd, CE, train, val, Trainer.Config.of(100).withOut(null)
                    .withEarlyStopping(stopping)
                    .withCheckpointing(new Trainer.Checkpointing(dir, 0, 1000, List.of(), null)));
        }
        assertTrue(first.stoppedEarly(), "stopped before 100 epochs");
        try (Checkpoint last = Checkpoint.latest(dir, null)) {
            assertEquals(first.epochs().size(), last.position().epoch(), "the stopping epoch has its checkpoint");
            Init.manualSeed(99); // other initial weights: the checkpoint must bring back every one
            try (Sequential net = new Sequential(new Linear(2, 32), new ReLU(), new Linear(32, 2));
                 SGD sgd = new SGD(net.parameters(), 0.5)) {
                DataLoader train = new DataLoader(blobs(60, 3, 0.3), 4, Order.shuffled(1), LastBatch.KEEP);
                int[] trained = {0};
                Trainer.History resumed = Trainer.fit(net, sgd, CE, train, val, Trainer.Config.of(100).withOut(null)
                        .withEarlyStopping(stopping).withListener(r -> trained[0]++)
                        .withCheckpointing(new Trainer.Checkpointing(dir, 0, 1000, List.of(), last)));
                assertEquals(0, trained[0], "no epoch after the one that stopped the run");
                assertTrue(resumed.stoppedEarly());
                assertEquals(first.epochs(), resumed.epochs());
                assertEquals(first.bestEpoch(), resumed.bestEpoch());
                assertEquals(first.best().validationLoss(), Trainer.evaluate(net, CE, val).loss(), 1e-6,
                        "the model holds the best epoch's weights");
            }
        }
    }

    private static Trainer.EpochResult epoch(int n, double trainLoss, double validationLoss) {
        return new Trainer.EpochResult(n, trainLoss, 0.5, validationLoss, 0.5, 0.1, 1, 100);
    }

    @Test
    void theBestEpochHasTheLowestValidationLossOrElseTrainingLoss() {
        List<Trainer.EpochResult> validated = List.of(epoch(1, 0.9, 0.5), epoch(2, 0.8, 0.3), epoch(3, 0.7, 0.4),
                epoch(4, 0.6, 0.3));
        assertEquals(2, new Trainer.History(validated, -1, false).best().epoch(), "lowest, earliest on a tie");
        assertEquals(3, new Trainer.History(validated, 2, true).best().epoch(), "early stopping's choice");
        List<Trainer.EpochResult> unvalidated = List.of(epoch(1, 0.9, Double.NaN), epoch(2, 0.7, Double.NaN),
                epoch(3, 0.8, Double.NaN));
        assertEquals(2, new Trainer.History(unvalidated, -1, false).best().epoch(), "lowest training loss");
        List<Trainer.EpochResult> nan = List.of(epoch(1, Double.NaN, Double.NaN), epoch(2, Double.NaN, Double.NaN));
        assertEquals(2, new Trainer.History(nan, -1, false).best().epoch());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new Trainer.History(List.of(), -1, false).best());
        assertTrue(e.getMessage().contains("no epoch was trained"), e.getMessage());
    }

    @Test
    void dataWithoutClassLabelsIsRefusedUpFront() {
        try (Sequential net = new Sequential(new Linear(2, 2)); SGD sgd = new SGD(net.parameters(), 0.1)) {
            DataLoader tensors = new DataLoader(TensorDataset.of(Tensor.zeros(4, 2), Tensor.zeros(4, 2)), 2,
                    Order.sequential(), LastBatch.KEEP);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Trainer.fit(net, sgd, CE, tensors, null, Trainer.Config.of(1).withOut(null)));
            assertTrue(e.getMessage().startsWith("the Trainer fits classifiers, so the training loader must read a"
                    + " Dataset with class labels, got TensorDataset(4 samples of [2] and [2])"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Trainer.evaluate(net, CE, tensors));
        }
    }

    @Test
    void divergenceNamesEpochAndBatch() {
        try (Sequential net = new Sequential(new Linear(2, 2)); SGD sgd = new SGD(net.parameters(), 0.1)) {
            Dataset clean = blobs(64, 5, 1);
            float[] x = clean.features();
            x[2 * 20] = Float.NaN; // sample 20 is in the third batch of 8
            DataLoader train = new DataLoader(Dataset.of(x, clean.labels(), 2, 2), 8, Order.sequential(),
                    LastBatch.KEEP);
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                    () -> Trainer.fit(net, sgd, CE, train, null, Trainer.Config.of(3).withOut(null)));
            assertEquals("training diverged: the loss became NaN at epoch 1, batch 3 (the batch's inputs hold NaN or"
                    + " infinite values: check the data)", e.getMessage());
            assertEquals(1, e.epoch());
            assertEquals(3, e.batch());
        }
        try (Sequential net = new Sequential(new Linear(2, 2)); SGD sgd = new SGD(net.parameters(), 3e38)) {
            DataLoader train = new DataLoader(blobs(64, 5, 1), 8, Order.sequential(), LastBatch.KEEP);
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                    () -> Trainer.fit(net, sgd, CE, train, null, Trainer.Config.of(3).withOut(null)));
            assertTrue(e.getMessage().endsWith("(try a lower learning rate or gradient clipping)"), e.getMessage());
        }
    }

    /** Validation losses that are never finite stop the run saying so, rather than naming a best epoch 0. */
    @Test
    void earlyStoppingOnNonFiniteValidationLossesSaysSo() {
        try (Sequential net = new Sequential(new Linear(2, 2)); SGD sgd = new SGD(net.parameters(), 0.1)) {
            Dataset clean = blobs(16, 5, 1);
            float[] x = clean.features();
            x[0] = Float.NaN;
            DataLoader train = new DataLoader(blobs(32, 5, 2), 8, Order.sequential(), LastBatch.KEEP);
            DataLoader val = new DataLoader(Dataset.of(x, clean.labels(), 2, 2), 8, Order.sequential(),
                    LastBatch.KEEP);
            java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            Trainer.History h = assertDoesNotThrow(() -> Trainer.fit(net, sgd, CE, train, val, Trainer.Config.of(10)
                    .withOut(new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8))
                    .withEarlyStopping(new Trainer.EarlyStopping(2, 0, true))));
            String out = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(h.stoppedEarly() && h.epochs().size() == 2, out);
            assertTrue(out.contains("early stopping: the validation loss was never finite in 2 epochs (last NaN)"),
                    out);
        }
    }

    @Test
    void earlyStoppingNeedsValidationData() {
        try (Sequential net = new Sequential(new Linear(2, 2)); SGD sgd = new SGD(net.parameters(), 0.1)) {
            DataLoader train = new DataLoader(blobs(8, 5, 1), 8, Order.sequential(), LastBatch.KEEP);
            assertThrows(IllegalArgumentException.class, () -> Trainer.fit(net, sgd, CE, train, null,
                    Trainer.Config.of(3).withEarlyStopping(new Trainer.EarlyStopping(1, 0, true))));
            assertThrows(IllegalArgumentException.class, () -> new Trainer.EarlyStopping(0, 0, true));
        }
    }

    @Test
    void accuracyCountsArgmaxMatches() {
        try (Scope s = Scope.open()) {
            Tensor logits = Tensor.fromArray(new float[] {1, 2, 0, 5, -1, -2, 3, 3.5f}, 4, 2);
            assertEquals(3, Trainer.countCorrect(logits, new int[] {1, 1, 0, 0}));
            assertThrows(IllegalArgumentException.class, () -> Trainer.countCorrect(logits, new int[] {1}));
        }
    }
}
