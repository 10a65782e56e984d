package dev.gatun.ops;

import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static dev.gatun.ops.GradCheck.leafIn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A finite-difference gradient check for every differentiable op. */
class OpsGradientTest extends ScopedTest {

    @Test
    void arithmeticWithBroadcasting() {
        Tensor a = leaf(1, 2, 3);
        Tensor row = leaf(2, 3);
        Tensor col = leaf(3, 2, 1);
        check("add", x -> Arithmetic.add(x[0], x[1]), a, row);
        check("add col", x -> Arithmetic.add(x[0], x[1]), a, col);
        check("sub", x -> Arithmetic.sub(x[0], x[1]), a, row);
        check("sub col", x -> Arithmetic.sub(x[1], x[0]), a, col);
        check("mul", x -> Arithmetic.mul(x[0], x[1]), a, row);
        check("mul self", x -> Arithmetic.mul(x[0], x[0]), a);
        Tensor denom = leafIn(4, 0.5, 2, 2, 3);
        check("div", x -> Arithmetic.div(x[0], x[1]), a, denom);
        Tensor denomRow = leafIn(5, 0.5, 2, 3);
        check("div broadcast", x -> Arithmetic.div(x[0], x[1]), a, denomRow);
        check("scale", x -> Arithmetic.scale(x[0], -2.5f), a);
        check("addScalar", x -> Arithmetic.addScalar(x[0], 3f), a);
    }

    @Test
    void reductions() {
        Tensor a = leaf(1, 2, 3, 4);
        check("sum", x -> Reduce.sum(x[0]), a);
        check("sum dim 1", x -> Reduce.sum(x[0], new int[] {1}, false), a);
        check("sum dims 0,2 keep", x -> Reduce.sum(x[0], new int[] {0, 2}, true), a);
        // trailing dimensions summed together (one run per output), with a tail of odd length
        Tensor b = leaf(11, 2, 3, 5, 3);
        check("sum dims 2,3", x -> Reduce.sum(x[0], new int[] {2, 3}, false), b);
        check("sum dims 1,2,3 keep", x -> Reduce.sum(x[0], new int[] {1, 2, 3}, true), b);
        check("mean", x -> Reduce.mean(x[0]), a);
        check("mean last", x -> Reduce.mean(x[0], new int[] {-1}, false), a);
    }

    @Test
    void views() {
        Tensor a = leaf(1, 2, 3, 4);
        check("view", x -> x[0].view(6, 4), a);
        check("reshape of transpose", x -> x[0].transpose(0, 2).reshape(4, 6), a);
        check("transpose", x -> x[0].transpose(1, 2), a);
        check("permute", x -> x[0].permute(2, 0, 1), a);
        check("slice", x -> x[0].slice(2, 1, 4, 2), a);
        check("select", x -> x[0].select(1, 2), a);
        check("unsqueeze", x -> x[0].unsqueeze(1), a);
        check("flatten", x -> x[0].flatten(1, 2), a);
        Tensor b = leaf(2, 3, 1);
        check("expand", x -> x[0].expand(2, 3, 5), b);
        check("copy", x -> x[0].t().contiguous(), leaf(3, 3, 2));
    }

    @Test
    void matmulInAllForms() {
        check("matmul 2d", x -> MatMul.matmul(x[0], x[1]), leaf(1, 3, 4), leaf(2, 4, 5));
        check("matmul transposed", x -> MatMul.matmul(x[0].t(), x[1].t()), leaf(1, 4, 3), leaf(2, 5, 4));
        check("matmul batched", x -> MatMul.matmul(x[0], x[1]), leaf(3, 2, 3, 4), leaf(4, 2, 4, 2));
        check("matmul broadcast", x -> MatMul.matmul(x[0], x[1]), leaf(3, 2, 3, 4), leaf(4, 4, 2));
        check("matmul vec-vec", x -> MatMul.matmul(x[0], x[1]), leaf(5, 4), leaf(6, 4));
        check("matmul mat-vec", x -> MatMul.matmul(x[0], x[1]), leaf(5, 3, 4), leaf(6, 4));
        check("matmul vec-mat", x -> MatMul.matmul(x[0], x[1]), leaf(5, 3), leaf(6, 3, 4));
        check("matmul vec-batch", x -> MatMul.matmul(x[0], x[1]), leaf(5, 3), leaf(6, 2, 3, 4));
        check("linear", x -> MatMul.linear(x[0], x[1], x[2]), leaf(7, 5, 4), leaf(8, 3, 4), leaf(9, 3));
        check("linear no bias", x -> MatMul.linear(x[0], x[1], null), leaf(7, 5, 4), leaf(8, 3, 4));
        check("linear 3-d input", x -> MatMul.linear(x[0], x[1], x[2]), leaf(7, 2, 5, 4), leaf(8, 3, 4), leaf(9, 3));
    }

    /** Inputs kept at least 0.1 away from 0, where relu-like functions have their kink. */
    private static Tensor awayFromZero(long seed, long... shape) {
        Tensor t = Tensor.randn(new Generator(seed), shape);
        float[] v = t.toArray();
        for (int i = 0; i < v.length; i++) v[i] = v[i] >= 0 ? v[i] + 0.1f : v[i] - 0.1f;
        return t.copyFrom(v).requiresGrad(true);
    }

    /**
     * From {@link Activation#NATIVE_RELU_MIN} elements up, (leaky) ReLU runs on oneDNN; its output and
     * gradient equal the closed form (the gradient checks above cover the array path on small tensors).
     */
    @Test
    void nativeReluMatchesTheClosedForm() {
        for (float slope : new float[] {0f, 0.1f}) {
            Tensor x = awayFromZero(20, 2, Activation.NATIVE_RELU_MIN);
            Tensor g = Tensor.randn(new Generator(21), x.shape());
            Tensor y = Activation.leakyRelu(x, slope);
            Reduce.sum(Arithmetic.mul(y, g)).backward();
            float[] xv = x.toArray();
            float[] yv = y.toArray();
            float[] gv = g.toArray();
            float[] dx = x.grad().toArray();
            for (int i = 0; i < xv.length; i++) {
                float want = xv[i] > 0 ? xv[i] : slope * xv[i];
                if (yv[i] != want) {
                    throw new AssertionError("slope " + slope + ": y[" + i + "] = " + yv[i] + ", want " + want);
                }
                float wantGrad = xv[i] > 0 ? gv[i] : slope * gv[i];
                if (Math.abs(dx[i] - wantGrad) > 1e-6f * (1 + Math.abs(wantGrad))) {
                    throw new AssertionError("slope " + slope + ": dx[" + i + "] = " + dx[i] + ", want " + wantGrad);
                }
            }
        }
    }

    @Test
    void activations() {
        Tensor a = leaf(1, 3, 5);
        check("sigmoid", x -> Activation.sigmoid(x[0]), a);
        check("tanh", x -> Activation.tanh(x[0]), a);
        check("relu", x -> Activation.relu(x[0]), awayFromZero(2, 3, 5));
        check("leakyRelu", x -> Activation.leakyRelu(x[0], 0.1f), awayFromZero(3, 3, 5));
        check("gelu", x -> Activation.gelu(x[0]), a);
        check("softmax last", x -> Activation.softmax(x[0], -1), a);
        check("softmax dim 0", x -> Activation.softmax(x[0], 0), a);
        check("logSoftmax", x -> Activation.logSoftmax(x[0], 1), a);
        check("logSoftmax dim 0 of 3-d", x -> Activation.logSoftmax(x[0], 0), leaf(4, 2, 3, 2));
    }

    @Test
    void losses() {
        Tensor p = leaf(1, 4, 3);
        Tensor t = leaf(2, 4, 3);
        check("mse", x -> Loss.mse(x[0], x[1]), p, t);
        check("mae", x -> Loss.mae(x[0], x[1]), awayFromZero(3, 4, 3), Tensor.zeros(4, 3));
        Tensor prob = leafIn(4, 0.1, 0.9, 4, 3);
        Tensor target = Tensor.rand(new Generator(5), 4, 3);
        check("binaryCrossEntropy", x -> Loss.binaryCrossEntropy(x[0], x[1]), prob, target);
        check("bceWithLogits", x -> Loss.bceWithLogits(x[0], x[1]), p, target);
        int[] labels = {0, 2, 1, 2};
        check("crossEntropy", x -> Loss.crossEntropy(x[0], labels), p);
        check("crossEntropy smoothed", x -> Loss.crossEntropy(x[0], labels, 0.1f), p);
    }

    @Test
    void dropoutGradientIsTheMask() {
        Tensor a = leaf(1, 50);
        // The same seed each evaluation gives the same mask, so the check sees a fixed linear map.
        check("dropout", x -> Regularization.dropout(x[0], 0.3f, true, new SplittableRandom(7)), a);
    }

    /**
     * The mask follows the seed: the same generator state gives the same mask, another seed another one;
     * the dropped fraction is p for odd and even sizes alike, and survivors are scaled by 1/(1 − p).
     */
    @Test
    void dropoutMasksFollowTheSeedAndTheRate() {
        for (int n : new int[] {1, 2, 40_001, 40_002}) {
            for (float p : new float[] {0.1f, 0.5f, 0.9f}) {
                Tensor x = Tensor.ones(n);
                float[] y = Regularization.dropout(x, p, true, new SplittableRandom(11)).toArray();
                float[] again = Regularization.dropout(x, p, true, new SplittableRandom(11)).toArray();
                assertArrayEquals(y, again, "same seed, same mask");
                int dropped = 0;
                for (float v : y) {
                    if (v == 0f) {
                        dropped++;
                    } else if (v != 1f / (1f - p)) {
                        throw new AssertionError("survivor scaled to " + v + ", want " + 1f / (1f - p));
                    }
                }
                if (n > 2) {
                    double rate = dropped / (double) n;
                    // five standard deviations of a binomial fraction
                    double tolerance = 5 * Math.sqrt(p * (1 - p) / n);
                    if (Math.abs(rate - p) > tolerance) {
                        throw new AssertionError("n " + n + ", p " + p + ": dropped " + rate);
                    }
                    float[] other = Regularization.dropout(x, p, true, new SplittableRandom(12)).toArray();
                    if (Arrays.equals(y, other)) {
                        throw new AssertionError("another seed gave the same mask");
                    }
                }
            }
        }
    }

    @Test
    void compositeNetworkGradient() {
        // A small MLP with a shared weight used twice: gradients from both uses add up.
        Tensor x = Tensor.randn(new Generator(1), 4, 3);
        Tensor w1 = leaf(2, 5, 3);
        Tensor b1 = leaf(3, 5);
        Tensor w2 = leaf(4, 2, 5);
        int[] y = {0, 1, 1, 0};
        check("mlp", in -> {
            Tensor h = Activation.tanh(MatMul.linear(x, in[0], in[1]));
            Tensor z = MatMul.linear(h, in[2], null);
            Tensor reuse = Reduce.mean(Arithmetic.mul(in[0], in[0]));
            return Arithmetic.add(Loss.crossEntropy(z, y), reuse);
        }, w1, b1, w2);
    }
}
