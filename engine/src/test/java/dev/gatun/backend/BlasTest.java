package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** The guards in front of every BLAS call: nothing out of bounds, overlapping or malformed gets through. */
class BlasTest {

    private static MemorySegment floats(Arena arena, float... v) {
        return arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
    }

    @Test
    void sgemmComputesWithOffsetsAndLeadingDimensions() {
        try (Arena arena = Arena.ofConfined()) {
            // A = [[1,2],[3,4]] stored with ld 3 after one float of padding; B = I·2; C gets A·B.
            MemorySegment a = floats(arena, 9, 1, 2, 9, 3, 4, 9);
            MemorySegment b = floats(arena, 2, 0, 0, 2);
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
            Blas.sgemm(false, false, 2, 2, 2, 1f, a, 1, 3, b, 0, 2, 0f, c, 0, 2);
            assertArrayEquals(new float[] {2, 4, 6, 8}, c.toArray(ValueLayout.JAVA_FLOAT));
            Blas.sgemm(true, false, 2, 2, 2, 1f, a, 1, 3, b, 0, 2, 0f, c, 0, 2);
            assertArrayEquals(new float[] {2, 6, 4, 8}, c.toArray(ValueLayout.JAVA_FLOAT));
            assertEquals(11f, Blas.sdot(2, a, 1, 1, a, 4, 1)); // 1·3 + 2·4
            Blas.saxpy(2, 2f, a, 1, 1, c, 0, 1);
            assertArrayEquals(new float[] {4, 10, 4, 8}, c.toArray(ValueLayout.JAVA_FLOAT));
            Blas.sscal(4, 0.5f, c, 0, 1);
            assertArrayEquals(new float[] {2, 5, 2, 4}, c.toArray(ValueLayout.JAVA_FLOAT));
            MemorySegment y = arena.allocate(ValueLayout.JAVA_FLOAT, 2);
            Blas.sgemv(false, 2, 2, 1f, a, 1, 3, b, 0, 3, 0f, y, 0, 1); // x = (2, 2) via stride 3
            assertArrayEquals(new float[] {6, 14}, y.toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    /** A·B for row-major m×k and k×n arrays, in double. */
    private static float[] product(float[] a, float[] b, int m, int n, int k) {
        float[] c = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += (double) a[i * k + p] * b[p * n + j];
                c[i * n + j] = (float) acc;
            }
        }
        return c;
    }

    /**
     * Small products run single-threaded by lowering OpenBLAS's global thread count for the call:
     * the count comes back afterwards, and products from several Java threads at once, small and
     * large, all stay correct.
     */
    @Test
    void smallProductsOnOneThreadLeaveTheSettingAndOtherCallsAlone() throws Exception {
        int before = Threads.get();
        Threads.set(2);
        try {
            int[][] shapes = {{8, 16, 32}, {10, 256, 128}, {128, 192, 160}};
            List<Callable<Void>> jobs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                jobs.add(() -> {
                    Random r = new Random(seed);
                    for (int rep = 0; rep < 20; rep++) {
                        int[] s = shapes[(rep + seed) % shapes.length];
                        int m = s[0], n = s[1], k = s[2];
                        float[] a = new float[m * k];
                        float[] b = new float[k * n];
                        for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
                        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, (long) m * n);
                            Blas.sgemm(false, false, m, n, k, 1f, floats(arena, a), 0, k, floats(arena, b), 0, n, 0f,
                                    c, 0, n);
                            assertArrayEquals(product(a, b, m, n, k), c.toArray(ValueLayout.JAVA_FLOAT), 1e-4f,
                                    m + "x" + n + "x" + k);
                        }
                    }
                    return null;
                });
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                for (Future<Void> f : pool.invokeAll(jobs)) {
                    f.get();
                }
            } finally {
                pool.shutdown();
            }
            assertEquals(2, Threads.openblasThreads(), "the thread setting is back");
        } finally {
            Threads.set(before);
        }
    }

    @Test
    void regionsOutsideTheSegmentAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Blas.sgemm(false, false, 2, 2, 3, 1f, a, 0, 3, a, 0, 2, 0f, c, 0, 2));
            assertTrue(e.getMessage().startsWith("A needs floats"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> Blas.sgemm(false, false, 2, 2, 2, 1f, a, 1, 2, a, 0, 2, 0f, c, 0, 2));
            assertThrows(IllegalArgumentException.class,
                    () -> Blas.sgemm(false, false, 2, 2, 2, 1f, a, 0, 2, a, 0, 2, 0f, c, 0, 3));
            assertThrows(IllegalArgumentException.class,
                    () -> Blas.sgemm(false, false, 2, 2, 2, 1f, a, -1, 2, a, 0, 2, 0f, c, 0, 2));
            assertThrows(IllegalArgumentException.class,
                    () -> Blas.sgemm(false, false, -1, 2, 2, 1f, a, 0, 2, a, 0, 2, 0f, c, 0, 2));
            assertThrows(IllegalArgumentException.class, () -> Blas.sdot(5, a, 0, 1, a, 0, 1));
            assertThrows(IllegalArgumentException.class, () -> Blas.sdot(2, a, 0, 0, a, 0, 1));
            assertThrows(IllegalArgumentException.class, () -> Blas.saxpy(3, 1f, a, 0, 2, c, 0, 1));
            assertThrows(IllegalArgumentException.class, () -> Blas.sscal(2, 1f, a, 3, 1));
        }
    }

    @Test
    void illegalLeadingDimensionsAndOverlapsAreRejected() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(ValueLayout.JAVA_FLOAT, 16);
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 16);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Blas.sgemm(false, false, 2, 2, 3, 1f, a, 0, 2, a, 0, 2, 0f, c, 0, 2));
            assertTrue(e.getMessage().contains("leading dimension of A"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Blas.sgemm(false, false, 2, 2, 2, 1f, a, 0, 2, a, 4, 2, 0f, a, 2, 2));
            assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Blas.saxpy(4, 1f, c, 0, 1, c, 2, 1));
        }
    }

    @Test
    void closedMemoryNeverReachesNativeCode() {
        Arena arena = Arena.ofConfined();
        MemorySegment a = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
        arena.close();
        assertThrows(IllegalStateException.class, () -> Blas.sdot(2, a, 0, 1, a, 0, 1));
    }
}
