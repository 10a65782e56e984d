package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.GradCheck;
import dev.gatun.ops.Recurrent;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link RNN}, {@link LSTM}, {@link GRU} and {@link Embedding} as modules: PyTorch's parameter names,
 * shapes and initial ranges, stacking layers, batch-first sequences, initial states, summaries and
 * the checks on their inputs.
 */
class RecurrentLayerTest extends ScopedTest {

    @Test
    void parametersAreNamedAndShapedLikePyTorch() {
        try (LSTM lstm = new LSTM(5, 7, RecurrentLayer.Options.defaults().withLayers(2))) {
            Map<String, Tensor> p = lstm.namedParameters();
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1",
                    "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"), List.copyOf(p.keySet()));
            assertArrayEquals(new long[] {28, 5}, p.get("weight_ih_l0").shape());
            assertArrayEquals(new long[] {28, 7}, p.get("weight_hh_l0").shape());
            assertArrayEquals(new long[] {28, 7}, p.get("weight_ih_l1").shape());
            assertArrayEquals(new long[] {28}, p.get("bias_hh_l1").shape());
        }
        try (GRU gru = new GRU(3, 4, RecurrentLayer.Options.defaults().withBias(false)); RNN rnn = new RNN(3, 4)) {
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0"), List.copyOf(gru.namedParameters().keySet()));
            assertArrayEquals(new long[] {12, 3}, gru.namedParameters().get("weight_ih_l0").shape());
            assertArrayEquals(new long[] {4, 4}, rnn.namedParameters().get("weight_hh_l0").shape());
        }
    }

    @Test
    void initialisedUniformInPlusMinusOneOverRootH() {
        try (LSTM lstm = new LSTM(8, 16)) {
            double bound = 1 / Math.sqrt(16);
            for (var e : lstm.namedParameters().entrySet()) {
                float[] v = e.getValue().toArray();
                double max = 0;
                for (float f : v) max = Math.max(max, Math.abs(f));
                assertTrue(max <= bound && max > 0.9 * bound, e.getKey() + " spans ±1/√H: max |w| = " + max);
            }
        }
    }

    @Test
    void oneLayerIsTheOp() {
        try (GRU gru = new GRU(3, 4)) {
            Tensor x = Tensor.randn(new Generator(1), 5, 2, 3);
            Tensor h0 = Tensor.randn(new Generator(2), 1, 2, 4);
            RecurrentLayer.Output out = gru.forward(x, h0);
            Map<String, Tensor> p = gru.namedParameters();
            Recurrent.Result r = Recurrent.gru(x, h0.select(0, 0), p.get("weight_ih_l0"), p.get("weight_hh_l0"),
                    p.get("bias_ih_l0"), p.get("bias_hh_l0"));
            assertArrayEquals(r.output().toArray(), out.output().toArray());
            assertArrayEquals(new long[] {1, 2, 4}, out.h().shape());
            assertArrayEquals(r.h().toArray(), out.h().toArray());
            assertNull(out.c());
            assertArrayEquals(gru.forward(x, Tensor.zeros(1, 2, 4)).output().toArray(), gru.forward(x).toArray());
        }
    }

    @Test
    void stackedLayersFeedEachOtherAndStackTheirStates() {
        try (LSTM lstm = new LSTM(3, 4, RecurrentLayer.Options.defaults().withLayers(2))) {
            Tensor x = Tensor.randn(new Generator(3), 5, 2, 3);
            Tensor h0 = Tensor.randn(new Generator(4), 2, 2, 4);
            Tensor c0 = Tensor.randn(new Generator(5), 2, 2, 4);
            RecurrentLayer.Output out = lstm.forward(x, h0, c0);
            Map<String, Tensor> p = lstm.namedParameters();
            Recurrent.Result l0 = Recurrent.lstm(x, h0.select(0, 0), c0.select(0, 0), p.get("weight_ih_l0"),
                    p.get("weight_hh_l0"), p.get("bias_ih_l0"), p.get("bias_hh_l0"));
            Recurrent.Result l1 = Recurrent.lstm(l0.output(), h0.select(0, 1), c0.select(0, 1), p.get("weight_ih_l1"),
                    p.get("weight_hh_l1"), p.get("bias_ih_l1"), p.get("bias_hh_l1"));
            assertArrayEquals(l1.output().toArray(), out.output().toArray());
            assertArrayEquals(new long[] {2, 2, 4}, out.h().shape());
            assertArrayEquals(l0.h().toArray(), out.h().select(0, 0).toArray());
            assertArrayEquals(l1.c().toArray(), out.c().select(0, 1).toArray());
        }
    }

    @Test
    void gradientsThroughStackedLayersAndTheirStates() {
        try (RNN rnn = new RNN(3, 4, RecurrentLayer.Options.defaults().withLayers(2))) {
            Tensor x = GradCheck.leafIn(6, -1, 1, 3, 2, 3);
            Tensor h0 = GradCheck.leafIn(7, -0.5, 0.5, 2, 2, 4);
            GradCheck.check("2-layer RNN final h", t -> rnn.forward(t[0], t[1]).h(), x, h0);
            GradCheck.check("2-layer RNN output", t -> rnn.forward(t[0], t[1]).output(), x, h0);
            Tensor w = rnn.namedParameters().get("weight_hh_l0");
            w.setGrad(null);
            Reduce.sum(rnn.forward(x, h0).h()).backward();
            assertTrue(w.grad() != null, "the first layer's weights get a gradient from the final states");
        }
    }

    @Test
    void batchFirstTransposesInputAndOutputOnly() {
        Init.manualSeed(11);
        try (LSTM timeMajor = new LSTM(3, 4)) {
            Init.manualSeed(11);
            try (LSTM batchMajor = new LSTM(3, 4, RecurrentLayer.Options.defaults().withBatchFirst(true))) {
                Tensor x = Tensor.randn(new Generator(8), 5, 2, 3);
                RecurrentLayer.Output a = timeMajor.forward(x, null, null);
                RecurrentLayer.Output b = batchMajor.forward(x.transpose(0, 1), null, null);
                assertArrayEquals(new long[] {2, 5, 4}, b.output().shape());
                assertArrayEquals(a.output().transpose(0, 1).contiguous().toArray(), b.output().toArray());
                assertArrayEquals(a.h().toArray(), b.h().toArray());
                assertArrayEquals(a.c().toArray(), b.c().toArray());
            }
        }
    }

    @Test
    void summaryShowsTheOutputSequence() {
        try (Sequential net = new Sequential(new Embedding(65, 8), new LSTM(8, 16))) {
            String s = net.summary(10, 4);
            assertTrue(s.contains("Embedding(65 → 8)") && s.contains("[10, 4, 8]"), s);
            assertTrue(s.contains("LSTM(8 → 16)") && s.contains("[10, 4, 16]"), s);
            assertTrue(s.contains(String.format(java.util.Locale.ROOT, "%,d", 65 * 8 + 4 * 16 * (8 + 16 + 2))), s);
        }
        try (GRU gru = new GRU(3, 5, RecurrentLayer.Options.defaults().withLayers(2).withBias(false).withBatchFirst(true))) {
            assertEquals("GRU(3 → 5, 2 layers, no bias, batch first)", gru.describe());
        }
        try (RNN relu = new RNN(3, 5, RNN.Nonlinearity.RELU, RecurrentLayer.Options.defaults())) {
            assertEquals("RNN(3 → 5, relu)", relu.describe());
            Tensor y = relu.forward(Tensor.randn(new Generator(9), 4, 2, 3));
            for (float v : y.toArray()) assertTrue(v >= 0, "a ReLU RNN's output is never negative");
        }
    }

    @Test
    void badInputsAreRejectedWithTheirNumbers() {
        try (LSTM lstm = new LSTM(3, 4, RecurrentLayer.Options.defaults().withLayers(2))) {
            Tensor x = Tensor.randn(new Generator(1), 5, 2, 3);
            String m = assertThrows(IllegalArgumentException.class,
                    () -> lstm.forward(x, Tensor.zeros(1, 2, 4), null)).getMessage();
            assertEquals("LSTM: h0 must be [2, 2, 4], got [1, 2, 4]", m);
            m = assertThrows(IllegalArgumentException.class,
                    () -> lstm.forward(Tensor.randn(new Generator(2), 5, 3))).getMessage();
            assertEquals("LSTM: input must be [T, N, I], got shape [5, 3]", m);
            m = assertThrows(IllegalArgumentException.class,
                    () -> lstm.forward(Tensor.randn(new Generator(3), 5, 2, 6), null, null)).getMessage();
            assertTrue(m.contains("input width 6") && m.contains("3 columns"), m);
        }
        assertThrows(IllegalArgumentException.class, () -> new GRU(3, 0));
        assertThrows(IllegalArgumentException.class, () -> RecurrentLayer.Options.defaults().withLayers(0));
        assertThrows(IllegalArgumentException.class, () -> new Embedding(5, 2, 5));
    }

    @Test
    void embeddingIsNormalWithAZeroPaddingRow() {
        try (Embedding e = new Embedding(200, 50, 3)) {
            float[] w = e.weight().toArray();
            double sum = 0;
            double sq = 0;
            for (float f : w) {
                sum += f;
                sq += (double) f * f;
            }
            double mean = sum / w.length;
            double std = Math.sqrt(sq / w.length - mean * mean);
            assertEquals(0, mean, 0.05);
            assertEquals(1, std, 0.05);
            assertArrayEquals(new float[50], e.weight().select(0, 3).toArray());
            Tensor out = e.forward(Tensor.fromArray(new float[] {3, 7}, 2));
            assertArrayEquals(new long[] {2, 50}, out.shape());
            assertArrayEquals(e.weight().select(0, 7).toArray(), out.select(0, 1).toArray());
            String m = assertThrows(IllegalArgumentException.class,
                    () -> e.forward(Tensor.fromArray(new float[] {1.5f}, 1))).getMessage();
            assertEquals("Embedding: index 1.5 at position 0 is not a whole number", m);
        }
    }

    /**
     * Two-layer bidirectional batch-first LSTM and GRU against torch.nn's (golden/rnn.json "modules"):
     * PyTorch's state_dict names load one to one, and the outputs, final states and every gradient agree
     * within 1e-5 (absolute) + 1e-5 (relative).
     */
    @Test
    void stackedBidirectionalModulesMatchPyTorch() {
        JsonNode modules = Fixtures.load("rnn.json").get("modules");
        assertEquals(2, modules.size());
        for (JsonNode f : modules) {
            String name = f.get("name").asText();
            long[] sz = Fixtures.longs(f.get("sizes"));
            long t = sz[0], n = sz[1], i = sz[2], h = sz[3];
            boolean lstm = name.equals("lstm");
            RecurrentLayer.Options options = RecurrentLayer.Options.defaults().withLayers(2).withBatchFirst(true)
                    .withBidirectional(true);
            try (RecurrentLayer m = lstm ? new LSTM(i, h, options) : new GRU(i, h, options)) {
                Map<String, Tensor> params = m.namedParameters();
                assertEquals(List.copyOf(iterable(f.get("parameters").fieldNames())), List.copyOf(params.keySet()), name);
                for (var e : params.entrySet()) {
                    e.getValue().copyFrom(Fixtures.floats(f.get("parameters").get(e.getKey())));
                }
                Tensor x = Tensor.fromArray(Fixtures.floats(f.get("input")), n, t, i).requiresGrad(true);
                Tensor h0 = Tensor.fromArray(Fixtures.floats(f.get("h0")), 4, n, h).requiresGrad(true);
                Tensor c0 = lstm ? Tensor.fromArray(Fixtures.floats(f.get("c0")), 4, n, h).requiresGrad(true) : null;
                RecurrentLayer.Output out = lstm ? ((LSTM) m).forward(x, h0, c0) : ((GRU) m).forward(x, h0);
                assertArrayEquals(new long[] {n, t, 2 * h}, out.output().shape(), name);
                assertArrayEquals(new long[] {4, n, h}, out.h().shape(), name);
                close(name + " output", f.get("output"), out.output());
                close(name + " h", f.get("h"), out.h());
                Tensor loss = Arithmetic.add(weighted(out.output(), f.get("output_grad")), weighted(out.h(), f.get("h_grad")));
                if (lstm) {
                    close(name + " c", f.get("c"), out.c());
                    loss = Arithmetic.add(loss, weighted(out.c(), f.get("c_grad")));
                }
                loss.backward();
                close(name + " input grad", f.get("input_grad"), x.grad());
                close(name + " h0 grad", f.get("h0_grad"), h0.grad());
                if (lstm) close(name + " c0 grad", f.get("c0_grad"), c0.grad());
                for (var e : params.entrySet()) {
                    close(name + " " + e.getKey() + " grad", f.get("parameter_grads").get(e.getKey()), e.getValue().grad());
                }
            }
        }
    }

    private static <T> List<T> iterable(java.util.Iterator<T> it) {
        List<T> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    private static Tensor weighted(Tensor t, JsonNode r) {
        return Reduce.sum(Arithmetic.mul(t, Tensor.fromArray(Fixtures.floats(r), t.shape())));
    }

    private static void close(String what, JsonNode expectedJson, Tensor actual) {
        float[] expected = Fixtures.floats(expectedJson);
        float[] got = actual.contiguous().toArray();
        assertEquals(expected.length, got.length, what + ": length");
        for (int k = 0; k < expected.length; k++) {
            if (Math.abs((double) got[k] - expected[k]) > 1e-5 + 1e-5 * Math.abs(expected[k])) {
                throw new AssertionError(what + "[" + k + "]: gatun " + got[k] + ", PyTorch " + expected[k]);
            }
        }
    }

    @Test
    void bidirectionalStatesAreLayerMajor() {
        try (RNN rnn = new RNN(3, 4, RecurrentLayer.Options.defaults().withLayers(2).withBidirectional(true))) {
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                    "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1",
                    "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse",
                    "bias_ih_l1_reverse", "bias_hh_l1_reverse"), List.copyOf(rnn.namedParameters().keySet()));
            assertArrayEquals(new long[] {4, 8}, rnn.namedParameters().get("weight_ih_l1_reverse").shape());
            assertEquals("RNN(3 → 4, 2 layers, bidirectional)", rnn.describe());
            Tensor x = GradCheck.leafIn(12, -1, 1, 3, 2, 3);
            Tensor h0 = GradCheck.leafIn(13, -0.5, 0.5, 4, 2, 4);
            RecurrentLayer.Output out = rnn.forward(x, h0);
            assertArrayEquals(new long[] {3, 2, 8}, out.output().shape());
            assertArrayEquals(new long[] {4, 2, 4}, out.h().shape());
            // The last layer's reverse direction ends at step 0: its final state is the second half of output[0].
            assertArrayEquals(out.output().select(0, 0).slice(1, 4, 8).contiguous().toArray(),
                    out.h().select(0, 3).toArray());
            GradCheck.check("2-layer bidirectional RNN final h", t -> rnn.forward(t[0], t[1]).h(), x, h0);
            String m = assertThrows(IllegalArgumentException.class,
                    () -> rnn.forward(x, Tensor.zeros(2, 2, 4))).getMessage();
            assertEquals("RNN: h0 must be [4, 2, 4], got [2, 2, 4]", m);
        }
    }

    @Test
    void dropoutActsBetweenLayersInTrainingOnly() {
        Init.manualSeed(21);
        try (LSTM plain = new LSTM(3, 4, RecurrentLayer.Options.defaults().withLayers(2))) {
            Init.manualSeed(21);
            try (LSTM dropped = new LSTM(3, 4, RecurrentLayer.Options.defaults().withLayers(2).withDropout(0.5f))) {
                assertEquals("LSTM(3 → 4, 2 layers, dropout 0.5)", dropped.describe());
                Tensor x = Tensor.randn(new Generator(14), 5, 2, 3);
                for (var e : plain.namedParameters().entrySet()) {
                    assertArrayEquals(e.getValue().toArray(), dropped.namedParameters().get(e.getKey()).toArray(),
                            "the initial weights do not depend on dropout");
                }
                float[] reference = plain.forward(x).toArray();
                dropped.eval();
                assertArrayEquals(reference, dropped.forward(x).toArray(), "no dropout in evaluation mode");
                dropped.train();
                float[] trained = dropped.forward(x).toArray();
                boolean differs = false;
                for (int k = 0; k < reference.length; k++) differs |= reference[k] != trained[k];
                assertTrue(differs, "dropout changes the second layer's input in training mode");
            }
        }
        String m = assertThrows(IllegalArgumentException.class,
                () -> RecurrentLayer.Options.defaults().withDropout(1f)).getMessage();
        assertEquals("recurrent layer: dropout must be in [0, 1), got 1.0", m);
    }

    @Test
    void aRepeatedStackedBidirectionalTrainingStepCreatesNoPrimitive() {
        try (LSTM lstm = new LSTM(3, 4, RecurrentLayer.Options.defaults().withLayers(2).withBidirectional(true))) {
            Runnable step = () -> {
                lstm.zeroGrad();
                RecurrentLayer.Output out = lstm.forward(Tensor.randn(new Generator(15), 5, 2, 3), null, null);
                Arithmetic.add(Reduce.sum(out.output()), Reduce.sum(out.c())).backward();
            };
            step.run();
            long after = dev.gatun.backend.Rnn.primitivesCreated();
            step.run();
            assertEquals(after, dev.gatun.backend.Rnn.primitivesCreated(), "primitives created by a repeated step");
        }
    }
}
