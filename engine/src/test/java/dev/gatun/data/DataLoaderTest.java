package dev.gatun.data;

import static dev.gatun.data.DatasetTest.indexed;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Data loading over {@link DatasetTest#indexed}: sample i is {@code [i, -i]} with label {@code i mod 3}. */
class DataLoaderTest {

    /** The sample indices an epoch visits, read back from the batches; checks each batch on the way. */
    private static List<int[]> epochIndices(DataLoader loader, int epoch) {
        List<int[]> batches = new ArrayList<>();
        try (Scope _ = Scope.open()) {
            for (Batch b : loader.epoch(epoch)) {
                Tensor x = b.inputs();
                assertEquals(2, x.dim());
                assertEquals(2, x.size(1));
                assertEquals(b.size(), x.size(0));
                float[] v = x.toArray();
                int[] indices = new int[b.size()];
                for (int k = 0; k < indices.length; k++) {
                    indices[k] = (int) v[2 * k];
                    assertEquals(-indices[k], v[2 * k + 1]);
                    assertEquals(indices[k] % 3, b.labels()[k], "label travels with its sample");
                }
                batches.add(indices);
            }
        }
        return batches;
    }

    private static int[] flatten(List<int[]> batches) {
        return batches.stream().flatMapToInt(Arrays::stream).toArray();
    }

    private static int[] sizes(List<int[]> batches) {
        return batches.stream().mapToInt(b -> b.length).toArray();
    }

    @Test
    void sequentialKeepsTheLastPartialBatch() {
        DataLoader loader = new DataLoader(indexed(10), 4, Order.sequential(), LastBatch.KEEP);
        assertEquals(3, loader.numBatches());
        assertEquals(10, loader.samplesPerEpoch());
        List<int[]> batches = epochIndices(loader, 0);
        assertArrayEquals(new int[] {4, 4, 2}, sizes(batches));
        assertArrayEquals(IntStream.range(0, 10).toArray(), flatten(batches));
        assertArrayEquals(flatten(batches), flatten(epochIndices(loader, 5)), "sequential: every epoch alike");
    }

    @Test
    void dropLastDropsOnlyThePartialBatch() {
        DataLoader loader = new DataLoader(indexed(10), 4, Order.sequential(), LastBatch.DROP);
        assertEquals(2, loader.numBatches());
        assertEquals(8, loader.samplesPerEpoch());
        assertArrayEquals(new int[] {4, 4}, sizes(epochIndices(loader, 0)));

        DataLoader exact = new DataLoader(indexed(12), 4, Order.sequential(), LastBatch.DROP);
        assertEquals(3, exact.numBatches());
        assertEquals(1, new DataLoader(indexed(3), 3, Order.sequential(), LastBatch.DROP).numBatches());
        assertEquals(1, new DataLoader(indexed(3), 100, Order.sequential(), LastBatch.KEEP).numBatches());
        DataLoader huge = new DataLoader(indexed(3), Integer.MAX_VALUE, Order.sequential(), LastBatch.KEEP);
        assertEquals(1, huge.numBatches(), "a batch size near 2^31 is one batch, not an overflow to none");
        assertArrayEquals(new int[] {3}, sizes(epochIndices(huge, 0)));
    }

    @Test
    void shuffleIsAReproduciblePermutationPerEpoch() {
        Dataset d = indexed(100);
        DataLoader loader = new DataLoader(d, 16, Order.shuffled(42), LastBatch.KEEP);
        int[] epoch0 = flatten(epochIndices(loader, 0));
        int[] epoch1 = flatten(epochIndices(loader, 1));
        int[] identity = IntStream.range(0, 100).toArray();
        for (int[] order : List.of(epoch0, epoch1)) {
            assertArrayEquals(identity, Arrays.stream(order).sorted().toArray(), "every sample exactly once");
        }
        assertFalse(Arrays.equals(identity, epoch0), "shuffled");
        assertFalse(Arrays.equals(epoch0, epoch1), "each epoch has its own order");
        assertArrayEquals(epoch0, loader.sampleOrder(0));

        DataLoader again = new DataLoader(d, 16, Order.shuffled(42), LastBatch.KEEP);
        assertArrayEquals(epoch1, flatten(epochIndices(again, 1)), "same seed, same epoch: same order");
        DataLoader other = new DataLoader(d, 16, Order.shuffled(43), LastBatch.KEEP);
        assertFalse(Arrays.equals(epoch0, flatten(epochIndices(other, 0))), "another seed, another order");
        assertArrayEquals(new int[] {16, 16, 16, 16, 16, 16, 4}, sizes(epochIndices(loader, 0)));
    }

    @Test
    void shuffledDropLastLeavesOutTheTailOfTheOrder() {
        DataLoader loader = new DataLoader(indexed(10), 3, Order.shuffled(1), LastBatch.DROP);
        int[] visited = flatten(epochIndices(loader, 2));
        assertArrayEquals(Arrays.copyOf(loader.sampleOrder(2), 9), visited);
    }

    @Test
    void batchShapeFollowsTheFeatureShape() {
        Dataset images = Dataset.of(new float[5 * 6], new int[5], 1, 1, 2, 3);
        DataLoader loader = new DataLoader(images, 2, Order.sequential(), LastBatch.KEEP);
        try (Scope _ = Scope.open()) {
            List<long[]> shapes = new ArrayList<>();
            loader.epoch(0).forEach(b -> shapes.add(b.inputs().shape()));
            assertArrayEquals(new long[] {2, 1, 2, 3}, shapes.get(0));
            assertArrayEquals(new long[] {1, 1, 2, 3}, shapes.get(2));
        }
    }

    @Test
    void batchesLandInTheCurrentScopeOrOwnTheirMemory() {
        DataLoader loader = new DataLoader(indexed(4), 2, Order.sequential(), LastBatch.KEEP);
        Tensor scoped;
        try (Scope _ = Scope.open()) {
            scoped = loader.epoch(0).iterator().next().inputs();
            assertTrue(scoped.isAlive());
        }
        assertFalse(scoped.isAlive(), "freed with the scope");

        Batch owned = loader.epoch(0).iterator().next();
        assertTrue(owned.inputs().isAlive());
        owned.close();
        assertFalse(owned.inputs().isAlive(), "freed by close()");
    }

    @Test
    void iteratorEndsAndEachIterationRestartsTheEpoch() {
        DataLoader loader = new DataLoader(indexed(3), 2, Order.shuffled(9), LastBatch.KEEP);
        Iterable<Batch> epoch = loader.epoch(0);
        try (Scope _ = Scope.open()) {
            List<float[]> first = new ArrayList<>();
            List<float[]> second = new ArrayList<>();
            epoch.forEach(b -> first.add(b.inputs().toArray()));
            epoch.forEach(b -> second.add(b.inputs().toArray()));
            assertEquals(2, first.size());
            for (int i = 0; i < first.size(); i++) {
                assertArrayEquals(first.get(i), second.get(i));
            }
            Iterator<Batch> it = epoch.iterator();
            it.next();
            it.next();
            assertFalse(it.hasNext());
            assertThrows(NoSuchElementException.class, it::next);
        }
    }

    @Test
    void rejectsBadArguments() {
        Dataset d = indexed(5);
        assertEquals("batch size must be at least 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> new DataLoader(d, 0, Order.sequential(), LastBatch.KEEP)).getMessage());
        assertEquals("batch size 6 exceeds the 5 samples and the last partial batch is dropped: an epoch would have"
                + " no batches", assertThrows(IllegalArgumentException.class,
                () -> new DataLoader(d, 6, Order.sequential(), LastBatch.DROP)).getMessage());
        assertEquals("cannot load batches from an empty dataset", assertThrows(IllegalArgumentException.class,
                () -> new DataLoader(d.subset(new int[0]), 1, Order.sequential(), LastBatch.KEEP)).getMessage());
        DataLoader loader = new DataLoader(d, 2, Order.sequential(), LastBatch.KEEP);
        assertEquals("epoch must be non-negative, got -1",
                assertThrows(IllegalArgumentException.class, () -> loader.epoch(-1)).getMessage());
        assertThrows(NullPointerException.class, () -> new DataLoader(d, 2, null, LastBatch.KEEP));
    }

    @Test
    void batchChecksThatInputsAndLabelsAgree() {
        try (Scope _ = Scope.open()) {
            Tensor x = Tensor.zeros(3, 2);
            assertEquals("batch size mismatch: inputs of shape [3, 2] but 2 labels",
                    assertThrows(IllegalArgumentException.class, () -> new Batch(x, new int[2])).getMessage());
        }
    }
}
