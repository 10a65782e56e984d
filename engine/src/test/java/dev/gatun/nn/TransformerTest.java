package dev.gatun.nn;

import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.Attention;
import dev.gatun.ops.Loss;
import dev.gatun.ops.Reduce;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Multi-head attention, positional encoding and the Transformer encoder layer. */
class TransformerTest extends ScopedTest {

    private static final JsonNode FIXTURE = Fixtures.load("transformer.json");

    private static JsonNode fixtureCase(String name) {
        for (JsonNode c : FIXTURE.get("cases")) {
            if (c.get("name").asText().equals(name)) return c;
        }
        throw new IllegalStateException("no case " + name);
    }

    private static Tensor input(JsonNode c, String name) {
        return Tensor.zeros(Fixtures.longs(c.get("input_shapes").get(name)))
                .copyFrom(Fixtures.floats(c.get("inputs").get(name))).requiresGrad(true);
    }

    private static Tensor booleanMask(JsonNode c, String name) {
        int[] bits = Fixtures.ints(c.get(name));
        boolean[] hidden = new boolean[bits.length];
        for (int i = 0; i < bits.length; i++) hidden[i] = bits[i] != 0;
        return Attention.maskFromBoolean(hidden, Fixtures.longs(c.get(name + "_shape")));
    }

    /** |a − e| ≤ atol + rtol·|e| elementwise. */
    private static void assertClose(float[] expected, float[] actual, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            assertTrue(err <= atol + rtol * Math.abs(expected[i]),
                    what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
        }
    }

    /**
     * Loads the fixture's parameters into {@code m} (names and shapes must match PyTorch's exactly), runs
     * {@code forward} on the fixture's inputs, and compares the output and the gradients of Σ y·r.
     */
    private static void assertMatchesPyTorch(String name, Module m, java.util.function.Function<Map<String, Tensor>,
            Tensor> forward) {
        JsonNode c = fixtureCase(name);
        List<String> expectedNames = new ArrayList<>();
        c.get("params").fieldNames().forEachRemaining(expectedNames::add);
        assertEquals(expectedNames, new ArrayList<>(m.namedParameters().keySet()), name + " parameter names");
        m.namedParameters().forEach((k, t) -> {
            assertArrayEquals(Fixtures.longs(c.get("param_shapes").get(k)), t.shape(), name + " shape of " + k);
            t.copyFrom(Fixtures.floats(c.get("params").get(k)));
        });
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        c.get("inputs").fieldNames().forEachRemaining(k -> inputs.put(k, input(c, k)));
        Tensor y = forward.apply(inputs);
        assertArrayEquals(Fixtures.longs(c.get("y_shape")), y.shape(), name + " output shape");
        assertClose(Fixtures.floats(c.get("y")), y.toArray(), 2e-5, 1e-4, name + " output");
        Reduce.sum(Arithmetic.mul(y, Tensor.zeros(y.shape()).copyFrom(Fixtures.floats(c.get("r"))))).backward();
        inputs.forEach((k, t) -> assertClose(Fixtures.floats(c.get("input_grads").get(k)), t.grad().toArray(), 5e-5,
                2e-4, name + " ∂" + k));
        m.namedParameters().forEach((k, t) -> assertClose(Fixtures.floats(c.get("grads").get(k)), t.grad().toArray(),
                5e-5, 2e-4, name + " ∂" + k));
    }

    @Test
    void multiheadAttentionMatchesPyTorch() {
        try (MultiheadAttention mha = new MultiheadAttention(8, 2)) {
            assertMatchesPyTorch("mha_self", mha, in -> mha.forward(in.get("x")));
        }
        try (MultiheadAttention mha = new MultiheadAttention(8, 2, 0f, true, true)) {
            Tensor causal = booleanMask(fixtureCase("mha_self_causal_batch_first"), "attn_mask");
            assertMatchesPyTorch("mha_self_causal_batch_first", mha,
                    in -> mha.forward(in.get("x"), in.get("x"), in.get("x"), causal));
        }
        try (MultiheadAttention mha = new MultiheadAttention(8, 2)) {
            Tensor padding = booleanMask(fixtureCase("mha_cross_padding"), "key_padding_mask");
            assertMatchesPyTorch("mha_cross_padding", mha,
                    in -> mha.forward(in.get("query"), in.get("key"), in.get("value"), null, padding));
        }
    }

    @Test
    void encoderLayerMatchesPyTorch() {
        var options = TransformerEncoderLayer.Options.defaults().withDimFeedforward(16).withDropout(0f);
        try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, options)) {
            assertMatchesPyTorch("encoder_post_norm", layer, in -> layer.forward(in.get("x")));
        }
        try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2,
                options.withBatchFirst(true).withNormFirst(true))) {
            Tensor causal = booleanMask(fixtureCase("encoder_pre_norm_causal_batch_first"), "attn_mask");
            assertMatchesPyTorch("encoder_pre_norm_causal_batch_first", layer, in -> layer.forward(in.get("x"), causal));
        }
        try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, options)) {
            Tensor padding = booleanMask(fixtureCase("encoder_post_norm_key_padding"), "key_padding_mask");
            assertMatchesPyTorch("encoder_post_norm_key_padding", layer,
                    in -> layer.forward(in.get("x"), null, padding));
        }
    }

    @Test
    void adamStepsFollowPyTorch() {
        JsonNode c = FIXTURE.get("training");
        var options = TransformerEncoderLayer.Options.defaults().withDimFeedforward(16).withDropout(0f);
        try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, options);
             Adam adam = new Adam(layer.parameters(), c.get("lr").asDouble())) {
            layer.namedParameters().forEach((k, t) -> t.copyFrom(Fixtures.floats(c.get("params").get(k))));
            long[] shape = Fixtures.longs(c.get("x_shape"));
            Tensor x = Tensor.zeros(shape).copyFrom(Fixtures.floats(c.get("x")));
            Tensor target = Tensor.zeros(shape).copyFrom(Fixtures.floats(c.get("target")));
            float[] expected = Fixtures.floats(c.get("losses"));
            float[] losses = new float[expected.length];
            for (int step = 0; step < losses.length; step++) {
                try (Scope s = Scope.open()) {
                    adam.zeroGrad();
                    Tensor loss = Loss.mse(layer.forward(x), target);
                    losses[step] = loss.item();
                    loss.backward();
                    adam.step();
                }
            }
            assertClose(expected, losses, 1e-5, 1e-4, "losses before each Adam step");
            assertTrue(losses[4] < losses[0], "the loss falls");
        }
    }

    @Test
    void initialisationAsPyTorch() {
        try (MultiheadAttention mha = new MultiheadAttention(16, 4)) {
            double xavier = Math.sqrt(6.0 / (16 + 48));
            float[] w = mha.inProjWeight().toArray();
            double maxAbs = 0;
            for (float v : w) maxAbs = Math.max(maxAbs, Math.abs(v));
            assertTrue(maxAbs <= xavier && maxAbs > 0.8 * xavier, "in_proj_weight within ±" + xavier + ": " + maxAbs);
            assertArrayEquals(new float[48], mha.inProjBias().toArray());
            assertArrayEquals(new float[16], mha.outProj().bias().toArray());
            double bound = 1 / Math.sqrt(16);
            for (float v : mha.outProj().weight().toArray()) assertTrue(Math.abs(v) <= bound);
        }
        try (MultiheadAttention noBias = new MultiheadAttention(8, 2, 0f, false, false)) {
            assertEquals(List.of("in_proj_weight", "out_proj.weight"), new ArrayList<>(noBias.namedParameters().keySet()));
        }
        try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2)) {
            assertEquals(8 * 24 + 24 + 64 + 8 + 8 * 2048 + 2048 + 2048 * 8 + 8 + 4 * 8, layer.parameterCount());
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, 1}, layer.namedParameters().get("norm1.weight").toArray());
        }
    }

    @Test
    void multiheadAttentionGradients() {
        try (MultiheadAttention mha = new MultiheadAttention(4, 2)) {
            Tensor[] params = mha.parameters().toArray(new Tensor[0]);
            Tensor x = leaf(1, 3, 2, 4);
            check("self-attention", in -> mha.forward(in[0]), concat(x, params));
            Tensor causal = Attention.causalMask(3, 3);
            check("self-attention, causal", in -> mha.forward(in[0], in[0], in[0], causal), concat(x, params));
            Tensor key = leaf(2, 5, 2, 4);
            Tensor value = leaf(3, 5, 2, 4);
            check("cross-attention", in -> mha.forward(in[0], in[1], in[2], null), x, key, value);
        }
        try (MultiheadAttention mha = new MultiheadAttention(4, 2, 0f, true, true)) {
            check("batch first, unbatched", in -> mha.forward(in[0]), leaf(4, 3, 4));
        }
    }

    @Test
    void encoderLayerGradients() {
        // GELU instead of ReLU: the finite differences must not straddle a kink.
        var options = TransformerEncoderLayer.Options.defaults().withDimFeedforward(6).withDropout(0f)
                .withActivation(TransformerEncoderLayer.FeedForwardActivation.GELU);
        for (boolean normFirst : new boolean[] {false, true}) {
            try (TransformerEncoderLayer layer = new TransformerEncoderLayer(4, 2, options.withNormFirst(normFirst))) {
                Tensor[] params = layer.parameters().toArray(new Tensor[0]);
                check("encoder layer, norm first " + normFirst, 1e-2, 3e-2, 3e-3, in -> layer.forward(in[0]),
                        concat(leaf(5, 3, 2, 4), params));
            }
        }
    }

    private static Tensor[] concat(Tensor first, Tensor[] rest) {
        Tensor[] all = new Tensor[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    @Test
    void layoutsAgree() {
        try (MultiheadAttention seqFirst = new MultiheadAttention(8, 4);
             MultiheadAttention batchFirst = new MultiheadAttention(8, 4, 0f, true, true)) {
            batchFirst.namedParameters().forEach((k, t) -> t.copyFrom(seqFirst.namedParameters().get(k)));
            Tensor x = Tensor.randn(new Generator(1), 3, 2, 8);                              // [T, B, E]
            float[] a = seqFirst.forward(x).transpose(0, 1).toArray();
            float[] b = batchFirst.forward(x.transpose(0, 1)).toArray();
            assertArrayEquals(a, b, 1e-5f);
            // An unbatched [T, E] sequence is batch entry 0.
            float[] single = seqFirst.forward(x.select(1, 0)).toArray();
            assertArrayEquals(seqFirst.forward(x).select(1, 0).toArray(), single, 1e-5f);
        }
    }

    @Test
    void attentionDropoutActsOnlyInTraining() {
        try (MultiheadAttention mha = new MultiheadAttention(8, 2, 0.5f, true, false)) {
            Tensor x = Tensor.randn(new Generator(1), 4, 2, 8);
            mha.eval();
            float[] a = mha.forward(x).toArray();
            assertArrayEquals(a, mha.forward(x).toArray());
            mha.train();
            float[] b = mha.forward(x).toArray();
            assertTrue(!java.util.Arrays.equals(a, b), "dropout changes the output in training");
        }
    }

    @Test
    void badInputsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MultiheadAttention(10, 4));
        assertEquals("MultiheadAttention: embed_dim 10 is not divisible by num_heads 4", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TransformerEncoderLayer(6, 4));
        assertEquals("MultiheadAttention: embed_dim 6 is not divisible by num_heads 4", e.getMessage());
        try (MultiheadAttention mha = new MultiheadAttention(8, 2)) {
            e = assertThrows(IllegalArgumentException.class, () -> mha.forward(Tensor.zeros(5, 2, 7)));
            assertEquals("MultiheadAttention: query must end in embed_dim 8, got shape [5, 2, 7]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> mha.forward(Tensor.zeros(8)));
            assertEquals("MultiheadAttention: query must be [L, B, E] or [L, E], got [8]", e.getMessage());
            Tensor x = Tensor.zeros(5, 2, 8);
            e = assertThrows(IllegalArgumentException.class, () -> mha.forward(x, x, x, Tensor.zeros(4, 4)));
            assertEquals("MultiheadAttention: attn_mask must be [5, 5] or [4, 5, 5], got [4, 4]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> mha.forward(x, x, x, null, Tensor.zeros(2, 4)));
            assertEquals("MultiheadAttention: key_padding_mask must be [2, 5], got [2, 4]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> mha.forward(x, Tensor.zeros(3, 3, 8), Tensor.zeros(3, 3, 8), null));
            assertEquals("MultiheadAttention: query has batch 2 but key has batch 3 (shapes [5, 2, 8], [3, 3, 8])",
                    e.getMessage());
        }
        try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2)) {
            Tensor x = Tensor.zeros(5, 2, 8);
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(x, Attention.causalMask(4, 4)));
            assertEquals("MultiheadAttention: attn_mask must be [5, 5] or [4, 5, 5], got [4, 4]", e.getMessage());
        }
        e = assertThrows(IllegalArgumentException.class, () -> TransformerEncoderLayer.Options.defaults().withDropout(1f));
        assertEquals("TransformerEncoderLayer: dropout probability must be in [0, 1), got 1.0", e.getMessage());
        MultiheadAttention closed = new MultiheadAttention(8, 2);
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.forward(Tensor.zeros(5, 2, 8)));
    }

    @Test
    void positionalEncodingFollowsTheFormula() {
        int d = 6;
        try (PositionalEncoding pe = new PositionalEncoding(d, 50, 0f, false)) {
            float[] table = pe.pe().toArray();
            for (int p = 0; p < 50; p++) {
                for (int i = 0; i < d / 2; i++) {
                    double angle = p / Math.pow(10000, 2.0 * i / d);
                    assertEquals(Math.sin(angle), table[p * d + 2 * i], 1e-6, "PE[" + p + ", " + 2 * i + "]");
                    assertEquals(Math.cos(angle), table[p * d + 2 * i + 1], 1e-6, "PE[" + p + ", " + (2 * i + 1) + "]");
                }
            }
            // Position 1: sin 1, cos 1, then frequencies 10000^(−1/3) and 10000^(−2/3).
            assertArrayEquals(new float[] {0.84147098f, 0.54030231f, 0.04639922f, 0.99892298f, 0.00215443f, 0.99999768f},
                    java.util.Arrays.copyOfRange(table, d, 2 * d), 1e-6f);
            // Added to every batch entry of a [T, B, d] input.
            Tensor x = Tensor.randn(new Generator(1), 4, 3, d);
            float[] y = pe.forward(x).toArray();
            float[] xv = x.toArray();
            for (int t = 0; t < 4; t++) {
                for (int b = 0; b < 3; b++) {
                    for (int j = 0; j < d; j++) {
                        int k = (t * 3 + b) * d + j;
                        assertEquals(xv[k] + table[t * d + j], y[k], 1e-6f);
                    }
                }
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> pe.forward(Tensor.zeros(51, 1, d)));
            assertEquals("PositionalEncoding: 51 positions exceed max_len 50", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pe.forward(Tensor.zeros(4, 1, 5)));
            assertEquals("PositionalEncoding: input must be [T, B, 6] or [T, 6], got [4, 1, 5]", e.getMessage());
        }
        try (PositionalEncoding odd = new PositionalEncoding(5, 8, 0f, true)) {
            float[] table = odd.pe().toArray();
            assertEquals(Math.sin(3 / Math.pow(10000, 4.0 / 5)), table[3 * 5 + 4], 1e-6);
            Tensor x = Tensor.zeros(2, 8, 5);                 // [B, T, d]
            assertArrayEquals(table, odd.forward(x).select(0, 1).toArray(), 0f);
        }
        try (PositionalEncoding dropped = new PositionalEncoding(4, 10, 0.5f, false)) {
            Tensor x = Tensor.ones(10, 2, 4);
            float[] train = dropped.forward(x).toArray();
            int zeros = 0;
            for (float v : train) if (v == 0f) zeros++;
            assertTrue(zeros > 10 && zeros < 70, "about half of 80 dropped, got " + zeros);
            dropped.eval();
            float[] eval = dropped.forward(x).toArray();
            float[] table = dropped.pe().toArray();
            for (int k = 0; k < eval.length; k++) {
                assertEquals(1f + table[k / 8 * 4 + k % 4], eval[k], 0f, "evaluation adds the table only");
            }
        }
    }
}
