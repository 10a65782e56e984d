package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/**
 * GELU on large tensors runs on oneDNN: its values and gradients must equal the double-precision formula
 * (which small tensors use, and which the PyTorch fixtures check) to float32 precision.
 */
class GeluTest extends ScopedTest {

    private static double phi(double v) {
        return 0.5 * (1 + Activation.erf(v / Math.sqrt(2)));
    }

    @Test
    void largeTensorsMatchTheExactFormulaForwardAndBackward() {
        int n = (int) Activation.NATIVE_GELU_MIN + 1000;
        float[] v = Tensor.randn(new Generator(11), n).mul(4f).toArray();
        float[] edges = {0f, -0f, 1e-30f, -1e-30f, 5.5f, -5.5f, 9f, -9f, 30f, -30f};
        System.arraycopy(edges, 0, v, 0, edges.length);
        Tensor x = Tensor.fromArray(v, 2, n / 2).requiresGrad(true);
        Tensor y = Activation.gelu(x);
        float[] g = Tensor.randn(new Generator(12), 2, n / 2).toArray();
        y.mul(Tensor.fromArray(g, 2, n / 2)).sum().backward();
        float[] out = y.toArray();
        float[] dx = x.grad().toArray();
        for (int i = 0; i < n; i++) {
            double xi = v[i];
            double expected = xi * phi(xi);
            double grad = g[i] * (phi(xi) + xi * Math.exp(-0.5 * xi * xi) / Math.sqrt(2 * Math.PI));
            assertEquals(expected, out[i], 2e-6 * Math.max(1, Math.abs(expected)), "gelu(" + v[i] + ")");
            assertEquals(grad, dx[i], 5e-6 * Math.max(1, Math.abs(grad)), "gelu'(" + v[i] + ")");
        }
        assertEquals(0f, out[1]);
        assertTrue(out[9] == 0f || Math.abs(out[9]) < 1e-30, "gelu(-30) = " + out[9]);
    }

    @Test
    void aStridedInputTakesTheSamePath() {
        int n = (int) Activation.NATIVE_GELU_MIN;
        Tensor base = Tensor.randn(new Generator(3), 2, n);
        Tensor t = base.t(); // [n, 2], not contiguous
        float[] viaCopy = Activation.gelu(t.contiguous()).toArray();
        assertEquals(java.util.Arrays.toString(viaCopy).hashCode(),
                java.util.Arrays.toString(Activation.gelu(t).toArray()).hashCode());
    }
}
