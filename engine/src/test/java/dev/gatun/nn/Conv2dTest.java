package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Conv;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class Conv2dTest {

    @Test
    void parametersAreNamedAndShapedAsInPyTorch() {
        try (Conv2d c = new Conv2d(4, 6, new int[] {3, 2}, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 2,
                true)) {
            assertEquals(List.of("weight", "bias"), List.copyOf(c.namedParameters().keySet()));
            assertArrayEquals(new long[] {6, 2, 3, 2}, c.weight().shape());
            assertArrayEquals(new long[] {6}, c.bias().shape());
            assertEquals(6 * 2 * 3 * 2 + 6, c.parameterCount());
        }
        try (Conv2d c = new Conv2d(4, 6, new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, 1,
                false)) {
            assertNull(c.bias());
            assertEquals(List.of("weight"), List.copyOf(c.namedParameters().keySet()));
        }
    }

    @Test
    void describeLeavesOutDefaults() {
        try (Conv2d a = new Conv2d(1, 20, 5, 1, 2);
             Conv2d b = new Conv2d(3, 8, 3);
             Conv2d c = new Conv2d(4, 8, new int[] {3, 1}, new int[] {2, 1}, new int[] {1, 0}, new int[] {2, 2}, 2,
                     false)) {
            assertEquals("Conv2d(1 → 20, 5×5, padding 2)", a.describe());
            assertEquals("Conv2d(3 → 8, 3×3)", b.describe());
            assertEquals("Conv2d(4 → 8, 3×1, stride 2×1, padding 1×0, dilation 2, groups 2, no bias)", c.describe());
        }
    }

    @Test
    void defaultInitIsPytorchUniform() {
        Init.manualSeed(3);
        try (Conv2d c = new Conv2d(16, 32, 5)) {
            double bound = 1 / Math.sqrt(16 * 5 * 5);
            float[] w = c.weight().toArray();
            double max = 0, sumSq = 0;
            for (float v : w) {
                max = Math.max(max, Math.abs(v));
                sumSq += v * v;
            }
            assertTrue(max <= bound && max > 0.99 * bound, "max " + max + " bound " + bound);
            assertEquals(bound * bound / 3, sumSq / w.length, 0.03 * bound * bound, "variance of U(-b, b)");
            for (float v : c.bias().toArray()) {
                assertTrue(Math.abs(v) <= bound, "bias " + v + " bound " + bound);
            }
        }
        // Grouped: fan_in counts the channels of one group.
        try (Conv2d c = new Conv2d(8, 8, new int[] {3, 3}, new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 4,
                true)) {
            double bound = 1 / Math.sqrt(2 * 3 * 3);
            double max = 0;
            for (float v : c.bias().toArray()) max = Math.max(max, Math.abs(v));
            assertTrue(max <= bound, "bias max " + max + " bound " + bound);
        }
    }

    @Test
    void forwardIsTheConvolutionAndTrainsItsParameters() {
        try (Conv2d c = new Conv2d(2, 3, 3, 2, 1); Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(5), 2, 2, 7, 6);
            Tensor y = c.forward(x);
            assertArrayEquals(new long[] {2, 3, 4, 3}, y.shape());
            assertArrayEquals(Conv.conv2d(x, c.weight(), c.bias(), 2, 1).toArray(), y.toArray());
            Reduce.sum(y).backward();
            assertArrayEquals(c.weight().shape(), c.weight().grad().shape());
            // ∂Σy/∂bias[o] counts the output positions: N·OH·OW.
            for (float g : c.bias().grad().toArray()) {
                assertEquals(2 * 4 * 3, g, 1e-4);
            }
        }
    }

    @Test
    void summaryOfASmallConvolutionalNetwork() {
        try (Sequential net = new Sequential(new Conv2d(1, 4, 5, 1, 2), new ReLU(), new Flatten(),
                new Linear(4 * 8 * 8, 10))) {
            String summary = net.summary(1, 1, 8, 8);
            assertTrue(summary.contains("Conv2d(1 → 4, 5×5, padding 2)"), summary);
            assertTrue(summary.contains("[1, 4, 8, 8]") && summary.contains("104"), summary);
            assertTrue(summary.contains("[1, 10]"), summary);
        }
    }

    @Test
    void badSettingsAreRejected() {
        String m = assertThrows(IllegalArgumentException.class, () -> new Conv2d(3, 4, 3, 0, 0)).getMessage();
        assertTrue(m.contains("stride") && m.contains("0×0"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Conv2d(3, 4, 0)).getMessage();
        assertTrue(m.contains("kernel"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Conv2d(3, 4, new int[] {3, 3}, new int[] {1, 1},
                new int[] {0, 0}, new int[] {1, 1}, 2, true)).getMessage();
        assertTrue(m.contains("groups 2") && m.contains("in=3"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Conv2d(0, 4, 3)).getMessage();
        assertTrue(m.contains("in=0"), m);
    }
}
