package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BatchedGemmTest {

    private static MemorySegment random(Arena arena, int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, n);
        for (int i = 0; i < n; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rng.nextGaussian());
        return s;
    }

    private static float at(MemorySegment s, long i) {
        return s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
    }

    /**
     * Batch [2, 3] of A (4×5, read transposed out of a [2, 3, 5, 4] buffer with its heads interleaved as in
     * a projection) times B (5×6, row-major with a padded row stride), scaled, added to C: against a
     * double-precision loop over the same strides.
     */
    @Test
    void stridedBatchesMatchAReferenceLoop() {
        long[] batch = {2, 3};
        int m = 4;
        int n = 6;
        int k = 5;
        // A(i, j, r, c) at 100 + i·60 + j·4 + r·1 + c·12: columns strided, rows unit (a transposed view).
        long[] as = {60, 4, 1, 12};
        // B(i, j, r, c) at 7 + i·(3·5·8) + j·(5·8) + r·8 + c.
        long[] bs = {120, 40, 8, 1};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, 100 + 60 * 2, 1);
            MemorySegment b = random(arena, 7 + 240, 2);
            MemorySegment c = random(arena, 3 + 2 * 3 * m * n, 3);
            float[] before = c.toArray(ValueLayout.JAVA_FLOAT);
            float alpha = 0.25f;
            assertTrue(BatchedGemm.multiply(batch, m, n, k, alpha, 1f, a, 100, as, b, 7, bs, c, 3));
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 3; j++) {
                    for (int r = 0; r < m; r++) {
                        for (int col = 0; col < n; col++) {
                            double sum = 0;
                            for (int t = 0; t < k; t++) {
                                sum += at(a, 100 + i * as[0] + j * as[1] + r * as[2] + t * as[3])
                                        * (double) at(b, 7 + i * bs[0] + j * bs[1] + t * bs[2] + col * bs[3]);
                            }
                            long ci = 3 + ((i * 3L + j) * m + r) * n + col;
                            assertEquals(before[(int) ci] + alpha * sum, at(c, ci), 1e-5,
                                    "C[" + i + "," + j + "," + r + "," + col + "]");
                        }
                    }
                }
            }
            for (int i = 0; i < 3; i++) assertEquals(before[i], at(c, i), "nothing written before C's offset");
        }
    }

    /**
     * A linear layer's product: x [m, k] times wᵀ (w [n, k] read in place) plus a bias row, overwriting C,
     * then with beta 1 (the bias added once, with the product, to what C held). Against a double-precision
     * loop; a bias that runs past its segment or overlaps C is refused.
     */
    @Test
    void aBiasRowIsAddedToEveryRow() {
        int m = 70;
        int n = 9;
        int k = 11;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = random(arena, m * k, 4);
            MemorySegment w = random(arena, n * k, 5);
            MemorySegment bias = random(arena, 2 + n, 6);
            MemorySegment c = random(arena, 2 * m * n, 7);
            float[] before = c.toArray(ValueLayout.JAVA_FLOAT);
            assertTrue(BatchedGemm.multiply(new long[0], m, n, k, 1f, 0f, x, 0, new long[] {k, 1}, w, 0,
                    new long[] {1, k}, c, 0, bias, 2));
            for (int r = 0; r < m; r++) {
                for (int col = 0; col < n; col++) {
                    double sum = at(bias, 2 + col);
                    for (int t = 0; t < k; t++) sum += at(x, (long) r * k + t) * (double) at(w, (long) col * k + t);
                    assertEquals(sum, at(c, (long) r * n + col), 1e-5, "y[" + r + "," + col + "]");
                }
            }
            // beta 1: C += x·wᵀ + bias, the bias added once.
            MemorySegment.copy(before, 0, c, ValueLayout.JAVA_FLOAT, 0, m * n);
            assertTrue(BatchedGemm.multiply(new long[0], m, n, k, 1f, 1f, x, 0, new long[] {k, 1}, w, 0,
                    new long[] {1, k}, c, 0, bias, 2));
            for (int r = 0; r < m; r++) {
                for (int col = 0; col < n; col++) {
                    double sum = before[r * n + col] + at(bias, 2 + col);
                    for (int t = 0; t < k; t++) sum += at(x, (long) r * k + t) * (double) at(w, (long) col * k + t);
                    assertEquals(sum, at(c, (long) r * n + col), 1e-5, "y[" + r + "," + col + "] with beta 1");
                }
            }
            IllegalArgumentException past = assertThrows(IllegalArgumentException.class, () -> BatchedGemm.multiply(
                    new long[0], m, n, k, 1f, 0f, x, 0, new long[] {k, 1}, w, 0, new long[] {1, k}, c, 0, bias, 3));
            assertTrue(past.getMessage().contains("bias"), past.getMessage());
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class, () -> BatchedGemm.multiply(
                    new long[0], m, n, k, 1f, 0f, x, 0, new long[] {k, 1}, w, 0, new long[] {1, k}, c, 0, c, 5));
            assertTrue(overlap.getMessage().contains("overlaps the bias"), overlap.getMessage());
        }
    }

    /**
     * Attention's products on heads sliced out of one projection [L, B, 3E] (sequence first): Q from float
     * 0, K from float E and V from float 2E, each head [L, d] with row stride B·3E, so that oneDNN's size of
     * the layout (L·B·3E) runs past the segment's end for K and V though every element they read lies
     * inside. S = s·Q·Kᵀ and O = S·V against a double-precision loop over the same strides.
     */
    @Test
    void headsSlicedOutOfAProjectionAtAnOffset() {
        int len = 64;
        int b = 16;
        int e = 128;
        int h = 4;
        int d = e / h;
        long row = (long) b * 3 * e;
        long[] batch = {b, h};
        long[] head = {3L * e, d, row, 1};              // [B, H, L, d]
        long[] headT = {3L * e, d, 1, row};             // [B, H, d, L]
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment proj = random(arena, (int) (len * row), 8);
            MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, (long) b * h * len * len);
            MemorySegment o = arena.allocate(ValueLayout.JAVA_FLOAT, (long) b * h * len * d);
            float scale = 0.125f;
            assertTrue(BatchedGemm.multiply(batch, len, len, d, scale, 0f, proj, 0, head, proj, e, headT, s, 0));
            assertTrue(BatchedGemm.multiply(batch, len, d, len, 1f, 0f, s, 0,
                    new long[] {(long) h * len * len, (long) len * len, len, 1}, proj, 2L * e, head, o, 0));
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < h; j++) {
                    long base = i * 3L * e + (long) j * d;
                    long sb = ((long) i * h + j) * len * len;
                    for (int q = 0; q < len; q++) {
                        for (int kk = 0; kk < len; kk++) {
                            double sum = 0;
                            for (int t = 0; t < d; t++) {
                                sum += at(proj, base + q * row + t) * (double) at(proj, base + e + kk * row + t);
                            }
                            assertEquals(scale * sum, at(s, sb + (long) q * len + kk), 1e-4,
                                    "S[" + i + "," + j + "," + q + "," + kk + "]");
                        }
                        for (int t = 0; t < d; t++) {
                            double sum = 0;
                            for (int kk = 0; kk < len; kk++) {
                                sum += at(s, sb + (long) q * len + kk) * (double) at(proj, base + 2L * e + kk * row + t);
                            }
                            assertEquals(sum, at(o, ((long) i * h + j) * len * d + (long) q * d + t), 1e-4,
                                    "O[" + i + "," + j + "," + q + "," + t + "]");
                        }
                    }
                }
            }
            // One float short of V's last element: declined, nothing written.
            MemorySegment shortProj = proj.asSlice(0, (len * row - 1) * Float.BYTES); // V ends at the last float
            MemorySegment untouched = arena.allocate(ValueLayout.JAVA_FLOAT, (long) b * h * len * d);
            assertFalse(BatchedGemm.multiply(batch, len, d, len, 1f, 0f, s, 0,
                    new long[] {(long) h * len * len, (long) len * len, len, 1}, shortProj, 2L * e, head, untouched, 0));
            assertEquals(0f, at(untouched, 0), "nothing written");
        }
    }

    /**
     * C [B, H, m, n] stored as [m, B, H, n] (attention's output with its heads side by side): against a
     * double-precision loop; strides that are no dense layout (two elements on one float) are refused.
     */
    @Test
    void aPermutedDenseOutputIsWrittenInPlace() {
        long[] batch = {2, 3};
        int m = 5;
        int n = 4;
        int k = 6;
        long[] as = {3L * m * k, (long) m * k, k, 1};
        long[] bs = {3L * k * n, (long) k * n, n, 1};
        long[] cs = {3L * n, n, 2L * 3 * n, 1};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, 2 * 3 * m * k, 11);
            MemorySegment b = random(arena, 2 * 3 * k * n, 12);
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 1 + 2 * 3 * m * n);
            assertTrue(BatchedGemm.multiply(batch, m, n, k, 1f, 0f, a, 0, as, b, 0, bs, c, 1, cs));
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 3; j++) {
                    for (int r = 0; r < m; r++) {
                        for (int col = 0; col < n; col++) {
                            double sum = 0;
                            for (int t = 0; t < k; t++) {
                                sum += at(a, i * as[0] + j * as[1] + r * as[2] + t)
                                        * (double) at(b, i * bs[0] + j * bs[1] + t * bs[2] + col);
                            }
                            assertEquals(sum, at(c, 1 + i * cs[0] + j * cs[1] + r * cs[2] + col), 1e-5,
                                    "C[" + i + "," + j + "," + r + "," + col + "]");
                        }
                    }
                }
            }
            assertEquals(0f, at(c, 0), "nothing written before C's offset");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BatchedGemm.multiply(
                    batch, m, n, k, 1f, 0f, a, 0, as, b, 0, bs, c, 1, new long[] {3L * n, n, 3L * n, 1}));
            assertTrue(e.getMessage().contains("not a dense layout"), e.getMessage());
        }
    }

    /**
     * The product of element (b, r, c) of a strided operand, in double, for the reference loops below.
     */
    private static double product(MemorySegment a, long ao, long[] as, MemorySegment b, long bo, long[] bs, long[] idx,
                                  int r, int col, int k) {
        int nb = idx.length;
        long aBase = ao;
        long bBase = bo;
        for (int d = 0; d < nb; d++) {
            aBase += idx[d] * as[d];
            bBase += idx[d] * bs[d];
        }
        double sum = 0;
        for (int t = 0; t < k; t++) {
            sum += at(a, aBase + r * as[nb] + t * as[nb + 1]) * (double) at(b, bBase + t * bs[nb] + col * bs[nb + 1]);
        }
        return sum;
    }

    /**
     * Products of several shapes, narrow and wide, A and B row-major and transposed, one to three batch
     * dimensions (one of size 1), alpha, beta 1 and C laid out in another order of its dimensions: against
     * double-precision loops, and the same at one and two threads.
     */
    @Test
    void productsOfManyShapesAndLayoutsMatchAReferenceLoop() {
        int[][] sizes = {{13, 20, 5}, {7, 37, 9}, {64, 64, 32}, {9, 130, 17}, {1, 3, 1}, {33, 16, 70}};
        long seed = 20;
        for (int[] size : sizes) {
            int m = size[0];
            int n = size[1];
            int k = size[2];
            for (int variant = 0; variant < 4; variant++) {
                long[] batch = variant == 0 ? new long[] {3} : variant == 1 ? new long[] {2, 3} : new long[] {2, 1, 2};
                int nb = batch.length;
                long count = 1;
                for (long d : batch) count *= d;
                boolean transA = variant == 1 || variant == 3;
                boolean transB = variant >= 2;
                // A [batch, m, k] (stored [batch, k, m] when transposed), B [batch, k, n] likewise, 5 floats in.
                long[] as = new long[nb + 2];
                long[] bs = new long[nb + 2];
                as[nb] = transA ? 1 : k;
                as[nb + 1] = transA ? m : 1;
                bs[nb] = transB ? 1 : n;
                bs[nb + 1] = transB ? k : 1;
                long step = (long) m * k;
                long bstep = (long) k * n;
                for (int d = nb - 1; d >= 0; d--) {
                    as[d] = step;
                    bs[d] = bstep;
                    step *= batch[d];
                    bstep *= batch[d];
                }
                // C [batch, m, n] stored as [m, batch, n] in variant 3, row-major otherwise.
                long[] cs = new long[nb + 2];
                if (variant == 3) {
                    long s2 = n;
                    for (int d = nb - 1; d >= 0; d--) {
                        cs[d] = s2;
                        s2 *= batch[d];
                    }
                    cs[nb] = s2;
                } else {
                    long s2 = (long) m * n;
                    for (int d = nb - 1; d >= 0; d--) {
                        cs[d] = s2;
                        s2 *= batch[d];
                    }
                    cs[nb] = n;
                }
                cs[nb + 1] = 1;
                float alpha = variant == 2 ? 0.5f : 1f;
                float beta = variant == 1 ? 1f : 0f;
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment a = random(arena, (int) (5 + step), seed++);
                    MemorySegment b = random(arena, (int) (5 + bstep), seed++);
                    int cn = (int) (count * m * n);
                    MemorySegment before = random(arena, cn, seed++);
                    float[][] results = new float[2][];
                    int threads = Threads.get();
                    try {
                        for (int t = 1; t <= 2; t++) {
                            Threads.set(t);
                            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, cn);
                            c.copyFrom(before);
                            assertTrue(BatchedGemm.multiply(batch, m, n, k, alpha, beta, a, 5, as, b, 5, bs, c, 0, cs));
                            results[t - 1] = c.toArray(ValueLayout.JAVA_FLOAT);
                        }
                    } finally {
                        Threads.set(threads);
                    }
                    String what = "m=" + m + " n=" + n + " k=" + k + " variant " + variant;
                    org.junit.jupiter.api.Assertions.assertArrayEquals(results[0], results[1], what + ": two threads");
                    long[] idx = new long[nb];
                    for (long e = 0; e < count; e++) {
                        long rest = e;
                        long co = 0;
                        for (int d = nb - 1; d >= 0; d--) {
                            idx[d] = rest % batch[d];
                            rest /= batch[d];
                            co += idx[d] * cs[d];
                        }
                        for (int r = 0; r < m; r++) {
                            for (int col = 0; col < n; col++) {
                                long ci = co + r * cs[nb] + col;
                                double want = alpha * product(a, 5, as, b, 5, bs, idx, r, col, k)
                                        + beta * at(before, ci);
                                assertEquals(want, results[0][(int) ci], 1e-5 * (1 + Math.abs(want)),
                                        what + ", entry " + e + " C[" + r + "," + col + "]");
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void declinesZeroStridesAndLayoutsPastTheSegment() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, 2 * 4 * 4, 1);
            MemorySegment b = random(arena, 4 * 4, 2);
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 2 * 4 * 4);
            // B broadcast along the batch: stride 0, left to the caller.
            assertFalse(BatchedGemm.multiply(new long[] {2}, 4, 4, 4, 1f, 0f, a, 0, new long[] {16, 4, 1}, b, 0,
                    new long[] {0, 4, 1}, c, 0));
            // A's second matrix would end past its segment.
            assertFalse(BatchedGemm.multiply(new long[] {2}, 4, 4, 4, 1f, 0f, a, 1, new long[] {16, 4, 1}, a, 0,
                    new long[] {16, 4, 1}, c, 0));
            assertEquals(0f, at(c, 0), "nothing written");
        }
    }

    @Test
    void refusesBadArgumentsWithMessages() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = random(arena, 32, 1);
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, 32);
            long[] st = {16, 4, 1};
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                    BatchedGemm.multiply(new long[] {2}, 4, 4, 0, 1f, 0f, a, 0, st, a, 0, st, c, 0));
            assertEquals("batched GEMM: sizes must be positive, got m=4 n=4 k=0", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () ->
                    BatchedGemm.multiply(new long[] {2}, 4, 4, 4, 1f, 0.5f, a, 0, st, a, 0, st, c, 0));
            assertEquals("batched GEMM: beta must be 0 or 1, got 0.5", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () ->
                    BatchedGemm.multiply(new long[] {2}, 4, 4, 4, 1f, 0f, a, 0, new long[] {4, 1}, a, 0, st, c, 0));
            assertTrue(e.getMessage().contains("need 3 strides per input, got 2 and 3"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () ->
                    BatchedGemm.multiply(new long[] {2}, 4, 4, 4, 1f, 0f, a, 0, st, a, 0, st, a, 0));
            assertEquals("batched GEMM: C overlaps A", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () ->
                    BatchedGemm.multiply(new long[] {2}, 4, 4, 4, 1f, 0f, a, 0, st, a, 0, st, c, 8));
            assertTrue(e.getMessage().startsWith("batched GEMM: C needs floats [8, 40)"), e.getMessage());
        }
    }
}
