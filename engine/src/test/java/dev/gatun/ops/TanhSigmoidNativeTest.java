package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * tanh and the sigmoid on large tensors run on oneDNN: their values and gradients must equal the
 * double-precision functions (which small tensors use, and which the PyTorch fixtures check) to float32
 * precision, saturated ends and zero included, for contiguous and strided inputs.
 */
class TanhSigmoidNativeTest extends ScopedTest {

    private static void check(String name, UnaryOperator<Tensor> op, DoubleUnaryOperator f,
                              DoubleUnaryOperator derivativeFromOutput) {
        int n = (int) Activation.NATIVE_RELU_MIN + 1000;
        float[] v = Tensor.randn(new Generator(21), n).mul(3f).toArray();
        float[] edges = {0f, -0f, 1e-30f, -1e-30f, 9f, -9f, 20f, -20f, 90f, -90f};
        System.arraycopy(edges, 0, v, 0, edges.length);
        for (boolean strided : new boolean[] {false, true}) {
            Tensor x = Tensor.fromArray(v, 2, n / 2).requiresGrad(true);
            // A transposed view reads the same values in another order; compare element by element.
            Tensor in = strided ? x.t() : x;
            Tensor y = op.apply(in);
            float[] g = Tensor.randn(new Generator(22), in.shape()).toArray();
            y.mul(Tensor.fromArray(g, in.shape())).sum().backward();
            float[] out = y.toArray();
            float[] seen = in.toArray();
            float[] dx = (strided ? x.grad().t() : x.grad()).toArray();
            for (int i = 0; i < n; i++) {
                double expected = f.applyAsDouble(seen[i]);
                double grad = g[i] * derivativeFromOutput.applyAsDouble(expected);
                String at = name + "(" + seen[i] + ")" + (strided ? ", strided" : "");
                assertEquals(expected, out[i], 1e-6 * Math.max(1e-3, Math.abs(expected)) + 1e-12, at);
                assertEquals(grad, dx[i], 2e-6 * Math.max(1, Math.abs(grad)), at + ": gradient");
            }
        }
    }

    @Test
    void tanhMatchesTheDoubleFunction() {
        check("tanh", Activation::tanh, Math::tanh, y -> 1 - y * y);
    }

    @Test
    void sigmoidMatchesTheDoubleFunction() {
        check("sigmoid", Activation::sigmoid, v -> 1 / (1 + Math.exp(-v)), y -> y * (1 - y));
    }
}
