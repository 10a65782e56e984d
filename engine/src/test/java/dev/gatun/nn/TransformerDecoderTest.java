package dev.gatun.nn;

import static dev.gatun.nn.DecoderGolden.assertMatchesPyTorch;
import static dev.gatun.nn.DecoderGolden.booleanMask;
import static dev.gatun.nn.DecoderGolden.fixtureCase;
import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.ops.Attention;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Transformer decoder layer, the encoder and decoder stacks and {@link Transformer}: PyTorch 1.13's
 * outputs and gradients ({@code golden/decoder.json}), finite differences, copies, printing and errors.
 */
class TransformerDecoderTest extends ScopedTest {

    private static final TransformerEncoderLayer.Options SMALL = TransformerEncoderLayer.Options.defaults()
            .withDimFeedforward(16).withDropout(0f);

    private static Tensor[] one(Tensor y) {
        return new Tensor[] {y};
    }

    @Test
    void decoderLayerMatchesPyTorch() {
        try (TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, SMALL)) {
            assertMatchesPyTorch("decoder_post_norm", layer, in -> one(layer.forward(in.get("tgt"), in.get("memory"))));
        }
        JsonNode c = fixtureCase("decoder_post_norm_masks");
        try (TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, SMALL)) {
            assertMatchesPyTorch("decoder_post_norm_masks", layer, in -> one(layer.forward(in.get("tgt"),
                    in.get("memory"), booleanMask(c, "tgt_mask"), null, booleanMask(c, "tgt_key_padding_mask"),
                    booleanMask(c, "memory_key_padding_mask"))));
        }
        var preNorm = SMALL.withActivation(TransformerEncoderLayer.FeedForwardActivation.GELU).withBatchFirst(true)
                .withNormFirst(true);
        try (TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, preNorm)) {
            assertMatchesPyTorch("decoder_pre_norm_gelu_batch_first_masks", layer, in -> one(layer.forward(
                    in.get("tgt"), in.get("memory"), booleanMask(c, "tgt_mask"), booleanMask(c, "memory_mask"),
                    booleanMask(c, "tgt_key_padding_mask"), booleanMask(c, "memory_key_padding_mask"))));
        }
    }

    @Test
    void stacksMatchPyTorch() {
        JsonNode c = fixtureCase("encoder_stack");
        try (TransformerEncoder encoder = new TransformerEncoder(new TransformerEncoderLayer(8, 2, SMALL), 2,
                new LayerNorm(8))) {
            assertMatchesPyTorch("encoder_stack", encoder, in -> one(encoder.forward(in.get("src"),
                    booleanMask(c, "tgt_mask"), booleanMask(c, "tgt_key_padding_mask"))));
        }
        var preNorm = SMALL.withBatchFirst(true).withNormFirst(true);
        try (TransformerDecoder decoder = new TransformerDecoder(new TransformerDecoderLayer(8, 2, preNorm), 2,
                new LayerNorm(8))) {
            assertMatchesPyTorch("decoder_stack", decoder, in -> one(decoder.forward(in.get("tgt"), in.get("memory"),
                    booleanMask(c, "tgt_mask"), booleanMask(c, "memory_mask"), booleanMask(c, "tgt_key_padding_mask"),
                    booleanMask(c, "memory_key_padding_mask"))));
        }
        try (TransformerDecoder decoder = new TransformerDecoder(new TransformerDecoderLayer(8, 2, SMALL), 2)) {
            assertMatchesPyTorch("decoder_stack_no_norm", decoder, in -> one(decoder.forward(in.get("tgt"),
                    in.get("memory"), booleanMask(c, "tgt_mask"), null)));
        }
    }

    @Test
    void transformerMatchesPyTorch() {
        JsonNode c = fixtureCase("transformer");
        try (Transformer t = new Transformer(8, 2, 1, 1, SMALL.withBatchFirst(true))) {
            Tensor memoryPadding = booleanMask(c, "memory_key_padding_mask");
            assertMatchesPyTorch("transformer", t, in -> one(t.forward(in.get("src"), in.get("tgt"), null,
                    booleanMask(c, "tgt_mask"), null, memoryPadding, booleanMask(c, "tgt_key_padding_mask"),
                    memoryPadding)));
        }
    }

    @Test
    void decoderLayerGradients() {
        // GELU rather than ReLU: the finite differences must not straddle a kink.
        var options = SMALL.withDimFeedforward(6).withActivation(TransformerEncoderLayer.FeedForwardActivation.GELU);
        Tensor causal = Attention.causalMask(3, 3);
        Tensor memoryPadding = Tensor.fromBooleans(new boolean[] {false, false, false, false, true, false}, 2, 3);
        for (boolean normFirst : new boolean[] {false, true}) {
            try (TransformerDecoderLayer layer = new TransformerDecoderLayer(4, 2, options.withNormFirst(normFirst))) {
                List<Tensor> all = new ArrayList<>(List.of(leaf(5, 3, 2, 4), leaf(6, 3, 2, 4)));
                all.addAll(layer.parameters());
                check("decoder layer, norm first " + normFirst, 1e-2, 3e-2, 3e-3,
                        in -> layer.forward(in[0], in[1], causal, null, null, memoryPadding), all.toArray(new Tensor[0]));
            }
        }
    }

    @Test
    void stackGradients() {
        var options = SMALL.withDimFeedforward(6).withActivation(TransformerEncoderLayer.FeedForwardActivation.GELU)
                .withBatchFirst(true);
        Tensor causal = Attention.causalMask(3, 3);
        try (TransformerDecoder decoder = new TransformerDecoder(List.of(new TransformerDecoderLayer(4, 2, options),
                new TransformerDecoderLayer(4, 2, options)), new LayerNorm(4))) {
            List<Tensor> all = new ArrayList<>(List.of(leaf(7, 2, 3, 4), leaf(8, 2, 2, 4)));
            all.addAll(decoder.parameters());
            check("decoder stack", 1e-2, 3e-2, 3e-3, in -> decoder.forward(in[0], in[1], causal, null),
                    all.toArray(new Tensor[0]));
        }
        try (TransformerEncoder encoder = new TransformerEncoder(List.of(new TransformerEncoderLayer(4, 2, options),
                new TransformerEncoderLayer(4, 2, options.withNormFirst(true))), new LayerNorm(4))) {
            List<Tensor> all = new ArrayList<>(List.of(leaf(9, 2, 3, 4)));
            all.addAll(encoder.parameters());
            check("encoder stack", 1e-2, 3e-2, 3e-3, in -> encoder.forward(in[0], causal), all.toArray(new Tensor[0]));
        }
    }

    @Test
    void stacksCopyTheLayerAsPyTorchDoes() {
        try (TransformerDecoderLayer first = new TransformerDecoderLayer(8, 2, SMALL);
             TransformerDecoder decoder = new TransformerDecoder(first, 3, new LayerNorm(8))) {
            assertEquals(3, decoder.layers().size());
            assertTrue(decoder.layers().get(0) == first, "the given layer is layers.0");
            var names = decoder.namedParameters();
            for (int i = 1; i < 3; i++) {
                assertNotSame(first, decoder.layers().get(i));
                assertArrayEquals(names.get("layers.0.multihead_attn.in_proj_weight").toArray(),
                        names.get("layers." + i + ".multihead_attn.in_proj_weight").toArray(), 0f);
            }
            // Copies, not shared tensors: changing one layer leaves the others.
            names.get("layers.1.linear1.weight").fill(3f);
            assertTrue(names.get("layers.0.linear1.weight").toArray()[0] != 3f);
            assertEquals("norm.bias", new ArrayList<>(names.keySet()).getLast());
            assertEquals(3 * first.parameterCount() + 16, decoder.parameterCount());
        }
        try (TransformerEncoder encoder = new TransformerEncoder(new TransformerEncoderLayer(8, 2, SMALL), 2)) {
            assertEquals(null, encoder.norm());
            assertTrue(encoder.namedParameters().containsKey("layers.1.self_attn.in_proj_weight"));
        }
    }

    @Test
    void transformerInitialisesLikePyTorch() {
        try (Transformer t = new Transformer(16, 4, 2, 1, SMALL)) {
            // Xavier-uniform for every matrix: the bound of linear1.weight [16, 16] is √(6 / 32).
            float[] w = t.namedParameters().get("encoder.layers.1.linear1.weight").toArray();
            double bound = Math.sqrt(6.0 / 32);
            double max = 0;
            for (float v : w) max = Math.max(max, Math.abs(v));
            assertTrue(max <= bound && max > 0.8 * bound, "within ±" + bound + ": " + max);
            // The copies are re-drawn apart.
            assertTrue(!Arrays.equals(w, t.namedParameters().get("encoder.layers.0.linear1.weight").toArray()));
            // Vectors keep their layer's initialisation: linear1.bias within Linear's ±1/√16.
            for (float v : t.namedParameters().get("decoder.layers.0.linear1.bias").toArray()) {
                assertTrue(Math.abs(v) <= 0.25f, "bias " + v);
            }
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                    t.namedParameters().get("decoder.norm.weight").toArray(), 0f);
        }
        Tensor mask = Transformer.generateSquareSubsequentMask(3);
        float inf = Float.NEGATIVE_INFINITY;
        assertArrayEquals(new float[] {0, inf, inf, 0, 0, inf, 0, 0, 0}, mask.toArray(), 0f);
        assertArrayEquals(new boolean[] {false, true, true, false, false, true, false, false, false},
                Attention.causalMask(3, 3).toBooleanArray());
        // Two new queries after three cached positions: the first sees keys 0..3, the second 0..4.
        assertArrayEquals(new boolean[] {false, false, false, false, true, false, false, false, false, false},
                Attention.causalMask(2, 5, 3).toBooleanArray());
    }

    /** PyTorch 1.13's repr, as gatun writes it: Java's booleans and floats, no inplace, a plain Linear. */
    private static String javaForm(String pytorch) {
        return pytorch.replace("NonDynamicallyQuantizableLinear", "Linear").replace("True", "true")
                .replace(", inplace=False", "").replace("1e-05", "1.0E-5");
    }

    @Test
    void printsAsPyTorch() {
        String pytorch = """
                Transformer(
                  (encoder): TransformerEncoder(
                    (layers): ModuleList(
                      (0): TransformerEncoderLayer(
                        (self_attn): MultiheadAttention(
                          (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)
                        )
                        (linear1): Linear(in_features=8, out_features=16, bias=True)
                        (dropout): Dropout(p=0.0, inplace=False)
                        (linear2): Linear(in_features=16, out_features=8, bias=True)
                        (norm1): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                        (norm2): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                        (dropout1): Dropout(p=0.0, inplace=False)
                        (dropout2): Dropout(p=0.0, inplace=False)
                      )
                    )
                    (norm): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                  )
                  (decoder): TransformerDecoder(
                    (layers): ModuleList(
                      (0): TransformerDecoderLayer(
                        (self_attn): MultiheadAttention(
                          (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)
                        )
                        (multihead_attn): MultiheadAttention(
                          (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)
                        )
                        (linear1): Linear(in_features=8, out_features=16, bias=True)
                        (dropout): Dropout(p=0.0, inplace=False)
                        (linear2): Linear(in_features=16, out_features=8, bias=True)
                        (norm1): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                        (norm2): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                        (norm3): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                        (dropout1): Dropout(p=0.0, inplace=False)
                        (dropout2): Dropout(p=0.0, inplace=False)
                        (dropout3): Dropout(p=0.0, inplace=False)
                      )
                    )
                    (norm): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                  )
                )""";
        try (Transformer t = new Transformer(8, 2, 1, 1, SMALL.withBatchFirst(true))) {
            assertEquals(javaForm(pytorch), t.toString());
        }
        try (TransformerDecoder d = new TransformerDecoder(new TransformerDecoderLayer(8, 2,
                SMALL.withDropout(0.1f)), 2)) {
            String s = d.toString();
            assertTrue(s.startsWith("TransformerDecoder(\n  (layers): ModuleList(\n    (0): TransformerDecoderLayer(\n"),
                    s);
            assertTrue(s.contains("\n    (1): TransformerDecoderLayer(\n"), s);
            assertTrue(s.contains("      (dropout3): Dropout(p=0.1)\n    )\n  )\n)"), s);
        }
        assertEquals("LearnedPositionalEmbedding(d_model=16, max_len=32, dropout=0.1, batch_first=true)",
                new LearnedPositionalEmbedding(16, 32, 0.1f, true).toString());
        assertEquals("ModuleList(\n  (0): ReLU()\n  (1): GELU()\n)", new ModuleList<>(new ReLU(), new GELU()).toString());
    }

    @Test
    void badInputsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TransformerDecoder(new TransformerDecoderLayer(8, 2, SMALL), 0));
        assertEquals("TransformerDecoder: num_layers must be at least 1, got 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TransformerEncoder(List.of(), null));
        assertEquals("TransformerEncoder needs at least one layer", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TransformerDecoderLayer(6, 4, SMALL));
        assertEquals("MultiheadAttention: embed_dim 6 is not divisible by num_heads 4", e.getMessage());
        try (TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, SMALL);
             Transformer t = new Transformer(8, 2, 1, 1, SMALL)) {
            Tensor tgt = Tensor.zeros(5, 2, 8);
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(tgt, Tensor.zeros(4, 3, 8)));
            assertEquals("MultiheadAttention: query has batch 2 but key has batch 3 (shapes [5, 2, 8], [4, 3, 8])",
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(tgt, Tensor.zeros(4, 2, 8), null,
                    null, null, Tensor.zeros(2, 5)));
            assertEquals("MultiheadAttention: key_padding_mask must be [2, 4], got [2, 5]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(tgt, Tensor.zeros(4, 2, 8),
                    Attention.causalMask(4, 4), null));
            assertEquals("MultiheadAttention: attn_mask must be [5, 5] or [4, 5, 5], got [4, 4]", e.getMessage());
            UnsupportedOperationException u = assertThrows(UnsupportedOperationException.class,
                    () -> layer.forward(tgt));
            assertEquals("TransformerDecoderLayer needs the encoder's output: call forward(tgt, memory)",
                    u.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> t.forward(Tensor.zeros(4, 3, 8), tgt));
            assertEquals("Transformer: the batch number of src and tgt must be equal, got src [4, 3, 8] and tgt"
                    + " [5, 2, 8] (sequence first)", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> t.forward(Tensor.zeros(4, 2, 6), tgt));
            assertEquals("Transformer: the feature number of src and tgt must be equal to d_model 8, got src"
                    + " [4, 2, 6] and tgt [5, 2, 8]", e.getMessage());
        }
        try (TransformerEncoder enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, SMALL), 1);
             TransformerDecoder dec = new TransformerDecoder(new TransformerDecoderLayer(4, 2, SMALL), 1)) {
            e = assertThrows(IllegalArgumentException.class, () -> new Transformer(enc, dec));
            assertEquals("Transformer: the encoder (d_model 8, batch_first false) and the decoder (d_model 4,"
                    + " batch_first false) do not fit together", e.getMessage());
        }
        ModuleList<Module> list = new ModuleList<>();
        ReLU relu = new ReLU();
        list.add(relu);
        e = assertThrows(IllegalArgumentException.class, () -> list.add(relu));
        assertEquals("ModuleList: the module at 0 is added again at 1", e.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> list.forward(Tensor.zeros(1)));
        e = assertThrows(IllegalArgumentException.class, () -> new ModuleList<>(new ReLU(), null));
        assertEquals("ModuleList: module 1 is null", e.getMessage());
    }

    @Test
    void unbatchedAndLayoutsAgree() {
        try (TransformerDecoderLayer seqFirst = new TransformerDecoderLayer(8, 2, SMALL);
             TransformerDecoderLayer batchFirst = new TransformerDecoderLayer(8, 2, SMALL.withBatchFirst(true))) {
            batchFirst.loadStateDict(seqFirst.stateDict());
            Tensor tgt = Tensor.randn(new Generator(1), 5, 2, 8);
            Tensor memory = Tensor.randn(new Generator(2), 3, 2, 8);
            Tensor causal = Attention.causalMask(5, 5);
            Tensor y = seqFirst.forward(tgt, memory, causal, null);
            assertArrayEquals(y.transpose(0, 1).toArray(), batchFirst.forward(tgt.transpose(0, 1),
                    memory.transpose(0, 1), causal, null).toArray(), 1e-5f);
            assertArrayEquals(y.select(1, 1).toArray(), seqFirst.forward(tgt.select(1, 1), memory.select(1, 1),
                    causal, null).toArray(), 1e-5f);
        }
    }
}
