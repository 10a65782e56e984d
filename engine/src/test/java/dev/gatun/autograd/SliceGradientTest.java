package dev.gatun.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/**
 * Gradients through slices: the backward pass writes the slices of one tensor into one shared buffer when
 * their regions do not overlap, and falls back to summing full-size gradients otherwise. Every case is
 * checked against the gradient written out by hand: disjoint parts (an attention's query, key and value),
 * overlapping and strided slices, a slice beside a use of the whole tensor in either order, a slice of a
 * slice, and a retained graph run twice.
 */
class SliceGradientTest extends ScopedTest {

    private static final long ROWS = 3;
    private static final long COLS = 8;

    /** x [3, 8] from a fixed seed, requiring a gradient. */
    private static Tensor x() {
        return Tensor.randn(new Generator(7), ROWS, COLS).requiresGrad(true);
    }

    /** Weights w_k [3, width] for the k-th slice, so that each slice's gradient is distinct. */
    private static Tensor w(int k, long width) {
        return Tensor.randn(new Generator(100 + k), ROWS, width);
    }

    /**
     * Runs loss = Σ_k Σ w_k·f_k(x) backward, and checks x's gradient against Σ_k of w_k scattered into the
     * columns the k-th slice takes (start, end, step per slice) plus {@code wholeWeight}·1 everywhere.
     */
    private static void check(String what, long[][] slices, float wholeWeight, boolean wholeFirst) {
        Tensor x = x();
        double[] expected = new double[(int) (ROWS * COLS)];
        Tensor loss = null;
        if (wholeFirst && wholeWeight != 0) {
            loss = x.mul(wholeWeight).sum();
        }
        for (int k = 0; k < slices.length; k++) {
            long start = slices[k][0], end = slices[k][1], step = slices[k][2];
            Tensor s = x.slice(1, start, end, step);
            Tensor wk = w(k, s.size(1));
            Tensor term = s.mul(wk).sum();
            loss = loss == null ? term : loss.add(term);
            float[] wv = wk.toArray();
            for (int r = 0; r < ROWS; r++) {
                for (int j = 0; j < s.size(1); j++) {
                    expected[(int) (r * COLS + start + j * step)] += wv[(int) (r * s.size(1) + j)];
                }
            }
        }
        if (!wholeFirst && wholeWeight != 0) {
            loss = loss.add(x.mul(wholeWeight).sum());
        }
        for (int i = 0; i < expected.length; i++) expected[i] += wholeWeight;
        loss.backward();
        float[] g = x.grad().toArray();
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], g[i], 1e-5, what + " at " + i);
        }
    }

    @Test
    void disjointSlicesShareOneGradient() {
        check("query, key, value", new long[][] {{0, 3, 1}, {3, 5, 1}, {5, 8, 1}}, 0, true);
        check("parts not covering everything", new long[][] {{6, 8, 1}, {0, 2, 1}}, 0, true);
    }

    @Test
    void overlappingAndStridedSlicesAreSummed() {
        check("overlapping", new long[][] {{0, 5, 1}, {3, 8, 1}}, 0, true);
        check("the same slice twice", new long[][] {{2, 6, 1}, {2, 6, 1}}, 0, true);
        check("strided beside dense", new long[][] {{0, 8, 2}, {1, 3, 1}, {4, 6, 1}}, 0, true);
        check("dense beside strided", new long[][] {{1, 3, 1}, {0, 8, 3}}, 0, true);
    }

    @Test
    void slicesBesideAUseOfTheWholeTensor() {
        check("whole first", new long[][] {{0, 4, 1}, {4, 8, 1}}, 0.5f, true);
        check("whole last", new long[][] {{0, 4, 1}, {4, 8, 1}}, 0.5f, false);
    }

    @Test
    void aSliceOfASliceAndARetainedGraph() {
        Tensor x = x();
        Tensor inner = x.slice(1, 2, 8, 1);                  // columns 2..7
        Tensor a = inner.slice(1, 0, 3, 1);                  // columns 2..4
        Tensor b = inner.slice(1, 3, 6, 1);                  // columns 5..7
        Tensor loss = a.mul(2f).sum().add(b.mul(3f).sum()).add(x.slice(1, 0, 2, 1).sum());
        loss.backward(true);
        float[] once = x.grad().toArray();
        float[] expected = new float[(int) (ROWS * COLS)];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) {
                expected[(int) (r * COLS + c)] = c < 2 ? 1f : c < 5 ? 2f : 3f;
            }
        }
        assertArrayEquals(expected, once, 0f);
        loss.backward(true);
        float[] twice = x.grad().toArray();
        for (int i = 0; i < expected.length; i++) expected[i] *= 2;
        assertArrayEquals(expected, twice, 0f, "a retained graph accumulates again");
    }
}
