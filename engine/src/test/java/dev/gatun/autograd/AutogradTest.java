package dev.gatun.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;

class AutogradTest {

    /** The seed lecture's perceptron: ŷ = g(1 + 3x₁ − 2x₂) at x = (−1, 2) is g(−6) ≈ 0.002. */
    @Test
    void perceptronFromTheLecture() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {3, -2}).requiresGrad(true);
            Tensor b = Tensor.fromArray(new float[] {1}).requiresGrad(true);
            Tensor x = Tensor.fromArray(new float[] {-1, 2});
            Tensor z = Arithmetic.add(MatMul.matmul(x, w), b);
            Tensor y = Activation.sigmoid(z);
            assertEquals(-6f, z.item());
            double sigma = 1 / (1 + Math.exp(6));
            assertEquals(0.002, y.item(), 0.0005);
            assertEquals(sigma, y.item(), 1e-9);
            y.backward();
            double dz = sigma * (1 - sigma); // σ'(z) = σ(1 − σ)
            assertArrayEquals(new float[] {(float) (-1 * dz), (float) (2 * dz)}, w.grad().toArray(), 1e-7f);
            assertEquals(dz, b.grad().item(), 1e-7);
        }
    }

    @Test
    void gradientsAccumulateUntilZeroed() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {1, 2, 3}).requiresGrad(true);
            Reduce.sum(Arithmetic.scale(w, 2f)).backward();
            assertArrayEquals(new float[] {2, 2, 2}, w.grad().toArray());
            Reduce.sum(Arithmetic.scale(w, 2f)).backward();
            assertArrayEquals(new float[] {4, 4, 4}, w.grad().toArray());
            w.grad().fill(0f);
            Reduce.sum(Arithmetic.mul(w, w)).backward();
            assertArrayEquals(new float[] {2, 4, 6}, w.grad().toArray());
        }
    }

    @Test
    void zeroGradLetsTheNextBackwardOverwrite() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            Reduce.sum(Arithmetic.scale(w, 3f)).backward();
            Tensor g = w.grad();
            w.zeroGrad();
            assertArrayEquals(new float[] {0, 0}, w.grad().toArray(), "zeroed at once");
            Reduce.sum(Arithmetic.mul(w, w)).backward();
            assertArrayEquals(new float[] {2, 4}, w.grad().toArray());
            assertTrue(g == w.grad(), "the gradient's memory is kept");
            Reduce.sum(w).backward();
            assertArrayEquals(new float[] {3, 5}, w.grad().toArray(), "and accumulates again afterwards");
            assertThrows(IllegalArgumentException.class, () -> w.accumulateGrad(Tensor.ones(3)));
        }
    }

    /**
     * A linear layer writes its parameters' gradients straight into their buffers once they exist:
     * overwriting after zeroGrad, adding otherwise, exactly as autograd's own accumulation does. The
     * first backward (no buffer yet) takes autograd's path and is the reference.
     */
    @Test
    void linearWritesParameterGradientsInPlaceLikeAccumulation() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(1), 5, 7);
            Tensor w = Tensor.randn(new Generator(2), 3, 7).requiresGrad(true);
            Tensor b = Tensor.randn(new Generator(3), 3).requiresGrad(true);
            Tensor upstream = Tensor.randn(new Generator(4), 5, 3);
            Runnable pass = () -> Reduce.sum(Arithmetic.mul(MatMul.linear(x, w, b), upstream)).backward();
            pass.run();
            float[] dw = w.grad().toArray();
            float[] db = b.grad().toArray();
            Tensor wBuffer = w.grad();
            Tensor bBuffer = b.grad();
            // ∂w = upstreamᵀ·x, ∂b = Σ rows of upstream, from the values themselves.
            float[] xv = x.toArray();
            float[] uv = upstream.toArray();
            for (int o = 0; o < 3; o++) {
                double bias = 0;
                for (int r = 0; r < 5; r++) bias += uv[r * 3 + o];
                assertEquals(bias, db[o], 1e-5);
                for (int i = 0; i < 7; i++) {
                    double want = 0;
                    for (int r = 0; r < 5; r++) want += uv[r * 3 + o] * xv[r * 7 + i];
                    assertEquals(want, dw[o * 7 + i], 1e-5);
                }
            }
            pass.run();
            float[] twice = w.grad().toArray();
            float[] twiceBias = b.grad().toArray();
            for (int i = 0; i < dw.length; i++) assertEquals(2 * dw[i], twice[i], 1e-5f * (1 + Math.abs(dw[i])));
            for (int i = 0; i < db.length; i++) assertEquals(2 * db[i], twiceBias[i], 1e-5f * (1 + Math.abs(db[i])));
            w.zeroGrad();
            b.zeroGrad();
            pass.run();
            assertArrayEquals(dw, w.grad().toArray(), 1e-6f, "overwritten after zeroGrad");
            assertArrayEquals(db, b.grad().toArray(), 1e-6f);
            assertTrue(wBuffer == w.grad() && bBuffer == b.grad(), "the buffers are kept");
            // A parameter used twice in one graph gets both contributions.
            w.zeroGrad();
            b.zeroGrad();
            Tensor twiceUsed = Arithmetic.add(MatMul.linear(x, w, b), MatMul.linear(x, w, b));
            Reduce.sum(Arithmetic.mul(twiceUsed, upstream)).backward();
            float[] both = w.grad().toArray();
            for (int i = 0; i < dw.length; i++) assertEquals(2 * dw[i], both[i], 1e-5f * (1 + Math.abs(dw[i])));
        }
    }

    @Test
    void zeroGradIsVisibleToEveryReader() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {1, 2}).requiresGrad(true);
            Reduce.sum(Arithmetic.scale(w, 3f)).backward();
            w.zeroGrad();
            // Nothing wrote the gradient since: a reader sees zeros, and a parameter without a gradient
            // contribution in the next backward keeps them.
            Tensor other = Tensor.ones(2).requiresGrad(true);
            Reduce.sum(other).backward();
            assertArrayEquals(new float[] {0, 0}, w.grad().toArray());
        }
    }

    @Test
    void leafGradientsOutliveTheStepScope() {
        try (Scope params = Scope.detached()) {
            Tensor w = Tensor.zeros(params, 2).requiresGrad(true);
            try (Scope step = Scope.open()) {
                Reduce.sum(Arithmetic.addScalar(w, 1f)).backward();
            }
            assertTrue(w.grad().isAlive(), "a parameter's gradient lives with the parameter");
            assertEquals(params, w.grad().scope());
            assertArrayEquals(new float[] {1, 1}, w.grad().toArray());
        }
    }

    @Test
    void backwardWithoutAnyScopeLeavesNothingBehind() {
        try (Tensor w = Tensor.ones(3).requiresGrad(true)) {
            Tensor loss = Reduce.sum(Arithmetic.mul(w, w));
            loss.backward();
            assertArrayEquals(new float[] {2, 2, 2}, w.grad().toArray());
            loss.close();
        }
    }

    @Test
    void noGradRecordsNothing() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.ones(2).requiresGrad(true);
            Tensor y;
            try (Autograd.NoGrad ignored = Autograd.noGrad()) {
                assertFalse(Autograd.isRecording());
                y = Arithmetic.mul(w, w);
            }
            assertTrue(Autograd.isRecording());
            assertFalse(y.requiresGrad());
            assertNull(y.gradFn());
            IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
            assertTrue(e.getMessage().contains("does not require grad"), e.getMessage());
        }
    }

    @Test
    void detachCutsTheGraph() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.fromArray(new float[] {3}).requiresGrad(true);
            Tensor sq = Arithmetic.mul(w, w);
            Tensor y = Arithmetic.mul(sq.detach(), w); // d/dw (c·w) with c = w² held constant = 9
            y.backward();
            assertEquals(9f, w.grad().item());
            assertFalse(sq.detach().requiresGrad());
            assertThrows(IllegalStateException.class, () -> sq.requiresGrad(false));
        }
    }

    @Test
    void backwardNeedsAScalarOrASeed() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.ones(3).requiresGrad(true);
            Tensor y = Arithmetic.scale(w, 3f);
            assertThrows(IllegalArgumentException.class, y::backward);
            assertThrows(IllegalArgumentException.class, () -> Autograd.backward(y, Tensor.ones(2)));
            Autograd.backward(y, Tensor.fromArray(new float[] {1, 2, 3}));
            assertArrayEquals(new float[] {3, 6, 9}, w.grad().toArray());
        }
    }

    @Test
    void deepChainsDoNotOverflowTheStack() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.ones(1).requiresGrad(true);
            Tensor x = w;
            for (int i = 0; i < 20_000; i++) {
                x = Arithmetic.addScalar(x, 0f);
            }
            Reduce.sum(x).backward();
            assertEquals(1f, w.grad().item());
        }
    }
}
