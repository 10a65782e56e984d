package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MatMulTest {

    /** float32 unit roundoff. */
    private static final double U = Math.ulp(1f) / 2;

    /**
     * Checks gatun's result against the double reference with the standard bound for a float32 dot
     * product of length k: |error| <= (k + 2)·u·Σ|aᵢbᵢ| (plus rounding of the output).
     */
    private static void assertMatches(Tensor a, Tensor b, Tensor got) {
        Reference.Result ref = Reference.matmul(a, b);
        assertArrayEquals(ref.shape(), got.shape(), "shape");
        float[] g = got.toArray();
        long k = a.size(-1);
        for (int i = 0; i < g.length; i++) {
            double tol = (k + 2) * U * ref.absSums()[i] + 1e-30;
            double err = Math.abs(g[i] - ref.values()[i]);
            if (err > tol) {
                throw new AssertionError("element " + i + ": got " + g[i] + ", want " + ref.values()[i] + " ± " + tol
                        + " for " + java.util.Arrays.toString(a.shape()) + " · " + java.util.Arrays.toString(b.shape()));
            }
        }
    }

    @Test
    void twoDimensionalOverRandomShapes() {
        SplittableRandom rng = new SplittableRandom(42);
        try (Scope s = Scope.open()) {
            for (int trial = 0; trial < 60; trial++) {
                int m = 1 + rng.nextInt(40);
                int k = 1 + rng.nextInt(40);
                int n = 1 + rng.nextInt(40);
                if (trial % 5 == 0) m = 1;      // 1×N results
                if (trial % 7 == 0) n = 1;      // N×1 results
                Tensor a = Tensor.randn(new Generator(trial), m, k);
                Tensor b = Tensor.randn(new Generator(1000 + trial), k, n);
                assertMatches(a, b, MatMul.matmul(a, b));
            }
        }
    }

    @Test
    void transposedOperandsAreReadInPlace() {
        try (Scope s = Scope.open()) {
            Tensor at = Tensor.randn(new Generator(1), 7, 5);   // stored k×m
            Tensor bt = Tensor.randn(new Generator(2), 9, 7);   // stored n×k
            Tensor a = at.t();
            Tensor b = bt.t();
            Tensor plainB = Tensor.randn(new Generator(3), 7, 9);
            Tensor plainA = Tensor.randn(new Generator(4), 5, 7);
            assertMatches(a, plainB, MatMul.matmul(a, plainB));
            assertMatches(plainA, b, MatMul.matmul(plainA, b));
            assertMatches(a, b, MatMul.matmul(a, b));
            // A transposed view of a bigger matrix: leading dimension larger than the row.
            Tensor wide = Tensor.randn(new Generator(5), 12, 20);
            Tensor sub = wide.slice(0, 2, 9).slice(1, 3, 8).t(); // [5, 7], strides [1, 20]
            assertMatches(sub, b.t().t(), MatMul.matmul(sub, b.t().t()));
            // Rows of a strided slice (step 2) cannot go to BLAS as they are: copied, still right.
            Tensor stepped = Tensor.randn(new Generator(6), 8, 14).slice(1, 0, 14, 2); // [8, 7], strides [14, 2]
            assertMatches(stepped, Tensor.randn(new Generator(7), 7, 3),
                    MatMul.matmul(stepped, Tensor.randn(new Generator(7), 7, 3)));
        }
    }

    @Test
    void vectorCases() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensor.randn(new Generator(1), 6);
            Tensor y = Tensor.randn(new Generator(2), 6);
            Tensor dot = MatMul.matmul(x, y);
            assertEquals(0, dot.dim());
            assertMatches(x, y, dot);
            Tensor m = Tensor.randn(new Generator(3), 4, 6);
            assertMatches(m, x, MatMul.matmul(m, x));                 // [4,6]·[6] = [4]
            assertMatches(m.t(), Tensor.randn(new Generator(4), 4),
                    MatMul.matmul(m.t(), Tensor.randn(new Generator(4), 4)));
            assertMatches(Tensor.randn(new Generator(5), 4), m,
                    MatMul.matmul(Tensor.randn(new Generator(5), 4), m));     // [4]·[4,6] = [6]
            assertMatches(y, m.t(), MatMul.matmul(y, m.t()));         // [6]·[6,4] = [4]
            Tensor strided = Tensor.randn(new Generator(6), 12).slice(0, 0, 12, 2); // stride-2 vector
            assertMatches(m, strided, MatMul.matmul(m, strided));
            assertMatches(strided, y, MatMul.matmul(strided, y));
            Tensor batch = Tensor.randn(new Generator(7), 3, 4, 6);
            assertMatches(batch, x, MatMul.matmul(batch, x));         // [3,4,6]·[6] = [3,4]
            assertMatches(y, batch.transpose(1, 2), MatMul.matmul(y, batch.transpose(1, 2)));
            // One row times a matrix (the GEMV path): B row-major, B transposed, and a strided row.
            Tensor row = Tensor.randn(new Generator(8), 1, 6);
            Tensor w = Tensor.randn(new Generator(9), 5, 6);
            assertMatches(row, w.t(), MatMul.matmul(row, w.t()));       // [1,6]·[6,5]ᵀ-stored
            assertMatches(row, w.t().contiguous(), MatMul.matmul(row, w.t().contiguous()));
            Tensor columnAsRow = Tensor.randn(new Generator(10), 6, 3).slice(1, 1, 2).t(); // [1,6] with column stride 3
            assertMatches(columnAsRow, w.t(), MatMul.matmul(columnAsRow, w.t()));
            Tensor bias = Tensor.randn(new Generator(11), 5);
            Tensor lin = MatMul.linear(row, w, bias);
            float[] want = Arithmetic.add(MatMul.matmul(row, w.t()), bias).toArray();
            assertArrayEquals(want, lin.toArray(), 1e-5f);
        }
    }

    @Test
    void batchedAndBroadcast() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.randn(new Generator(1), 3, 4, 5);
            Tensor b = Tensor.randn(new Generator(2), 3, 5, 2);
            assertMatches(a, b, MatMul.matmul(a, b));
            Tensor w = Tensor.randn(new Generator(3), 5, 6);                        // shared by the batch: one GEMM
            assertMatches(a, w, MatMul.matmul(a, w));
            Tensor wt = Tensor.randn(new Generator(3), 6, 5).t();                  // shared and transposed
            assertMatches(a, wt, MatMul.matmul(a, wt));
            Tensor a4 = Tensor.randn(new Generator(4), 2, 1, 4, 5);                  // [2,1] × [3] batch -> [2,3]
            Tensor b4 = Tensor.randn(new Generator(5), 3, 5, 7);
            assertMatches(a4, b4, MatMul.matmul(a4, b4));
            Tensor bt = Tensor.randn(new Generator(6), 3, 7, 5).transpose(1, 2);     // batched transposed operand
            assertMatches(a4, bt, MatMul.matmul(a4, bt));
            // batch dim not outermost in memory
            Tensor permuted = Tensor.randn(new Generator(7), 4, 3, 5).permute(1, 0, 2);
            assertMatches(permuted, b, MatMul.matmul(permuted, b));
            assertMatches(permuted, w, MatMul.matmul(permuted, w));
            Tensor oneRow = Tensor.randn(new Generator(8), 6, 1, 5);                 // m = 1 across a batch, shared B
            assertMatches(oneRow, w, MatMul.matmul(oneRow, w));
            Tensor expanded = Tensor.randn(new Generator(9), 1, 4, 5).expand(3, 4, 5);
            assertMatches(expanded, b, MatMul.matmul(expanded, b));
            // One query per head against each head's keys, as a GPT generates (GEMV per batch entry): the
            // keys read transposed in place, the values plain, both out of a cache longer than they are.
            Tensor q = Tensor.randn(new Generator(10), 1, 4, 1, 8);
            Tensor cache = Tensor.randn(new Generator(11), 1, 4, 12, 8);
            Tensor keysT = cache.slice(2, 0, 9).transpose(-1, -2);                    // [1, 4, 8, 9]
            assertMatches(q, keysT, MatMul.matmul(q, keysT));
            Tensor p = Tensor.randn(new Generator(12), 1, 4, 1, 9);
            Tensor values = cache.slice(2, 0, 9);                                    // [1, 4, 9, 8]
            assertMatches(p, values, MatMul.matmul(p, values));
        }
    }

    @Test
    void emptyDimensionsGiveEmptyOrZeroResults() {
        try (Scope s = Scope.open()) {
            Tensor r = MatMul.matmul(Tensor.zeros(3, 0), Tensor.zeros(0, 4));
            assertArrayEquals(new long[] {3, 4}, r.shape());
            assertArrayEquals(new float[12], r.toArray());
            assertEquals(0, MatMul.matmul(Tensor.zeros(0, 5), Tensor.ones(5, 2)).numel());
            Tensor out = Tensor.full(9f, 2, 2);
            MatMul.matmul(Tensor.zeros(2, 0), Tensor.zeros(0, 2), out);
            assertArrayEquals(new float[4], out.toArray());
        }
    }

    @Test
    void intoPreallocatedOutput() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.randn(new Generator(1), 3, 4);
            Tensor b = Tensor.randn(new Generator(2), 4, 2);
            Tensor out = Tensor.full(5f, 3, 2);
            MatMul.matmul(a, b, out);
            assertMatches(a, b, out);
            assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(a, b, Tensor.zeros(2, 3)));
            assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(a, b, Tensor.zeros(2, 3).t()));
            Tensor square = Tensor.randn(new Generator(3), 4, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> MatMul.matmul(square, square.t(), square));
            assertTrue(e.getMessage().contains("shares storage"), e.getMessage());
        }
    }

    @Test
    void badShapesThrowBeforeNativeCode() {
        try (Scope s = Scope.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> MatMul.matmul(Tensor.zeros(2, 3), Tensor.zeros(4, 5)));
            assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4, 5]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(Tensor.zeros(3), Tensor.zeros(4)));
            assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(Tensor.zeros(), Tensor.zeros(4)));
            assertThrows(IllegalArgumentException.class,
                    () -> MatMul.matmul(Tensor.zeros(2, 3, 4), Tensor.zeros(3, 4, 5)));   // batch 2 vs 3
            assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(Tensor.zeros(5, 3), Tensor.zeros(4)));
        }
    }

    @Test
    void closedTensorsThrow() {
        Tensor a = Tensor.ones(2, 2);
        Tensor b = Tensor.ones(2, 2);
        b.close();
        assertThrows(IllegalStateException.class, () -> MatMul.matmul(a, b));
        Tensor out = Tensor.zeros(2, 2);
        out.close();
        assertThrows(IllegalStateException.class, () -> MatMul.matmul(a, a, out));
        a.close();
    }

    @Test
    void resultsGoToTheCurrentScope() {
        Tensor kept;
        try (Scope s = Scope.open()) {
            kept = MatMul.matmul(Tensor.ones(2, 2), Tensor.ones(2, 2));
            assertArrayEquals(new float[] {2, 2, 2, 2}, kept.toArray());
        }
        assertThrows(IllegalStateException.class, kept::toArray);
        try (Tensor a = Tensor.ones(1, 1); Tensor owned = MatMul.matmul(a, a)) {
            assertEquals(1f, owned.item());
        }
    }
}
