package dev.gatun.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Sequential;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Datasets of any tensors, batched by the same {@link DataLoader} as classification datasets. */
class TensorDatasetTest {

    /** x [n, 2, 3] with x[i, a, b] = 100·i + 10·a + b, and y [n] with y[i] = −i. */
    private static TensorDataset coded(int n) {
        float[] x = new float[n * 6];
        float[] y = new float[n];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 6; k++) {
                x[6 * i + k] = 100 * i + 10 * (k / 3) + k % 3;
            }
            y[i] = -i;
        }
        try (Scope _ = Scope.open()) {
            return TensorDataset.of(Tensor.fromArray(x, n, 2, 3), Tensor.fromArray(y, n));
        }
    }

    /** The sample indices an epoch visits, read back from the batches; checks each batch's shapes and rows. */
    private static List<int[]> epochIndices(DataLoader loader, int epoch) {
        List<int[]> batches = new ArrayList<>();
        try (Scope _ = Scope.open()) {
            for (Batch b : loader.epoch(epoch)) {
                assertFalse(b.hasLabels());
                assertEquals(2, b.numTensors());
                assertArrayEquals(new long[] {b.size(), 2, 3}, b.inputs().shape());
                assertArrayEquals(new long[] {b.size()}, b.targets().shape());
                float[] x = b.inputs().toArray();
                float[] y = b.targets().toArray();
                int[] indices = new int[b.size()];
                for (int k = 0; k < indices.length; k++) {
                    indices[k] = (int) -y[k];
                    for (int e = 0; e < 6; e++) {
                        assertEquals(100 * indices[k] + 10 * (e / 3) + e % 3, x[6 * k + e], "rows travel together");
                    }
                }
                batches.add(indices);
            }
        }
        return batches;
    }

    private static int[] flatten(List<int[]> batches) {
        return batches.stream().flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void batchesHoldTheSameRowsOfEveryTensorInTheSeededOrder() {
        DataLoader loader = new DataLoader(coded(10), 4, Order.shuffled(5), LastBatch.KEEP);
        assertEquals(3, loader.numBatches());
        List<int[]> first = epochIndices(loader, 0);
        assertArrayEquals(new int[] {4, 4, 2}, first.stream().mapToInt(b -> b.length).toArray());
        assertArrayEquals(loader.sampleOrder(0), flatten(first));
        assertArrayEquals(IntStream.range(0, 10).toArray(), Arrays.stream(flatten(first)).sorted().toArray(),
                "every sample once");
        assertArrayEquals(flatten(first), flatten(epochIndices(loader, 0)), "an epoch repeats");
        DataLoader again = new DataLoader(coded(10), 4, Order.shuffled(5), LastBatch.KEEP);
        assertArrayEquals(flatten(first), flatten(epochIndices(again, 0)), "the seed fixes the order");
        assertNotEquals(Arrays.toString(flatten(first)), Arrays.toString(flatten(epochIndices(loader, 1))),
                "each epoch has its own order");
        // The orders are the loader's, whatever the samples: a classification dataset of the same size agrees.
        DataLoader labelled = new DataLoader(DatasetTest.indexed(10), 4, Order.shuffled(5), LastBatch.KEEP);
        assertArrayEquals(labelled.sampleOrder(3), loader.sampleOrder(3));
    }

    @Test
    void sequentialAndDroppedLastBatches() {
        DataLoader sequential = new DataLoader(coded(10), 4, Order.sequential(), LastBatch.KEEP);
        assertArrayEquals(IntStream.range(0, 10).toArray(), flatten(epochIndices(sequential, 0)));
        DataLoader drop = new DataLoader(coded(10), 4, Order.shuffled(2), LastBatch.DROP);
        assertEquals(2, drop.numBatches());
        assertEquals(8, drop.samplesPerEpoch());
        List<int[]> batches = epochIndices(drop, 1);
        assertEquals(2, batches.size());
        assertArrayEquals(Arrays.copyOf(drop.sampleOrder(1), 8), flatten(batches), "the tail of the order is left out");
        assertEquals("batch size 11 exceeds the 10 samples and the last partial batch is dropped: an epoch would have"
                + " no batches", assertThrows(IllegalArgumentException.class,
                () -> new DataLoader(coded(10), 11, Order.sequential(), LastBatch.DROP)).getMessage());
    }

    @Test
    void batchesLandInTheCurrentScopeOrOwnTheirMemory() {
        DataLoader loader = new DataLoader(coded(4), 2, Order.sequential(), LastBatch.KEEP);
        Batch owned = loader.epoch(0).iterator().next();
        assertTrue(owned.inputs().isAlive() && owned.targets().isAlive());
        owned.close();
        assertFalse(owned.inputs().isAlive() || owned.targets().isAlive(), "close() frees every tensor");
    }

    /** An autoencoder: the batches are their own targets, and the loss falls over the epochs. */
    @Test
    void anAutoencoderTrainsThroughTheLoader() {
        Init.manualSeed(11);
        // 64 points on a plane in R^4: a bottleneck of 2 reconstructs them.
        SplittableRandom rng = new SplittableRandom(3);
        float[] x = new float[64 * 4];
        for (int i = 0; i < 64; i++) {
            double a = rng.nextDouble(-1, 1);
            double b = rng.nextDouble(-1, 1);
            x[4 * i] = (float) a;
            x[4 * i + 1] = (float) b;
            x[4 * i + 2] = (float) (a + b);
            x[4 * i + 3] = (float) (a - b);
        }
        TensorDataset data = TensorDataset.of(Tensor.fromArray(x, 64, 4));
        DataLoader loader = new DataLoader(data, 16, Order.shuffled(7), LastBatch.KEEP);
        try (Sequential model = new Sequential(new Linear(4, 2), new Linear(2, 4));
             Adam adam = new Adam(model.parameters(), 0.05)) {
            double firstEpoch = 0;
            double lastEpoch = 0;
            for (int epoch = 0; epoch < 60; epoch++) {
                double sum = 0;
                for (Batch batch : loader.epoch(epoch)) {
                    try (batch; Scope _ = Scope.open()) {
                        Tensor in = batch.inputs();
                        adam.zeroGrad();
                        Tensor loss = Loss.mse(model.forward(in), in);
                        loss.backward();
                        adam.step();
                        sum += loss.item() * batch.size();
                    }
                }
                if (epoch == 0) firstEpoch = sum / 64;
                lastEpoch = sum / 64;
            }
            assertTrue(lastEpoch < 0.01 * firstEpoch, "reconstruction loss " + firstEpoch + " -> " + lastEpoch);
        }
    }

    @Test
    void theDatasetHoldsACopyOfItsTensors() {
        Tensor x = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        TensorDataset d = TensorDataset.of(x);
        x.copyFrom(new float[6]);
        x.close();
        assertEquals(3, d.size());
        assertEquals(1, d.numTensors());
        assertArrayEquals(new long[] {2}, d.sampleShape(0));
        try (Scope _ = Scope.open()) {
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, d.tensor(0).toArray());
            assertArrayEquals(new long[] {3, 2}, d.tensor(0).shape());
        }
        assertEquals("TensorDataset(10 samples of [2, 3] and [])", coded(10).toString());
        assertThrows(IndexOutOfBoundsException.class, () -> d.sampleShape(1));
    }

    @Test
    void subsetsAndSplits() {
        TensorDataset d = coded(10);
        TensorDataset s = d.subset(new int[] {7, 2, 7});
        try (Scope _ = Scope.open()) {
            assertArrayEquals(new float[] {-7, -2, -7}, s.tensor(1).toArray());
            assertEquals(200, s.tensor(0).toArray()[6]);
        }
        assertEquals("subset: index 10 at position 1 is outside 0..9",
                assertThrows(IndexOutOfBoundsException.class, () -> d.subset(new int[] {0, 10})).getMessage());
        TensorDataset.Split split = d.split(0.2, 9);
        assertEquals(8, split.train().size());
        assertEquals(2, split.validation().size());
        Dataset.Split labelled = DatasetTest.indexed(10).split(0.2, 9);
        try (Scope _ = Scope.open()) {
            float[] validation = split.validation().tensor(1).toArray();
            float[] labelledValidation = labelled.validation().features();
            for (int k = 0; k < 2; k++) {
                assertEquals(labelledValidation[2 * k + 1], validation[k], "the same samples as Dataset.split picks");
            }
        }
    }

    @Test
    void badTensorsAreNamed() {
        try (Scope _ = Scope.open()) {
            assertEquals("a TensorDataset needs at least one tensor",
                    assertThrows(IllegalArgumentException.class, TensorDataset::of).getMessage());
            assertEquals("tensor 1 of the TensorDataset is null", assertThrows(IllegalArgumentException.class,
                    () -> TensorDataset.of(Tensor.zeros(2), null)).getMessage());
            Tensor scalar = Tensor.zeros();
            assertEquals("tensor 0 is 0-d; its first dimension must number the samples",
                    assertThrows(IllegalArgumentException.class, () -> TensorDataset.of(scalar)).getMessage());
            assertEquals("every tensor must hold the same number of samples in its first dimension: tensor 0 has 3,"
                    + " tensor 2 has shape [4, 1]", assertThrows(IllegalArgumentException.class,
                    () -> TensorDataset.of(Tensor.zeros(3, 2), Tensor.zeros(3), Tensor.zeros(4, 1))).getMessage());
            Tensor closed = Tensor.zeros(3);
            closed.close();
            assertThrows(IllegalStateException.class, () -> TensorDataset.of(closed));
        }
    }

    @Test
    void batchesSayWhatTheyHold() {
        try (Scope _ = Scope.open()) {
            Batch one = new Batch(Tensor.zeros(2, 3));
            assertEquals("this batch has no class labels: it holds 1 tensor(s) of a TensorDataset; use inputs(),"
                    + " targets() or tensor(i)", assertThrows(IllegalStateException.class, one::labels).getMessage());
            assertThrows(IllegalStateException.class, one::targets);
            Batch labelled = new Batch(Tensor.zeros(2, 3), new int[] {7, 2});
            assertTrue(labelled.hasLabels());
            Tensor targets = labelled.targets();
            assertEquals(DType.INT64, targets.dtype());
            assertArrayEquals(new long[] {7, 2}, targets.toLongArray());
            assertSame(targets, labelled.targets());
            labelled.close();
            assertFalse(targets.isAlive());
            assertEquals("batch size mismatch: the tensors' first dimensions differ: [2, 3], [3]",
                    assertThrows(IllegalArgumentException.class,
                            () -> new Batch(Tensor.zeros(2, 3), Tensor.zeros(3))).getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> one.tensor(1));
        }
    }

    @Test
    void int64AndBoolTensorsBatchWithTheirDtype() {
        try (Scope _ = Scope.open()) {
            long[] ids = new long[12];
            boolean[] mask = new boolean[12];
            float[] x = new float[12];
            for (int i = 0; i < 12; i++) {
                ids[i] = (long) i << 40; // beyond int and float precision: must survive as bytes
                mask[i] = i % 3 == 0;
                x[i] = i;
            }
            TensorDataset data = TensorDataset.of(Tensor.of(x, 6, 2), Tensor.fromLongs(ids, 6, 2),
                    Tensor.fromBooleans(mask, 6, 2));
            DataLoader loader = new DataLoader(data, 4, Order.shuffled(5), LastBatch.KEEP);
            int seen = 0;
            for (Batch b : loader.epoch(0)) {
                try (b) {
                    assertEquals(DType.INT64, b.targets().dtype());
                    assertEquals(DType.BOOL, b.tensor(2).dtype());
                    float[] xs = b.inputs().toArray();
                    long[] is = b.targets().toLongArray();
                    boolean[] ms = b.tensor(2).toBooleanArray();
                    for (int k = 0; k < xs.length; k++) {
                        int i = (int) xs[k];
                        assertEquals(ids[i], is[k], "row of sample " + i / 2);
                        assertEquals(mask[i], ms[k]);
                    }
                    seen += b.size();
                }
            }
            assertEquals(6, seen);
            assertArrayEquals(ids, data.tensor(1).toLongArray());
            assertArrayEquals(mask, data.subset(new int[] {0, 1, 2, 3, 4, 5}).tensor(2).toBooleanArray());
        }
    }
}
