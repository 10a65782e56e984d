package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Rnn;
import dev.gatun.backend.Threads;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * The LSTM's inference pass on gatun's kernel (small batches without a tape): against PyTorch's numbers
 * ({@code golden/rnn.json}), against oneDNN's primitive (the training pass, which records) over shapes
 * that take the kernel's tails and its parallel split, the same at one and two threads, NaN and
 * saturation, and the backend's checks.
 */
class LstmKernelTest extends ScopedTest {

    private static final double ATOL = 1e-5;
    private static final double RTOL = 1e-5;

    @Test
    void matchesPyTorchWithoutATape() {
        int cases = 0;
        for (JsonNode f : Fixtures.load("rnn.json").get("cases")) {
            if (!f.get("name").asText().equals("lstm") || f.get("directions").asInt() != 1) continue;
            long[] sz = Fixtures.longs(f.get("sizes"));
            long t = sz[0], n = sz[1], i = sz[2], h = sz[3];
            assertTrue(Rnn.lstmKernel(new Rnn.Shape(Rnn.Cell.LSTM, t, n, i, h, 1)),
                    "the fixture's batch takes the kernel");
            try (var ignored = Autograd.noGrad()) {
                Recurrent.Result r = Recurrent.lstm(of(f, "input", t, n, i), of(f, "h0", n, h), of(f, "c0", n, h),
                        of(f, "weight_ih_l0", 4 * h, i), of(f, "weight_hh_l0", 4 * h, h), of(f, "bias_ih_l0", 4 * h),
                        of(f, "bias_hh_l0", 4 * h));
                close("output", Fixtures.floats(f.get("output")), r.output().toArray());
                close("h", Fixtures.floats(f.get("h")), r.h().toArray());
                close("c", Fixtures.floats(f.get("c")), r.c().toArray());
            }
            cases++;
        }
        assertEquals(1, cases);
    }

    /** T, N, I, H: one step, tails below 16 lanes, the largest kernel batch, a parallel split with a tail. */
    private static final long[][] SHAPES = {{1, 1, 3, 2}, {7, 1, 5, 3}, {6, 4, 9, 37}, {5, 2, 16, 130}, {3, 1, 8, 256}};

    @Test
    void agreesWithOneDnnAtOneAndTwoThreads() {
        int before = Threads.get();
        long seed = 10;
        try {
            for (long[] s : SHAPES) {
                for (int variant = 0; variant < 3; variant++) {
                    // 0: everything given; 1: zero initial states; 2: no biases.
                    Tensor[] in = leaves(seed += 10, s[0], s[1], s[2], s[3]);
                    if (variant == 1) {
                        in[1] = null;
                        in[2] = null;
                    }
                    if (variant == 2) {
                        in[5] = null;
                        in[6] = null;
                    }
                    String what = java.util.Arrays.toString(s) + " variant " + variant;
                    Threads.set(1);
                    Recurrent.Result oneDnn = run(in); // records: the training primitive
                    Recurrent.Result one;
                    Recurrent.Result two;
                    try (var ignored = Autograd.noGrad()) {
                        one = run(in);
                        Threads.set(2);
                        two = run(in);
                    }
                    close(what + " output", oneDnn.output().toArray(), one.output().toArray());
                    close(what + " h", oneDnn.h().toArray(), one.h().toArray());
                    close(what + " c", oneDnn.c().toArray(), one.c().toArray());
                    // The input's product may round differently with another thread count; the recurrence
                    // itself does not (theKernelDoesNotDependOnTheThreadCount).
                    close(what + " output, 2 threads", one.output().toArray(), two.output().toArray());
                    close(what + " c, 2 threads", one.c().toArray(), two.c().toArray());
                    assertArrayEquals(one.h().toArray(), one.output().select(0, s[0] - 1).toArray(), what);
                }
            }
        } finally {
            Threads.set(before);
        }
    }

    @Test
    void theKernelDoesNotDependOnTheThreadCount() {
        int before = Threads.get();
        try (Arena a = Arena.ofConfined()) {
            for (long[] sz : SHAPES) {
                long t = sz[0], n = sz[1], h = sz[3];
                Rnn.Shape s = new Rnn.Shape(Rnn.Cell.LSTM, t, n, sz[2], h, 1);
                MemorySegment gx = filled(a, t * n * 4 * h, 1);
                MemorySegment w = filled(a, 4 * h * h, 2);
                MemorySegment b = filled(a, 4 * h, 3);
                MemorySegment h0 = filled(a, n * h, 4);
                MemorySegment c0 = filled(a, n * h, 5);
                float[][] runs = new float[2][];
                for (int threads = 1; threads <= 2; threads++) {
                    Threads.set(threads);
                    MemorySegment y = a.allocate(t * n * h * Float.BYTES);
                    MemorySegment ht = a.allocate(n * h * Float.BYTES);
                    MemorySegment ct = a.allocate(n * h * Float.BYTES);
                    Rnn.lstmInference(s, gx, w, b, h0, c0, y, ht, ct);
                    float[] all = new float[(int) (t * n * h + 2 * n * h)];
                    MemorySegment.copy(y, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, all, 0, (int) (t * n * h));
                    MemorySegment.copy(ct, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, all, (int) (t * n * h),
                            (int) (n * h));
                    runs[threads - 1] = all;
                }
                assertArrayEquals(runs[0], runs[1], java.util.Arrays.toString(sz));
            }
        } finally {
            Threads.set(before);
        }
    }

    /** Values in [-0.5, 0.5) from a seed. */
    static MemorySegment filled(Arena a, long count, long seed) {
        float[] v = Tensor.rand(new dev.gatun.tensor.Generator(seed), count).toArray();
        MemorySegment m = a.allocate(count * Float.BYTES);
        for (int i = 0; i < v.length; i++) m.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, v[i] - 0.5f);
        return m;
    }

    @Test
    void nanPropagatesFromItsStepOnAndLargeGatesSaturate() {
        long t = 4, n = 1, i = 3, h = 20;
        Tensor[] in = leaves(500, t, n, i, h);
        float[] x = in[0].toArray();
        x[2 * (int) i] = Float.NaN; // step 2
        in[0] = Tensor.fromArray(x, t, n, i);
        try (var ignored = Autograd.noGrad()) {
            float[] y = run(in).output().toArray();
            for (int k = 0; k < y.length; k++) {
                assertEquals(k >= 2 * h, Float.isNaN(y[k]), "element " + k);
            }
            // Gates far in saturation: σ and tanh at ±1e4 (and ±∞ through the input) stay exact limits.
            Tensor[] big = leaves(600, t, n, i, h);
            big[0] = Tensor.fromArray(new float[] {1e4f, -1e4f, Float.POSITIVE_INFINITY, -1e4f, 1e4f, 0,
                0, 0, 0, 1e4f, 1e4f, 1e4f}, t, n, i);
            float[] w = big[3].toArray();
            for (int k = 0; k < w.length; k++) w[k] *= 100;
            big[3] = Tensor.fromArray(w, 4 * h, i);
            float[] kernel = run(big).output().toArray();
            for (float v : kernel) {
                assertTrue(Float.isNaN(v) || Math.abs(v) <= 1f, "h stays in [-1, 1], got " + v);
            }
        }
        Recurrent.Result oneDnn = run(leaves(600, t, n, i, h)); // same seed, finite inputs: still agree
        try (var ignored = Autograd.noGrad()) {
            close("finite", oneDnn.output().toArray(), run(leaves(600, t, n, i, h)).output().toArray());
        }
    }

    @Test
    void aBatchAboveTheKernelsRunsOneDnn() {
        assertFalse(Rnn.lstmKernel(new Rnn.Shape(Rnn.Cell.LSTM, 3, Rnn.LSTM_KERNEL_BATCH_MAX + 1, 2, 2, 1)));
        assertFalse(Rnn.lstmKernel(new Rnn.Shape(Rnn.Cell.GRU, 3, 1, 2, 2, 1)));
        assertFalse(Rnn.lstmKernel(new Rnn.Shape(Rnn.Cell.LSTM, 3, 1, 2, 2, 2)));
    }

    @Test
    void theBackendChecksEveryBuffer() {
        long t = 3, n = 2, h = 5;
        Rnn.Shape s = new Rnn.Shape(Rnn.Cell.LSTM, t, n, 4, h, 1);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment gx = a.allocate(t * n * 4 * h * Float.BYTES);
            MemorySegment w = a.allocate(4 * h * h * Float.BYTES);
            MemorySegment y = a.allocate(t * n * h * Float.BYTES);
            MemorySegment st = a.allocate(n * h * Float.BYTES);
            MemorySegment st2 = a.allocate(n * h * Float.BYTES);
            String m = assertThrows(IllegalArgumentException.class,
                    () -> Rnn.lstmInference(s, gx.asSlice(4), w, null, null, null, y, st, st2)).getMessage();
            assertTrue(m.contains("gx"), m);
            m = assertThrows(IllegalArgumentException.class,
                    () -> Rnn.lstmInference(s, gx, w.asSlice(0, 8), null, null, null, y, st, st2)).getMessage();
            assertTrue(m.contains("weight_hh"), m);
            m = assertThrows(IllegalArgumentException.class,
                    () -> Rnn.lstmInference(s, gx, w, null, null, null, y, st, st)).getMessage();
            assertTrue(m.contains("hT overlaps cT"), m);
            m = assertThrows(IllegalArgumentException.class,
                    () -> Rnn.lstmInference(s, gx, w, null, null, null, gx.asSlice(0, y.byteSize()), st, st2))
                    .getMessage();
            assertTrue(m.contains("y overlaps an input"), m);
            m = assertThrows(IllegalArgumentException.class,
                    () -> Rnn.lstmInference(new Rnn.Shape(Rnn.Cell.GRU, t, n, 4, h, 1), gx, w, null, null, null, y,
                            st, st2)).getMessage();
            assertTrue(m.contains("LSTM"), m);
            Rnn.lstmInference(s, gx, w, null, null, null, y, st, st2); // the right sizes run
        }
    }

    private static Tensor of(JsonNode f, String key, long... shape) {
        return Tensor.fromArray(Fixtures.floats(f.get(key)), shape);
    }

    /** x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, each a leaf requiring a gradient. */
    private static Tensor[] leaves(long seed, long t, long n, long i, long h) {
        return new Tensor[] {
            GradCheck.leafIn(seed, -1, 1, t, n, i),
            GradCheck.leafIn(seed + 1, -0.5, 0.5, n, h),
            GradCheck.leafIn(seed + 2, -0.5, 0.5, n, h),
            GradCheck.leafIn(seed + 3, -0.6, 0.6, 4 * h, i),
            GradCheck.leafIn(seed + 4, -0.3, 0.3, 4 * h, h),
            GradCheck.leafIn(seed + 5, -0.3, 0.3, 4 * h),
            GradCheck.leafIn(seed + 6, -0.3, 0.3, 4 * h)};
    }

    private static Recurrent.Result run(Tensor[] t) {
        return Recurrent.lstm(t[0], t[1], t[2], t[3], t[4], t[5], t[6]);
    }

    private static void close(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int k = 0; k < expected.length; k++) {
            double err = Math.abs((double) actual[k] - expected[k]);
            if (!(err <= ATOL + RTOL * Math.abs(expected[k]))) {
                throw new AssertionError(what + "[" + k + "]: kernel " + actual[k] + ", expected " + expected[k]);
            }
        }
    }
}
