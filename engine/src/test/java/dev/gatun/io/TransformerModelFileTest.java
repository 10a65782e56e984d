package dev.gatun.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.GPT;
import dev.gatun.nn.Init;
import dev.gatun.nn.LayerNorm;
import dev.gatun.nn.LearnedPositionalEmbedding;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Module;
import dev.gatun.nn.ModuleList;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Transformer;
import dev.gatun.nn.TransformerDecoder;
import dev.gatun.nn.TransformerDecoderLayer;
import dev.gatun.nn.TransformerEncoder;
import dev.gatun.nn.TransformerEncoderLayer;
import dev.gatun.ops.Attention;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The decoder layer, the stacks, Transformer, GPT and learned positions saved with their architecture. */
class TransformerModelFileTest {

    private static final TransformerEncoderLayer.Options OPTIONS = TransformerEncoderLayer.Options.defaults()
            .withDimFeedforward(16).withDropout(0.2f);

    @TempDir
    Path dir;

    /**
     * Saves {@code model}, loads it back, and checks the type, the architecture, every tensor and the
     * evaluation-mode output of {@code run}.
     */
    private <M extends Module> void roundTrip(String name, M model, Function<M, Tensor> run) throws IOException {
        Path file = dir.resolve(name + ".safetensors");
        ModelFile.save(model, file);
        try (Module loaded = ModelFile.load(file)) {
            assertEquals(model.getClass(), loaded.getClass(), name);
            assertEquals(ModelFile.architecture(model), ModelFile.architecture(loaded), name + ": architecture");
            Map<String, Tensor> a = model.stateDict();
            Map<String, Tensor> b = loaded.stateDict();
            assertEquals(List.copyOf(a.keySet()), List.copyOf(b.keySet()), name + ": names");
            for (String k : a.keySet()) {
                assertArrayEquals(a.get(k).toArray(), b.get(k).toArray(), name + ": " + k);
            }
            @SuppressWarnings("unchecked")
            M back = (M) loaded;
            model.eval();
            back.eval();
            try (var ignored = Autograd.noGrad()) {
                assertArrayEquals(run.apply(model).toArray(), run.apply(back).toArray(), name + ": output");
            }
        }
    }

    @Test
    void theNewLayersRoundTrip() throws IOException {
        Init.manualSeed(3);
        Generator g = new Generator(4);
        try (Scope s = Scope.open()) {
            Tensor tgt = Tensor.randn(g, 5, 2, 8);
            Tensor memory = Tensor.randn(g, 3, 2, 8);
            Tensor causal = Attention.causalMask(5, 5);
            try (TransformerDecoderLayer layer = new TransformerDecoderLayer(8, 2, OPTIONS.withNormFirst(true)
                    .withActivation(TransformerEncoderLayer.FeedForwardActivation.GELU))) {
                roundTrip("decoder layer", layer, m -> m.forward(tgt, memory, causal, null));
            }
            try (TransformerEncoder encoder = new TransformerEncoder(List.of(new TransformerEncoderLayer(8, 2, OPTIONS),
                    new TransformerEncoderLayer(8, 4, OPTIONS.withNormFirst(true))), new LayerNorm(8))) {
                roundTrip("encoder", encoder, m -> m.forward(tgt, causal));
            }
            try (TransformerDecoder decoder = new TransformerDecoder(new TransformerDecoderLayer(8, 2, OPTIONS), 2)) {
                roundTrip("decoder without norm", decoder, m -> m.forward(tgt, memory, causal, null));
            }
            try (Transformer t = new Transformer(8, 2, 2, 1, OPTIONS.withBatchFirst(true))) {
                roundTrip("transformer", t, m -> m.forward(memory.transpose(0, 1), tgt.transpose(0, 1)));
            }
            try (GPT gpt = new GPT(new GPT.Config(11, 8, 8, 2, 2, 16, 0.1f))) {
                Tensor idx = Tensor.randint(g, 0, 11, 2, 6);
                roundTrip("gpt", gpt, m -> m.forward(idx));
                Path file = dir.resolve("gpt.safetensors");
                try (GPT back = (GPT) ModelFile.load(file)) {
                    assertArrayEquals(gpt.generate(new long[] {1, 2}, 10), back.generate(new long[] {1, 2}, 10));
                }
            }
            try (LearnedPositionalEmbedding pe = new LearnedPositionalEmbedding(8, 6, 0.1f, false)) {
                roundTrip("positions", pe, m -> m.forward(tgt));
            }
            try (ModuleList<Module> list = new ModuleList<>(new Linear(8, 4), new ReLU())) {
                roundTrip("module list", list, m -> m.get(0).forward(tgt));
            }
        }
    }

    @Test
    void malformedStacksAreNamed() {
        String layer = "{\"type\":\"TransformerEncoderLayer\",\"dModel\":8,\"nhead\":2,\"dimFeedforward\":16,"
                + "\"dropout\":0.0,\"activation\":\"RELU\",\"layerNormEps\":1.0E-5,\"batchFirst\":false,"
                + "\"normFirst\":false}";
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFile.build(null,
                "{\"type\":\"TransformerEncoder\",\"layers\":[],\"norm\":[]}"));
        assertTrue(e.getMessage().contains("model: 'layers' must be an array of at least 1 layer"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(null,
                "{\"type\":\"TransformerDecoder\",\"layers\":[" + layer + "],\"norm\":[]}"));
        assertTrue(e.getMessage().contains("model.layers[0]: expected a TransformerDecoderLayer, got"
                + " TransformerEncoderLayer"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(null,
                "{\"type\":\"TransformerEncoder\",\"layers\":[" + layer + "],\"norm\":[" + layer + "]}"));
        assertTrue(e.getMessage().contains("model.norm[0]: expected a LayerNorm"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(null,
                "{\"type\":\"GPT\",\"vocabSize\":11,\"blockSize\":8,\"dModel\":9,\"numLayers\":1,\"numHeads\":2,"
                        + "\"dimFeedforward\":4,\"dropout\":0.0}"));
        assertTrue(e.getMessage().contains("GPT: d_model 9 is not divisible by num_heads 2"), e.getMessage());
    }
}
