package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SoftmaxTest {

    @Test
    void forwardAndBackwardMatchDoublePrecision() {
        int rows = 7;
        int len = 19;
        int n = rows * len;
        SplittableRandom rng = new SplittableRandom(5);
        double[] x = new double[n];
        double[] g = new double[n];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(ValueLayout.JAVA_FLOAT, n + 2);
            MemorySegment gs = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            for (int i = 0; i < n; i++) {
                x[i] = (float) (rng.nextGaussian() * 4);
                g[i] = (float) rng.nextGaussian();
                src.setAtIndex(ValueLayout.JAVA_FLOAT, i + 2, (float) x[i]);
                gs.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) g[i]);
            }
            MemorySegment y = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            Softmax.forward(src, 2, y, 0, rows, len);
            MemorySegment dx = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            Softmax.backward(y, 0, gs, 0, dx, 0, rows, len);
            for (int r = 0; r < rows; r++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < len; j++) max = Math.max(max, x[r * len + j]);
                double sum = 0;
                for (int j = 0; j < len; j++) sum += Math.exp(x[r * len + j] - max);
                double[] p = new double[len];
                double dot = 0;
                for (int j = 0; j < len; j++) {
                    p[j] = Math.exp(x[r * len + j] - max) / sum;
                    dot += p[j] * g[r * len + j];
                }
                for (int j = 0; j < len; j++) {
                    int i = r * len + j;
                    assertEquals(p[j], y.getAtIndex(ValueLayout.JAVA_FLOAT, i), 1e-6, "softmax at " + i);
                    assertEquals(p[j] * (g[i] - dot), dx.getAtIndex(ValueLayout.JAVA_FLOAT, i), 1e-6,
                            "gradient at " + i);
                }
            }
        }
    }

    @Test
    void aRowOfOnlyMinusInfinityIsNaNAndOthersAreNot() {
        try (Arena arena = Arena.ofConfined()) {
            float inf = Float.NEGATIVE_INFINITY;
            MemorySegment s = arena.allocateFrom(ValueLayout.JAVA_FLOAT, inf, inf, inf, 0f, inf, 1f);
            Softmax.forward(s, 0, s, 0, 2, 3);
            for (int i = 0; i < 3; i++) assertTrue(Float.isNaN(s.getAtIndex(ValueLayout.JAVA_FLOAT, i)), "row 0");
            assertEquals(0f, s.getAtIndex(ValueLayout.JAVA_FLOAT, 4));
            assertEquals(1 / (1 + Math.E), s.getAtIndex(ValueLayout.JAVA_FLOAT, 3), 1e-6);
        }
    }

    @Test
    void refusesBadRegions() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(ValueLayout.JAVA_FLOAT, 12);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Softmax.forward(s, 0, s, 0, 4, 4));
            assertEquals("softmax: src needs floats [0, 16) but its segment holds 12", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Softmax.forward(s, 0, s, 1, 2, 4));
            assertEquals("softmax: dst partially overlaps src", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Softmax.forward(s, 0, s, 0, 0, 4));
            assertEquals("softmax: rows and row length must be positive, got 0 × 4", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Softmax.backward(s, 0, s, 4, s, 0, 1, 4));
            assertEquals("softmax backward: diff_src overlaps dst", e.getMessage());
        }
    }
}
