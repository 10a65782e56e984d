package dev.gatun.ops;

import dev.gatun.tensor.Generator;
import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static dev.gatun.ops.GradCheck.leafIn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/**
 * {@link Pointwise}: central-difference gradient checks of every op (the loss summed in double), exact
 * values that need no reference, and the errors. PyTorch's numbers, edge values included, are checked
 * in {@link PointwiseGoldenTest}.
 */
class PointwiseTest extends ScopedTest {

    /** A leaf whose values are at least {@code gap} away from every point in {@code avoid}. */
    private static Tensor leafAvoiding(long seed, double gap, float[] avoid, long... shape) {
        Tensor t = Tensor.randn(new Generator(seed), shape);
        float[] v = t.toArray();
        for (int i = 0; i < v.length; i++) {
            for (float a : avoid) {
                if (Math.abs(v[i] - a) < gap) {
                    v[i] = a + (float) (v[i] >= a ? gap : -gap);
                }
            }
        }
        return t.copyFrom(v).requiresGrad(true);
    }

    @Test
    void gradientsOfTheUnaryOps() {
        check("exp", x -> Pointwise.exp(x[0]), leaf(1, 3, 4));
        check("log", x -> Pointwise.log(x[0]), leafIn(2, 0.3, 4, 3, 4));
        check("sqrt", x -> Pointwise.sqrt(x[0]), leafIn(3, 0.3, 4, 3, 4));
        check("rsqrt", x -> Pointwise.rsqrt(x[0]), leafIn(4, 0.3, 4, 3, 4));
        check("square", x -> Pointwise.square(x[0]), leaf(5, 3, 4));
        check("neg", x -> Pointwise.neg(x[0]), leaf(6, 3, 4));
        // |x| and sign have a kink or a step at 0: keep the differences away from it.
        Tensor awayFromZero = leafAvoiding(7, 0.1, new float[] {0f}, 3, 4);
        check("abs", x -> Pointwise.abs(x[0]), awayFromZero);
        check("sign", x -> Pointwise.sign(x[0]), awayFromZero);
        // strided input (a transposed view): the ops read it in row-major order
        check("exp of a transpose", x -> Pointwise.exp(x[0].t()), leaf(8, 4, 3));
    }

    @Test
    void gradientsOfPowWithAConstantExponent() {
        Tensor positive = leafIn(1, 0.4, 3, 2, 5);
        for (float p : new float[] {2f, 3f, 0.5f, -0.5f, -1f, -2f, 1f, 0f, 1.75f, -2.25f}) {
            check("pow " + p, x -> Pointwise.pow(x[0], p), positive);
        }
        // integer exponents are defined for negative bases too
        for (float p : new float[] {2f, 3f, -1f, 4f}) {
            check("pow " + p + " of negative numbers", x -> Pointwise.pow(x[0], p), leafIn(2, -3, -0.4, 2, 5));
        }
    }

    @Test
    void gradientsOfPowWithBroadcastTensorExponents() {
        Tensor base = leafIn(1, 0.4, 3, 2, 3);
        check("pow same shape", x -> Pointwise.pow(x[0], x[1]), base, leaf(2, 2, 3));
        check("pow row exponent", x -> Pointwise.pow(x[0], x[1]), base, leaf(3, 3));
        check("pow column base, row exponent", x -> Pointwise.pow(x[0], x[1]), leafIn(4, 0.4, 3, 2, 1),
                leaf(5, 1, 3));
        check("pow 0-d base", x -> Pointwise.pow(x[0], x[1]), leafIn(6, 0.4, 3), leaf(7, 2, 3));
        check("pow 0-d exponent", x -> Pointwise.pow(x[0], x[1]), base, leaf(8));
        check("pow leading dimension", x -> Pointwise.pow(x[0], x[1]), leafIn(9, 0.4, 3, 3), leaf(10, 2, 4, 1));
        // only one side requires a gradient: the other gets none
        Tensor constant = Tensor.randn(new Generator(11), 3);
        check("pow, constant exponent tensor", x -> Pointwise.pow(x[0], x[1]), base, constant);
        assertNull(constant.grad());
    }

    @Test
    void gradientsOfClamp() {
        float[] bounds = {-0.5f, 0.7f};
        Tensor x = leafAvoiding(1, 0.1, bounds, 4, 5);
        float[] v = x.toArray();
        int below = 0;
        int above = 0;
        for (float e : v) {
            below += e < -0.5f ? 1 : 0;
            above += e > 0.7f ? 1 : 0;
        }
        assertTrue(below > 0 && above > 0 && below + above < v.length, "values on both sides and between");
        check("clamp", t -> Pointwise.clamp(t[0], -0.5f, 0.7f), x);
        check("clampMin", t -> Pointwise.clampMin(t[0], -0.5f), x);
        check("clampMax", t -> Pointwise.clampMax(t[0], 0.7f), x);
        check("clamp crossed", t -> Pointwise.clamp(t[0], 0.7f, -0.5f), x);
    }

    @Test
    void valuesThatNeedNoReference() {
        Tensor x = Tensor.fromArray(new float[] {-2f, -0f, 0f, 0.25f, 3f, Float.NaN});
        assertArrayEquals(new float[] {4f, 0f, 0f, 0.0625f, 9f, Float.NaN}, Pointwise.pow(x, 2f).toArray());
        assertArrayEquals(new float[] {4f, 0f, 0f, 0.0625f, 9f, Float.NaN}, Pointwise.square(x).toArray());
        assertArrayEquals(new float[] {-8f, -0f, 0f, 0.015625f, 27f, Float.NaN}, Pointwise.pow(x, 3f).toArray());
        // x⁰ is 1 everywhere, NaN included; 1ʸ is 1 for every y (C's powf, where Java's Math.pow gives NaN)
        assertArrayEquals(new float[] {1f, 1f, 1f, 1f, 1f, 1f}, Pointwise.pow(x, 0f).toArray());
        Tensor one = Tensor.ones(3);
        Tensor odd = Tensor.fromArray(new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY});
        assertArrayEquals(new float[] {1f, 1f, 1f}, Pointwise.pow(one, odd).toArray());
        assertArrayEquals(new float[] {1f, 1f, 1f},
                Pointwise.pow(Tensor.full(-1f, 3), Tensor.fromArray(new float[] {0f, Float.POSITIVE_INFINITY,
                    Float.NEGATIVE_INFINITY})).toArray());
        assertArrayEquals(new float[] {2f, 0f, 0f, 0.25f, 3f, Float.NaN}, Pointwise.abs(x).toArray());
        assertArrayEquals(new float[] {-1f, 0f, 0f, 1f, 1f, 0f}, Pointwise.sign(x).toArray());
        assertArrayEquals(new float[] {2f, 0f, -0f, -0.25f, -3f, Float.NaN}, Pointwise.neg(x).toArray());
        // clamp keeps −0 and NaN as they are (comparisons, not Math.max), like PyTorch
        float[] c = Pointwise.clamp(x, -1f, 1f).toArray();
        assertArrayEquals(new float[] {-1f, -0f, 0f, 0.25f, 1f, Float.NaN}, c);
        assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(c[1]));
        assertArrayEquals(new float[] {-0f, 0f, 0.25f}, Pointwise.clampMin(x, -0f).slice(0, 1, 4).toArray());
        assertArrayEquals(new float[] {1f, 1f, 1f, 1f, 1f, Float.NaN}, Pointwise.clamp(x, 2f, 1f).toArray());
        Tensor sq = Pointwise.sqrt(Tensor.fromArray(new float[] {4f, 0f, -1f, 2f}));
        assertArrayEquals(new float[] {2f, 0f, Float.NaN, (float) Math.sqrt(2)}, sq.toArray());
        assertArrayEquals(new float[] {0.5f, Float.POSITIVE_INFINITY}, Pointwise.rsqrt(Tensor.fromArray(
                new float[] {4f, 0f})).toArray());
        assertArrayEquals(new float[] {0f, Float.NEGATIVE_INFINITY, Float.NaN}, Pointwise.log(Tensor.fromArray(
                new float[] {1f, 0f, -1f})).toArray());
        assertArrayEquals(new float[] {1f, Float.POSITIVE_INFINITY, 0f}, Pointwise.exp(Tensor.fromArray(
                new float[] {0f, 100f, -200f})).toArray());
    }

    @Test
    void gradientsAtTheEdgesFollowPyTorch() {
        Tensor x = Tensor.fromArray(new float[] {-1f, 0f, 1f}).requiresGrad(true);
        Reduce.sum(Pointwise.abs(x)).backward();
        assertArrayEquals(new float[] {-1f, 0f, 1f}, x.grad().toArray(), "abs'(0) = 0");
        x.setGrad(null);
        Reduce.sum(Pointwise.clamp(x, -1f, 0f)).backward();
        assertArrayEquals(new float[] {1f, 1f, 0f}, x.grad().toArray(), "clamp passes the gradient at its bounds");
        x.setGrad(null);
        Reduce.sum(Pointwise.sqrt(x)).backward();
        assertArrayEquals(new float[] {Float.NaN, Float.POSITIVE_INFINITY, 0.5f}, x.grad().toArray());
        x.setGrad(null);
        Reduce.sum(Pointwise.pow(x, 0f)).backward();
        assertArrayEquals(new float[] {0f, 0f, 0f}, x.grad().toArray(), "x⁰ has gradient 0");
        Tensor a = Tensor.fromArray(new float[] {0f, 0f, 2f}).requiresGrad(true);
        Tensor b = Tensor.fromArray(new float[] {0f, 2f, 0f}).requiresGrad(true);
        Reduce.sum(Pointwise.pow(a, b)).backward();
        assertArrayEquals(new float[] {0f, 0f, 0f}, a.grad().toArray(), "∂a = 0 where b = 0, b·aᵇ⁻¹ else");
        assertArrayEquals(new float[] {0f, 0f, (float) Math.log(2)}, b.grad().toArray(), "∂b = 0 where a = 0");
    }

    @Test
    void withoutRecordingTheResultsAreTheSame() {
        Tensor x = leafIn(1, 0.5, 2, 3, 4);
        float[] recorded = Pointwise.log(x).toArray();
        float[] clamped = Pointwise.clamp(x, 1f, 1.5f).toArray();
        float[] powered = Pointwise.pow(x, 1.75f).toArray();
        try (var ignored = Autograd.noGrad()) {
            Tensor y = Pointwise.log(x);
            assertNull(y.gradFn());
            assertArrayEquals(recorded, y.toArray());
            assertArrayEquals(clamped, Pointwise.clamp(x, 1f, 1.5f).toArray());
            assertArrayEquals(powered, Pointwise.pow(x, 1.75f).toArray());
        }
        // the input is untouched either way
        assertArrayEquals(x.toArray(), leafIn(1, 0.5, 2, 3, 4).toArray());
    }

    @Test
    void errorsNameTheBadValue() {
        Tensor x = Tensor.zeros(2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Pointwise.clamp(x, Float.NaN, 1f));
        assertTrue(e.getMessage().contains("min=NaN"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Pointwise.clampMax(x, Float.NaN));
        assertTrue(e.getMessage().contains("max=NaN"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Pointwise.pow(x, Tensor.zeros(4)));
        assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4]"), e.getMessage());
        x.close();
        assertThrows(IllegalStateException.class, () -> Pointwise.exp(x));
        assertThrows(IllegalStateException.class, () -> Pointwise.pow(Tensor.ones(1), x));
    }
}
