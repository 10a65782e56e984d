package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link Pointwise} and {@link Shapes} against PyTorch's numbers ({@code golden/pointwise.json}, written by
 * {@code scripts/golden/pointwise_fixtures.py}): for every case the output and the gradients of
 * {@code sum(out * r)}, including the edge values (±0, ±∞, NaN, tiny and huge numbers, the clamp bounds)
 * where NaN and infinities must come out exactly as PyTorch's.
 */
class PointwiseGoldenTest extends ScopedTest {

    /** Float32 results of the same formula may differ by a few ulps (powf, 1/√x rounded twice, ...). */
    private static final double RTOL = 2e-6;
    private static final double ATOL = 1e-37;

    @Test
    void everyCaseMatchesPyTorch() {
        JsonNode cases = Fixtures.load("pointwise.json").get("cases");
        Set<String> ops = new HashSet<>();
        for (JsonNode c : cases) {
            String name = c.get("name").asText();
            String op = c.get("op").asText();
            ops.add(op);
            List<Tensor> inputs = new ArrayList<>();
            for (JsonNode in : c.get("inputs")) {
                inputs.add(Tensor.fromArray(Fixtures.floats(in.get("values")), Fixtures.longs(in.get("shape")))
                        .requiresGrad(true));
            }
            Tensor out = apply(op, c.get("params"), inputs, name);
            assertArrayEquals(Fixtures.longs(c.get("out_shape")), out.shape(), name + " shape");
            assertClose(name + " output", Fixtures.floats(c.get("out")), out.toArray());
            Tensor r = Tensor.fromArray(Fixtures.floats(c.get("r")), out.shape());
            Reduce.sum(Arithmetic.mul(out, r)).backward();
            for (int i = 0; i < inputs.size(); i++) {
                assertClose(name + " gradient of input " + i, Fixtures.floats(c.get("grads").get(i)),
                        inputs.get(i).grad().toArray());
            }
        }
        assertEquals(Set.of("exp", "log", "sqrt", "rsqrt", "square", "abs", "neg", "sign", "pow_scalar", "pow_tensor",
                "clamp", "clamp_min", "clamp_max", "clamp_crossed", "cat", "stack", "split", "split_sizes", "chunk"), ops);
    }

    private static Tensor apply(String op, JsonNode p, List<Tensor> in, String name) {
        Tensor x = in.get(0);
        return switch (op) {
            case "exp" -> Pointwise.exp(x);
            case "log" -> Pointwise.log(x);
            case "sqrt" -> Pointwise.sqrt(x);
            case "rsqrt" -> Pointwise.rsqrt(x);
            case "square" -> Pointwise.square(x);
            case "abs" -> Pointwise.abs(x);
            case "neg" -> Pointwise.neg(x);
            case "sign" -> Pointwise.sign(x);
            case "pow_scalar" -> Pointwise.pow(x, (float) p.get("exponent").asDouble());
            case "pow_tensor" -> Pointwise.pow(x, in.get(1));
            case "clamp", "clamp_crossed" -> Pointwise.clamp(x, (float) p.get("min").asDouble(),
                    (float) p.get("max").asDouble());
            case "clamp_min" -> Pointwise.clampMin(x, (float) p.get("min").asDouble());
            case "clamp_max" -> Pointwise.clampMax(x, (float) p.get("max").asDouble());
            case "cat" -> Shapes.cat(p.get("dim").asInt(), in.toArray(new Tensor[0]));
            case "stack" -> Shapes.stack(p.get("dim").asInt(), in.toArray(new Tensor[0]));
            case "split" -> scaledCat(Shapes.split(x, p.get("size").asLong(), p.get("dim").asInt()), p, name);
            case "split_sizes" -> scaledCat(Shapes.split(x, Fixtures.longs(p.get("sizes")), p.get("dim").asInt()), p,
                    name);
            case "chunk" -> scaledCat(Shapes.chunk(x, p.get("chunks").asInt(), p.get("dim").asInt()), p, name);
            default -> throw new AssertionError("unknown op " + op + " in case " + name);
        };
    }

    /** The pieces, checked against PyTorch's piece shapes, each times its position + 1, joined back. */
    private static Tensor scaledCat(List<Tensor> pieces, JsonNode p, String name) {
        JsonNode shapes = p.get("pieces");
        assertEquals(shapes.size(), pieces.size(), name + " piece count");
        Tensor[] scaled = new Tensor[pieces.size()];
        for (int i = 0; i < scaled.length; i++) {
            assertArrayEquals(Fixtures.longs(shapes.get(i)), pieces.get(i).shape(), name + " piece " + i);
            scaled[i] = Arithmetic.scale(pieces.get(i), i + 1);
        }
        return Shapes.cat(p.get("dim").asInt(), scaled);
    }

    /** NaN where PyTorch has NaN, the same infinity where it has one, else within RTOL (and ATOL). */
    static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i];
            float a = actual[i];
            String at = what + " [" + i + "]: expected " + e + ", got " + a;
            if (Float.isNaN(e) || Float.isInfinite(e)) {
                assertEquals(Float.floatToIntBits(e), Float.floatToIntBits(a), at);
            } else {
                assertTrue(Math.abs(a - e) <= ATOL + RTOL * Math.abs(e), at);
            }
        }
    }
}
