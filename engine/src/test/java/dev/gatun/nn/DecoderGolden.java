package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The cases of {@code golden/decoder.json} (scripts/golden/decoder_fixtures.py) and their comparison. */
final class DecoderGolden {

    static final JsonNode FIXTURE = Fixtures.load("decoder.json");

    private DecoderGolden() {}

    static JsonNode fixtureCase(String name) {
        for (JsonNode c : FIXTURE.get("cases")) {
            if (c.get("name").asText().equals(name)) return c;
        }
        throw new IllegalStateException("no case " + name);
    }

    /** A bool mask stored as 0/1 under {@code name}, with its shape under {@code name_shape}. */
    static Tensor booleanMask(JsonNode c, String name) {
        int[] bits = Fixtures.ints(c.get(name));
        boolean[] hidden = new boolean[bits.length];
        for (int i = 0; i < bits.length; i++) hidden[i] = bits[i] != 0;
        return Tensor.fromBooleans(hidden, Fixtures.longs(c.get(name + "_shape")));
    }

    /** |a − e| ≤ atol + rtol·|e| elementwise. */
    static void assertClose(float[] expected, float[] actual, double atol, double rtol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs(expected[i] - actual[i]);
            assertTrue(err <= atol + rtol * Math.abs(expected[i]),
                    what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
        }
    }

    /** Copies PyTorch's parameters into {@code m}, checking that the names (in order) and shapes agree. */
    static void loadParameters(String name, JsonNode c, Module m) {
        List<String> expectedNames = new ArrayList<>();
        c.get("params").fieldNames().forEachRemaining(expectedNames::add);
        assertEquals(expectedNames, new ArrayList<>(m.namedParameters().keySet()), name + " parameter names");
        m.namedParameters().forEach((k, t) -> {
            assertArrayEquals(Fixtures.longs(c.get("param_shapes").get(k)), t.shape(), name + " shape of " + k);
            t.copyFrom(Fixtures.floats(c.get("params").get(k)));
        });
    }

    /**
     * Loads the case's parameters into {@code m}, runs {@code forward} on its inputs (leaves requiring a
     * gradient), and compares the output, the returned attention weights when the case has them, and the
     * gradients of Σ y·r (+ Σ w·rw) for every input and parameter.
     */
    static void assertMatchesPyTorch(String name, Module m, Function<Map<String, Tensor>, Tensor[]> forward) {
        JsonNode c = fixtureCase(name);
        loadParameters(name, c, m);
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        c.get("inputs").fieldNames().forEachRemaining(k -> inputs.put(k,
                Tensor.fromArray(Fixtures.floats(c.get("inputs").get(k)), Fixtures.longs(c.get("input_shapes").get(k)))
                        .requiresGrad(true)));
        Tensor[] out = forward.apply(inputs);
        Tensor y = out[0];
        assertArrayEquals(Fixtures.longs(c.get("y_shape")), y.shape(), name + " output shape");
        assertClose(Fixtures.floats(c.get("y")), y.toArray(), 2e-5, 1e-4, name + " output");
        Tensor loss = Reduce.sum(Arithmetic.mul(y, Tensor.fromArray(Fixtures.floats(c.get("r")), y.shape())));
        if (c.has("w")) {
            Tensor w = out[1];
            assertArrayEquals(Fixtures.longs(c.get("w_shape")), w.shape(), name + " weights shape");
            assertClose(Fixtures.floats(c.get("w")), w.toArray(), 1e-6, 1e-4, name + " weights");
            loss = Arithmetic.add(loss, Reduce.sum(Arithmetic.mul(w, Tensor.fromArray(Fixtures.floats(c.get("rw")),
                    w.shape()))));
        }
        loss.backward();
        inputs.forEach((k, t) -> assertClose(Fixtures.floats(c.get("input_grads").get(k)), t.grad().toArray(), 5e-5,
                2e-4, name + " ∂" + k));
        m.namedParameters().forEach((k, t) -> assertClose(Fixtures.floats(c.get("grads").get(k)), t.grad().toArray(),
                5e-5, 2e-4, name + " ∂" + k));
    }
}
