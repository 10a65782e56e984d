package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.Vocabulary;
import dev.gatun.io.ModelFile;
import dev.gatun.io.ModelFileException;
import dev.gatun.io.SafeTensors;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The character language model: its layers, stepping with a state, sampling, and its file. */
class CharRnnTest extends ScopedTest {

    private static Tensor tokens(long[] ids, long b, long t) {
        return Tensor.fromLongs(ids, b, t);
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5f, what + " at " + i);
        }
    }

    @Test
    void logitsAreTheHeadOverTheRecurrentLayersOverTheEmbedding() {
        Init.manualSeed(3);
        try (CharRnn m = new CharRnn(CharRnn.Cell.GRU, 7, 5, 6, 2, 0f)) {
            assertEquals(List.of("embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0",
                    "rnn.bias_hh_l0", "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                    "head.weight", "head.bias"), List.copyOf(m.namedParameters().keySet()));
            Tensor x = tokens(new long[] {0, 1, 2, 6, 5, 4}, 2, 3);
            Tensor logits = m.forward(x);
            assertArrayEquals(new long[] {2, 3, 7}, logits.shape());
            Map<String, Module> c = m.children();
            Tensor manual = c.get("head").forward(c.get("rnn").forward(c.get("embedding").forward(x)));
            assertArrayEquals(manual.toArray(), logits.toArray());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(Tensor.fromLongs(new long[] {1, 2}, 2)));
            assertEquals("CharRnn: tokens must be [B, T], got shape [2]", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.forward(tokens(new long[] {7}, 1, 1)));
        }
    }

    @Test
    void continuingFromTheStateEqualsTheWholeSequence() {
        for (CharRnn.Cell cell : CharRnn.Cell.values()) {
            try (CharRnn m = new CharRnn(cell, 5, 4, 6, 2, 0f)) {
                long[] ids = {0, 1, 2, 3, 4, 3, 2, 1, 0, 4, 4, 1};
                Tensor whole = m.forward(tokens(ids, 2, 6));
                RecurrentLayer.State state = null;
                for (int t = 0; t < 6; t++) {
                    CharRnn.Output step = m.forward(tokens(new long[] {ids[t], ids[6 + t]}, 2, 1), state);
                    assertClose(whole.slice(1, t, t + 1).contiguous().toArray(), step.logits().toArray(),
                            cell + " logits at step " + t);
                    state = step.state();
                }
            }
        }
    }

    @Test
    void greedySamplingFollowsTheLikeliestPathOneStepPerCharacter() {
        Init.manualSeed(4);
        try (CharRnn m = new CharRnn(CharRnn.Cell.LSTM, 6, 4, 8, 2, 0.3f)) {
            int[] prompt = {1, 2};
            int[] generated = m.sample(prompt, 10, 0, 0, new SplittableRandom(1));
            assertTrue(m.isTraining(), "the mode is restored");
            // The whole sequence at once: each generated id is the argmax after the ids before it.
            int[] all = new int[prompt.length + generated.length];
            System.arraycopy(prompt, 0, all, 0, prompt.length);
            System.arraycopy(generated, 0, all, prompt.length, generated.length);
            m.eval();
            Tensor logits = m.forward(tokens(Arrays.stream(all).asLongStream().toArray(), 1, all.length));
            long[] argmax = logits.argmax(2).toLongArray();
            for (int i = 0; i < generated.length; i++) {
                assertEquals(argmax[prompt.length - 1 + i], generated[i], "character " + i);
            }
            assertEquals(0, m.sample(prompt, 0, 1, 0, new SplittableRandom(1)).length);
            assertThrows(IllegalArgumentException.class, () -> m.sample(new int[0], 1, 1, 0, new SplittableRandom()));
            assertThrows(IllegalArgumentException.class, () -> m.sample(new int[] {6}, 1, 1, 0, new SplittableRandom()));
            assertThrows(IllegalArgumentException.class, () -> m.sample(prompt, -1, 1, 0, new SplittableRandom()));
            assertThrows(IllegalArgumentException.class, () -> m.sample(prompt, 1, -1, 0, new SplittableRandom()));
            assertThrows(IllegalArgumentException.class,
                    () -> m.sample(prompt, 1, Double.NaN, 0, new SplittableRandom()));
            assertThrows(IllegalArgumentException.class, () -> m.sample(prompt, 1, 1, -1, new SplittableRandom()));
        }
    }

    @Test
    void temperatureAndTopKShapeTheDraws() {
        float[] logits = {0, (float) Math.log(3), -1, Float.NEGATIVE_INFINITY};
        SplittableRandom rng = new SplittableRandom(5);
        int n = 40_000;
        int[] counts = new int[4];
        for (int i = 0; i < n; i++) counts[CharRnn.pick(logits, 1, 2, rng)]++;
        assertEquals(0.25, counts[0] / (double) n, 0.01, "top-2 at temperature 1: 1 : 3");
        assertEquals(0.75, counts[1] / (double) n, 0.01);
        assertEquals(0, counts[2] + counts[3], "outside the top 2");
        Arrays.fill(counts, 0);
        for (int i = 0; i < n; i++) counts[CharRnn.pick(logits, 0.5, 0, rng)]++;
        double z = 1 + 9 + Math.exp(-2);
        assertEquals(1 / z, counts[0] / (double) n, 0.01, "temperature 0.5 squares the odds");
        assertEquals(9 / z, counts[1] / (double) n, 0.01);
        assertEquals(1, CharRnn.pick(logits, 0, 0, rng), "temperature 0 is greedy");
        assertEquals(1, CharRnn.pick(logits, 5, 1, rng), "top-1 is greedy");
        assertEquals(0, CharRnn.pick(new float[] {2, 2}, 0, 0, rng), "ties go to the lower id");
    }

    @Test
    void learnsToContinueHellWithO() {
        Vocabulary v = Vocabulary.ofSymbols("helo");
        Init.manualSeed(1);
        try (CharRnn m = new CharRnn(CharRnn.Cell.LSTM, 4, 4, 16, 1, 0f);
             Adam adam = new Adam(m.parameters(), 0.05)) {
            Tensor x = tokens(Arrays.stream(v.encode("hell")).asLongStream().toArray(), 1, 4);
            Tensor y = Tensor.fromLongs(Arrays.stream(v.encode("ello")).asLongStream().toArray(), 4);
            for (int step = 0; step < 100; step++) {
                try (Scope s = Scope.open()) {
                    adam.zeroGrad();
                    Loss.crossEntropy(m.forward(x).reshape(4, 4), y).backward();
                    adam.step();
                }
            }
            assertEquals("o", v.decode(m.sample(v.encode("hell"), 1, 0, 0, new SplittableRandom(1))));
            assertEquals("llo", v.decode(m.sample(v.encode("he"), 3, 0, 0, new SplittableRandom(1))));
        }
    }

    @Test
    void savesAndLoadsWithItsVocabulary(@TempDir Path dir) throws IOException {
        Vocabulary v = Vocabulary.ofSymbols("abc\n");
        Path file = dir.resolve("m.safetensors");
        try (CharRnn m = new CharRnn(CharRnn.Cell.RNN, 4, 3, 5, 2, 0.25f)) {
            m.save(file, Map.of(Vocabulary.METADATA_KEY, v.toJson()));
            try (CharRnn back = CharRnn.load(file)) {
                assertEquals(m.toString(), back.toString());
                assertEquals(m.describe(), back.describe());
                for (var e : m.stateDict().entrySet()) {
                    assertArrayEquals(e.getValue().toArray(), back.stateDict().get(e.getKey()).toArray(), e.getKey());
                }
            }
            assertEquals(v, Vocabulary.read(file));
            assertThrows(IllegalArgumentException.class,
                    () -> m.save(file, Map.of(ModelFile.ARCHITECTURE_KEY, "{}")));
        }
    }

    @Test
    void aHostileArchitectureIsRefusedBeforeAllocating(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.safetensors");
        String[][] cases = {
            {"{\"type\":\"CharRnn\",\"cell\":\"LSTM\",\"vocabulary\":80,\"embedding\":64,\"hidden\":1000000000,"
                    + "\"numLayers\":2,\"dropout\":0.0}", "more than the 8 bytes of data"},
            {"{\"type\":\"CharRnn\",\"cell\":\"TCN\",\"vocabulary\":1,\"embedding\":1,\"hidden\":1,"
                    + "\"numLayers\":1,\"dropout\":0.0}", "'cell' must be one of [LSTM, GRU, RNN], got TCN"},
            {"{\"type\":\"CharRnn\",\"cell\":\"GRU\",\"vocabulary\":-3,\"embedding\":1,\"hidden\":1,"
                    + "\"numLayers\":1,\"dropout\":0.0}", "'vocabulary' must be a positive integer, got -3"},
            {"{\"type\":\"Linear\",\"in\":1}", "holds a Linear, not a CharRnn"},
            {"{\"type\":\"CharRnn\",\"cell\":{\"x\":1}}", "not a CharRnn architecture"},
            {"[1,2]", "expected a JSON object"},
        };
        for (String[] c : cases) {
            try (Scope s = Scope.open()) {
                new SafeTensors.Writer().metadata(ModelFile.ARCHITECTURE_KEY, c[0]).add("w", Tensor.zeros(2))
                        .write(file);
            }
            ModelFileException e = assertThrows(ModelFileException.class, () -> CharRnn.load(file), c[0]);
            assertTrue(e.getMessage().startsWith(file.toString()) && e.getMessage().contains(c[1]), e.getMessage());
        }
        try (Scope s = Scope.open()) {
            new SafeTensors.Writer().add("w", Tensor.zeros(2)).write(file);
        }
        ModelFileException e = assertThrows(ModelFileException.class, () -> CharRnn.load(file));
        assertTrue(e.getMessage().contains("holds no CharRnn"), e.getMessage());
        // The same architecture with weights of another shape: the loader names them.
        try (CharRnn other = new CharRnn(CharRnn.Cell.GRU, 3, 2, 2, 1, 0f); Scope s = Scope.open()) {
            SafeTensors.Writer w = new SafeTensors.Writer().metadata(ModelFile.ARCHITECTURE_KEY,
                    ModelFile.architecture(other));
            other.stateDict().forEach((k, t) -> w.add(k, k.equals("head.bias") ? Tensor.zeros(4) : t));
            w.write(file);
        }
        e = assertThrows(ModelFileException.class, () -> CharRnn.load(file));
        assertTrue(e.getMessage().contains("'head.bias' has shape [4], the model expects [3]"), e.getMessage());
    }

    @Test
    void describesItself() {
        try (CharRnn m = new CharRnn(CharRnn.Cell.LSTM, 80, 64, 256, 2, 0.1f)) {
            assertEquals("CharRnn(LSTM, 80 chars, embedding 64, 2 × 256, dropout 0.1)", m.describe());
            String summary = m.summary(1, 10);
            assertTrue(summary.contains("rnn") && summary.contains("[1, 10, 80]"), summary);
            assertThrows(IllegalArgumentException.class, () -> new CharRnn(CharRnn.Cell.GRU, 0, 1, 1, 1, 0f));
            assertThrows(IllegalArgumentException.class, () -> new CharRnn(CharRnn.Cell.GRU, 1, 1, 1, 1, 1f));
        }
    }
}
