package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.nn.Upsample;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link Resample#interpolateToSize}, {@link Resample#interpolateByScale} and {@link Upsample}: PyTorch's
 * numbers ({@code golden/upsample.json}) for nearest and bilinear, by size and by scale factor, with and
 * without align_corners; gradients by central differences; properties any resampling must have; the
 * checks on bad arguments.
 */
class ResampleTest extends ScopedTest {

    /** The op as the fixture's configuration describes it. */
    private static Tensor run(JsonNode f, Tensor x) {
        Resample.Mode mode = Resample.Mode.valueOf(f.get("mode").asText().toUpperCase(java.util.Locale.ROOT));
        boolean align = f.get("align_corners").asBoolean(false);
        if (!f.get("size").isNull()) {
            long[] s = Fixtures.longs(f.get("size"));
            return Resample.interpolateToSize(x, s[0], s[1], mode, align);
        }
        JsonNode scale = f.get("scale_factor");
        return Resample.interpolateByScale(x, scale.get(0).asDouble(), scale.get(1).asDouble(), mode, align);
    }

    /**
     * Both compute the coordinates in float32 the same way; PyTorch sums the four weighted values in
     * another order (and may fuse multiply-adds), a few ulps of values of order 1.
     */
    @Test
    void matchesPyTorch() {
        JsonNode configs = Fixtures.load("upsample.json").get("configs");
        assertEquals(12, configs.size());
        for (JsonNode f : configs) {
            String name = f.get("name").asText();
            long[] shape = Fixtures.longs(f.get("input_shape"));
            Tensor x = Tensor.fromArray(Fixtures.floats(f.get("input")), shape).requiresGrad(true);
            Tensor y = run(f, x);
            assertArrayEquals(Fixtures.longs(f.get("output_shape")), y.shape(), name);
            compare(name + " output", Fixtures.floats(f.get("output")), y.toArray());
            dev.gatun.autograd.Autograd.backward(y, Tensor.fromArray(Fixtures.floats(f.get("output_grad")), y.shape()));
            compare(name + " input grad", Fixtures.floats(f.get("input_grad")), x.grad().toArray());
        }
    }

    private static void compare(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs((double) actual[i] - expected[i]) > 1e-5 + 1e-5 * Math.abs(expected[i])) {
                throw new AssertionError(what + "[" + i + "]: gatun " + actual[i] + ", PyTorch " + expected[i]);
            }
        }
    }

    @Test
    void gradientsByCentralDifferences() {
        JsonNode configs = Fixtures.load("upsample.json").get("configs");
        long seed = 1;
        for (JsonNode f : configs) {
            Tensor x = GradCheck.leaf(seed++, Fixtures.longs(f.get("input_shape")));
            GradCheck.check(f.get("name").asText(), t -> run(f, t[0]), x);
        }
    }

    @Test
    void nearestByTwoRepeatsEachPixel() {
        Tensor x = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 1, 1, 2, 3);
        float[] y = Resample.interpolateByScale(x, 2, 2, Resample.Mode.NEAREST, false).toArray();
        assertArrayEquals(new float[] {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6}, y);
    }

    @Test
    void bilinearKeepsConstantsAndAlignedCorners() {
        Tensor c = Tensor.full(0.75f, 2, 3, 4, 5);
        for (boolean align : new boolean[] {false, true}) {
            for (float v : Resample.interpolateToSize(c, 9, 7, Resample.Mode.BILINEAR, align).toArray()) {
                assertEquals(0.75f, v, 1e-6f);
            }
        }
        Tensor x = Tensor.randn(new Generator(3), 1, 1, 4, 5);
        Tensor y = Resample.interpolateToSize(x, 7, 9, Resample.Mode.BILINEAR, true);
        assertEquals(x.get(0, 0, 0, 0), y.get(0, 0, 0, 0), 1e-6f);
        assertEquals(x.get(0, 0, 3, 4), y.get(0, 0, 6, 8), 1e-6f);
        assertEquals(x.get(0, 0, 0, 4), y.get(0, 0, 0, 8), 1e-6f);
        // Midway between two input columns on the top row: their mean.
        assertEquals((x.get(0, 0, 0, 1) + x.get(0, 0, 0, 2)) / 2, y.get(0, 0, 0, 3), 1e-6f);
    }

    @Test
    void theLayerResamplesAsTheOp() {
        Tensor x = Tensor.randn(new Generator(4), 2, 3, 4, 5);
        Upsample twice = new Upsample(2, Resample.Mode.NEAREST);
        assertArrayEquals(new long[] {2, 3, 8, 10}, twice.forward(x).shape());
        assertEquals("Upsample(scale_factor=2.0, mode='nearest')", twice.toString());
        assertEquals("Upsample(×2.0, nearest)", twice.describe());
        Upsample sized = Upsample.toSize(7, 9, Resample.Mode.BILINEAR, true);
        assertArrayEquals(Resample.interpolateToSize(x, 7, 9, Resample.Mode.BILINEAR, true).toArray(),
                sized.forward(x).toArray());
        assertEquals("Upsample(size=(7, 9), mode='bilinear', align_corners=true)", sized.toString());
        Upsample mixed = new Upsample(1.5, 2, Resample.Mode.BILINEAR, false);
        assertArrayEquals(Resample.interpolateByScale(x, 1.5, 2, Resample.Mode.BILINEAR, false).toArray(),
                mixed.forward(x).toArray());
        assertArrayEquals(new long[] {2, 3, 6, 10}, mixed.forward(x).shape());
    }

    private static String rejects(Executable call) {
        return assertThrows(IllegalArgumentException.class, call).getMessage();
    }

    @Test
    void badArgumentsAreRefusedWithTheirValues() {
        Tensor x = Tensor.randn(new Generator(1), 1, 2, 3, 4);
        String m = rejects(() -> Resample.interpolateToSize(x, 0, 4, Resample.Mode.NEAREST, false));
        assertTrue(m.contains("0×4"), m);
        m = rejects(() -> Resample.interpolateByScale(x, 2, Double.NaN, Resample.Mode.NEAREST, false));
        assertTrue(m.contains("2.0×NaN"), m);
        m = rejects(() -> Resample.interpolateByScale(x, -1, 2.0, Resample.Mode.BILINEAR, false));
        assertTrue(m.contains("-1.0×2.0"), m);
        m = rejects(() -> Resample.interpolateByScale(x, 0.2, 1.0, Resample.Mode.BILINEAR, false));
        assertTrue(m.contains("empty output") && m.contains("0×4"), m);
        m = rejects(() -> Resample.interpolateByScale(x, 2, 2, Resample.Mode.NEAREST, true));
        assertTrue(m.contains("align_corners") && m.contains("nearest"), m);
        m = rejects(() -> Resample.interpolateByScale(x, 2, 2, null, false));
        assertTrue(m.contains("mode is null"), m);
        m = rejects(() -> Resample.interpolateByScale(Tensor.randn(new Generator(2), 2, 3, 4), 2, 2,
                Resample.Mode.NEAREST, false));
        assertTrue(m.contains("[N, C, H, W]") && m.contains("[2, 3, 4]"), m);
        m = rejects(() -> Resample.interpolateByScale(Tensor.zeros(DType.INT64, 1, 1, 2, 2), 2, 2,
                Resample.Mode.NEAREST, false));
        assertTrue(m.contains("float32") && m.contains("int64"), m);
        m = rejects(() -> Resample.interpolateByScale(Tensor.zeros(1, 0, 2, 2), 2, 2, Resample.Mode.NEAREST, false));
        assertTrue(m.contains("[1, 0, 2, 2]"), m);
        // Absurd sizes: refused before any allocation, naming the size.
        m = rejects(() -> Resample.interpolateToSize(x, 1_000_000, 1_000_000, Resample.Mode.BILINEAR, false));
        assertTrue(m.contains("[1, 2, 1000000, 1000000]"), m);
        m = rejects(() -> Resample.interpolateByScale(x, 1e300, 1e300, Resample.Mode.NEAREST, false));
        assertTrue(m.contains("more elements"), m);
        m = rejects(() -> new Upsample(0, Resample.Mode.NEAREST));
        assertTrue(m.contains("0.0×0.0"), m);
        m = rejects(() -> Upsample.toSize(3, -1, Resample.Mode.NEAREST, false));
        assertTrue(m.contains("3×-1"), m);
        m = rejects(() -> new Upsample(2, 2, Resample.Mode.NEAREST, true));
        assertTrue(m.contains("align_corners"), m);
    }
}
