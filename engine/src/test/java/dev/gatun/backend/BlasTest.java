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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The guards in front of every BLAS call: nothing out of bounds, overlapping or malformed gets through. */
class BlasTest {

    private static MemorySegment floats(Arena arena, float... v) {
        return arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
    }

    /** Runs {@code body} with matrix products sent to {@code library}, restoring the setting after. */
    private static void withGemm(String library, Runnable body) {
        String before = Blas.gemmLibrary();
        Blas.setGemmLibrary(library);
        try {
            body.run();
        } finally {
            Blas.setGemmLibrary(before);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"onednn", "openblas"})
    void sgemmComputesWithOffsetsAndLeadingDimensions(String library) {
        withGemm(library, BlasTest::offsetsAndLeadingDimensions);
    }

    private static void offsetsAndLeadingDimensions() {
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

    /**
     * Every transpose combination, with beta 0 and 1, leading dimensions wider than the rows, odd sizes
     * and an empty inner dimension, against a double-precision product, on both libraries. 24×320×700
     * is large enough for oneDNN's A·Bᵀ to run transposed (Blas.SWAP_MIN_MACS) through a scratch matrix;
     * 32×32×64 is the largest product that runs on OpenBLAS when oneDNN is the library (Blas.TINY_MACS),
     * 32×32×65 the smallest that does not.
     */
    @ParameterizedTest
    @ValueSource(strings = {"onednn", "openblas"})
    void sgemmMatchesAReferenceProductForEveryTransposeAndBeta(String library) {
        withGemm(library, () -> {
            Random r = new Random(11);
            int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {17, 9, 33}, {32, 32, 64}, {32, 32, 65}, {128, 10, 256},
                {4, 6, 0}, {24, 320, 700}};
            assertTrue(24L * 320 * 700 >= Blas.SWAP_MIN_MACS);
            // Either side of the tiny products that go to OpenBLAS whatever the GEMM library.
            assertEquals(Blas.TINY_MACS, 32L * 32 * 64);
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                for (int variant = 0; variant < 8; variant++) {
                    boolean ta = (variant & 1) != 0, tb = (variant & 2) != 0;
                    float beta = (variant & 4) != 0 ? 1f : 0f;
                    float[] a = new float[m * k], b = new float[k * n], c0 = new float[m * n];
                    for (int i = 0; i < a.length; i++) a[i] = r.nextFloat() - 0.5f;
                    for (int i = 0; i < b.length; i++) b[i] = r.nextFloat() - 0.5f;
                    for (int i = 0; i < c0.length; i++) c0[i] = r.nextFloat() - 0.5f;
                    float[] want = product(a, b, m, n, k);
                    for (int i = 0; i < want.length; i++) want[i] = 0.5f * want[i] + beta * c0[i];
                    // Stored with two floats of padding per row: A as m×k or k×m, B as k×n or n×k.
                    int lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 2, ldc = n + 2;
                    float[] as = padded(ta ? transpose(a, m, k) : a, ta ? k : m, ta ? m : k, lda);
                    float[] bs = padded(tb ? transpose(b, k, n) : b, tb ? n : k, tb ? k : n, ldb);
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment c = floats(arena, padded(c0, m, n, ldc));
                        Blas.sgemm(ta, tb, m, n, k, 0.5f, floats(arena, as), 0, lda, floats(arena, bs), 0, ldb, beta,
                                c, 0, ldc);
                        float[] got = c.toArray(ValueLayout.JAVA_FLOAT);
                        for (int i = 0; i < m; i++) {
                            for (int j = 0; j < n; j++) {
                                assertEquals(want[i * n + j], got[i * ldc + j], 1e-4f,
                                        library + " " + m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb
                                                + " beta=" + beta);
                            }
                            assertEquals(0f, got[i * ldc + n], "padding untouched");
                        }
                    }
                }
            }
        });
    }

    private static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[x.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
        }
        return t;
    }

    private static float[] padded(float[] x, int rows, int cols, int ld) {
        float[] p = new float[Math.max(1, rows * ld)];
        for (int i = 0; i < rows; i++) System.arraycopy(x, i * cols, p, i * ld, cols);
        return p;
    }

    @Test
    void anUnknownGemmLibraryIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Blas.setGemmLibrary("mkl"));
        assertTrue(e.getMessage().contains("mkl"), e.getMessage());
        assertEquals("onednn", Blas.gemmLibrary());
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
     * Products from several Java threads at once, small and large, all stay correct on both libraries.
     * On OpenBLAS, small products run single-threaded by lowering its global thread count for the call,
     * and the count comes back afterwards.
     */
    @ParameterizedTest
    @ValueSource(strings = {"onednn", "openblas"})
    void concurrentProductsStayCorrectAndLeaveTheThreadSettingAlone(String library) throws Exception {
        String beforeLibrary = Blas.gemmLibrary();
        Blas.setGemmLibrary(library);
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
            Blas.setGemmLibrary(beforeLibrary);
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
