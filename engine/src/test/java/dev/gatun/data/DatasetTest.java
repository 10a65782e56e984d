package dev.gatun.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class DatasetTest {

    /** {@code n} samples of shape [2]: sample i is {@code [i, -i]}, its label {@code i mod 3}. */
    static Dataset indexed(int n) {
        float[] f = new float[2 * n];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            f[2 * i] = i;
            f[2 * i + 1] = -i;
            labels[i] = i % 3;
        }
        return Dataset.of(f, labels, 3, 2);
    }

    private static String message(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void holdsSamplesAndCopiesItsInputs() {
        float[] f = {1, 2, 3, 4, 5, 6};
        int[] labels = {0, 1, 1};
        Dataset d = Dataset.of(f, labels, 2, 1, 2);
        f[0] = 99;
        labels[0] = 1;
        assertEquals(3, d.size());
        assertEquals(2, d.featureSize());
        assertArrayEquals(new long[] {1, 2}, d.featureShape());
        assertArrayEquals(new float[] {1, 2}, d.features(0));
        assertArrayEquals(new float[] {5, 6}, d.features(2));
        assertEquals(0, d.label(0));
        d.labels()[1] = 0; // a copy
        d.features()[2] = 0;
        assertEquals(1, d.label(1));
        assertArrayEquals(new float[] {3, 4}, d.features(1));
        assertThrows(IndexOutOfBoundsException.class, () -> d.label(3));
    }

    @Test
    void rejectsInconsistentInput() {
        assertEquals("5 feature values do not make 2 samples of shape [2] (2 values each)",
                message(() -> Dataset.of(new float[5], new int[2], 3, 2)));
        assertEquals("label 7 of sample 1 is outside 0..4", message(() -> Dataset.of(new float[2], new int[] {0, 7}, 5, 1)));
        assertEquals("label -1 of sample 0 is outside 0..4", message(() -> Dataset.of(new float[1], new int[] {-1}, 5, 1)));
        assertEquals("numClasses must be at least 1, got 0", message(() -> Dataset.of(new float[1], new int[1], 0, 1)));
        assertEquals("feature shape [2, 0] has a size below 1", message(() -> Dataset.of(new float[0], new int[0], 1, 2, 0)));
        assertTrue(message(() -> Dataset.of(new float[0], new int[0], 1)).contains("at least one dimension"));
    }

    @Test
    void reshapeKeepsValues() {
        Dataset d = Dataset.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, new int[2], 1, 1, 2, 2);
        Dataset flat = d.reshape(4);
        assertArrayEquals(new long[] {4}, flat.featureShape());
        assertArrayEquals(d.features(1), flat.features(1));
        assertEquals("cannot reshape features of shape [1, 2, 2] (4 values) to [5] (5 values)", message(() -> d.reshape(5)));
    }

    @Test
    void subsetPicksSamplesInOrder() {
        Dataset s = indexed(5).subset(new int[] {4, 0, 4});
        assertArrayEquals(new int[] {1, 0, 1}, s.labels());
        assertArrayEquals(new float[] {4, -4, 0, 0, 4, -4}, s.features());
        assertThrows(IndexOutOfBoundsException.class, () -> indexed(5).subset(new int[] {5}));
    }

    /** The sample indices of a subset of {@link #indexed}, read back from the first feature. */
    private static int[] indices(Dataset d) {
        return IntStream.range(0, d.size()).map(i -> (int) d.features(i)[0]).toArray();
    }

    @Test
    void splitIsSeededDisjointAndComplete() {
        Dataset d = indexed(100);
        Dataset.Split split = d.split(0.2, 7);
        assertEquals(80, split.train().size());
        assertEquals(20, split.validation().size());
        int[] train = indices(split.train());
        int[] validation = indices(split.validation());
        int[] all = IntStream.concat(Arrays.stream(train), Arrays.stream(validation)).sorted().toArray();
        assertArrayEquals(IntStream.range(0, 100).toArray(), all);
        assertTrue(IntStream.range(1, train.length).allMatch(i -> train[i - 1] < train[i]), "train keeps order");
        for (int i : validation) {
            assertEquals(i % 3, split.validation().label(Arrays.binarySearch(validation, i)));
        }
        assertArrayEquals(validation, indices(d.split(0.2, 7).validation()));
        assertFalse(Arrays.equals(validation, indices(d.split(0.2, 8).validation())));
        assertFalse(Arrays.equals(validation, IntStream.range(0, 20).toArray()), "the split is shuffled");
        assertEquals(3, indexed(10).split(0.25, 1).validation().size()); // round(2.5) = 3
    }

    @Test
    void splitRejectsBadFractions() {
        Dataset d = indexed(10);
        assertEquals("validation fraction must lie strictly between 0 and 1, got 0.0", message(() -> d.split(0, 1)));
        assertEquals("validation fraction must lie strictly between 0 and 1, got 1.0", message(() -> d.split(1, 1)));
        assertTrue(message(() -> d.split(Double.NaN, 1)).contains("got NaN"));
        assertEquals("validation fraction 0.01 of 10 samples leaves 0 for validation and 10 for training; each needs"
                + " at least one", message(() -> d.split(0.01, 1)));
    }

    @Test
    void statsAndNormalize() {
        Dataset d = Dataset.of(new float[] {1, 2, 3, 4}, new int[] {0, 1}, 2, 2);
        Dataset.Stats stats = d.stats();
        assertEquals(2.5, stats.mean(), 1e-12);
        assertEquals(Math.sqrt(1.25), stats.std(), 1e-12);

        Dataset n = d.normalize(stats);
        float s = (float) Math.sqrt(1.25);
        assertArrayEquals(new float[] {-1.5f / s, -0.5f / s, 0.5f / s, 1.5f / s}, n.features(), 1e-6f);
        assertEquals(0, n.stats().mean(), 1e-6);
        assertEquals(1, n.stats().std(), 1e-6);
        assertArrayEquals(d.labels(), n.labels());
        assertArrayEquals(new float[] {1, 2, 3, 4}, d.features(), "the original is unchanged");

        assertArrayEquals(new float[] {-2, 0, 2, 4}, d.normalize(2, 0.5).features(), 1e-6f);
        assertEquals("normalize needs a finite mean and a finite positive std, got mean=0.0 std=0.0",
                message(() -> d.normalize(0, 0)));
        assertTrue(message(() -> d.normalize(Double.NaN, 1)).contains("mean=NaN"));
        assertThrows(IllegalStateException.class, () -> Dataset.of(new float[0], new int[0], 1, 3).stats());
    }
}
