package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.Rnn;
import dev.gatun.backend.Threads;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The LSTM's training pass (gatun's kernels on AVX-512 CPUs, oneDNN's primitive elsewhere): outputs and
 * every gradient against a double-precision forward and backpropagation through time written out here,
 * over shapes that take the kernels' tails (batches not a multiple of the four-row tile, hidden sizes not
 * a multiple of the sixteen-unit chunk, one step) with and without initial states and biases; the
 * kernels' results the same bit for bit at one and two threads; and the backend's checks.
 */
class LstmTrainingKernelTest extends ScopedTest {

    /** T, N, I, H. */
    private static final long[][] SHAPES = {{1, 1, 3, 2}, {5, 3, 4, 17}, {4, 6, 5, 37}, {3, 9, 8, 130},
        {2, 32, 16, 64}};

    /**
     * |gatun − reference| ≤ ATOL + RTOL·|reference|: float32 against double over a few steps, the gates'
     * σ and tanh within a few ulp; a wrong gate, sign or step moves values by far more.
     */
    private static final double ATOL = 2e-5;
    private static final double RTOL = 2e-4;

    @Test
    void outputsAndGradientsMatchADoublePrecisionReference() {
        long seed = 40;
        for (long[] s : SHAPES) {
            for (int variant = 0; variant < 3; variant++) {
                // 0: everything given; 1: zero initial states; 2: no biases.
                int t = (int) s[0], n = (int) s[1], i = (int) s[2], h = (int) s[3];
                String what = Arrays.toString(s) + " variant " + variant;
                Tensor x = GradCheck.leafIn(seed++, -1, 1, t, n, i);
                Tensor h0 = variant == 1 ? null : GradCheck.leafIn(seed++, -0.5, 0.5, n, h);
                Tensor c0 = variant == 1 ? null : GradCheck.leafIn(seed++, -0.5, 0.5, n, h);
                Tensor wi = GradCheck.leafIn(seed++, -0.6, 0.6, 4L * h, i);
                Tensor wh = GradCheck.leafIn(seed++, -0.6, 0.6, 4L * h, h);
                Tensor bi = variant == 2 ? null : GradCheck.leafIn(seed++, -0.3, 0.3, 4L * h);
                Tensor bh = variant == 2 ? null : GradCheck.leafIn(seed++, -0.3, 0.3, 4L * h);
                // Weights of the loss Σ ry·y + Σ rh·hT + Σ rc·cT, which are then the gradients reaching
                // the layer's three results.
                Tensor ry = Tensor.rand(new Generator(seed++), t, n, h).sub(0.5f);
                Tensor rh = Tensor.rand(new Generator(seed++), n, h).sub(0.5f);
                Tensor rc = Tensor.rand(new Generator(seed++), n, h).sub(0.5f);

                Recurrent.Result r = Recurrent.lstm(x, h0, c0, wi, wh, bi, bh);
                r.output().mul(ry).sum().add(r.h().mul(rh).sum()).add(r.c().mul(rc).sum()).backward();

                Reference ref = new Reference(t, n, i, h, d(x), h0 == null ? null : d(h0), c0 == null ? null : d(c0),
                        d(wi), d(wh), bi == null ? null : d(bi), bh == null ? null : d(bh));
                ref.backward(d(ry), d(rh), d(rc));
                close(what + " output", ref.y, r.output());
                close(what + " h", ref.hT, r.h());
                close(what + " c", ref.cT, r.c());
                close(what + " dx", ref.dx, x.grad());
                close(what + " dweight_ih", ref.dwi, wi.grad());
                close(what + " dweight_hh", ref.dwh, wh.grad());
                if (variant != 1) {
                    close(what + " dh0", ref.dh0, h0.grad());
                    close(what + " dc0", ref.dc0, c0.grad());
                }
                if (variant != 2) {
                    close(what + " dbias_ih", ref.db, bi.grad());
                    close(what + " dbias_hh", ref.db, bh.grad());
                }
            }
        }
    }

    /**
     * An embedding's rows as the input (a table of fewer rows than positions): the layer multiplies the
     * table instead of every row and sends the gradient to the table directly. Against the same layer on
     * a copy of the rows (x·1, which is no lookup), with and without a padding row; the table changed in
     * place after the lookup makes the layer read x as it is.
     */
    @Test
    void anEmbeddingsRowsGiveTheValuesAndGradientsOfAnyInput() {
        int t = 6, n = 5, v = 7, i = 4, h = 19;
        int[] tokens = new int[t * n];
        java.util.Random random = new java.util.Random(3);
        for (int p = 0; p < tokens.length; p++) tokens[p] = random.nextInt(v);
        Rnn.Shape shape = new Rnn.Shape(Rnn.Cell.LSTM, t, n, i, h, 1);
        for (int padding : new int[] {Indexing.NO_PADDING, 3}) {
            for (boolean changedInPlace : new boolean[] {false, true}) {
                String what = "padding " + padding + (changedInPlace ? ", table changed in place" : "");
                Tensor[][] runs = new Tensor[2][];
                Tensor[] outputs = new Tensor[2];
                for (int run = 0; run < 2; run++) {
                    long seed = 500;
                    Tensor table = GradCheck.leafIn(seed++, -1, 1, v, i);
                    Tensor h0 = GradCheck.leafIn(seed++, -0.5, 0.5, n, h);
                    Tensor c0 = GradCheck.leafIn(seed++, -0.5, 0.5, n, h);
                    Tensor wi = GradCheck.leafIn(seed++, -0.6, 0.6, 4L * h, i);
                    Tensor wh = GradCheck.leafIn(seed++, -0.6, 0.6, 4L * h, h);
                    Tensor bi = GradCheck.leafIn(seed++, -0.3, 0.3, 4L * h);
                    Tensor bh = GradCheck.leafIn(seed++, -0.3, 0.3, 4L * h);
                    Tensor ry = Tensor.rand(new Generator(seed), t, n, h).sub(0.5f);
                    Tensor x = Indexing.embedding(table, tokens, new long[] {t, n}, padding);
                    if (run == 1) {
                        x = x.mul(1f);
                    }
                    if (changedInPlace) {
                        try (var ignored = dev.gatun.autograd.Autograd.noGrad()) {
                            table.copyFrom(table.mul(2f));
                        }
                    }
                    Recurrent.Result r = Recurrent.lstm(x, h0, c0, wi, wh, bi, bh);
                    dev.gatun.autograd.Node layer = r.output().gradFn();
                    while (!layer.op().equals(Rnn.Cell.LSTM.opName())) {
                        layer = layer.inputs()[0].gradFn();
                    }
                    if (run == 0 && Rnn.lstmTrainKernel(shape)) {
                        if (changedInPlace) {
                            assertEquals("embedding", layer.inputOp(0), what + ": the layer reads x");
                        } else {
                            assertTrue(layer.inputs()[0] == table, what + ": the layer reads the table");
                        }
                    }
                    r.output().mul(ry).sum().add(r.h().sum()).add(r.c().mul(0.5f).sum()).backward();
                    outputs[run] = r.output();
                    runs[run] = new Tensor[] {table.grad(), h0.grad(), c0.grad(), wi.grad(), wh.grad(), bi.grad(),
                        bh.grad()};
                }
                close(what + " output", d(outputs[1]), outputs[0]);
                String[] names = {"dtable", "dh0", "dc0", "dweight_ih", "dweight_hh", "dbias_ih", "dbias_hh"};
                for (int k = 0; k < names.length; k++) {
                    close(what + " " + names[k], d(runs[1][k]), runs[0][k]);
                }
                if (padding >= 0) {
                    assertTrue(Arrays.stream(toDouble(runs[0][0].select(0, padding))).allMatch(g -> g == 0),
                            what + ": the padding row gets no gradient");
                }
            }
        }
    }

    /**
     * A NaN in the input reaches the outputs from its step on and no earlier; huge pre-activations
     * saturate the gates (outputs in [−1, 1], finite gradients) rather than overflow.
     */
    @Test
    void nanPropagatesFromItsStepAndLargeGatesSaturate() {
        int t = 5, n = 6, i = 3, h = 20;
        float[] xs = GradCheck.leafIn(7, -1, 1, t, n, i).toArray();
        xs[(2 * n + 1) * i] = Float.NaN; // step 2, sequence 1
        Tensor x = Tensor.fromArray(xs, t, n, i).requiresGrad(true);
        Tensor wi = GradCheck.leafIn(8, -0.6, 0.6, 4L * h, i);
        Tensor wh = GradCheck.leafIn(9, -0.6, 0.6, 4L * h, h);
        Recurrent.Result r = Recurrent.lstm(x, null, null, wi, wh, null, null);
        float[] y = r.output().toArray();
        for (int s = 0; s < t; s++) {
            for (int u = 0; u < h; u++) {
                float v = y[(s * n + 1) * h + u];
                assertTrue(s < 2 ? Float.isFinite(v) : Float.isNaN(v), "step " + s + " unit " + u + ": " + v);
                assertTrue(Float.isFinite(y[(s * n) * h + u]), "another sequence stays finite");
            }
        }
        Tensor big = Tensor.rand(new Generator(10), 4L * h, i).sub(0.5f).mul(2e4f).requiresGrad(true);
        Tensor x2 = GradCheck.leafIn(11, -1, 1, t, n, i);
        Recurrent.Result r2 = Recurrent.lstm(x2, null, null, big, wh, null, null);
        r2.output().sum().backward();
        for (float v : r2.output().toArray()) assertTrue(v >= -1 && v <= 1, "saturated output " + v);
        for (float v : big.grad().toArray()) assertTrue(Float.isFinite(v), "finite gradient " + v);
        for (float v : x2.grad().toArray()) assertTrue(Float.isFinite(v), "finite input gradient " + v);
    }

    @Test
    void onlyTheInputsThatRequireAGradientGetOne() {
        Tensor x = GradCheck.leafIn(1, -1, 1, 3, 2, 4);
        Tensor wi = Tensor.rand(new Generator(2), 20, 4).sub(0.5f);
        Tensor wh = GradCheck.leafIn(3, -0.5, 0.5, 20, 5);
        Recurrent.Result r = Recurrent.lstm(x, null, null, wi, wh, null, null);
        r.output().sum().backward();
        assertNull(wi.grad(), "weight_ih does not require a gradient");
        assertTrue(Arrays.stream(toDouble(wh.grad())).anyMatch(v -> v != 0), "weight_hh gets its gradient");
        assertTrue(Arrays.stream(toDouble(x.grad())).anyMatch(v -> v != 0), "x gets its gradient");
    }

    @Test
    void theKernelsDoNotDependOnTheThreadCount() {
        int before = Threads.get();
        try (Arena a = Arena.ofConfined()) {
            for (long[] sz : SHAPES) {
                long t = sz[0], n = sz[1], h = sz[3];
                Rnn.Shape s = new Rnn.Shape(Rnn.Cell.LSTM, t, n, sz[2], h, 1);
                MemorySegment gx = LstmKernelTest.filled(a, t * n * 4 * h, 1);
                MemorySegment w = LstmKernelTest.filled(a, 4 * h * h, 2);
                MemorySegment b = LstmKernelTest.filled(a, 4 * h, 3);
                MemorySegment h0 = LstmKernelTest.filled(a, n * h, 4);
                MemorySegment c0 = LstmKernelTest.filled(a, n * h, 5);
                MemorySegment dy = LstmKernelTest.filled(a, t * n * h, 6);
                MemorySegment dhT = LstmKernelTest.filled(a, n * h, 7);
                MemorySegment dcT = LstmKernelTest.filled(a, n * h, 8);
                float[][] runs = new float[2][];
                for (int threads = 1; threads <= 2; threads++) {
                    Threads.set(threads);
                    MemorySegment y = floats(a, t * n * h);
                    MemorySegment acts = floats(a, t * n * 4 * h);
                    MemorySegment cs = floats(a, t * n * h);
                    MemorySegment dg = floats(a, t * n * 4 * h);
                    MemorySegment dh0 = floats(a, n * h);
                    MemorySegment dc0 = floats(a, n * h);
                    Rnn.lstmTrainForward(s, gx, w, b, h0, c0, floats(a, Rnn.lstmForwardPackElements(h)), y,
                            floats(a, n * h), floats(a, n * h), acts, cs);
                    Rnn.lstmTrainBackward(s, w, acts, cs, c0, dy, dhT, dcT, floats(a, Rnn.lstmBackwardPackElements(h)),
                            dg, dh0, dc0);
                    runs[threads - 1] = concat(y, cs, dg, dh0, dc0);
                }
                assertArrayEquals(runs[0], runs[1], Arrays.toString(sz));
            }
        } finally {
            Threads.set(before);
        }
    }

    @Test
    void theBackendChecksSizesAndOverlaps() {
        try (Arena a = Arena.ofConfined()) {
            long t = 3, n = 2, h = 5;
            Rnn.Shape s = new Rnn.Shape(Rnn.Cell.LSTM, t, n, 4, h, 1);
            MemorySegment gx = floats(a, t * n * 4 * h);
            MemorySegment w = floats(a, 4 * h * h);
            MemorySegment wf = floats(a, Rnn.lstmForwardPackElements(h));
            MemorySegment y = floats(a, t * n * h);
            MemorySegment acts = floats(a, t * n * 4 * h);
            MemorySegment cs = floats(a, t * n * h);
            MemorySegment hT = floats(a, n * h);
            MemorySegment cT = floats(a, n * h);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainForward(s,
                    gx.asSlice(0, 8), w, null, null, null, wf, y, hT, cT, acts, cs));
            assertTrue(e.getMessage().contains("gx"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainForward(s, gx, w, null, null, null,
                    wf.asSlice(0, 4), y, hT, cT, acts, cs));
            assertTrue(e.getMessage().contains("packed"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainForward(s, gx, w, null, null, null,
                    wf, y, hT, hT, acts, cs));
            assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainForward(s, acts, w, null, null, null,
                    wf, y, hT, cT, acts, cs));
            assertTrue(e.getMessage().contains("overlaps an input"), e.getMessage());
            MemorySegment wb = floats(a, Rnn.lstmBackwardPackElements(h));
            MemorySegment dg = floats(a, t * n * 4 * h);
            e = assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainBackward(s, w, acts, cs, null, null,
                    null, null, wb, dg, hT, cT));
            assertTrue(e.getMessage().contains("dy"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainBackward(s, w, acts, cs, null, y,
                    null, null, wb, dg, dg.asSlice(0, n * h * Float.BYTES), cT));
            assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
            // Looked-up rows: each must be a row of the table.
            MemorySegment rows = a.allocate(t * n * Integer.BYTES);
            rows.setAtIndex(ValueLayout.JAVA_INT, t * n - 1, 3);
            e = assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainForward(s, gx, rows, 3, w, null, null,
                    null, wf, y, hT, cT, acts, cs));
            assertTrue(e.getMessage().contains("row 3 at position " + (t * n - 1)), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Rnn.scatterAddRows(dg, rows, floats(a, 3 * 4 * h),
                    t * n, 4 * h, 3));
            assertTrue(e.getMessage().contains("row 3"), e.getMessage());
            rows.setAtIndex(ValueLayout.JAVA_INT, t * n - 1, -1);
            assertThrows(IllegalArgumentException.class, () -> Rnn.scatterAddRows(dg, rows, floats(a, 3 * 4 * h),
                    t * n, 4 * h, 3));
            Rnn.Shape gru = new Rnn.Shape(Rnn.Cell.GRU, t, n, 4, h, 1);
            assertThrows(IllegalArgumentException.class, () -> Rnn.lstmTrainForward(gru, gx, w, null, null, null, wf,
                    y, hT, cT, acts, cs));
        }
    }

    // ---------------------------------------------------------------- the reference, in double

    /** The LSTM over [t, n, i] in double (PyTorch's formulas), then backpropagation through time. */
    private static final class Reference {
        final int t, n, i, h;
        final double[] x, wi, wh, h0, c0;
        final double[] y, hT, cT;
        final double[][] gates; // per step, [n][4h] activated i, f, g, o
        final double[][] cells; // per step, [n][h]
        double[] dx, dwi, dwh, db, dh0, dc0;

        Reference(int t, int n, int i, int h, double[] x, double[] h0, double[] c0, double[] wi, double[] wh,
                  double[] bi, double[] bh) {
            this.t = t;
            this.n = n;
            this.i = i;
            this.h = h;
            this.x = x;
            this.wi = wi;
            this.wh = wh;
            this.h0 = h0 == null ? new double[n * h] : h0;
            this.c0 = c0 == null ? new double[n * h] : c0;
            y = new double[t * n * h];
            gates = new double[t][n * 4 * h];
            cells = new double[t][n * h];
            double[] hp = this.h0;
            double[] cp = this.c0;
            for (int s = 0; s < t; s++) {
                double[] hs = new double[n * h];
                for (int b = 0; b < n; b++) {
                    for (int g = 0; g < 4 * h; g++) {
                        double v = (bi == null ? 0 : bi[g] + bh[g]);
                        for (int k = 0; k < i; k++) v += wi[g * i + k] * x[(s * n + b) * i + k];
                        for (int k = 0; k < h; k++) v += wh[g * h + k] * hp[b * h + k];
                        gates[s][b * 4 * h + g] = g / h == 2 ? Math.tanh(v) : 1 / (1 + Math.exp(-v));
                    }
                    for (int u = 0; u < h; u++) {
                        double[] a = gates[s];
                        int o = b * 4 * h;
                        double c = a[o + h + u] * cp[b * h + u] + a[o + u] * a[o + 2 * h + u];
                        cells[s][b * h + u] = c;
                        hs[b * h + u] = a[o + 3 * h + u] * Math.tanh(c);
                    }
                }
                System.arraycopy(hs, 0, y, s * n * h, n * h);
                hp = hs;
                cp = cells[s];
            }
            hT = hp;
            cT = cp;
        }

        void backward(double[] dy, double[] dhT, double[] dcT) {
            dx = new double[t * n * i];
            dwi = new double[4 * h * i];
            dwh = new double[4 * h * h];
            db = new double[4 * h];
            double[] dh = dhT.clone();
            double[] dc = dcT.clone();
            for (int s = t - 1; s >= 0; s--) {
                double[] hp = s == 0 ? h0 : Arrays.copyOfRange(y, (s - 1) * n * h, s * n * h);
                double[] cp = s == 0 ? c0 : cells[s - 1];
                double[] dhPrev = new double[n * h];
                for (int b = 0; b < n; b++) {
                    double[] dg = new double[4 * h];
                    int o = b * 4 * h;
                    double[] a = gates[s];
                    for (int u = 0; u < h; u++) {
                        int e = b * h + u;
                        double dhs = dh[e] + dy[s * n * h + e];
                        double tc = Math.tanh(cells[s][e]);
                        double ig = a[o + u], fg = a[o + h + u], gg = a[o + 2 * h + u], og = a[o + 3 * h + u];
                        double dcs = dc[e] + dhs * og * (1 - tc * tc);
                        dg[u] = dcs * gg * ig * (1 - ig);
                        dg[h + u] = dcs * cp[e] * fg * (1 - fg);
                        dg[2 * h + u] = dcs * ig * (1 - gg * gg);
                        dg[3 * h + u] = dhs * tc * og * (1 - og);
                        dc[e] = dcs * fg;
                    }
                    for (int g = 0; g < 4 * h; g++) {
                        db[g] += dg[g];
                        for (int k = 0; k < i; k++) {
                            dwi[g * i + k] += dg[g] * x[(s * n + b) * i + k];
                            dx[(s * n + b) * i + k] += dg[g] * wi[g * i + k];
                        }
                        for (int k = 0; k < h; k++) {
                            dwh[g * h + k] += dg[g] * hp[b * h + k];
                            dhPrev[b * h + k] += dg[g] * wh[g * h + k];
                        }
                    }
                }
                dh = dhPrev;
            }
            dh0 = dh;
            dc0 = dc;
        }
    }

    // ---------------------------------------------------------------- helpers

    private static double[] d(Tensor t) {
        return toDouble(t);
    }

    private static double[] toDouble(Tensor t) {
        float[] f = t.toArray();
        double[] out = new double[f.length];
        for (int k = 0; k < f.length; k++) out[k] = f[k];
        return out;
    }

    private static void close(String what, double[] expected, Tensor actual) {
        float[] a = actual.toArray();
        assertEquals(expected.length, a.length, what + ": size");
        for (int k = 0; k < a.length; k++) {
            double tol = ATOL + RTOL * Math.abs(expected[k]);
            if (!(Math.abs(a[k] - expected[k]) <= tol)) {
                throw new AssertionError(what + "[" + k + "]: expected " + expected[k] + ", got " + a[k]);
            }
        }
    }

    private static MemorySegment floats(Arena a, long count) {
        return a.allocate(count * Float.BYTES, 64);
    }

    private static float[] concat(MemorySegment... parts) {
        long total = 0;
        for (MemorySegment p : parts) total += p.byteSize() / Float.BYTES;
        float[] out = new float[(int) total];
        int at = 0;
        for (MemorySegment p : parts) {
            int count = (int) (p.byteSize() / Float.BYTES);
            MemorySegment.copy(p, ValueLayout.JAVA_FLOAT, 0, out, at, count);
            at += count;
        }
        return out;
    }
}
