package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;

class EltwiseTest {

    private static float[] randomValues(long seed, int n) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rng.nextGaussian() * 3);
        return v;
    }

    private static void check(Eltwise.Algorithm alg, DoubleUnaryOperator ref, double tol) {
        int n = 1000;
        float[] in = randomValues(alg.ordinal(), n);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocateFrom(ValueLayout.JAVA_FLOAT, in);
            MemorySegment dst = arena.allocate(ValueLayout.JAVA_FLOAT, n + 3);
            Eltwise.forward(alg, src, 0, dst, 3, n);
            for (int i = 0; i < n; i++) {
                double want = ref.applyAsDouble(in[i]);
                assertEquals(want, dst.getAtIndex(ValueLayout.JAVA_FLOAT, i + 3), tol, alg + " at " + in[i]);
            }
            assertEquals(0f, dst.getAtIndex(ValueLayout.JAVA_FLOAT, 0), "nothing written before the offset");
        }
    }

    @Test
    void matchesDoublePrecisionReferences() {
        check(Eltwise.Algorithm.RELU, x -> Math.max(0, x), 0);
        check(Eltwise.Algorithm.TANH, Math::tanh, 2e-6);
        check(Eltwise.Algorithm.LOGISTIC, x -> 1 / (1 + Math.exp(-x)), 2e-6);
    }

    @Test
    void runsInPlace() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_FLOAT, -1f, 2f, -3f, 4f);
            Eltwise.forward(Eltwise.Algorithm.RELU, buf, 0, buf, 0, 4);
            assertEquals(List.of(0f, 2f, 0f, 4f), List.of(buf.getAtIndex(ValueLayout.JAVA_FLOAT, 0),
                    buf.getAtIndex(ValueLayout.JAVA_FLOAT, 1), buf.getAtIndex(ValueLayout.JAVA_FLOAT, 2),
                    buf.getAtIndex(ValueLayout.JAVA_FLOAT, 3)));
        }
    }

    @Test
    void badRegionsAreRejectedInJava() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Eltwise.forward(Eltwise.Algorithm.RELU, buf, 4, buf, 0, 5));
            assertTrue(e.getMessage().contains("src needs floats [4, 9)"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Eltwise.forward(Eltwise.Algorithm.RELU, buf, 0, buf, -1, 2));
            assertThrows(IllegalArgumentException.class, () -> Eltwise.forward(Eltwise.Algorithm.RELU, buf, 0, buf, 2, 4));
            assertThrows(IllegalArgumentException.class, () -> Eltwise.forward(Eltwise.Algorithm.RELU, buf, 0, buf, 0, -1));
        }
        Arena closed = Arena.ofConfined();
        MemorySegment gone = closed.allocate(ValueLayout.JAVA_FLOAT, 4);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Eltwise.forward(Eltwise.Algorithm.RELU, gone, 0, gone, 0, 4));
    }

    /** One cached primitive executed at once from many platform and virtual threads, each with its own data. */
    @Test
    void concurrentExecutionFromManyThreads() throws Exception {
        int n = 4096;
        for (ExecutorService pool : List.of(Executors.newFixedThreadPool(8), Executors.newVirtualThreadPerTaskExecutor())) {
            try (pool; Arena arena = Arena.ofShared()) {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int task = 0; task < 64; task++) {
                    int seed = task;
                    results.add(pool.submit(() -> {
                        float[] in = randomValues(seed, n);
                        MemorySegment src = arena.allocateFrom(ValueLayout.JAVA_FLOAT, in);
                        MemorySegment dst = arena.allocate(ValueLayout.JAVA_FLOAT, n);
                        for (int rep = 0; rep < 20; rep++) {
                            Eltwise.forward(Eltwise.Algorithm.RELU, src, 0, dst, 0, n);
                            for (int i = 0; i < n; i++) {
                                if (dst.getAtIndex(ValueLayout.JAVA_FLOAT, i) != Math.max(0f, in[i])) return false;
                            }
                        }
                        return true;
                    }));
                }
                for (Future<Boolean> f : results) {
                    assertTrue(f.get());
                }
            }
        }
    }
}
