package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The seven initialisations of the lecture (and their variants), checked by their statistics. */
class InitTest {

    private static double[] meanVar(Tensor t) {
        float[] v = t.toArray();
        double m = 0;
        for (float x : v) m += x;
        m /= v.length;
        double var = 0;
        for (float x : v) var += (x - m) * (x - m);
        return new double[] {m, var / v.length};
    }

    @Test
    void constantAndZeros() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(new float[6], Init.zeros(Tensor.ones(2, 3)).toArray());
            assertArrayEquals(new float[] {0.5f, 0.5f}, Init.constant(Tensor.zeros(2), 0.5f).toArray());
        }
    }

    @Test
    void distributionsHaveTheirVariance() {
        SplittableRandom rng = new SplittableRandom(5);
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(256, 512);
            double[] mv = meanVar(Init.uniform(w, -2, 2, rng));
            assertEquals(0, mv[0], 0.02);
            assertEquals(16.0 / 12, mv[1], 0.02);
            mv = meanVar(Init.normal(w, 1, 0.5, rng));
            assertEquals(1, mv[0], 0.01);
            assertEquals(0.25, mv[1], 0.005);
            // fan_in 512, fan_out 256
            mv = meanVar(Init.xavierUniform(w, 1, rng));
            assertEquals(2.0 / (512 + 256), mv[1], 0.05 * 2.0 / 768);
            mv = meanVar(Init.xavierNormal(w, 1, rng));
            assertEquals(2.0 / (512 + 256), mv[1], 0.05 * 2.0 / 768);
            mv = meanVar(Init.kaimingUniform(w, 0, Init.FanMode.FAN_IN, Init.Nonlinearity.RELU, rng));
            assertEquals(2.0 / 512, mv[1], 0.05 * 2.0 / 512);
            mv = meanVar(Init.kaimingNormal(w, 0, Init.FanMode.FAN_OUT, Init.Nonlinearity.RELU, rng));
            assertEquals(2.0 / 256, mv[1], 0.05 * 2.0 / 256);
            assertEquals(5.0 / 3, Init.gain(Init.Nonlinearity.TANH, 0), 1e-12);
            assertEquals(Math.sqrt(2 / 1.0001), Init.gain(Init.Nonlinearity.LEAKY_RELU, 0.01), 1e-12);
            assertArrayEquals(new long[] {3 * 25, 8 * 25}, Init.fans(Tensor.zeros(8, 3, 5, 5)));
            assertThrows(IllegalArgumentException.class, () -> Init.fans(Tensor.zeros(4)));
        }
    }

    @Test
    void orthogonalRowsOrColumnsAreOrthonormal() {
        SplittableRandom rng = new SplittableRandom(6);
        try (Scope s = Scope.open()) {
            for (long[] shape : new long[][] {{6, 4}, {4, 6}, {5, 5}}) {
                Tensor w = Init.orthogonal(Tensor.zeros(shape), 2, rng);
                float[] v = w.toArray();
                int rows = (int) shape[0], cols = (int) shape[1];
                boolean byColumns = rows >= cols;
                int k = byColumns ? cols : rows;
                for (int i = 0; i < k; i++) {
                    for (int j = 0; j < k; j++) {
                        double dot = 0;
                        for (int t = 0; t < (byColumns ? rows : cols); t++) {
                            dot += byColumns ? v[t * cols + i] * v[t * cols + j] : v[i * cols + t] * v[j * cols + t];
                        }
                        assertEquals(i == j ? 4 : 0, dot, 1e-5, "gain² on the diagonal, 0 elsewhere");
                    }
                }
            }
        }
    }

    @Test
    void identity() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(new float[] {1, 0, 0, 0, 1, 0}, Init.identity(Tensor.full(7f, 2, 3)).toArray());
            assertThrows(IllegalArgumentException.class, () -> Init.identity(Tensor.zeros(2, 2, 2)));
        }
    }
}
