package dev.gatun.ops;

import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AttentionTest extends ScopedTest {

    /** softmax(q·kᵀ/√d + mask)·v for [N, Tq, d], [N, Tk, d], [N, Tk, dv] in double, mask [Tq, Tk] or null. */
    private static float[] reference(float[] q, float[] k, float[] v, float[] mask, int n, int tq, int tk, int d,
                                     int dv) {
        float[] out = new float[n * tq * dv];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < tq; i++) {
                double[] s = new double[tk];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < tk; j++) {
                    double dot = 0;
                    for (int c = 0; c < d; c++) dot += (double) q[(b * tq + i) * d + c] * k[(b * tk + j) * d + c];
                    s[j] = dot / Math.sqrt(d) + (mask == null ? 0 : mask[i * tk + j]);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < tk; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                for (int c = 0; c < dv; c++) {
                    double o = 0;
                    for (int j = 0; j < tk; j++) o += s[j] / sum * v[(b * tk + j) * dv + c];
                    out[(b * tq + i) * dv + c] = (float) o;
                }
            }
        }
        return out;
    }

    @Test
    void noKeysGiveZerosAndZeroGradients() {
        Tensor q = Tensor.randn(2, 3, 4).requiresGrad(true);
        Tensor k = Tensor.randn(2, 0, 4).requiresGrad(true);
        Tensor v = Tensor.randn(2, 0, 5).requiresGrad(true);
        Tensor out = Attention.scaledDotProduct(q, k, v, null);
        assertArrayEquals(new long[] {2, 3, 5}, out.shape());
        for (float x : out.toArray()) assertEquals(0f, x);
        Reduce.sum(out).backward();
        for (float x : q.grad().toArray()) assertEquals(0f, x);
        assertArrayEquals(new long[] {2, 0, 4}, k.grad().shape());
    }

    @Test
    void matchesTheDefinition() {
        // Four vectors a¹..a⁴ attending to each other, as on the self-attention slides, in two batches.
        Tensor q = Tensor.randn(new Generator(1), 2, 4, 3);
        Tensor k = Tensor.randn(new Generator(2), 2, 4, 3);
        Tensor v = Tensor.randn(new Generator(3), 2, 4, 5);
        float[] expected = reference(q.toArray(), k.toArray(), v.toArray(), null, 2, 4, 4, 3, 5);
        assertArrayEquals(expected, Attention.scaledDotProduct(q, k, v, null).toArray(), 1e-5f);
        Tensor mask = Tensor.randn(new Generator(4), 4, 4);
        expected = reference(q.toArray(), k.toArray(), v.toArray(), mask.toArray(), 2, 4, 4, 3, 5);
        assertArrayEquals(expected, Attention.scaledDotProduct(q, k, v, mask).toArray(), 1e-5f);
        // Fewer queries than keys: scores [2, 2, 4].
        Tensor q2 = Tensor.randn(new Generator(5), 2, 2, 3);
        expected = reference(q2.toArray(), k.toArray(), v.toArray(), null, 2, 2, 4, 3, 5);
        assertArrayEquals(expected, Attention.scaledDotProduct(q2, k, v, null).toArray(), 1e-5f);
    }

    @Test
    void fourDimensionalHeadsAndStridedViewsAgreeWithFlatBatches() {
        // [B, H, T, d] taken as strided views of a packed [B, T, H·d] projection, as multi-head attention does.
        Tensor packed = Tensor.randn(new Generator(1), 2, 5, 3 * 2 * 4);    // [B, T, 3·H·d]
        Tensor split = packed.view(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4);  // [3, B, H, T, d]
        Tensor q = split.select(0, 0);
        Tensor k = split.select(0, 1);
        Tensor v = split.select(0, 2);
        float[] heads = Attention.scaledDotProduct(q, k, v, null).toArray();
        float[] flat = Attention.scaledDotProduct(q.reshape(4, 5, 4), k.reshape(4, 5, 4), v.reshape(4, 5, 4), null)
                .toArray();
        assertArrayEquals(flat, heads, 1e-6f);
        assertArrayEquals(reference(q.toArray(), k.toArray(), v.toArray(), null, 4, 5, 5, 4, 4), heads, 1e-5f);
    }

    /**
     * Heads sliced out of a sequence-first projection [T, B, 3·H·d], as multi-head attention slices them:
     * the output comes out stored in the projection's order ([T, B, H, d] under the [B, H, T, d] shape), so
     * joining the heads is a view of it, and output and gradients equal those of row-major copies of the
     * heads.
     */
    @Test
    void headsOfAProjectionGiveAnOutputInItsLayoutAndTheSameGradients() {
        int t = 5;
        int b = 2;
        int h = 3;
        int d = 4;
        Tensor packed = Tensor.randn(new Generator(7), t, b, 3 * h * d).requiresGrad(true);
        Tensor split = packed.view(t, b, 3, h, d).permute(2, 1, 3, 0, 4);   // [3, B, H, T, d]
        Tensor out = Attention.scaledDotProduct(split.select(0, 0), split.select(0, 1), split.select(0, 2), null, 0.25f,
                true, new Generator(3));
        assertArrayEquals(new long[] {b, h, t, d}, out.shape());
        assertArrayEquals(new long[] {h * d, d, (long) b * h * d, 1}, out.strides(), "stored as [T, B, H, d]");
        Tensor joined = out.permute(2, 0, 1, 3).reshape(t, b, h * d);
        assertTrue(joined.sharesStorageWith(out), "joining the heads is a view");
        Tensor weight = Tensor.randn(new Generator(8), t, b, h * d);
        Reduce.sum(Arithmetic.mul(joined, weight)).backward();

        Tensor copy = Tensor.empty(t, b, 3 * h * d).copyFrom(packed).requiresGrad(true);
        Tensor cs = copy.view(t, b, 3, h, d).permute(2, 1, 3, 0, 4);
        Tensor rowMajor = Attention.scaledDotProduct(cs.select(0, 0).contiguous(), cs.select(0, 1).contiguous(),
                cs.select(0, 2).contiguous(), null, 0.25f, true, new Generator(3));
        assertTrue(rowMajor.isContiguous());
        assertArrayEquals(rowMajor.toArray(), out.toArray(), 1e-6f);
        Tensor rowJoined = rowMajor.permute(2, 0, 1, 3).reshape(t, b, h * d);
        Reduce.sum(Arithmetic.mul(rowJoined, weight)).backward();
        assertArrayEquals(copy.grad().toArray(), packed.grad().toArray(), 1e-5f);
    }

    @Test
    void causalMaskHidesTheFuture() {
        Tensor mask = Attention.additiveCausalMask(3, 3);
        float ninf = Float.NEGATIVE_INFINITY;
        assertArrayEquals(new float[] {0, ninf, ninf, 0, 0, ninf, 0, 0, 0}, mask.toArray());
        assertArrayEquals(new boolean[] {false, true, true, false, false, true, false, false, false},
                Attention.causalMask(3, 3).toBooleanArray());
        Tensor q = Tensor.randn(new Generator(1), 1, 4, 2);
        Tensor k = Tensor.randn(new Generator(2), 1, 4, 2);
        Tensor v = Tensor.randn(new Generator(3), 1, 4, 2);
        float[] before = Attention.scaledDotProduct(q, k, v, Attention.causalMask(4, 4)).toArray();
        // Changing the last key and value changes only the last query's output.
        k.set(9f, 0, 3, 0);
        v.set(-7f, 0, 3, 1);
        float[] after = Attention.scaledDotProduct(q, k, v, Attention.causalMask(4, 4)).toArray();
        for (int i = 0; i < 6; i++) assertEquals(before[i], after[i], 0f, "output " + i);
        assertTrue(before[7] != after[7]);
        // The first query sees only the first value.
        assertEquals(v.get(0, 0, 0), after[0], 1e-6f);
        // A boolean mask in MultiheadAttention's convention (true = hidden) gives the same additive mask.
        boolean[] hidden = {false, true, true, false, false, true, false, false, false};
        assertArrayEquals(mask.toArray(), Attention.maskFromBoolean(hidden, 3, 3).toArray());
    }

    @Test
    void fullyMaskedRowIsNaNAsInPyTorch() {
        Tensor mask = Attention.maskFromBoolean(new boolean[] {true, true, false, false}, 2, 2);
        float[] y = Attention.scaledDotProduct(Tensor.randn(new Generator(1), 2, 3),
                Tensor.randn(new Generator(2), 2, 3), Tensor.randn(new Generator(3), 2, 3), mask).toArray();
        for (int i = 0; i < 3; i++) assertTrue(Float.isNaN(y[i]), "row 0 element " + i);
        for (int i = 3; i < 6; i++) assertTrue(Float.isFinite(y[i]), "row 1 element " + i);
    }

    @Test
    void gradients() {
        Tensor q = leaf(1, 2, 3, 4);
        Tensor k = leaf(2, 2, 5, 4);
        Tensor v = leaf(3, 2, 5, 3);
        check("attention", x -> Attention.scaledDotProduct(x[0], x[1], x[2], null), q, k, v);
        Tensor additive = leaf(4, 3, 5);
        check("attention with a learned additive mask", x -> Attention.scaledDotProduct(x[0], x[1], x[2], x[3]),
                q, k, v, additive);
        Tensor q4 = leaf(5, 1, 2, 4, 3);
        Tensor k4 = leaf(6, 1, 2, 4, 3);
        Tensor v4 = leaf(7, 1, 2, 4, 3);
        Tensor causal = Attention.causalMask(4, 4);
        check("attention, causal, [B, H, T, d]", x -> Attention.scaledDotProduct(x[0], x[1], x[2], causal), q4, k4, v4);
        check("attention on transposed operands",
                x -> Attention.scaledDotProduct(x[0].transpose(-1, -2), x[1], x[2], null), leaf(8, 2, 4, 3), k, v);
        check("attention with dropout on the weights", x -> Attention.scaledDotProduct(x[0], x[1], x[2], null, 0.3f,
                true, new SplittableRandom(7)), q, k, v);
    }

    @Test
    void dropoutOnlyInTrainingAndKeepsTheExpectation() {
        Tensor q = Tensor.randn(new Generator(1), 1, 2, 4);
        Tensor k = Tensor.randn(new Generator(2), 1, 6, 4);
        Tensor v = Tensor.randn(new Generator(3), 1, 6, 2);
        float[] plain = Attention.scaledDotProduct(q, k, v, null).toArray();
        assertArrayEquals(plain, Attention.scaledDotProduct(q, k, v, null, 0.5f, false, null).toArray());
        float[] dropped = Attention.scaledDotProduct(q, k, v, null, 0.5f, true, new SplittableRandom(3)).toArray();
        assertTrue(!java.util.Arrays.equals(plain, dropped));
        double[] mean = new double[plain.length];
        SplittableRandom rng = new SplittableRandom(5);
        int runs = 2000;
        for (int r = 0; r < runs; r++) {
            float[] y = Attention.scaledDotProduct(q, k, v, null, 0.5f, true, rng).toArray();
            for (int i = 0; i < y.length; i++) mean[i] += y[i] / runs;
        }
        for (int i = 0; i < plain.length; i++) assertEquals(plain[i], mean[i], 0.1, "element " + i);
    }

    @Test
    void badInputsAreNamed() {
        Tensor q = Tensor.zeros(2, 3, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Attention.scaledDotProduct(q, Tensor.zeros(2, 5, 3), Tensor.zeros(2, 5, 3), null));
        assertEquals("attention: query width 4 differs from key width 3 (query [2, 3, 4], key [2, 5, 3])",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Attention.scaledDotProduct(q, Tensor.zeros(2, 5, 4), Tensor.zeros(2, 6, 4), null));
        assertEquals("attention: 5 keys but 6 values (key [2, 5, 4], value [2, 6, 4])", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Attention.scaledDotProduct(q, Tensor.zeros(3, 5, 4), Tensor.zeros(3, 5, 4), null));
        assertEquals("attention: query [2, 3, 4], key [3, 5, 4] and value [3, 5, 4] differ in their batch dimensions",
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Attention.scaledDotProduct(q, Tensor.zeros(2, 5, 4), Tensor.zeros(2, 5, 4), Tensor.zeros(5, 3)));
        assertEquals("attention: mask of shape [5, 3] does not broadcast to the scores [2, 3, 5]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Attention.scaledDotProduct(q, q, q, null, 1f, true, new SplittableRandom(1)));
        assertEquals("attention: dropout probability must be in [0, 1), got 1.0", e.getMessage());
        Tensor closed = Tensor.zeros(2, 3, 4);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Attention.scaledDotProduct(q, closed, q, null));
    }
}
