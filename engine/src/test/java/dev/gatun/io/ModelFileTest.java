package dev.gatun.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.cli.Gatun;
import dev.gatun.data.IdxFiles;
import dev.gatun.nn.AdaptiveAvgPool2d;
import dev.gatun.nn.AvgPool2d;
import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.BatchNorm1d;
import dev.gatun.nn.BatchNorm2d;
import dev.gatun.nn.Conv2d;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.Embedding;
import dev.gatun.nn.Flatten;
import dev.gatun.nn.GELU;
import dev.gatun.nn.GRU;
import dev.gatun.nn.Init;
import dev.gatun.nn.LayerNorm;
import dev.gatun.nn.LeakyReLU;
import dev.gatun.nn.Linear;
import dev.gatun.nn.LogSoftmax;
import dev.gatun.nn.MaxPool2d;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.MultiheadAttention;
import dev.gatun.nn.RNN;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.RecurrentLayer;
import dev.gatun.nn.Sequential;
import dev.gatun.nn.Sigmoid;
import dev.gatun.nn.Tanh;
import dev.gatun.nn.TransformerEncoderLayer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saving models with their architecture, loading them back, and loading weights into a model with checks. */
class ModelFileTest {

    @TempDir
    Path dir;

    private static Tensor evalForward(Module m, Tensor x) {
        m.eval();
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            return m.forward(x);
        }
    }

    /** Saves {@code model}, loads it back, and checks the same state and the same output on {@code x}. */
    private void roundTrip(String name, Module model, Tensor x) throws IOException {
        Path file = dir.resolve(name + ".safetensors");
        ExchangeTest.settleBatchNorms(model, x, new SplittableRandom(5));
        ModelFile.save(model, file);
        try (Module back = ModelFile.load(file)) {
            assertEquals(model.getClass(), back.getClass(), name);
            assertEquals(ModelFile.architecture(model), ModelFile.architecture(back), name + ": architecture");
            Map<String, Tensor> a = model.stateDict();
            Map<String, Tensor> b = back.stateDict();
            assertEquals(List.copyOf(a.keySet()), List.copyOf(b.keySet()), name + ": names");
            for (String k : a.keySet()) {
                assertArrayEquals(a.get(k).toArray(), b.get(k).toArray(), name + ": " + k);
            }
            assertArrayEquals(evalForward(model, x).toArray(), evalForward(back, x).toArray(), name + ": output");
        }
    }

    @Test
    void everyModelGatunBuildsRoundTripsWithItsArchitecture() throws IOException {
        SplittableRandom rng = new SplittableRandom(1);
        Map<String, Supplier<Module>> models = new LinkedHashMap<>();
        models.put("mlp", ExchangeTest::mlp);
        models.put("lenet5", Models::lenet5);
        models.put("resnet", () -> Models.resnet(1));
        models.put("resnetStages", () -> Models.resnetStages(1));
        models.put("layers", () -> new Sequential(new Conv2d(2, 4, new int[] {3, 2}, new int[] {1, 2},
                new int[] {1, 0}, new int[] {1, 1}, 2, true), new BatchNorm2d(4, 1e-3f, 0.2f, false),
                new LeakyReLU(0.05f), new AvgPool2d(2, 1, 1, false),
                new MaxPool2d(2, 2, 1, 1), new Tanh(), new Flatten(), new Linear(48, 5, false),
                new BatchNorm1d(5), new GELU(), new LayerNorm(new long[] {5}, 1e-4f, true),
                new Sigmoid(), new Dropout(0.3f), new LogSoftmax(1)));
        for (var e : models.entrySet()) {
            Init.manualSeed(7);
            try (Scope s = Scope.open(); Module m = e.getValue().get()) {
                Tensor x = e.getKey().equals("mlp") ? ExchangeTest.randn(rng, 3, 784)
                        : e.getKey().equals("layers") ? ExchangeTest.randn(rng, 2, 2, 6, 6)
                        : ExchangeTest.randn(rng, 2, 1, 28, 28);
                roundTrip(e.getKey(), m, x);
            }
        }
    }

    @Test
    void recurrentAndAttentionLayersRoundTrip() throws IOException {
        SplittableRandom rng = new SplittableRandom(2);
        Init.manualSeed(8);
        try (Scope s = Scope.open()) {
            roundTrip("charlstm", ExchangeTest.charLstm(), Tensor.fromArray(new float[] {1, 5, 64, 0, 3, 9}, 3, 2));
            roundTrip("gru", new GRU(4, 6, RecurrentLayer.Options.defaults().withLayers(2).withBidirectional(true)
                    .withBatchFirst(true)), ExchangeTest.randn(rng, 2, 3, 4));
            roundTrip("rnn", new RNN(4, 5, RNN.Nonlinearity.RELU, RecurrentLayer.Options.defaults().withBias(false)),
                    ExchangeTest.randn(rng, 3, 2, 4));
            roundTrip("embedding", new Sequential(new Embedding(10, 4, 0), new Flatten()),
                    Tensor.fromArray(new float[] {0, 3, 9, 1}, 2, 2));
            roundTrip("attention", new TransformerEncoderLayer(8, 2, TransformerEncoderLayer.Options.defaults()
                    .withDimFeedforward(16).withBatchFirst(true).withNormFirst(true)
                    .withActivation(TransformerEncoderLayer.FeedForwardActivation.GELU)),
                    ExchangeTest.randn(rng, 2, 3, 8));
            MultiheadAttention mha = new MultiheadAttention(8, 4, 0f, false, true);
            Path f = dir.resolve("mha.safetensors");
            ModelFile.save(mha, f);
            try (Module back = ModelFile.load(f)) {
                assertEquals(ModelFile.architecture(mha), ModelFile.architecture(back));
                assertArrayEquals(mha.inProjWeight().toArray(), ((MultiheadAttention) back).inProjWeight().toArray());
            }
        }
    }

    @Test
    void batchNormCountIsSavedAsInt64AndRestored() throws IOException {
        try (Scope s = Scope.open(); BatchNorm bn = new BatchNorm1d(3)) {
            bn.train();
            for (int i = 0; i < 4; i++) {
                bn.forward(ExchangeTest.randn(new SplittableRandom(i), 5, 3));
            }
            assertEquals(4, bn.numBatchesTracked());
            Path f = dir.resolve("bn.safetensors");
            ModelFile.save(bn, f);
            try (SafeTensors st = SafeTensors.open(f)) {
                assertEquals(StorageType.I64, st.entry("num_batches_tracked").dtype());
                assertEquals(0, st.entry("num_batches_tracked").shape().length);
                assertEquals(4, st.toLongs("num_batches_tracked")[0]);
            }
            try (BatchNorm back = (BatchNorm) ModelFile.load(f)) {
                assertEquals(4, back.numBatchesTracked());
                assertArrayEquals(bn.runningVar().toArray(), back.runningVar().toArray());
            }
        }
    }

    @Test
    void loadingNamesEveryMissingUnexpectedMistypedAndMisshapedTensor() throws IOException {
        Path f = dir.resolve("w.safetensors");
        try (Scope s = Scope.open()) {
            new SafeTensors.Writer().add("0.weight", Tensor.zeros(4, 3)).add("0.bias", Tensor.zeros(5))
                    .add("extra", Tensor.zeros(1)).addLongs("2.bias", new long[] {2}, new long[] {1, 2}).write(f);
            try (Module m = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2))) {
                float[] before = m.stateDict().get("0.weight").toArray();
                ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFile.loadInto(m, f));
                String msg = e.getMessage();
                assertTrue(msg.startsWith(f + ": does not fit the model"), msg);
                assertTrue(msg.contains("missing '2.weight'"), msg);
                assertTrue(msg.contains("'0.bias' has shape [5], the model expects [4]"), msg);
                assertTrue(msg.contains("unexpected 'extra'"), msg);
                assertTrue(msg.contains("'2.bias' has dtype I64, the model expects a floating type"), msg);
                assertArrayEquals(before, m.stateDict().get("0.weight").toArray(), "nothing copied");
                ModelFileException noArch = assertThrows(ModelFileException.class, () -> ModelFile.load(f));
                assertTrue(noArch.getMessage().contains("no 'gatun.architecture'"), noArch.getMessage());
            }
        }
    }

    @Test
    void loadStateDictChecksNamesAndShapesBeforeCopying() {
        try (Scope s = Scope.open(); Linear a = new Linear(3, 2); Linear b = new Linear(3, 2)) {
            b.loadStateDict(a.stateDict());
            assertArrayEquals(a.weight().toArray(), b.weight().toArray());
            Map<String, Tensor> bad = new LinkedHashMap<>();
            bad.put("weight", Tensor.zeros(2, 4));
            bad.put("beta", Tensor.zeros(2));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(bad));
            assertEquals("state dict does not fit Linear: missing 'bias'; 'weight' has shape [2, 4], the model "
                    + "expects [2, 3]; unexpected 'beta'", e.getMessage());
            assertArrayEquals(a.weight().toArray(), b.weight().toArray(), "nothing copied");
        }
    }

    @Test
    void floatTypesConvertAndFilesKeepTheFormatsLayout() throws IOException {
        Path f = dir.resolve("mixed.safetensors");
        byte[] data = new byte[8 + 2 + 2];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putDouble(0.1).putShort(Float.floatToFloat16(1.5f)).putShort((short) (Float.floatToIntBits(-2.25f) >>> 16));
        String h = "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[8,10]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[10,12]}}";
        byte[] hb = h.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.allocate(8 + hb.length + data.length)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        out.putLong(hb.length).put(hb).put(data);
        Files.write(f, out.array());
        try (Scope s = Scope.open(); SafeTensors st = SafeTensors.open(f)) {
            assertEquals(0.1f, st.toTensor("d").item());
            assertEquals(1.5f, st.toTensor("h").item());
            assertEquals(-2.25f, st.toTensor("b").item());
        }
        // The writer: header padded with spaces to a multiple of 8, 8-byte types first, then by name.
        Path w = dir.resolve("w.safetensors");
        try (Scope s = Scope.open()) {
            new SafeTensors.Writer().metadata("k", "v\"").add("z", Tensor.zeros(1)).add("a", Tensor.zeros(3))
                    .addLongs("n", new long[0], new long[] {7}).write(w);
        }
        byte[] bytes = Files.readAllBytes(w);
        long n = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        String header = new String(bytes, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8);
        assertEquals("{\"__metadata__\":{\"k\":\"v\\\"\"},"
                + "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]}}", header.stripTrailing());
        assertTrue(header.endsWith(" ") || header.endsWith("}"));
        assertEquals(8 + n + 24, bytes.length);
    }

    @Test
    void aFailedWriteLeavesThePreviousFileIntactAndNoTemporaryFile() throws IOException {
        Path f = dir.resolve("model.safetensors");
        try (Scope s = Scope.open(); Linear l = new Linear(2, 2)) {
            ModelFile.save(l, f);
            byte[] before = Files.readAllBytes(f);
            Tensor dead = Tensor.zeros(2);
            SafeTensors.Writer w = new SafeTensors.Writer().add("ok", Tensor.zeros(2)).add("dead", dead);
            dead.close(); // after add(): the values are read when write() runs
            assertThrows(IllegalStateException.class, () -> w.write(f));
            assertArrayEquals(before, Files.readAllBytes(f), "the previous file is untouched");
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(List.of(f), files.toList(), "no temporary file is left");
            }
        }
    }

    @Test
    void architectureErrorsNameThePlace() throws IOException {
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFile.build(dir,
                "{\"type\":\"Sequential\",\"layers\":[{\"type\":\"ReLU\"},{\"type\":\"Warp\"}]}"));
        assertTrue(e.getMessage().contains("model.layers[1]: unknown layer type 'Warp'"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(dir,
                "{\"type\":\"Linear\",\"in\":0,\"out\":2,\"bias\":true}"));
        assertTrue(e.getMessage().contains("model (Linear): Linear needs positive sizes"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> ModelFile.build(dir, "{\"type\":\"Linear\",\"in\":\"3\"}"));
        assertTrue(e.getMessage().contains("'in' must be an integer"), e.getMessage());
        assertNull(ModelFile.architecture(new Module() {
            @Override
            public Tensor forward(Tensor input) {
                return input;
            }
        }));
    }

    /** Files written before BatchNorm1d/2d and AdaptiveAvgPool2d had PyTorch's names load into those classes. */
    @Test
    void architectureNamesOfEarlierFilesStillLoad() throws IOException {
        String old = "{\"type\":\"Sequential\",\"layers\":[{\"type\":\"BatchNorm\",\"rank\":2,\"features\":3,"
                + "\"eps\":1.0E-3,\"momentum\":0.2,\"affine\":false},{\"type\":\"GlobalAvgPool2d\"},"
                + "{\"type\":\"Flatten\"},{\"type\":\"BatchNorm\",\"rank\":1,\"features\":3,\"eps\":1.0E-5,"
                + "\"momentum\":0.1,\"affine\":true}]}";
        try (Module m = ModelFile.build(dir, old)) {
            Sequential seq = (Sequential) m;
            BatchNorm2d bn2 = assertInstanceOf(BatchNorm2d.class, seq.get(0));
            assertEquals(1e-3f, bn2.eps());
            assertEquals(0.2f, bn2.momentum());
            assertFalse(bn2.affine());
            assertInstanceOf(AdaptiveAvgPool2d.class, seq.get(1));
            BatchNorm1d bn1 = assertInstanceOf(BatchNorm1d.class, seq.get(3));
            assertTrue(bn1.affine());
            assertEquals("{\"type\":\"Sequential\",\"layers\":[{\"type\":\"BatchNorm2d\",\"features\":3,"
                    + "\"eps\":0.001,\"momentum\":0.2,\"affine\":false},"
                    + "{\"type\":\"AdaptiveAvgPool2d\",\"outputSize\":1},"
                    + "{\"type\":\"Flatten\"},{\"type\":\"BatchNorm1d\",\"features\":3,\"eps\":1.0E-5,"
                    + "\"momentum\":0.1,\"affine\":true}]}", ModelFile.architecture(m), "written with the new names");
        }
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFile.build(dir,
                "{\"type\":\"BatchNorm\",\"rank\":3,\"features\":3,\"eps\":1.0E-5,\"momentum\":0.1,\"affine\":true}"));
        assertTrue(e.getMessage().contains("BatchNorm 'rank' must be 1 or 2, got 3"), e.getMessage());
    }

    /** The shape of one input sample is recorded when given, absent otherwise, and checked when read. */
    @Test
    void theSampleShapeIsRecordedAndChecked(@TempDir Path dir) throws IOException {
        try (Module m = new Sequential(new Linear(4, 2))) {
            Path with = dir.resolve("with.safetensors");
            ModelFile.save(m, with, 1, 2, 2);
            assertArrayEquals(new long[] {1, 2, 2}, ModelFile.sampleShape(with));
            Path without = dir.resolve("without.safetensors");
            ModelFile.save(m, without);
            assertNull(ModelFile.sampleShape(without));
            assertThrows(IllegalArgumentException.class, () -> ModelFile.save(m, without, 4, 0));
            Path bad = dir.resolve("bad.safetensors");
            new SafeTensors.Writer().metadata(ModelFile.INPUT_SHAPE_KEY, "4,x").write(bad);
            ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFile.sampleShape(bad));
            assertTrue(e.getMessage().startsWith(bad.toString()) && e.getMessage().contains("'4,x'"), e.getMessage());
            new SafeTensors.Writer().metadata(ModelFile.INPUT_SHAPE_KEY, "4611686018427387904,4611686018427387904")
                    .write(bad);
            e = assertThrows(ModelFileException.class, () -> ModelFile.sampleShape(bad));
            assertTrue(e.getMessage().contains("more than 2^31 elements"), e.getMessage());
            Path notADirectory = dir.resolve("file");
            Files.writeString(notADirectory, "x");
            e = assertThrows(ModelFileException.class, () -> dev.gatun.train.Checkpoint.latest(notADirectory, null));
            assertTrue(e.getMessage().contains("is not a directory of checkpoints"), e.getMessage());
        }
    }

    /** {@code gatun train mlp --save FILE} writes a model that loads and classifies as it did. */
    @Test
    void trainSaveWritesALoadableModelAndIsCheckedUpFront() throws IOException {
        SplittableRandom rng = new SplittableRandom(3);
        for (String prefix : new String[] {"train", "t10k"}) {
            int n = prefix.equals("train") ? 200 : 50;
            byte[] images = new byte[n * 784];
            byte[] labels = new byte[n];
            for (int i = 0; i < n; i++) {
                labels[i] = (byte) (i % 10);
                for (int p = 0; p < 784; p++) {
                    images[i * 784 + p] = (byte) ((p / 78 == i % 10 ? 200 : 0) + rng.nextInt(40));
                }
            }
            IdxFiles.write(dir.resolve(prefix + "-images-idx3-ubyte"), IdxFiles.ubyte(new int[] {n, 28, 28}, images));
            IdxFiles.write(dir.resolve(prefix + "-labels-idx1-ubyte"), IdxFiles.ubyte(new int[] {n}, labels));
        }
        Path model = dir.resolve("out/mlp.safetensors");
        StringWriter err = new StringWriter();
        int code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "train", "mlp", "--data",
                dir.toString(), "--hidden", "16", "--epochs", "1", "--batch-size", "50", "--save", model.toString());
        assertEquals(0, code, err.toString());
        assertArrayEquals(new long[] {784}, ModelFile.sampleShape(model)); // what gatun serve reads
        try (Scope s = Scope.open(); Module m = ModelFile.load(model)) {
            assertTrue(m.parameterCount() == 784 * 16 + 16 + 16 * 10 + 10, "parameters: " + m.parameterCount());
            assertEquals(List.of(2L, 10L), java.util.Arrays.stream(evalForward(m, Tensor.zeros(2, 1, 28, 28)
                    .flatten(1, -1)).shape()).boxed().toList());
        }
        Path notADir = Files.writeString(dir.resolve("a-file"), "x");
        StringWriter err2 = new StringWriter();
        int refused = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(err2), "train", "lenet5",
                "--data", dir.toString(), "--save", notADir.resolve("m.safetensors").toString());
        assertEquals(2, refused, err2.toString());
        assertTrue(err2.toString().contains("--save " + notADir.resolve("m.safetensors") + " cannot be created"),
                err2.toString());
        assertFalse(err2.toString().contains("epoch"));
        // An output that names a file the run reads is refused before anything is written.
        byte[] labelsBefore = Files.readAllBytes(dir.resolve("t10k-labels-idx1-ubyte"));
        for (String[] out : new String[][] {{"--save", "train-images-idx3-ubyte"}, {"--csv", "t10k-labels-idx1-ubyte"},
            {"--save", "./t10k-labels-idx1-ubyte"}}) {
            StringWriter err3 = new StringWriter();
            int code3 = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(err3), "train", "mlp", "--data",
                    dir.toString(), "--hidden", "16", "--epochs", "1", out[0], dir.resolve(out[1]).toString());
            assertEquals(2, code3, err3.toString());
            assertTrue(err3.toString().contains("which this run reads"), err3.toString());
        }
        assertArrayEquals(labelsBefore, Files.readAllBytes(dir.resolve("t10k-labels-idx1-ubyte")));
        StringWriter err4 = new StringWriter();
        int code4 = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(err4), "train", "mlp", "--data",
                dir.toString(), "--epochs", "1", "--checkpoint-dir", dir.resolve("ck").toString(), "--csv",
                dir.resolve("ck/log.csv").toString());
        assertEquals(2, code4, err4.toString());
        assertTrue(err4.toString().contains("is inside --checkpoint-dir"), err4.toString());
    }
}
