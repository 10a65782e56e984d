package dev.gatun.ops;

import static dev.gatun.ops.GradCheck.check;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/**
 * argmax, argmin, max and min ({@link Reduce}) against PyTorch ({@code golden/indexing.json}, written by
 * {@code scripts/golden/indexing_fixtures.py}): values, int64 indices, ties, NaN and gradients.
 */
class ArgReduceTest extends ScopedTest {

    static final JsonNode FIXTURE = Fixtures.load("indexing.json");

    /** The floats of a fixture array, null (NaN in the dump) as NaN. */
    static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).isNull() ? Float.NaN : (float) array.get(i).asDouble();
        }
        return out;
    }

    static boolean[] bools(JsonNode array) {
        boolean[] out = new boolean[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt() != 0;
        return out;
    }

    /** Equal as floats, NaN equal to NaN. */
    static void assertSameFloats(float[] expected, float[] actual, float tol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i])) {
                assertTrue(Float.isNaN(actual[i]), what + "[" + i + "]: expected NaN, got " + actual[i]);
            } else {
                assertEquals(expected[i], actual[i], tol, what + "[" + i + "]");
            }
        }
    }

    @Test
    void alongADimensionAsPyTorch() {
        JsonNode red = FIXTURE.get("reductions");
        float[] xv = floats(red.get("x"));
        long[] shape = Fixtures.longs(red.get("x_shape"));
        int checked = 0;
        for (JsonNode c : red.get("cases")) {
            String op = c.get("op").asText();
            String what = op + " dim " + c.get("dim") + " keepdim " + c.get("keepdim");
            boolean keep = c.get("keepdim").asBoolean();
            long[] outShape = Fixtures.longs(c.get("shape"));
            Tensor x = Tensor.fromArray(xv, shape).requiresGrad(true);
            if (op.startsWith("arg")) {
                Tensor idx = c.get("dim").isNull() ? (op.equals("argmax") ? x.argmax() : x.argmin())
                        : op.equals("argmax") ? x.argmax(c.get("dim").asInt(), keep)
                        : x.argmin(c.get("dim").asInt(), keep);
                assertEquals(DType.INT64, idx.dtype());
                assertArrayEquals(outShape, idx.shape(), what);
                assertArrayEquals(Fixtures.longs(c.get("indices")), idx.toLongArray(), what);
                assertFalse(idx.requiresGrad());
                if (!c.get("dim").isNull() && !keep) { // the one-argument form drops the dimension
                    int d = c.get("dim").asInt();
                    Tensor plain = op.equals("argmax") ? x.argmax(d) : x.argmin(d);
                    assertArrayEquals(idx.toLongArray(), plain.toLongArray(), what);
                    assertArrayEquals(idx.shape(), plain.shape(), what);
                }
            } else {
                int dim = c.get("dim").asInt();
                Reduce.ValuesIndices vi = op.equals("max") ? x.max(dim, keep) : x.min(dim, keep);
                assertArrayEquals(outShape, vi.values().shape(), what);
                assertArrayEquals(outShape, vi.indices().shape(), what);
                assertEquals(DType.INT64, vi.indices().dtype());
                assertSameFloats(floats(c.get("values")), vi.values().toArray(), 0f, what + " values");
                assertArrayEquals(Fixtures.longs(c.get("indices")), vi.indices().toLongArray(), what + " indices");
                Tensor r = Tensor.fromArray(floats(c.get("r")), outShape);
                Reduce.sum(Arithmetic.mul(vi.values(), r)).backward();
                assertSameFloats(floats(c.get("grad")), x.grad().toArray(), 1e-6f, what + " gradient");
            }
            checked++;
        }
        assertEquals(18, checked);
    }

    @Test
    void overAllElementsSharesTheGradientAmongTies() {
        for (JsonNode c : FIXTURE.get("reductions").get("full")) {
            String what = c.get("name").asText() + " " + c.get("op").asText();
            Tensor x = Tensor.fromArray(floats(c.get("x")), Fixtures.longs(c.get("shape"))).requiresGrad(true);
            Tensor y = c.get("op").asText().equals("max") ? x.max() : x.min();
            assertArrayEquals(new long[0], y.shape());
            assertSameFloats(floats(c.get("value")), new float[] {y.item()}, 0f, what);
            Arithmetic.scale(y, floats(c.get("r"))[0]).backward();
            assertSameFloats(floats(c.get("grad")), x.grad().toArray(), 1e-6f, what + " gradient");
        }
    }

    @Test
    void int64TensorsReduceToInt64() {
        JsonNode c = FIXTURE.get("reductions").get("int64");
        Tensor x = Tensor.fromLongs(Fixtures.longs(c.get("x")), Fixtures.longs(c.get("shape")));
        Reduce.ValuesIndices max1 = x.max(1, false);
        assertEquals(DType.INT64, max1.values().dtype());
        assertArrayEquals(Fixtures.longs(c.get("max1")), max1.values().toLongArray());
        assertArrayEquals(Fixtures.longs(c.get("argmax1")), max1.indices().toLongArray(), "the first of a tie");
        Reduce.ValuesIndices min0 = x.min(0, false);
        assertArrayEquals(Fixtures.longs(c.get("min0")), min0.values().toLongArray());
        assertArrayEquals(Fixtures.longs(c.get("argmin0")), min0.indices().toLongArray());
        assertEquals(c.get("max").asLong(), x.max().itemLong());
        assertEquals(c.get("argmax").asLong(), x.argmax().itemLong());
    }

    @Test
    void handComputedSmallCases() {
        Tensor x = Tensor.fromArray(new float[] {3, 7, 7, -1, 0, 9}, 2, 3);
        assertArrayEquals(new long[] {1, 2}, x.argmax(1, false).toLongArray());
        assertArrayEquals(new long[] {2, 1}, x.argmax(1, true).shape());
        assertArrayEquals(new long[] {0, 0, 1}, x.argmax(0, false).toLongArray());
        assertEquals(5, x.argmax().itemLong());
        assertEquals(3, x.argmin().itemLong());
        assertArrayEquals(new float[] {-1, 0, 7}, x.min(0, false).values().toArray());
        // A 0-d tensor reduces along dimension 0 or -1 to itself, index 0.
        Tensor s = Tensor.full(4f);
        assertEquals(4f, s.max(0, false).values().item());
        assertEquals(0, s.argmax(-1, true).itemLong());
    }

    @Test
    void valueGradientsByCentralDifferences() {
        // Well-separated values, so that the finite-difference steps cannot reorder them.
        long[] perm = Tensor.randperm(new Generator(3), 60).toLongArray();
        float[] v = new float[60];
        for (int i = 0; i < 60; i++) v[i] = (perm[i] - 30) * 0.25f;
        Tensor x = Tensor.fromArray(v, 3, 4, 5).requiresGrad(true);
        check("max dim 1", t -> t[0].max(1, false).values(), x);
        check("max dim -1 keepdim", t -> t[0].max(-1, true).values(), x);
        check("min dim 0", t -> Reduce.min(t[0], 0, false).values(), x);
        check("max of all", t -> t[0].max(), x);
        check("min of all", t -> t[0].min(), x);
        check("max of a transposed view", t -> t[0].transpose(0, 2).max(1, false).values(), x);
    }

    @Test
    void badArgumentsAreNamed() {
        Tensor x = Tensor.zeros(2, 0, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> x.max(1, false));
        assertTrue(e.getMessage().contains("dimension 1 of shape [2, 0, 3] is empty"), e.getMessage());
        assertArrayEquals(new long[] {2, 0}, x.max(2, false).values().shape(), "other dimensions may be empty");
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(0).argmax());
        assertTrue(e.getMessage().contains("empty tensor"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).argmax(2, false));
        assertTrue(e.getMessage().contains("dimension 2 out of range for a 2-d tensor"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.fromBooleans(new boolean[] {true, false}).argmax());
        assertTrue(e.getMessage().contains("expects float32 or int64, got bool"), e.getMessage());
    }

    @Test
    void noTapeUnderNoGradNorForIndices() {
        Tensor x = Tensor.randn(new Generator(2), 3, 4).requiresGrad(true);
        assertNull(x.max(1, false).indices().gradFn());
        try (var ignored = Autograd.noGrad()) {
            assertNull(x.max(1, false).values().gradFn());
            assertNull(x.min().gradFn());
        }
    }
}
