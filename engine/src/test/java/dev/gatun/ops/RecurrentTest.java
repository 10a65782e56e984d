package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/**
 * {@link Recurrent}: RNN (tanh), LSTM and GRU against PyTorch's numbers ({@code golden/rnn.json}),
 * gradients by central differences for every input (also from the final state alone), the no-grad
 * inference path, the shape checks made before oneDNN is called, and the primitive cache.
 */
class RecurrentTest extends ScopedTest {

    private static final long T = 3;
    private static final long N = 2;
    private static final long I = 3;
    private static final long H = 4;

    /**
     * Tolerances against PyTorch: |gatun − torch| ≤ ATOL + RTOL·|torch|. Both are float32 with
     * different summation orders and oneDNN's own tanh/σ; the values are of order 1 and the largest
     * difference measured is a few 1e-7. A wrong gate order or bias mapping moves values by 0.01 or more.
     */
    private static final double GOLDEN_ATOL = 1e-5;
    private static final double GOLDEN_RTOL = 1e-5;

    // ---------------------------------------------------------------- PyTorch golden fixture

    private static Rnn.Cell cellOf(String name) {
        return switch (name) {
            case "rnn_tanh" -> Rnn.Cell.RNN_TANH;
            case "rnn_relu" -> Rnn.Cell.RNN_RELU;
            case "lstm" -> Rnn.Cell.LSTM;
            case "gru" -> Rnn.Cell.GRU;
            default -> throw new AssertionError(name);
        };
    }

    @Test
    void matchesPyTorch() {
        JsonNode cases = Fixtures.load("rnn.json").get("cases");
        assertEquals(Rnn.Cell.values().length + 3, cases.size());
        int bidirectional = 0;
        for (JsonNode f : cases) {
            Rnn.Cell cell = cellOf(f.get("name").asText());
            int d = f.get("directions").asInt();
            String name = f.get("name").asText() + (d == 2 ? " bidirectional" : "");
            bidirectional += d - 1;
            long[] sz = Fixtures.longs(f.get("sizes"));
            long t = sz[0], n = sz[1], i = sz[2], h = sz[3], g = cell.gates();
            long[] state = d == 1 ? new long[] {n, h} : new long[] {d, n, h};
            boolean lstm = cell.hasCellState();
            Tensor x = leafFrom(f, "input", t, n, i);
            Tensor h0 = leafFrom(f, "h0", state);
            Tensor c0 = lstm ? leafFrom(f, "c0", state) : null;
            String[] keys = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
            long[][] shapes = {{g * h, i}, {g * h, h}, {g * h}, {g * h}};
            Tensor[][] params = new Tensor[d][4];
            for (int k = 0; k < d; k++) {
                for (int p = 0; p < 4; p++) {
                    params[k][p] = leafFrom(f, keys[p] + (k == 1 ? "_reverse" : ""), shapes[p]);
                }
            }
            Recurrent.Result r = d == 1
                    ? Recurrent.layer(cell, x, h0, c0, params[0][0], params[0][1], params[0][2], params[0][3])
                    : Recurrent.bidirectional(cell, x, h0, c0, params[0], params[1]);
            assertArrayEquals(new long[] {t, n, d * h}, r.output().shape(), name);
            assertArrayEquals(state, r.h().shape(), name);
            compare(name + " output", f.get("output"), r.output());
            compare(name + " h", f.get("h"), r.h());
            Tensor loss = Reduce.sum(Arithmetic.mul(r.output(), Tensor.fromArray(Fixtures.floats(f.get("output_grad")),
                    t, n, d * h)));
            loss = Arithmetic.add(loss, Reduce.sum(Arithmetic.mul(r.h(), Tensor.fromArray(
                    Fixtures.floats(f.get("h_grad")), state))));
            if (lstm) {
                compare(name + " c", f.get("c"), r.c());
                loss = Arithmetic.add(loss, Reduce.sum(Arithmetic.mul(r.c(), Tensor.fromArray(
                        Fixtures.floats(f.get("c_grad")), state))));
            } else {
                assertNull(r.c(), name);
            }
            loss.backward();
            compare(name + " input grad", f.get("input_grad"), x.grad());
            compare(name + " h0 grad", f.get("h0_grad"), h0.grad());
            if (lstm) compare(name + " c0 grad", f.get("c0_grad"), c0.grad());
            for (int k = 0; k < d; k++) {
                for (int p = 0; p < 4; p++) {
                    String key = keys[p] + (k == 1 ? "_reverse" : "");
                    compare(name + " " + key + " grad", f.get(key + "_grad"), params[k][p].grad());
                }
            }
        }
        assertEquals(3, bidirectional, "bidirectional cases");
    }

    private static Tensor leafFrom(JsonNode f, String key, long... shape) {
        return Tensor.fromArray(Fixtures.floats(f.get(key)), shape).requiresGrad(true);
    }

    private static void compare(String what, JsonNode expectedJson, Tensor actualTensor) {
        assertNotNull(actualTensor, what);
        float[] expected = Fixtures.floats(expectedJson);
        float[] actual = actualTensor.toArray();
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs((double) actual[i] - expected[i]);
            if (err > GOLDEN_ATOL + GOLDEN_RTOL * Math.abs(expected[i])) {
                throw new AssertionError(what + "[" + i + "]: gatun " + actual[i] + ", PyTorch " + expected[i]);
            }
        }
    }

    // ---------------------------------------------------------------- finite-difference gradients

    /** x, h0, c0 (LSTM only, else null), weight_ih, weight_hh, bias_ih, bias_hh as leaves. */
    private static Tensor[] leaves(Rnn.Cell cell, long seed) {
        long g = cell.gates();
        return new Tensor[] {
            GradCheck.leafIn(seed, -1, 1, T, N, I),
            GradCheck.leafIn(seed + 1, -0.5, 0.5, N, H),
            cell.hasCellState() ? GradCheck.leafIn(seed + 2, -0.5, 0.5, N, H) : null,
            GradCheck.leafIn(seed + 3, -0.6, 0.6, g * H, I),
            GradCheck.leafIn(seed + 4, -0.6, 0.6, g * H, H),
            GradCheck.leafIn(seed + 5, -0.3, 0.3, g * H),
            GradCheck.leafIn(seed + 6, -0.3, 0.3, g * H)};
    }

    private static Recurrent.Result run(Rnn.Cell cell, Tensor[] t) {
        return Recurrent.layer(cell, t[0], t[1], t[2], t[3], t[4], t[5], t[6]);
    }

    /**
     * GradCheck takes non-null inputs: c0 is dropped for the cells without one. The ReLU RNN gets a
     * smaller step, so that the differences rarely straddle a kink of max(0, ·).
     */
    private static void check(String name, Rnn.Cell cell, Tensor[] in,
                              java.util.function.Function<Recurrent.Result, Tensor> pick) {
        double eps = cell == Rnn.Cell.RNN_RELU ? 1e-3 : 1e-2;
        if (cell.hasCellState()) {
            GradCheck.check(name, eps, 2e-2, 2e-3, t -> pick.apply(run(cell, t)), in);
        } else {
            Tensor[] six = {in[0], in[1], in[3], in[4], in[5], in[6]};
            GradCheck.check(name, eps, 2e-2, 2e-3,
                    t -> pick.apply(run(cell, new Tensor[] {t[0], t[1], null, t[2], t[3], t[4], t[5]})), six);
        }
    }

    @Test
    void gradientsOfTheOutputSequence() {
        long seed = 100;
        for (Rnn.Cell cell : Rnn.Cell.values()) {
            check(cell + " output", cell, leaves(cell, seed += 10), Recurrent.Result::output);
        }
    }

    @Test
    void gradientsFromTheFinalHiddenStateOnly() {
        long seed = 200;
        for (Rnn.Cell cell : Rnn.Cell.values()) {
            Tensor[] in = leaves(cell, seed += 10);
            check(cell + " final h", cell, in, Recurrent.Result::h);
            // The first step's input reaches hT only through the recurrence.
            float[] dx = in[0].grad().toArray();
            double first = 0;
            for (int k = 0; k < N * I; k++) first += Math.abs(dx[k]);
            assertTrue(first > 1e-4, cell + ": gradient of hT reaches x at t = 0, got " + first);
        }
    }

    @Test
    void gradientsFromTheFinalCellStateOnly() {
        check("LSTM final c", Rnn.Cell.LSTM, leaves(Rnn.Cell.LSTM, 300), Recurrent.Result::c);
    }

    @Test
    void bidirectionalGradientsOfOutputAndFinalStates() {
        long seed = 1100;
        for (Rnn.Cell cell : new Rnn.Cell[] {Rnn.Cell.LSTM, Rnn.Cell.GRU}) {
            long g = cell.gates();
            Tensor x = GradCheck.leafIn(seed++, -1, 1, T, N, I);
            Tensor h0 = GradCheck.leafIn(seed++, -0.5, 0.5, 2, N, H);
            Tensor c0 = cell.hasCellState() ? GradCheck.leafIn(seed++, -0.5, 0.5, 2, N, H) : Tensor.zeros(1);
            Tensor[] w = new Tensor[8];
            for (int k = 0; k < 8; k++) {
                long[] shape = switch (k % 4) {
                    case 0 -> new long[] {g * H, I};
                    case 1 -> new long[] {g * H, H};
                    default -> new long[] {g * H};
                };
                w[k] = GradCheck.leafIn(seed++, -0.6, 0.6, shape);
            }
            java.util.function.Function<Tensor[], Recurrent.Result> f = t -> Recurrent.bidirectional(cell, t[0], t[1],
                    cell.hasCellState() ? t[2] : null, java.util.Arrays.copyOfRange(t, 3, 7),
                    java.util.Arrays.copyOfRange(t, 7, 11));
            Tensor[] in = new Tensor[11];
            in[0] = x;
            in[1] = h0;
            in[2] = c0;
            System.arraycopy(w, 0, in, 3, 8);
            if (!cell.hasCellState()) c0.requiresGrad(false);
            // One check per cell keeps the run short: the LSTM from its final h, the GRU from its output.
            if (cell.hasCellState()) {
                GradCheck.check(cell + " bidirectional final h", t -> f.apply(t).h(), in);
            } else {
                GradCheck.check(cell + " bidirectional output", t -> f.apply(t).output(), in);
            }
        }
    }

    @Test
    void bidirectionalShapesAreChecked() {
        Tensor x = Tensor.randn(new Generator(1), T, N, I);
        Tensor[] fw = {Tensor.randn(new Generator(2), 3 * H, I), Tensor.randn(new Generator(3), 3 * H, H), null, null};
        Tensor[] rv = {Tensor.randn(new Generator(4), 3 * H, I), Tensor.randn(new Generator(5), 3 * H, H + 1), null,
                null};
        String m = rejects(() -> Recurrent.bidirectional(Rnn.Cell.GRU, x, null, null, fw, rv));
        assertEquals("gru: weight_hh_reverse must be [12, 4], got [12, 5]", m);
        Tensor[] rv2 = {Tensor.randn(new Generator(4), 3 * H, I), Tensor.randn(new Generator(5), 3 * H, H),
                Tensor.zeros(3 * H), null};
        m = rejects(() -> Recurrent.bidirectional(Rnn.Cell.GRU, x, null, null, fw, rv2));
        assertEquals("gru: bias_ih_reverse must be given exactly when its forward counterpart is", m);
        Tensor[] rv3 = {Tensor.randn(new Generator(4), 3 * H, I), Tensor.randn(new Generator(5), 3 * H, H), null, null};
        m = rejects(() -> Recurrent.bidirectional(Rnn.Cell.GRU, x, Tensor.zeros(N, H), null, fw, rv3));
        assertEquals("gru: h0 must be [2, 2, 4], got [2, 4]", m);
        Recurrent.Result r = Recurrent.bidirectional(Rnn.Cell.GRU, x, null, null, fw, rv3);
        assertArrayEquals(new long[] {T, N, 2 * H}, r.output().shape());
        // The forward half of the last step is the forward final state; the reverse half of the first step the reverse one.
        assertArrayEquals(r.output().select(0, T - 1).slice(1, 0, H).contiguous().toArray(), r.h().select(0, 0).toArray());
        assertArrayEquals(r.output().select(0, 0).slice(1, H, 2 * H).contiguous().toArray(), r.h().select(0, 1).toArray());
    }

    @Test
    void zeroInitialStatesAndNoBiasEqualExplicitZeros() {
        for (Rnn.Cell cell : Rnn.Cell.values()) {
            Tensor[] in = leaves(cell, 400);
            Tensor zs = Tensor.zeros(N, H);
            Tensor zb = Tensor.zeros(cell.gates() * H);
            Recurrent.Result a = Recurrent.layer(cell, in[0], null, null, in[3], in[4], null, null);
            Recurrent.Result b = Recurrent.layer(cell, in[0], zs, cell.hasCellState() ? zs : null, in[3], in[4], zb, zb);
            assertArrayEquals(b.output().toArray(), a.output().toArray(), cell.toString());
            assertArrayEquals(b.h().toArray(), a.h().toArray(), cell.toString());
            // Without initial states and biases the gradients still reach x and the weights.
            Tensor[] w = {in[0], in[3], in[4]};
            GradCheck.check(cell + " without h0 and bias",
                    t -> Recurrent.layer(cell, t[0], null, null, t[1], t[2], null, null).output(), w);
        }
    }

    @Test
    void lastOutputStepIsTheFinalHiddenState() {
        for (Rnn.Cell cell : Rnn.Cell.values()) {
            Recurrent.Result r = run(cell, leaves(cell, 500));
            assertArrayEquals(r.output().select(0, T - 1).toArray(), r.h().toArray(), cell.toString());
        }
    }

    @Test
    void nonContiguousInputIsCopiedFirst() {
        Tensor[] in = leaves(Rnn.Cell.GRU, 600);
        Tensor xt = in[0].transpose(0, 1).contiguous().transpose(0, 1); // same values, strides [I, T·I, 1]
        assertTrue(!xt.isContiguous());
        Recurrent.Result a = Recurrent.gru(in[0], in[1], in[3], in[4], in[5], in[6]);
        Recurrent.Result b = Recurrent.gru(xt, in[1], in[3], in[4], in[5], in[6]);
        assertArrayEquals(a.output().toArray(), b.output().toArray());
    }

    @Test
    void noTapeUnderNoGrad() {
        Tensor[] in = leaves(Rnn.Cell.LSTM, 700);
        Recurrent.Result training = run(Rnn.Cell.LSTM, in);
        try (var ignored = Autograd.noGrad()) {
            Recurrent.Result r = run(Rnn.Cell.LSTM, in);
            assertNull(r.output().gradFn());
            assertNull(r.h().gradFn());
            assertNull(r.c().gradFn());
            // A small batch's inference runs gatun's kernel: the training primitive's values to rounding.
            assertArrayEquals(training.output().toArray(), r.output().toArray(), 1e-6f);
            assertArrayEquals(training.c().toArray(), r.c().toArray(), 1e-6f);
        }
    }

    // ---------------------------------------------------------------- bad inputs

    private static String rejects(org.junit.jupiter.api.function.Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }

    @Test
    void badShapesAreRejectedWithTheirNumbers() {
        long before = Rnn.primitivesCreated();
        Tensor x = Tensor.randn(new Generator(1), T, N, I);
        Tensor wi = Tensor.randn(new Generator(2), 4 * H, I);
        Tensor wh = Tensor.randn(new Generator(3), 4 * H, H);
        String m = rejects(() -> Recurrent.lstm(Tensor.randn(new Generator(4), T, N, I + 2), null, null, wi, wh, null,
                null));
        assertEquals("lstm: input width 5 (input [3, 2, 5]) differs from weight_ih's 3 columns ([16, 3])", m);
        m = rejects(() -> Recurrent.lstm(x, Tensor.zeros(N + 1, H), null, wi, wh, null, null));
        assertEquals("lstm: h0 must be [2, 4], got [3, 4]", m);
        m = rejects(() -> Recurrent.lstm(x, null, Tensor.zeros(N, H, 1), wi, wh, null, null));
        assertEquals("lstm: c0 must be [2, 4], got [2, 4, 1]", m);
        m = rejects(() -> Recurrent.lstm(Tensor.randn(new Generator(5), N, I), null, null, wi, wh, null, null));
        assertEquals("lstm: input must be [T, N, I], got shape [2, 3]", m);
        m = rejects(() -> Recurrent.gru(x, null, wi, wh, null, null));
        assertEquals("gru: weight_ih must be [3·H, I], got shape [16, 3]", m);
        m = rejects(() -> Recurrent.lstm(x, null, null, wi, Tensor.randn(new Generator(6), 4 * H, H + 1), null, null));
        assertEquals("lstm: weight_hh must be [16, 4], got [16, 5]", m);
        m = rejects(() -> Recurrent.lstm(x, null, null, wi, wh, Tensor.zeros(H), null));
        assertEquals("lstm: bias_ih must be [16], got [4]", m);
        m = rejects(() -> Recurrent.rnnTanh(x, null, Tensor.randn(new Generator(7), H, I),
                Tensor.randn(new Generator(8), H, H), null, Tensor.zeros(2 * H)));
        assertEquals("rnn_tanh: bias_hh must be [4], got [8]", m);
        m = rejects(() -> Recurrent.layer(Rnn.Cell.GRU, x, null, Tensor.zeros(N, H),
                Tensor.randn(new Generator(9), 3 * H, I), Tensor.randn(new Generator(10), 3 * H, H), null, null));
        assertEquals("gru: only the LSTM has a cell state c0", m);
        m = rejects(() -> Recurrent.rnnTanh(Tensor.zeros(0, N, I), null, Tensor.randn(new Generator(11), H, I),
                Tensor.randn(new Generator(12), H, H), null, null));
        assertEquals("rnn_tanh: sizes must be positive, got T=0 N=2 I=3 H=4", m);
        assertEquals(before, Rnn.primitivesCreated(), "no primitive was created for a bad shape");
    }

    @Test
    void backendChecksBufferSizes() {
        Rnn.Shape s = new Rnn.Shape(Rnn.Cell.RNN_TANH, T, N, I, H);
        Tensor x = Tensor.zeros(T, N, I - 1);
        Tensor y = Tensor.zeros(T, N, H);
        Tensor h = Tensor.zeros(N, H);
        Tensor wi = Tensor.zeros(H, I);
        Tensor wh = Tensor.zeros(H, H);
        String m = rejects(() -> Rnn.forward(s, false, new Rnn.Weights(wi.storage(), wh.storage(), null, null),
                x.storage(), null, null, y.storage(), h.storage(), null, null));
        assertEquals("rnn_tanh T=3 N=2 I=3 H=4: x needs floats [0, 18) but its segment holds 12", m);
        m = rejects(() -> Rnn.forward(s, true, new Rnn.Weights(wi.storage(), wh.storage(), null, null),
                Tensor.zeros(T, N, I).storage(), null, null, y.storage(), h.storage(), null,
                Tensor.zeros(1).storage()));
        assertTrue(m.startsWith("rnn_tanh T=3 N=2 I=3 H=4: the workspace needs ") && m.endsWith("bytes, got 4"), m);
    }

    @Test
    void closedTensorsAreRejected() {
        try (Scope own = Scope.open()) {
            Tensor[] in = leaves(Rnn.Cell.GRU, 800);
            in[3].close();
            assertThrows(IllegalStateException.class, () -> run(Rnn.Cell.GRU, in));
        }
    }

    // ---------------------------------------------------------------- the primitive cache

    @Test
    void aRepeatedTrainingStepCreatesNoPrimitive() {
        for (Rnn.Cell cell : Rnn.Cell.values()) {
            Runnable step = () -> {
                Recurrent.Result r = run(cell, leaves(cell, 900));
                Arithmetic.add(Reduce.sum(r.output()), Reduce.sum(r.h())).backward();
            };
            step.run();
            long after = Rnn.primitivesCreated();
            step.run();
            step.run();
            assertEquals(after, Rnn.primitivesCreated(), cell + ": primitives created by repeated identical steps");
        }
    }

    @Test
    void concurrentTrainingStepsFromManyThreads() throws Exception {
        Rnn.Cell cell = Rnn.Cell.LSTM;
        float[][] values = new float[7][];
        Tensor[] in = leaves(cell, 1000);
        for (int k = 0; k < 7; k++) values[k] = in[k].toArray();
        long[][] shapes = new long[7][];
        for (int k = 0; k < 7; k++) shapes[k] = in[k].shape();
        java.util.function.Supplier<float[]> step = () -> {
            try (Scope s = Scope.open()) {
                Tensor[] t = new Tensor[7];
                for (int k = 0; k < 7; k++) t[k] = Tensor.fromArray(values[k], shapes[k]).requiresGrad(true);
                Recurrent.Result r = run(cell, t);
                Arithmetic.add(Reduce.sum(r.output()), Reduce.sum(r.c())).backward();
                float[] y = r.output().toArray();
                float[] dw = t[4].grad().toArray();
                float[] both = java.util.Arrays.copyOf(y, y.length + dw.length);
                System.arraycopy(dw, 0, both, y.length, dw.length);
                return both;
            }
        };
        float[] expected = step.get();
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            java.util.List<java.util.concurrent.Future<float[]>> results = new java.util.ArrayList<>();
            for (int i = 0; i < 8; i++) {
                results.add(pool.submit(() -> {
                    float[] last = null;
                    for (int j = 0; j < 5; j++) last = step.get();
                    return last;
                }));
            }
            for (var f : results) {
                assertArrayEquals(expected, f.get());
            }
        }
    }
}
