package dev.gatun.ops;

import static dev.gatun.ops.ArgReduceTest.FIXTURE;
import static dev.gatun.ops.ArgReduceTest.bools;
import static dev.gatun.ops.ArgReduceTest.floats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.nn.MultiheadAttention;
import dev.gatun.nn.TransformerEncoderLayer;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Boolean attention masks (true: may not attend) in {@link Attention}, {@link MultiheadAttention} and
 * {@link TransformerEncoderLayer}: the same results as the additive masks they stand for, and PyTorch's
 * ({@code golden/indexing.json}).
 */
class BooleanMaskTest extends ScopedTest {

    private static void assertClose(float[] expected, float[] actual, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            assertTrue(err <= atol + rtol * Math.abs(expected[i]),
                    what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
        }
    }

    @Test
    void multiheadAttentionWithBooleanMasksMatchesPyTorch() {
        for (JsonNode c : FIXTURE.get("attention")) {
            String name = "attention " + c.get("name").asText();
            try (MultiheadAttention mha = new MultiheadAttention(8, 2, 0f, true, true)) {
                mha.namedParameters().forEach((k, t) -> t.copyFrom(floats(c.get("params").get(k))));
                Map<String, Tensor> in = new LinkedHashMap<>();
                for (String k : new String[] {"query", "key", "value"}) {
                    in.put(k, Tensor.fromArray(floats(c.get("inputs").get(k)), Fixtures.longs(c.get("input_shapes")
                            .get(k))).requiresGrad(true));
                }
                Tensor attnMask = Tensor.fromBooleans(bools(c.get("attn_mask")), Fixtures.longs(c.get(
                        "attn_mask_shape")));
                Tensor padding = Tensor.fromBooleans(bools(c.get("key_padding_mask")), Fixtures.longs(c.get(
                        "key_padding_mask_shape")));
                Tensor y = mha.forward(in.get("query"), in.get("key"), in.get("value"), attnMask, padding);
                assertArrayEquals(Fixtures.longs(c.get("y_shape")), y.shape(), name);
                assertClose(floats(c.get("y")), y.toArray(), 2e-5, 1e-4, name + " output");

                // The additive masks the boolean ones stand for give the same output.
                Tensor additive = mha.forward(in.get("query"), in.get("key"), in.get("value"),
                        Attention.additiveMask(attnMask), Attention.additiveMask(padding));
                assertArrayEquals(additive.toArray(), y.toArray(), 0f, name + " additive");

                Reduce.sum(Arithmetic.mul(y, Tensor.fromArray(floats(c.get("r")), y.shape()))).backward();
                in.forEach((k, t) -> assertClose(floats(c.get("input_grads").get(k)), t.grad().toArray(), 5e-5, 2e-4,
                        name + " ∂" + k));
                mha.namedParameters().forEach((k, t) -> assertClose(floats(c.get("grads").get(k)),
                        t.grad().toArray(), 5e-5, 2e-4, name + " ∂" + k));
            }
        }
    }

    @Test
    void scaledDotProductTakesABooleanMask() {
        Tensor q = Tensor.randn(new Generator(1), 2, 4, 3);
        Tensor k = Tensor.randn(new Generator(2), 2, 5, 3);
        Tensor v = Tensor.randn(new Generator(3), 2, 5, 2);
        boolean[] hidden = new boolean[20];
        for (int i = 0; i < 20; i++) hidden[i] = i % 3 == 1;
        Tensor mask = Tensor.fromBooleans(hidden, 4, 5);
        float[] withBool = Attention.scaledDotProduct(q, k, v, mask).toArray();
        float[] withFloat = Attention.scaledDotProduct(q, k, v, Attention.maskFromBoolean(hidden, 4, 5)).toArray();
        assertArrayEquals(withFloat, withBool, 0f);
        float[] causalBool = Attention.scaledDotProduct(q, k.slice(1, 0, 4), v.slice(1, 0, 4),
                Attention.causalMask(4, 4)).toArray();
        float[] causalFloat = Attention.scaledDotProduct(q, k.slice(1, 0, 4), v.slice(1, 0, 4),
                Attention.additiveCausalMask(4, 4)).toArray();
        assertArrayEquals(causalFloat, causalBool, 0f);
        assertEquals(DType.BOOL, Attention.causalMask(2, 3).dtype());

        Tensor ql = q.requiresGrad(true);
        GradCheck.check("attention with a boolean mask", x -> Attention.scaledDotProduct(x[0], k, v, mask), ql);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Attention.scaledDotProduct(q, k, v, Tensor.zeros(DType.INT64, 4, 5)));
        assertTrue(e.getMessage().contains("got int64"), e.getMessage());
    }

    @Test
    void encoderLayerPassesBooleanMasksThrough() {
        var options = TransformerEncoderLayer.Options.defaults().withDimFeedforward(16).withDropout(0f);
        try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, options)) {
            Tensor x = Tensor.randn(new Generator(4), 5, 2, 8);
            Tensor padding = Tensor.fromBooleans(new boolean[] {false, false, false, true, true,
                false, false, false, false, true}, 2, 5);
            Tensor causal = Attention.causalMask(5, 5);
            float[] withBool = layer.forward(x, causal, padding).toArray();
            float[] withFloat = layer.forward(x, Attention.additiveMask(causal), Attention.additiveMask(padding))
                    .toArray();
            assertArrayEquals(withFloat, withBool, 0f);
            // What a padding key holds changes no other position's output: position 4, which the causal mask
            // lets see key 3, does not see it when it is padding.
            Tensor changed = x.copy();
            changed.select(0, 3).select(0, 0).fill(100f);
            float[] after = layer.forward(changed, causal, padding).toArray();
            for (int t : new int[] {0, 1, 2, 4}) {
                for (int j = 0; j < 8; j++) {
                    int i = (t * 2) * 8 + j;
                    assertEquals(withBool[i], after[i], 1e-5f, "position " + t + " of sequence 0");
                }
            }
            float[] unpadded = layer.forward(x, causal).toArray();
            float[] unpaddedChanged = layer.forward(changed, causal).toArray();
            assertTrue(Math.abs(unpadded[4 * 2 * 8] - unpaddedChanged[4 * 2 * 8]) > 1e-3, "without padding it does");
        }
    }
}
