package dev.gatun.tensor;

import dev.gatun.tensor.Generator;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.GradCheck;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Pointwise;
import dev.gatun.ops.Reduce;
import dev.gatun.ops.Shapes;
import dev.gatun.testing.ScopedTest;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The arithmetic and math methods of {@link Tensor}: each gives exactly the values, gradients and
 * recorded op of the static call it stands for, chains written with methods equal the nested static
 * calls, dimensions count from the end when negative, and bad dimensions or shapes fail with messages
 * that name them.
 */
class TensorMathTest extends ScopedTest {

    private static Tensor leaf(long seed, long... shape) {
        return Tensor.randn(new Generator(seed), shape).requiresGrad(true);
    }

    private static Tensor positiveLeaf(long seed, long... shape) {
        Tensor t = Tensor.rand(new Generator(seed), shape);
        float[] v = t.toArray();
        for (int i = 0; i < v.length; i++) v[i] = 0.5f + 2 * v[i];
        return t.copyFrom(v).requiresGrad(true);
    }

    @Test
    void doubleLiteralsRoundToFloatLikeTheFloatOverloads() {
        Tensor x = Tensor.of(new float[] {1f, -2f, 3.5f}, 3);
        assertArrayEquals(x.mul(0.1f).toArray(), x.mul(0.1).toArray());
        assertArrayEquals(x.add(0.3f).toArray(), x.add(0.3).toArray());
        assertArrayEquals(x.sub(0.7f).toArray(), x.sub(0.7).toArray());
        assertArrayEquals(x.div(3f).toArray(), x.div(3.0).toArray());
        assertArrayEquals(x.abs().pow(0.5f).toArray(), x.abs().pow(0.5).toArray());
        assertArrayEquals(new float[] {1f, -1f, 1f}, x.clamp(-1.0, 1.0).toArray());
        assertArrayEquals(new float[] {2f, -4f, 7f}, x.mul(2).toArray()); // an int literal picks float
    }

    @Test
    void aChainOfMethodsEqualsTheStaticCalls() {
        Tensor x1 = leaf(1, 4, 3);
        Tensor w1 = leaf(2, 3, 5);
        Tensor b1 = leaf(3, 5);
        Tensor loss1 = x1.matmul(w1).add(b1).relu().sum();
        loss1.backward();

        Tensor x2 = leaf(1, 4, 3);
        Tensor w2 = leaf(2, 3, 5);
        Tensor b2 = leaf(3, 5);
        Tensor loss2 = Reduce.sum(Activation.relu(Arithmetic.add(MatMul.matmul(x2, w2), b2)));
        loss2.backward();

        assertEquals(loss2.item(), loss1.item());
        assertArrayEquals(x2.grad().toArray(), x1.grad().toArray());
        assertArrayEquals(w2.grad().toArray(), w1.grad().toArray());
        assertArrayEquals(b2.grad().toArray(), b1.grad().toArray());
        assertEquals(loss2.gradFn().op(), loss1.gradFn().op());
    }

    @Test
    void aLongerChainWithScalarsAndMathEqualsTheStaticCalls() {
        Tensor x1 = positiveLeaf(4, 2, 3);
        Tensor y1 = x1.mul(2f).add(1f).log().sub(x1.sqrt()).div(3f).pow(2f).neg().exp().clamp(0.1f, 0.9f)
                .softmax(-1).mean(0);
        y1.sum().backward();

        Tensor x2 = positiveLeaf(4, 2, 3);
        Tensor y2 = Reduce.mean(Activation.softmax(Pointwise.clamp(Pointwise.exp(Pointwise.neg(Pointwise.pow(
                Arithmetic.divScalar(Arithmetic.sub(Pointwise.log(Arithmetic.addScalar(Arithmetic.scale(x2, 2f), 1f)),
                        Pointwise.sqrt(x2)), 3f), 2f))), 0.1f, 0.9f), 1), new int[] {0}, false);
        Reduce.sum(y2).backward();

        assertArrayEquals(y2.toArray(), y1.toArray());
        assertArrayEquals(x2.grad().toArray(), x1.grad().toArray());
    }

    /** One method against its static op: same values, same recorded op, same gradients. */
    private static void same(String what, Function<Tensor, Tensor> method, Function<Tensor, Tensor> op, long seed,
                             boolean positive) {
        Tensor a = positive ? positiveLeaf(seed, 3, 4) : leaf(seed, 3, 4);
        Tensor b = positive ? positiveLeaf(seed, 3, 4) : leaf(seed, 3, 4);
        Tensor ya = method.apply(a);
        Tensor yb = op.apply(b);
        assertArrayEquals(yb.shape(), ya.shape(), what);
        assertArrayEquals(yb.toArray(), ya.toArray(), what);
        assertEquals(yb.gradFn().op(), ya.gradFn().op(), what);
        Tensor r = Tensor.randn(new Generator(99), ya.shape());
        Reduce.sum(Arithmetic.mul(ya, r)).backward();
        Reduce.sum(Arithmetic.mul(yb, r)).backward();
        assertArrayEquals(b.grad().toArray(), a.grad().toArray(), what + " gradient");
    }

    @Test
    void everyMethodIsItsStaticOp() {
        Tensor other = Tensor.randn(new Generator(7), 4);
        Tensor positive = Tensor.rand(new Generator(8), 3, 4);
        Tensor square = Tensor.randn(new Generator(9), 4, 2);
        same("add", t -> t.add(other), t -> Arithmetic.add(t, other), 1, false);
        same("add scalar", t -> t.add(1.5f), t -> Arithmetic.addScalar(t, 1.5f), 1, false);
        same("sub", t -> t.sub(other), t -> Arithmetic.sub(t, other), 1, false);
        same("mul", t -> t.mul(other), t -> Arithmetic.mul(t, other), 1, false);
        same("mul scalar", t -> t.mul(-3f), t -> Arithmetic.scale(t, -3f), 1, false);
        same("div", t -> t.div(positive), t -> Arithmetic.div(t, positive), 1, false);
        same("div scalar", t -> t.div(3f), t -> Arithmetic.divScalar(t, 3f), 1, false);
        same("matmul", t -> t.matmul(square), t -> MatMul.matmul(t, square), 1, false);
        same("mm", t -> t.mm(square), t -> MatMul.matmul(t, square), 1, false);
        same("bmm", t -> t.view(1, 3, 4).bmm(square.view(1, 4, 2)),
                t -> MatMul.matmul(t.view(1, 3, 4), square.view(1, 4, 2)), 1, false);
        same("relu", Tensor::relu, Activation::relu, 2, false);
        same("leakyRelu", t -> t.leakyRelu(0.1f), t -> Activation.leakyRelu(t, 0.1f), 2, false);
        same("sigmoid", Tensor::sigmoid, Activation::sigmoid, 2, false);
        same("tanh", Tensor::tanh, Activation::tanh, 2, false);
        same("gelu", Tensor::gelu, Activation::gelu, 2, false);
        same("softmax", t -> t.softmax(0), t -> Activation.softmax(t, 0), 2, false);
        same("logSoftmax", t -> t.logSoftmax(1), t -> Activation.logSoftmax(t, 1), 2, false);
        same("sum", Tensor::sum, Reduce::sum, 3, false);
        same("sum dim", t -> t.sum(1), t -> Reduce.sum(t, new int[] {1}, false), 3, false);
        same("sum dim keepdim", t -> t.sum(0, true), t -> Reduce.sum(t, new int[] {0}, true), 3, false);
        same("sum dims", t -> t.sum(new int[] {0, 1}, true), t -> Reduce.sum(t, new int[] {0, 1}, true), 3, false);
        same("mean", Tensor::mean, Reduce::mean, 3, false);
        same("mean dim", t -> t.mean(1), t -> Reduce.mean(t, new int[] {1}, false), 3, false);
        same("mean dim keepdim", t -> t.mean(0, true), t -> Reduce.mean(t, new int[] {0}, true), 3, false);
        same("mean dims", t -> t.mean(new int[] {1, 0}, false), t -> Reduce.mean(t, new int[] {1, 0}, false), 3,
                false);
        same("exp", Tensor::exp, Pointwise::exp, 4, false);
        same("log", Tensor::log, Pointwise::log, 4, true);
        same("sqrt", Tensor::sqrt, Pointwise::sqrt, 4, true);
        same("rsqrt", Tensor::rsqrt, Pointwise::rsqrt, 4, true);
        same("pow", t -> t.pow(1.5f), t -> Pointwise.pow(t, 1.5f), 4, true);
        same("pow tensor", t -> t.pow(other), t -> Pointwise.pow(t, other), 4, true);
        same("square", Tensor::square, Pointwise::square, 4, false);
        same("abs", Tensor::abs, Pointwise::abs, 4, false);
        same("neg", Tensor::neg, Pointwise::neg, 4, false);
        same("sign", Tensor::sign, Pointwise::sign, 4, false);
        same("clamp", t -> t.clamp(-0.5f, 0.5f), t -> Pointwise.clamp(t, -0.5f, 0.5f), 5, false);
        same("clampMin", t -> t.clampMin(0f), t -> Pointwise.clampMin(t, 0f), 5, false);
        same("clampMax", t -> t.clampMax(0f), t -> Pointwise.clampMax(t, 0f), 5, false);
        same("cat", t -> Tensor.cat(1, t, other.view(1, 4).expand(3, 4)),
                t -> Shapes.cat(1, t, other.view(1, 4).expand(3, 4)), 6, false);
        same("cat list", t -> Tensor.cat(List.of(t, t), -1), t -> Shapes.cat(-1, t, t), 6, false);
        same("stack", t -> Tensor.stack(1, t, t), t -> Shapes.stack(1, t, t), 6, false);
        same("stack list", t -> Tensor.stack(List.of(t, t), -1), t -> Shapes.stack(-1, t, t), 6, false);
        same("split", t -> Tensor.cat(1, t.split(2, 1).get(1), t.split(new long[] {1, 3}, 1).get(0)),
                t -> Shapes.cat(1, Shapes.split(t, 2, 1).get(1), Shapes.split(t, new long[] {1, 3}, 1).get(0)), 6,
                false);
        same("chunk", t -> t.chunk(3, 0).get(2), t -> Shapes.chunk(t, 3, 0).get(2), 6, false);
    }

    @Test
    void scalarOverloadsComputeWhatTheyNameAndDifferentiate() {
        Tensor x = Tensor.fromArray(new float[] {0.1f, 0.7f, 1f, -5f, 1e-3f, 123.456f});
        float[] v = x.toArray();
        float[] sub = x.sub(0.3f).toArray();
        float[] div = x.div(3f).toArray();
        boolean roundsDifferently = false;
        for (int i = 0; i < v.length; i++) {
            assertEquals(v[i] - 0.3f, sub[i]);
            assertEquals(v[i] / 3f, div[i], "true division, as PyTorch's");
            roundsDifferently |= v[i] / 3f != v[i] * (1f / 3f);
        }
        assertTrue(roundsDifferently, "some value where x / 3 and x · (1/3) round differently");
        GradCheck.check("add scalar", t -> t[0].add(2f), leaf(1, 2, 3));
        GradCheck.check("sub scalar", t -> t[0].sub(2f), leaf(1, 2, 3));
        GradCheck.check("mul scalar", t -> t[0].mul(-1.5f), leaf(1, 2, 3));
        GradCheck.check("div scalar", t -> t[0].div(-4f), leaf(1, 2, 3));
        assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, Float.NaN}, Tensor.fromArray(new float[] {1f, 0f})
                .div(0f).toArray());
    }

    @Test
    void negativeDimensionsCountFromTheEnd() {
        Tensor x = Tensor.randn(new Generator(1), 2, 3, 4);
        assertArrayEquals(x.sum(2).toArray(), x.sum(-1).toArray());
        assertArrayEquals(new long[] {2, 1, 4}, x.sum(-2, true).shape());
        assertArrayEquals(x.sum(new int[] {0, 2}, false).toArray(), x.sum(new int[] {-1, -3}, false).toArray());
        assertArrayEquals(x.mean(1).toArray(), x.mean(-2).toArray());
        assertArrayEquals(new long[] {2, 3, 1}, x.mean(-1, true).shape());
        assertArrayEquals(x.mean(new int[] {0, 1}, true).toArray(), x.mean(new int[] {-3, -2}, true).toArray());
        assertArrayEquals(x.softmax(2).toArray(), x.softmax(-1).toArray());
        assertArrayEquals(x.logSoftmax(0).toArray(), x.logSoftmax(-3).toArray());
        assertArrayEquals(Tensor.cat(2, x, x).toArray(), Tensor.cat(-1, x, x).toArray());
        assertArrayEquals(Tensor.stack(3, x, x).toArray(), Tensor.stack(-1, x, x).toArray());
        assertArrayEquals(Tensor.stack(0, x, x).toArray(), Tensor.stack(-4, x, x).toArray());
        assertArrayEquals(x.split(2, 2).get(1).toArray(), x.split(2, -1).get(1).toArray());
        assertArrayEquals(x.chunk(3, 1).get(2).toArray(), x.chunk(3, -2).get(2).toArray());
        // the reductions reduce what they say
        Tensor m = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertArrayEquals(new float[] {6, 15}, m.sum(-1).toArray());
        assertArrayEquals(new float[] {2.5f, 3.5f, 4.5f}, m.mean(-2).toArray());
        assertEquals(21f, m.sum().item());
        assertEquals(3.5f, m.mean().item());
        assertEquals(0, m.sum().dim());
    }

    @Test
    void productsCheckTheirRanks() {
        Tensor a = Tensor.randn(new Generator(1), 2, 3);
        Tensor b = Tensor.randn(new Generator(2), 3, 4);
        assertArrayEquals(MatMul.matmul(a, b).toArray(), a.mm(b).toArray());
        Tensor ba = Tensor.randn(new Generator(3), 5, 2, 3);
        Tensor bb = Tensor.randn(new Generator(4), 5, 3, 4);
        assertArrayEquals(MatMul.matmul(ba, bb).toArray(), ba.bmm(bb).toArray());
        expect(() -> ba.mm(b), "mm: expected two 2-d tensors, got shapes [5, 2, 3] and [3, 4]");
        expect(() -> a.mm(Tensor.randn(new Generator(11), 5, 3)), "(3 != 5)");
        expect(() -> a.bmm(bb), "bmm: expected two 3-d tensors");
        expect(() -> ba.bmm(Tensor.randn(new Generator(6), 4, 3, 4)), "[5, 2, 3] and [4, 3, 4]");
        expect(() -> a.matmul(Tensor.randn(new Generator(7), 4)), "matmul: shapes [2, 3] and [4] do not align");
        expect(() -> a.add(Tensor.randn(new Generator(8), 4)), "shapes [2, 3] and [4] do not broadcast");
    }

    @Test
    void badDimensionsAreNamed() {
        Tensor x = Tensor.randn(new Generator(1), 2, 3);
        expect(() -> x.sum(2), "sum: dimension 2 out of range for a 2-d tensor (expected -2 to 1)");
        expect(() -> x.sum(-3, true), "dimension -3 out of range");
        expect(() -> x.sum(new int[] {0, -2}, false), "sum: dimension -2 repeated in [0, -2]");
        expect(() -> x.sum(null, false), "sum: dims is null");
        // mean checks before it counts the elements (an index out of bounds otherwise)
        expect(() -> x.mean(5), "mean: dimension 5 out of range");
        expect(() -> x.mean(new int[] {1, 1}, true), "mean: dimension 1 repeated");
        expect(() -> x.softmax(2), "dimension 2 out of range");
        expect(() -> x.logSoftmax(-3), "dimension -3 out of range");
        expect(() -> Tensor.cat(2, x, x), "cat: dimension 2 out of range");
        expect(() -> Tensor.stack(-4, x, x), "stack: dimension -4 out of range for a 3-d result");
        expect(() -> x.split(1, 3), "split: dimension 3 out of range");
        expect(() -> x.chunk(2, -3), "chunk: dimension -3 out of range");
        expect(() -> x.clamp(Float.NaN, 0f), "min=NaN");
        assertNotEquals(0, x.sum(new int[0], false).numel(), "no dims: nothing summed");
    }

    private static void expect(Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
    }
}
