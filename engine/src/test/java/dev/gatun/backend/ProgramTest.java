package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class ProgramTest {

    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i * 0.5f - 7f;
        return v;
    }

    @Test
    void reordersThroughEveryLayoutGiveTheInputBack() {
        long[] dims = {2, 3, 4, 5}; // 3 channels: a blocked layout pads them
        int n = 2 * 3 * 4 * 5;
        assertTrue(Program.floats(dims, Program.Layout.BLOCKED) > n);
        assertEquals(n, Program.floats(dims, Program.Layout.CHANNELS_LAST));
        try (Program.Builder b = Program.builder()) {
            MemorySegment in = b.buffer(n);
            MemorySegment last = b.buffer(n);
            MemorySegment blocked = b.buffer(Program.floats(dims, Program.Layout.BLOCKED));
            MemorySegment out = b.buffer(n);
            b.reorder(dims, Program.Layout.PLAIN, Program.Layout.CHANNELS_LAST, in, last);
            b.reorder(dims, Program.Layout.CHANNELS_LAST, Program.Layout.BLOCKED, last, blocked);
            b.reorder(dims, Program.Layout.BLOCKED, Program.Layout.PLAIN, blocked, out);
            try (Program p = b.build(in, n, out, n)) {
                assertEquals(3, p.steps());
                float[] v = ramp(n);
                float[] got = new float[n];
                p.run(v, got);
                assertArrayEquals(v, got);
                float[] twice = new float[n];
                p.run(ramp(n), twice); // the same buffers again
                assertArrayEquals(v, twice);
            }
        }
    }

    @Test
    void reluAndInnerProductComputeWhatTheyShould() {
        try (Program.Builder b = Program.builder()) {
            MemorySegment in = b.buffer(6);
            MemorySegment out = b.buffer(4);
            // [2, 3] rows · [2, 3]ᵀ weights + bias, then ReLU in place on the product.
            b.innerProduct(2, 3, 2, new float[] {1, 0, -1, 0.5f, 0.5f, 0.5f}, new float[] {0.25f, -10f}, false, in,
                    out);
            b.relu(out, 4);
            try (Program p = b.build(in, 6, out, 4)) {
                float[] got = new float[4];
                p.run(new float[] {1, 2, 3, 4, 5, 6}, got);
                assertArrayEquals(new float[] {0, 0, 0, 0}, got); // -1.75, -7, -1.75, -2.5 → all cut by ReLU
                p.run(new float[] {3, 2, 1, 30, 20, 10}, got);
                assertArrayEquals(new float[] {2.25f, 0, 20.25f, 20}, got);
            }
        }
    }

    /** A one-row program of a fully connected layer of the given shape, ReLU or not, bias or not. */
    private static Program oneRow(int in, int out, float[] w, float[] bias, boolean relu) {
        try (Program.Builder b = Program.builder()) {
            MemorySegment x = b.buffer(in);
            MemorySegment y = b.buffer(out);
            b.innerProduct(1, in, out, w, bias, relu, x, y);
            return b.build(x, in, y, out);
        }
    }

    @Test
    void oneRowRunsTheMatrixVectorKernelAndMatchesADoubleReference() {
        int before = Threads.get();
        java.util.Random r = new java.util.Random(7);
        // Inputs odd and even, outputs below, at and across blocks of 16, shared out among 1 to 3 threads.
        int[][] shapes = {{1, 1}, {2, 3}, {7, 5}, {33, 17}, {16, 16}, {64, 47}, {130, 70}, {784, 512}};
        try {
            for (int threads = 1; threads <= 3; threads++) {
                Threads.set(threads);
                for (int[] shape : shapes) {
                    int in = shape[0];
                    int out = shape[1];
                    float[] w = new float[in * out];
                    for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
                    float[] bias = new float[out];
                    for (int i = 0; i < out; i++) bias[i] = (float) r.nextGaussian();
                    float[] x = new float[in];
                    for (int i = 0; i < in; i++) x[i] = (float) r.nextGaussian();
                    for (boolean relu : new boolean[] {false, true}) {
                        for (float[] bb : new float[][] {bias, null}) {
                            String what = threads + " threads, " + in + " → " + out + (relu ? " relu" : "")
                                    + (bb == null ? " no bias" : "");
                            try (Program p = oneRow(in, out, w, bb, relu)) {
                                float[] got = new float[out];
                                p.run(x, got);
                                for (int o = 0; o < out; o++) {
                                    double sum = bb == null ? 0 : bb[o];
                                    double mag = Math.abs(sum);
                                    for (int i = 0; i < in; i++) {
                                        sum += (double) w[o * in + i] * x[i];
                                        mag += Math.abs((double) w[o * in + i] * x[i]);
                                    }
                                    double want = relu ? Math.max(0, sum) : sum;
                                    assertEquals(want, got[o], 1e-6 * mag + 1e-7, what + ", output " + o);
                                }
                                // Runs alternate the order of the blocks; each value stays the same bit for bit.
                                for (int k = 0; k < 3; k++) {
                                    float[] again = new float[out];
                                    p.run(x, again);
                                    assertArrayEquals(got, again, what);
                                }
                            }
                        }
                    }
                }
            }
        } finally {
            Threads.set(before);
        }
    }

    @Test
    void oneRowReluKeepsNaNAndCutsNegatives() {
        // Rows: 1·x, -1·x, 0·x; x = NaN gives NaN through ReLU, as the layers' ReLU does.
        try (Program p = oneRow(1, 3, new float[] {1, -1, 0}, new float[] {0, 0, -1}, true)) {
            float[] got = new float[3];
            p.run(new float[] {2}, got);
            assertArrayEquals(new float[] {2, 0, 0}, got);
            p.run(new float[] {Float.NaN}, got);
            assertTrue(Float.isNaN(got[0]) && Float.isNaN(got[1]) && Float.isNaN(got[2]));
        }
    }

    @Test
    void programsRunFromManyThreadsAtOnceGiveTheirLoneValues() throws Exception {
        // Callers share gatun's spinning workers, or form OpenMP teams when the workers are all taken.
        int in = 300;
        int out = 90;
        java.util.Random r = new java.util.Random(3);
        float[] w = new float[in * out];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        float[] x = new float[in];
        for (int i = 0; i < in; i++) x[i] = (float) r.nextGaussian();
        float[] want = new float[out];
        try (Program p = oneRow(in, out, w, null, true)) {
            p.run(x, want);
        }
        int callers = 16;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(callers);
        try {
            java.util.List<java.util.concurrent.Future<Integer>> done = new java.util.ArrayList<>();
            for (int c = 0; c < callers; c++) {
                done.add(pool.submit(() -> {
                    int wrong = 0;
                    try (Program p = oneRow(in, out, w, null, true)) {
                        float[] got = new float[out];
                        for (int k = 0; k < 300; k++) {
                            p.run(x, got);
                            if (!java.util.Arrays.equals(want, got)) wrong++;
                        }
                    }
                    return wrong;
                }));
            }
            for (java.util.concurrent.Future<Integer> f : done) assertEquals(0, f.get());
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void itsMemoryIsCountedWhileItLives() {
        long before = Program.liveBytes();
        Program p;
        try (Program.Builder b = Program.builder()) {
            MemorySegment in = b.buffer(1 << 18);
            b.relu(in, 1 << 18);
            p = b.build(in, 1 << 18, in, 1 << 18);
        }
        assertTrue(Program.liveBytes() - before >= 1 << 20, "a 1 MiB buffer counted");
        long held = Program.liveBytes();
        p.close();
        assertTrue(held - Program.liveBytes() >= 1 << 20, "and given back on close");
        long base = Program.liveBytes();
        try (Program.Builder b = Program.builder()) {
            b.buffer(1 << 18);
            assertTrue(Program.liveBytes() - base >= 1 << 20);
        }
        assertEquals(base, Program.liveBytes(), "an unbuilt builder frees on close");
    }

    @Test
    void refusesMisuseWithJavaExceptions() {
        try (Program.Builder b = Program.builder(); Arena other = Arena.ofConfined()) {
            MemorySegment in = b.buffer(4);
            assertThrows(IllegalArgumentException.class, () -> b.buffer(0));
            assertThrows(IllegalArgumentException.class, () -> b.relu(in, 0));
            assertThrows(IllegalArgumentException.class,
                    () -> b.innerProduct(1, 4, 2, new float[7], null, false, in, in));
            // One row read while its output is written over it.
            assertThrows(IllegalArgumentException.class,
                    () -> b.innerProduct(1, 4, 2, new float[8], null, false, in, in));
            assertThrows(IllegalArgumentException.class,
                    () -> b.reorder(new long[] {1, 2, 2}, Program.Layout.PLAIN, Program.Layout.BLOCKED, in, in));
            Convolution.Geometry grouped = new Convolution.Geometry(1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2, false);
            assertThrows(IllegalArgumentException.class, () -> b.convolution(grouped, new float[18], null,
                    Convolution.Fusion.NONE, Program.Layout.CHANNELS_LAST, in, Program.Layout.CHANNELS_LAST, in,
                    false));
            MemorySegment foreign = other.allocate(16, 64);
            assertThrows(IllegalStateException.class, () -> b.build(foreign, 4, in, 4));
            // A step may not name memory another owner could free under it.
            assertThrows(IllegalArgumentException.class, () -> b.relu(foreign, 4));
            assertThrows(IllegalArgumentException.class,
                    () -> b.reorder(new long[] {1, 1, 2, 2}, Program.Layout.PLAIN, Program.Layout.CHANNELS_LAST,
                            foreign, in));
            assertThrows(IllegalArgumentException.class, () -> b.maxPooling(new long[] {1, 1, 2, 2},
                    new long[] {2, 2, 2, 2, 0, 0, 1, 1}, Program.Layout.CHANNELS_LAST, in, foreign));
            assertThrows(IllegalArgumentException.class, () -> b.build(in, 5, in, 4));
            Program p = b.build(in, 4, in, 4);
            assertThrows(IllegalStateException.class, () -> b.build(in, 4, in, 4));
            assertThrows(IllegalArgumentException.class, () -> p.run(new float[3], new float[4]));
            p.close();
            p.close();
            assertThrows(IllegalStateException.class, () -> p.run(new float[4], new float[4]));
        }
    }
}
