package dev.gatun.nn;

import static dev.gatun.nn.DecoderGolden.assertMatchesPyTorch;
import static dev.gatun.nn.DecoderGolden.booleanMask;
import static dev.gatun.nn.DecoderGolden.fixtureCase;
import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Attention;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The attention weights {@link MultiheadAttention} returns with {@code needWeights} (averaged or per head),
 * how its boolean and float masks combine, and what a query with every key masked gives; against PyTorch
 * 1.13 ({@code golden/decoder.json}) and finite differences.
 */
class AttentionWeightsTest extends ScopedTest {

    @Test
    void weightsMatchPyTorch() {
        var c = fixtureCase("mha_weights_averaged");
        try (MultiheadAttention mha = new MultiheadAttention(8, 2, 0f, true, true)) {
            assertMatchesPyTorch("mha_weights_averaged", mha, in -> {
                var r = mha.forward(in.get("query"), in.get("key"), in.get("value"), booleanMask(c, "attn_mask"),
                        booleanMask(c, "key_padding_mask"), true, true);
                return new Tensor[] {r.output(), r.weights()};
            });
        }
        // A float attn_mask [B·H, L, S] that is learned (it gets PyTorch's gradient) with a bool padding mask.
        var f = fixtureCase("mha_weights_per_head_float_mask");
        try (MultiheadAttention mha = new MultiheadAttention(8, 2)) {
            assertMatchesPyTorch("mha_weights_per_head_float_mask", mha, in -> {
                var r = mha.forward(in.get("query"), in.get("key"), in.get("value"), in.get("attn_mask"),
                        booleanMask(f, "key_padding_mask"), true, false);
                return new Tensor[] {r.output(), r.weights()};
            });
        }
        var u = fixtureCase("mha_weights_unbatched_per_head");
        for (boolean average : new boolean[] {false, true}) {
            String name = average ? "mha_weights_unbatched_averaged" : "mha_weights_unbatched_per_head";
            try (MultiheadAttention mha = new MultiheadAttention(8, 2)) {
                assertMatchesPyTorch(name, mha, in -> {
                    Tensor x = in.get("x");
                    var r = mha.forward(x, x, x, booleanMask(u, "attn_mask"), null, true, average);
                    return new Tensor[] {r.output(), r.weights()};
                });
            }
        }
    }

    @Test
    void weightsAreTheSoftmaxRowsAndAverageTheHeads() {
        try (MultiheadAttention mha = new MultiheadAttention(8, 4)) {
            Tensor q = Tensor.randn(new Generator(1), 5, 2, 8);
            Tensor kv = Tensor.randn(new Generator(2), 3, 2, 8);
            Tensor padding = Tensor.fromBooleans(new boolean[] {false, true, false, false, false, true}, 2, 3);
            var perHead = mha.forward(q, kv, kv, null, padding, true, false);
            var averaged = mha.forward(q, kv, kv, null, padding, true, true);
            var none = mha.forward(q, kv, kv, null, padding, false, true);
            assertNull(none.weights());
            assertArrayEquals(none.output().toArray(), perHead.output().toArray(), 0f);
            assertArrayEquals(mha.forward(q, kv, kv, null, padding).toArray(), none.output().toArray(), 0f);
            assertArrayEquals(new long[] {2, 4, 5, 3}, perHead.weights().shape());
            assertArrayEquals(new long[] {2, 5, 3}, averaged.weights().shape());
            float[] w = perHead.weights().toArray();
            for (int row = 0; row < 2 * 4 * 5; row++) {
                int batch = row / 20;
                double sum = 0;
                for (int j = 0; j < 3; j++) sum += w[row * 3 + j];
                assertEquals(1, sum, 1e-5, "row " + row);
                assertEquals(0f, w[row * 3 + (batch == 0 ? 1 : 2)], 0f, "a padding key has weight 0");
            }
            assertArrayEquals(Reduce.mean(perHead.weights(), new int[] {1}, false).toArray(),
                    averaged.weights().toArray(), 1e-6f);
        }
    }

    @Test
    void aQueryWithEveryKeyMaskedGivesNaNAsPyTorch() {
        try (MultiheadAttention mha = new MultiheadAttention(4, 2, 0f, true, true)) {
            Tensor x = Tensor.randn(new Generator(3), 2, 3, 4);
            // Every key of sequence 1 is padding: its outputs and weights are NaN; sequence 0 is untouched.
            Tensor padding = Tensor.fromBooleans(new boolean[] {false, false, false, true, true, true}, 2, 3);
            var r = mha.forward(x, x, x, null, padding, true, true);
            float[] y = r.output().toArray();
            float[] w = r.weights().toArray();
            float[] alone = mha.forward(x.slice(0, 0, 1)).toArray();
            for (int i = 0; i < 12; i++) {
                assertEquals(alone[i], y[i], 1e-6f, "sequence 0");
                assertTrue(Float.isNaN(y[12 + i]), "sequence 1 output " + i + ": " + y[12 + i]);
            }
            for (int i = 0; i < 9; i++) {
                assertFalse(Float.isNaN(w[i]));
                assertTrue(Float.isNaN(w[9 + i]));
            }
            // The NaN reaches the gradients, as in PyTorch, even from a loss on sequence 0 alone: sequence 1's
            // inputs and every weight that sums over its rows.
            Tensor leafX = x.copy().detach().requiresGrad(true);
            mha.forward(leafX, leafX, leafX, null, padding).select(0, 0).sum().backward();
            float[] gx = leafX.grad().toArray();
            for (int i = 0; i < 12; i++) {
                assertFalse(Float.isNaN(gx[i]), "∂x of sequence 0");
                assertTrue(Float.isNaN(gx[12 + i]), "∂x of sequence 1");
            }
            assertTrue(Float.isNaN(Reduce.sum(mha.inProjWeight().grad()).item()));
            assertTrue(Float.isNaN(Reduce.sum(mha.outProj().weight().grad()).item()));
            // A row of attn_mask that hides every key: only that query's row is NaN.
            Tensor rowMasked = Tensor.fromBooleans(new boolean[] {false, false, true, true, true, true, false, true,
                false}, 3, 3);
            float[] z = mha.forward(x, x, x, rowMasked).toArray();
            for (int b = 0; b < 2; b++) {
                for (int t = 0; t < 3; t++) {
                    for (int j = 0; j < 4; j++) {
                        assertEquals(t == 1, Float.isNaN(z[(b * 3 + t) * 4 + j]), "query " + t + " of sequence " + b);
                    }
                }
            }
        }
    }

    @Test
    void aFloatMaskWithABoolPaddingMaskIsFilledNotAdded() {
        try (MultiheadAttention mha = new MultiheadAttention(4, 2, 0f, true, true)) {
            Tensor x = Tensor.randn(new Generator(4), 1, 3, 4);
            // +∞ at key 0, which the padding mask hides: PyTorch 1.13's masked_fill gives weight 0 there, where
            // adding −∞ would give ∞ − ∞ = NaN.
            Tensor attn = Tensor.zeros(3, 3);
            attn.set(Float.POSITIVE_INFINITY, 0, 0);
            Tensor padding = Tensor.fromBooleans(new boolean[] {true, false, false}, 1, 3);
            var r = mha.forward(x, x, x, attn, padding, true, true);
            float[] w = r.weights().toArray();
            for (int i = 0; i < 3; i++) {
                assertEquals(0f, w[i * 3], 0f, "query " + i + ", key 0");
                assertEquals(1, w[i * 3] + w[i * 3 + 1] + w[i * 3 + 2], 1e-6);
            }
            var bools = mha.forward(x, x, x, Attention.causalMask(3, 3), padding, true, false).weights().toArray();
            // Causal or padding: query 0 sees no key at all, query 1 only key 1, query 2 keys 1 and 2.
            for (int h = 0; h < 2; h++) {
                assertTrue(Float.isNaN(bools[h * 9]));
                assertArrayEquals(new float[] {0, 1, 0}, java.util.Arrays.copyOfRange(bools, h * 9 + 3, h * 9 + 6),
                        1e-6f);
            }
        }
    }

    @Test
    void weightsGradients() {
        Tensor v = Tensor.randn(new Generator(5), 2, 4, 3);
        Tensor mask = leaf(6, 3, 4);
        check("attention weights", in -> Attention.scaledDotProductWithWeights(in[0], in[1], v, in[2], 0f, false, null)
                .weights(), leaf(7, 2, 3, 3), leaf(8, 2, 4, 3), mask);
        check("attention output beside its weights", in -> Attention.scaledDotProductWithWeights(in[0], in[1], in[2],
                mask, 0f, false, null).output(), leaf(7, 2, 3, 3), leaf(8, 2, 4, 3), leaf(9, 2, 4, 3));
        try (MultiheadAttention mha = new MultiheadAttention(4, 2)) {
            Tensor padding = Tensor.fromBooleans(new boolean[] {false, false, true, false, false, false}, 2, 3);
            // The weights do not depend on out_proj.
            List<Tensor> all = new ArrayList<>(List.of(leaf(10, 3, 2, 4), mha.inProjWeight(), mha.inProjBias()));
            for (boolean average : new boolean[] {true, false}) {
                check("MultiheadAttention weights, averaged " + average,
                        in -> mha.forward(in[0], in[0], in[0], null, padding, true, average).weights(),
                        all.toArray(new Tensor[0]));
            }
        }
    }

    @Test
    void returnedWeightsAreTheDroppedOnes() {
        Tensor q = Tensor.randn(new Generator(11), 2, 6, 4);
        Tensor k = Tensor.randn(new Generator(12), 2, 7, 4);
        Tensor v = Tensor.randn(new Generator(13), 2, 7, 3);
        var r = Attention.scaledDotProductWithWeights(q, k, v, null, 0.5f, true, new Generator(14));
        float[] w = r.weights().toArray();
        int zeros = 0;
        for (float x : w) if (x == 0f) zeros++;
        assertTrue(zeros > 20 && zeros < 64, "about half of 84 dropped, got " + zeros);
        // The output is exactly what the returned weights make of V.
        assertArrayEquals(MatMul.matmul(r.weights(), v).toArray(), r.output().toArray(), 1e-6f);
        // Without training the same call keeps every weight and gives the plain op's output.
        var eval = Attention.scaledDotProductWithWeights(q, k, v, null, 0.5f, false, null);
        assertArrayEquals(Attention.scaledDotProduct(q, k, v, null).toArray(), eval.output().toArray(), 0f);
    }
}
