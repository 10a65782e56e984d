package dev.gatun.nn;

import static dev.gatun.nn.DecoderGolden.FIXTURE;
import static dev.gatun.nn.DecoderGolden.assertClose;
import static dev.gatun.nn.DecoderGolden.loadParameters;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.ops.Attention;
import dev.gatun.ops.Loss;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The decoder-only {@link GPT}: PyTorch's logits, loss and gradients for the same layers, and generation
 * with the KV cache giving, token by token, what generation without it gives; the cache itself
 * ({@link MultiheadAttention#forwardCached}, {@link TransformerEncoderLayer#forwardCached}).
 */
class GPTTest extends ScopedTest {

    private static final GPT.Config SMALL = new GPT.Config(11, 8, 8, 2, 2, 16, 0f);

    /** Every parameter N(0, 0.5²), so that the logits are far apart and greedy decoding has no near-ties. */
    private static void spread(Module m, long seed) {
        Generator g = new Generator(seed);
        for (Tensor p : m.parameters()) {
            p.copyFrom(Tensor.randn(g, p.shape()).mul(0.5));
        }
    }

    @Test
    void matchesPyTorch() {
        JsonNode c = FIXTURE.get("gpt");
        try (GPT gpt = new GPT(SMALL)) {
            loadParameters("gpt", c, gpt);
            long[] shape = Fixtures.longs(c.get("idx_shape"));
            Tensor idx = Tensor.fromLongs(Fixtures.longs(c.get("idx")), shape);
            Tensor targets = Tensor.fromLongs(Fixtures.longs(c.get("targets")), shape[0] * shape[1]);
            Tensor logits = gpt.forward(idx);
            assertArrayEquals(Fixtures.longs(c.get("logits_shape")), logits.shape());
            assertClose(Fixtures.floats(c.get("logits")), logits.toArray(), 2e-5, 1e-4, "logits");
            Tensor loss = Loss.crossEntropy(logits.reshape(-1, 11), targets);
            assertEquals(c.get("loss").asDouble(), loss.item(), 1e-5);
            loss.backward();
            gpt.namedParameters().forEach((k, t) -> assertClose(Fixtures.floats(c.get("grads").get(k)),
                    t.grad().toArray(), 5e-6, 2e-4, "∂" + k));
        }
    }

    @Test
    void theWorkloadModel() {
        GPT.Config cfg = GPT.Config.charGpt();
        assertEquals(new GPT.Config(96, 128, 128, 4, 4, 512, 0.1f), cfg);
        try (GPT gpt = new GPT(cfg)) {
            // 96·128 + 128·128 + 4 · (3·128·128 + 384 + 128·128 + 128 + 2·128·512 + 512 + 128 + 4·128) + 256 + 128·96 + 96
            assertEquals(834_400, gpt.parameterCount());
            Tensor idx = Tensor.randint(new Generator(1), 0, 96, 2, 128);
            assertArrayEquals(new long[] {2, 128, 96}, gpt.forward(idx).shape());
            // GPT-2's initialisation: N(0, 0.02), the residual projections N(0, 0.02 / √8), biases zero.
            assertEquals(0.02, std(gpt.tokEmb().weight().toArray()), 0.002);
            assertEquals(0.02 / Math.sqrt(8), std(gpt.namedParameters().get("layers.3.linear2.weight").toArray()),
                    0.001);
            assertArrayEquals(new float[384], gpt.namedParameters().get("layers.0.self_attn.in_proj_bias").toArray(),
                    0f);
            assertTrue(gpt.toString().startsWith("""
                    GPT(
                      (tok_emb): Embedding(96, 128)
                      (pos_emb): LearnedPositionalEmbedding(d_model=128, max_len=128, dropout=0.1, batch_first=true)
                      (layers): ModuleList(
                        (0): TransformerEncoderLayer(
                          (self_attn): MultiheadAttention(
                    """), gpt.toString());
            assertTrue(gpt.toString().endsWith("""
                      (ln_f): LayerNorm((128,), eps=1.0E-5, elementwise_affine=true)
                      (head): Linear(in_features=128, out_features=96, bias=true)
                    )"""), gpt.toString());
        }
    }

    private static double std(float[] v) {
        double s = 0;
        double s2 = 0;
        for (float x : v) {
            s += x;
            s2 += (double) x * x;
        }
        double mean = s / v.length;
        return Math.sqrt(s2 / v.length - mean * mean);
    }

    @Test
    void cachedGenerationEqualsUncachedTokenByToken() {
        GPT.Config cfg = new GPT.Config(13, 32, 16, 2, 4, 32, 0.1f);
        try (GPT gpt = new GPT(cfg)) {
            spread(gpt, 7);
            long[] prompt = {3, 1, 4, 1, 5};
            long[] cached = gpt.generate(prompt, 27);
            long[] uncached = gpt.generate(prompt, 27, GPT.Sampling.greedy(), null, false);
            assertEquals(32, cached.length);
            assertArrayEquals(prompt, Arrays.copyOf(cached, 5));
            assertArrayEquals(uncached, cached);
            assertTrue(gpt.isTraining(), "the mode is restored");
            Set<Long> distinct = new HashSet<>();
            for (long t : cached) distinct.add(t);
            assertTrue(distinct.size() > 3, "not one token repeated: " + Arrays.toString(cached));

            // Greedy is the argmax of a full forward at every step.
            gpt.eval();
            for (int len = 5; len < 32; len++) {
                float[] logits = gpt.forward(Tensor.fromLongs(Arrays.copyOf(cached, len))).select(0, len - 1).toArray();
                int best = 0;
                for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
                assertEquals(best, cached[len], "token " + len);
            }
            gpt.train();

            // Sampling draws the same tokens from the same generator.
            for (GPT.Sampling s : new GPT.Sampling[] {GPT.Sampling.sample(1f, 0), GPT.Sampling.sample(0.7f, 3)}) {
                long[] a = gpt.generate(prompt, 27, s, new Generator(42), true);
                long[] b = gpt.generate(prompt, 27, s, new Generator(42), false);
                assertArrayEquals(b, a, s.toString());
            }
            // Top-1 sampling is greedy decoding.
            assertArrayEquals(cached, gpt.generate(prompt, 27, GPT.Sampling.sample(1f, 1), new Generator(1)));
            // Past block_size the model reads the last block_size tokens, cached or not.
            long[] longer = gpt.generate(prompt, 40);
            assertArrayEquals(cached, Arrays.copyOf(longer, 32));
            assertArrayEquals(gpt.generate(prompt, 40, GPT.Sampling.greedy(), null, false), longer);
        }
    }

    @Test
    void samplingFollowsTheTemperature() {
        try (GPT gpt = new GPT(SMALL)) {
            spread(gpt, 8);
            long[] prompt = {1, 2};
            Set<Long> hot = new HashSet<>();
            Generator g = new Generator(3);
            for (int i = 0; i < 40; i++) {
                hot.add(gpt.generate(prompt, 1, GPT.Sampling.sample(50f, 0), g)[2]);
            }
            assertTrue(hot.size() > 4, "a high temperature spreads the draws: " + hot);
            Set<Long> top2 = new HashSet<>();
            for (int i = 0; i < 40; i++) {
                top2.add(gpt.generate(prompt, 1, GPT.Sampling.sample(50f, 2), g)[2]);
            }
            assertEquals(2, top2.size(), "top-k 2 draws two tokens: " + top2);
            assertTrue(top2.contains(gpt.generate(prompt, 1)[2]), "one of them the greedy one");
        }
    }

    @Test
    void cachedAttentionEqualsMaskedAttention() {
        for (boolean batchFirst : new boolean[] {true, false}) {
            try (MultiheadAttention mha = new MultiheadAttention(8, 2, 0f, true, batchFirst);
                 MultiheadAttention.KVCache cache = mha.newKVCache(2, 10)) {
                spread(mha, 9);
                int seq = batchFirst ? 1 : 0;
                Tensor x = Tensor.randn(new Generator(10), batchFirst ? new long[] {2, 7, 8} : new long[] {7, 2, 8});
                float[] full = mha.forward(x, x, x, Attention.causalMask(7, 7)).toArray();
                // Three positions at once, then one at a time.
                Tensor first = mha.forwardCached(x.slice(seq, 0, 3), cache);
                Tensor[] parts = new Tensor[5];
                parts[0] = first;
                for (int t = 3; t < 7; t++) {
                    parts[t - 2] = mha.forwardCached(x.slice(seq, t, t + 1), cache);
                }
                assertEquals(7, cache.length());
                assertArrayEquals(full, Tensor.cat(seq, parts).toArray(), 2e-6f, "batch first " + batchFirst);
                cache.clear();
                assertEquals(0, cache.length());
                assertArrayEquals(Arrays.copyOf(full, 8), Arrays.copyOf(mha.forwardCached(x.slice(seq, 0, 1), cache)
                        .toArray(), 8), 2e-6f);
            }
        }
        try (MultiheadAttention mha = new MultiheadAttention(8, 2);
             MultiheadAttention.KVCache cache = mha.newKVCache(1, 4)) {
            Tensor x = Tensor.randn(new Generator(11), 4, 8);     // unbatched
            float[] full = mha.forward(x, x, x, Attention.causalMask(4, 4)).toArray();
            Tensor[] parts = new Tensor[4];
            for (int t = 0; t < 4; t++) parts[t] = mha.forwardCached(x.slice(0, t, t + 1), cache);
            assertArrayEquals(full, Tensor.cat(0, parts).toArray(), 2e-6f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> mha.forwardCached(x.slice(0, 0, 1), cache));
            assertEquals("MultiheadAttention: 1 new positions after 4 cached exceed the KV cache's capacity 4",
                    e.getMessage());
            try (MultiheadAttention other = new MultiheadAttention(8, 2)) {
                e = assertThrows(IllegalArgumentException.class, () -> other.forwardCached(x, cache));
                assertEquals("MultiheadAttention: the KV cache belongs to another layer", e.getMessage());
            }
            e = assertThrows(IllegalArgumentException.class, () -> mha.forwardCached(Tensor.zeros(1, 3, 8), cache));
            assertEquals("MultiheadAttention: input of batch 3 (shape [1, 3, 8]) for a KV cache of batch 1",
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> mha.newKVCache(0, 4));
            assertEquals("MultiheadAttention: a KV cache needs positive sizes, got batch=0 capacity=4", e.getMessage());
        }
    }

    @Test
    void cachedEncoderLayerEqualsMaskedLayer() {
        var options = TransformerEncoderLayer.Options.defaults().withDimFeedforward(16).withDropout(0f)
                .withBatchFirst(true);
        for (boolean normFirst : new boolean[] {false, true}) {
            try (TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, options.withNormFirst(normFirst));
                 MultiheadAttention.KVCache cache = layer.selfAttn().newKVCache(2, 6)) {
                Tensor x = Tensor.randn(new Generator(12), 2, 6, 8);
                float[] full = layer.forward(x, Attention.causalMask(6, 6)).toArray();
                Tensor[] parts = new Tensor[6];
                for (int t = 0; t < 6; t++) parts[t] = layer.forwardCached(x.slice(1, t, t + 1), cache);
                assertArrayEquals(full, Tensor.cat(1, parts).toArray(), 1e-5f, "norm first " + normFirst);
            }
        }
    }

    @Test
    void learnedPositions() {
        try (LearnedPositionalEmbedding pe = new LearnedPositionalEmbedding(4, 6, 0f, true)) {
            float[] w = pe.weight().toArray();
            Tensor x = Tensor.randn(new Generator(13), 2, 3, 4);
            float[] xv = x.toArray();
            float[] y = pe.forward(x, 2).toArray();
            for (int b = 0; b < 2; b++) {
                for (int t = 0; t < 3; t++) {
                    for (int j = 0; j < 4; j++) {
                        int k = (b * 3 + t) * 4 + j;
                        assertEquals(xv[k] + w[(t + 2) * 4 + j], y[k], 1e-6f);
                    }
                }
            }
            Tensor leaf = x.requiresGrad(true);
            pe.forward(leaf).sum().backward();
            float[] g = pe.weight().grad().toArray();
            for (int i = 0; i < 24; i++) assertEquals(i < 12 ? 2f : 0f, g[i], 0f, "∂weight[" + i + "]");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> pe.forward(Tensor.zeros(1, 3, 4), 4));
            assertEquals("LearnedPositionalEmbedding: positions 4 to 6 do not fit max_len 6", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> pe.forward(Tensor.zeros(1, 3, 5)));
            assertEquals("LearnedPositionalEmbedding: input must be [B, T, 4] or [T, 4], got [1, 3, 5]",
                    e.getMessage());
        }
        try (PositionalEncoding sinusoidal = new PositionalEncoding(4, 6, 0f, true)) {
            // The sinusoidal encoding starts at a later position the same way.
            float[] table = sinusoidal.pe().toArray();
            float[] y = sinusoidal.forward(Tensor.zeros(1, 2, 4), 3).toArray();
            assertArrayEquals(Arrays.copyOfRange(table, 12, 20), y, 0f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> sinusoidal.forward(Tensor.zeros(1, 2, 4), 5));
            assertEquals("PositionalEncoding: positions 5 to 6 do not fit max_len 6", e.getMessage());
        }
        try (LearnedPositionalEmbedding seqFirst = new LearnedPositionalEmbedding(4, 6)) {
            Tensor x = Tensor.zeros(3, 2, 4);
            float[] y = seqFirst.forward(x).toArray();
            float[] w = seqFirst.weight().toArray();
            for (int k = 0; k < 24; k++) assertEquals(w[(k / 8) * 4 + k % 4], y[k], 0f);
            assertEquals(1.0, std(w), 0.5);
        }
    }

    @Test
    void badInputsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new GPT.Config(96, 128, 130, 4, 4, 512, 0.1f));
        assertEquals("GPT: d_model 130 is not divisible by num_heads 4", e.getMessage());
        try (GPT gpt = new GPT(SMALL)) {
            e = assertThrows(IllegalArgumentException.class, () -> gpt.forward(Tensor.zeros(DType.INT64, 1, 9)));
            assertEquals("GPT: 9 positions (ids of shape [1, 9]) must be between 1 and block_size 8", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> gpt.generate(new long[] {1, 11}, 3));
            assertEquals("GPT.generate: prompt token 11 at 1 is out of range [0, 11)", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> gpt.generate(new long[0], 3));
            assertEquals("GPT.generate: the prompt must hold at least one token", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> gpt.generate(new long[] {1}, 3, GPT.Sampling.sample(1f, 0), null));
            assertEquals("GPT.generate: sampling at temperature 1.0 needs a random generator", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> GPT.Sampling.sample(0f, 0));
            assertEquals("Sampling: a sampling temperature must be positive, got 0.0", e.getMessage());
            assertArrayEquals(new long[] {4}, gpt.generate(new long[] {4}, 0));
        }
    }

    @Test
    void attentionWeightsAreCausalDistributionsPerHeadAndLeaveTheModeAlone() {
        Init.manualSeed(11);
        try (GPT gpt = new GPT(new GPT.Config(7, 8, 8, 2, 2, 16, 0.1f))) {
            long[] ids = {1, 2, 3, 4, 5, 6};
            java.util.List<Tensor> maps = gpt.attentionWeights(ids);
            assertEquals(2, maps.size());
            for (Tensor w : maps) {
                assertArrayEquals(new long[] {2, 6, 6}, w.shape());
                float[] v = w.contiguous().toArray();
                for (int h = 0; h < 2; h++) {
                    assertEquals(1f, v[h * 36], 1e-6f, "position 0 can only attend to itself");
                    for (int i = 0; i < 6; i++) {
                        float sum = 0;
                        for (int j = 0; j < 6; j++) {
                            float x = v[(h * 6 + i) * 6 + j];
                            if (j > i) {
                                assertEquals(0f, x, "head " + h + " query " + i + " sees the later key " + j);
                            }
                            sum += x;
                        }
                        assertEquals(1f, sum, 1e-5f, "row " + i + " of head " + h);
                    }
                }
            }
            // Two heads that attend alike would show nothing: fresh weights differ between heads.
            float[] first = maps.get(0).contiguous().toArray();
            assertTrue(!Arrays.equals(Arrays.copyOfRange(first, 0, 36), Arrays.copyOfRange(first, 36, 72)));
            assertTrue(gpt.isTraining(), "the model's mode is restored");
            assertArrayEquals(first, gpt.attentionWeights(ids).get(0).contiguous().toArray(), "no dropout in the maps");
            assertThrows(IllegalArgumentException.class, () -> gpt.attentionWeights(new long[9]));
            assertThrows(IllegalArgumentException.class, () -> gpt.attentionWeights(new long[] {7}));
            assertThrows(IllegalArgumentException.class, () -> gpt.attentionWeights(new long[0]));
        }
    }
}
