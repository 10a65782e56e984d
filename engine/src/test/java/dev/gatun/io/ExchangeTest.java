package dev.gatun.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.Embedding;
import dev.gatun.nn.GRU;
import dev.gatun.nn.Init;
import dev.gatun.nn.LSTM;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.RecurrentLayer;
import dev.gatun.nn.Sequential;
import dev.gatun.nn.TransformerEncoderLayer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Models exchanged with PyTorch 1.13 through the fixtures under {@code src/test/resources/exchange/}, made by
 * {@code scripts/exchange-pytorch}: PyTorch's state_dicts loaded into gatun's models must give PyTorch's
 * outputs, and gatun's model files, which PyTorch loaded strictly, must give in gatun the outputs PyTorch
 * computed from them. Both directions are checked here without running Python.
 */
class ExchangeTest {

    /** The largest difference allowed between gatun's and PyTorch's outputs. */
    static final float TOLERANCE = 1e-5f;

    /** The gatun twin of each model of bench/python/exchange.py. */
    static final Map<String, Supplier<Module>> MODELS = Map.of(
            "mlp", ExchangeTest::mlp,
            "lenet5", Models::lenet5,
            "resnet", () -> Models.resnet(3),
            "resnet_stages", () -> Models.resnetStages(1),
            "charlstm", ExchangeTest::charLstm,
            "gru", () -> new GRU(4, 6, RecurrentLayer.Options.defaults().withLayers(2).withBidirectional(true)),
            "transformer", () -> new TransformerEncoderLayer(8, 2, TransformerEncoderLayer.Options.defaults()
                    .withDimFeedforward(16).withBatchFirst(true)));

    /** bench's mlp_big with hidden sizes 32 and 16. */
    static Module mlp() {
        return new Sequential(new Linear(784, 32), new ReLU(), new Dropout(0.2f), new Linear(32, 16),
                new ReLU(), new Linear(16, 10));
    }

    /** bench's character model at sizes 65→16, 16→32, 32→65. */
    static Module charLstm() {
        return new Sequential(new Embedding(65, 16), new LSTM(16, 32), new Linear(32, 65));
    }

    @TempDir
    Path dir;

    /** Copies a fixture out of the test resources (the reader maps files). */
    static Path resource(Path dir, String name) {
        try (InputStream in = ExchangeTest.class.getResourceAsStream("/exchange/" + name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource exchange/" + name
                        + "; scripts/exchange-pytorch makes it");
            }
            Path p = dir.resolve(name.replace('/', '_'));
            Files.copy(in, p);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void assertClose(Tensor expected, Tensor actual, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + ": shape");
        float[] e = expected.toArray();
        float[] a = actual.toArray();
        float worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            float d = Math.abs(e[i] - a[i]);
            if (!(d <= worst)) {
                worst = d;
                at = i;
            }
        }
        final float w = worst;
        final int i = at;
        assertTrue(w <= TOLERANCE, () -> what + ": element " + i + " is " + a[i] + ", PyTorch's " + e[i]
                + " (difference " + w + ")");
    }

    static Tensor run(Module model, Tensor input) {
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            return model.forward(input);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "lenet5", "resnet", "resnet_stages", "charlstm", "gru", "transformer"})
    void pytorchStateDictGivesPytorchOutputInGatun(String name) throws IOException {
        try (Scope s = Scope.open(); Module model = MODELS.get(name).get();
             SafeTensors io = SafeTensors.open(resource(dir, name + ".io.safetensors"))) {
            ModelFile.loadInto(model, resource(dir, name + ".safetensors"));
            model.eval();
            assertClose(io.toTensor("output"), run(model, io.toTensor("input")), name);
            if (model instanceof Sequential seq && seq.get(1) instanceof BatchNorm bn) {
                // PyTorch's int64 num_batches_tracked was read (three training batches in the script).
                assertEquals(3, bn.numBatchesTracked(), name + ": num_batches_tracked");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "resnet", "charlstm", "gru", "transformer"})
    void gatunModelFileGivesPytorchsOutputOnIt(String name) throws IOException {
        try (Scope s = Scope.open();
             Module model = ModelFile.load(resource(dir, "gatun/" + name + ".safetensors"));
             SafeTensors in = SafeTensors.open(resource(dir, "gatun/" + name + ".input.safetensors"));
             SafeTensors out = SafeTensors.open(resource(dir, "gatun/" + name + ".torch-output.safetensors"))) {
            model.eval();
            assertClose(out.toTensor("output"), run(model, in.toTensor("input")), "gatun's " + name + " in PyTorch");
        }
    }

    /** The inputs of the gatun-written fixtures, by model. */
    static Tensor fixtureInput(String name, SplittableRandom rng) {
        return switch (name) {
            case "mlp" -> randn(rng, 4, 784);
            case "resnet" -> randn(rng, 2, 3, 8, 8);
            case "charlstm" -> {
                float[] tokens = new float[7 * 3];
                for (int i = 0; i < tokens.length; i++) tokens[i] = rng.nextInt(65);
                yield Tensor.fromArray(tokens, 7, 3);
            }
            case "gru" -> randn(rng, 5, 2, 4);
            case "transformer" -> randn(rng, 2, 5, 8);
            default -> throw new IllegalArgumentException(name);
        };
    }

    static Tensor randn(SplittableRandom rng, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            // Box-Muller: normal samples without depending on any other generator
            v[i] = (float) (Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble()));
        }
        return Tensor.fromArray(v, shape);
    }

    /**
     * Writes the gatun side of the fixtures when the environment variable GATUN_EXCHANGE_WRITE names a
     * directory (scripts/exchange-pytorch sets it; otherwise this does nothing): for each model, its file and
     * its input, with batch norms' running statistics and affine parameters moved off their initial values.
     */
    @Test
    void writeGatunFixtures() throws IOException {
        String target = System.getenv("GATUN_EXCHANGE_WRITE");
        if (target == null || target.isEmpty()) {
            return;
        }
        Path out = Path.of(target);
        Files.createDirectories(out);
        int i = 0;
        for (String name : new String[] {"mlp", "resnet", "charlstm", "gru", "transformer"}) {
            Init.manualSeed(4242 + i);
            SplittableRandom rng = new SplittableRandom(77 + i++);
            try (Scope s = Scope.open(); Module model = MODELS.get(name).get()) {
                Tensor x = fixtureInput(name, rng);
                settleBatchNorms(model, x, rng);
                ModelFile.save(model, out.resolve(name + ".safetensors"));
                new SafeTensors.Writer().add("input", x).write(out.resolve(name + ".input.safetensors"));
            }
        }
    }

    /** Three training batches through the model, then random γ and β, as the Python script does. */
    static void settleBatchNorms(Module model, Tensor x, SplittableRandom rng) {
        boolean any = model.stateDict().keySet().stream().anyMatch(k -> k.endsWith("running_mean"));
        if (!any) {
            return;
        }
        model.train();
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            for (int k = 0; k < 3; k++) {
                Tensor shifted = randn(rng, x.shape());
                model.forward(shifted);
            }
        }
        for (var e : model.stateDict().entrySet()) {
            String k = e.getKey();
            if (k.matches(".*(bn\\d|downsample\\.1|^1)\\.(weight|bias)")) {
                float[] v = new float[(int) e.getValue().numel()];
                for (int j = 0; j < v.length; j++) {
                    v[j] = k.endsWith("weight") ? (float) (0.5 + rng.nextDouble()) : (float) (rng.nextDouble() - 0.5);
                }
                e.getValue().copyFrom(v);
            }
        }
        model.eval();
    }
}
