package dev.gatun.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.Autoencoder;
import dev.gatun.nn.ConvTranspose2d;
import dev.gatun.nn.DCGAN;
import dev.gatun.nn.Init;
import dev.gatun.nn.Module;
import dev.gatun.nn.Sequential;
import dev.gatun.nn.Unflatten;
import dev.gatun.nn.Upsample;
import dev.gatun.nn.VAE;
import dev.gatun.ops.Resample;
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

/** The generative models and their layers saved with their architecture and loaded back. */
class GenerativeModelFileTest {

    @TempDir
    Path dir;

    /**
     * Saves {@code model}, loads it back, and checks the type, the architecture, every tensor and the
     * evaluation-mode output of {@code run}, bit for bit.
     */
    private <M extends Module> void roundTrip(String name, M model, Function<M, Tensor> run) throws IOException {
        Path file = dir.resolve(name + ".safetensors");
        ModelFile.save(model, file);
        assertNotNull(ModelFile.architecture(model), name + ": describes itself");
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
    void theLayersRoundTrip() throws IOException {
        Init.manualSeed(5);
        Generator g = new Generator(6);
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(g, 2, 12);
            try (Sequential m = new Sequential(new Unflatten(3, 2, 2),
                    new ConvTranspose2d(3, 4, new int[] {3, 2}, new int[] {2, 1}, new int[] {1, 0}, new int[] {1, 0},
                            1, false, new int[] {1, 2}),
                    new Upsample(2, Resample.Mode.NEAREST), new Upsample(1.5, 2.0, Resample.Mode.BILINEAR, true),
                    Upsample.toSize(5, 7, Resample.Mode.BILINEAR, false))) {
                roundTrip("layers", m, n -> n.forward(x));
            }
            try (ConvTranspose2d grouped = new ConvTranspose2d(4, 6, new int[] {4, 4}, new int[] {2, 2},
                    new int[] {1, 1}, new int[] {0, 0}, 2, true, new int[] {1, 1})) {
                Tensor images = Tensor.randn(g, 2, 4, 3, 3);
                roundTrip("grouped", grouped, n -> n.forward(images));
            }
        }
    }

    @Test
    void theGenerativeModelsRoundTrip() throws IOException {
        Init.manualSeed(7);
        Generator g = new Generator(8);
        try (Scope s = Scope.open()) {
            Tensor flat = Tensor.rand(g, 3, 784);
            Tensor images = Tensor.rand(g, 3, 1, 28, 28);
            try (Autoencoder ae = Autoencoder.mlp(784, 32, 8)) {
                roundTrip("ae", ae, m -> m.forward(flat));
            }
            try (Autoencoder dae = Autoencoder.conv(1, 28, 28, 8)) {
                roundTrip("dae", dae, m -> m.forward(images));
                try (Module loaded = ModelFile.load(dir.resolve("dae.safetensors"))) {
                    assertEquals(dae.describe(), loaded.describe());
                }
            }
            Tensor z = Tensor.randn(g, 3, 6);
            try (VAE vae = new VAE(784, 40, 6)) {
                roundTrip("vae", vae, m -> m.decode(z));
                roundTrip("vae-encoder", vae, m -> m.encode(flat).logvar());
            }
            try (DCGAN gan = new DCGAN(10)) {
                // Running statistics that are not the initial ones, so that the buffers are checked too.
                gan.train();
                gan.discriminate(gan.forward(Tensor.randn(g, 4, 10)));
                Tensor noise = Tensor.randn(g, 3, 10);
                roundTrip("gan", gan, m -> m.forward(noise));
                roundTrip("gan-discriminator", gan, m -> m.discriminate(images));
            }
        }
    }

    @Test
    void badGenerativeSpecsAreRefusedWithTheirPath() {
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFile.build(null,
                "{\"type\":\"Sequential\",\"layers\":[{\"type\":\"Upsample\",\"scaleHeight\":2.0,\"scaleWidth\":2.0,"
                        + "\"mode\":\"cubic\",\"alignCorners\":false}]}"));
        assertTrue(e.getMessage().contains("model.layers[0]") && e.getMessage().contains("cubic"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(null, "{\"type\":\"VAE\",\"inputs\":784,"
                + "\"hidden\":0,\"latent\":20}"));
        assertTrue(e.getMessage().contains("hidden=0"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(null, "{\"type\":\"Autoencoder\","
                + "\"description\":\"x\",\"encoder\":[{\"type\":\"Sequential\",\"layers\":[{\"type\":\"ReLU\"}]}],"
                + "\"decoder\":[]}"));
        assertTrue(e.getMessage().contains("decoder"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(null, "{\"type\":\"Unflatten\","
                + "\"shape\":[0,7]}"));
        assertTrue(e.getMessage().contains("Unflatten"), e.getMessage());
    }
}
