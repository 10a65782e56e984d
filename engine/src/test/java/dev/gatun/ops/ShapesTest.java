package dev.gatun.ops;

import dev.gatun.tensor.Generator;
import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link Shapes}: cat, stack, split and chunk by hand-computed values, central-difference gradient checks
 * (PyTorch's numbers are in {@link PointwiseGoldenTest}), negative dimensions and the errors.
 */
class ShapesTest extends ScopedTest {

    private static Tensor range(long... shape) {
        Tensor t = Tensor.zeros(shape);
        float[] v = new float[(int) t.numel()];
        for (int i = 0; i < v.length; i++) v[i] = i;
        return t.copyFrom(v);
    }

    @Test
    void catJoinsAlongTheDimension() {
        Tensor a = range(2, 2);                   // [[0, 1], [2, 3]]
        Tensor b = Tensor.full(9f, 2, 1);
        Tensor c = Tensor.cat(1, a, b);
        assertArrayEquals(new long[] {2, 3}, c.shape());
        assertArrayEquals(new float[] {0, 1, 9, 2, 3, 9}, c.toArray());
        assertArrayEquals(c.toArray(), Shapes.cat(-1, a, b).toArray(), "dimension -1 is the last");
        assertArrayEquals(c.toArray(), Shapes.cat(List.of(a, b), 1).toArray(), "PyTorch's argument order");
        Tensor rows = Shapes.cat(0, a, Tensor.full(7f, 1, 2));
        assertArrayEquals(new long[] {3, 2}, rows.shape());
        assertArrayEquals(new float[] {0, 1, 2, 3, 7, 7}, rows.toArray());
        // strided inputs (a transpose) and an empty one
        Tensor t = Shapes.cat(0, a.t(), Tensor.zeros(0, 2), a);
        assertArrayEquals(new float[] {0, 2, 1, 3, 0, 1, 2, 3}, t.toArray());
        // one tensor: a copy, not the tensor itself
        Tensor single = Shapes.cat(0, a);
        assertArrayEquals(a.toArray(), single.toArray());
        assertTrue(!single.sharesStorageWith(a));
    }

    @Test
    void stackAddsADimension() {
        Tensor a = range(2, 3);
        Tensor b = Tensor.full(-1f, 2, 3);
        Tensor s0 = Shapes.stack(0, a, b);
        assertArrayEquals(new long[] {2, 2, 3}, s0.shape());
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, -1, -1, -1, -1, -1, -1}, s0.toArray());
        Tensor last = Shapes.stack(-1, a, b);
        assertArrayEquals(new long[] {2, 3, 2}, last.shape());
        assertArrayEquals(new float[] {0, -1, 1, -1, 2, -1, 3, -1, 4, -1, 5, -1}, last.toArray());
        assertArrayEquals(last.toArray(), Shapes.stack(2, a, b).toArray());
        assertArrayEquals(new long[] {2, 2, 3}, Shapes.stack(-3, a, b).shape());
        assertArrayEquals(new long[] {2, 2, 3}, Shapes.stack(List.of(a, b), 1).shape());
        Tensor scalars = Shapes.stack(0, Tensor.full(1f), Tensor.full(2f), Tensor.full(3f));
        assertArrayEquals(new long[] {3}, scalars.shape());
        assertArrayEquals(new float[] {1, 2, 3}, scalars.toArray());
    }

    @Test
    void splitAndChunkReturnViews() {
        Tensor x = range(2, 5);
        List<Tensor> pieces = Shapes.split(x, 2, 1);
        assertEquals(3, pieces.size());
        assertArrayEquals(new float[] {0, 1, 5, 6}, pieces.get(0).toArray());
        assertArrayEquals(new float[] {4, 9}, pieces.get(2).toArray());
        assertTrue(pieces.get(1).sharesStorageWith(x), "a view, not a copy");
        List<Tensor> sized = Shapes.split(x, new long[] {1, 0, 4}, -1);
        assertArrayEquals(new long[] {2, 0}, sized.get(1).shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 6, 7, 8, 9}, sized.get(2).toArray());
        assertArrayEquals(new long[] {1, 5}, Shapes.split(x, 1, -2).get(1).shape());
        // 5 in 4 chunks: pieces of 2, so only 3 of them (as PyTorch)
        List<Tensor> chunks = Shapes.chunk(x, 4, 1);
        assertEquals(3, chunks.size());
        assertArrayEquals(new long[] {2, 1}, chunks.get(2).shape());
        assertEquals(5, Shapes.chunk(x, 10, -1).size());
        assertEquals(3, Shapes.chunk(Tensor.zeros(0, 2), 3, 0).size(), "an empty dimension gives empty chunks");
        assertEquals(1, Shapes.split(Tensor.zeros(0, 2), 0, 0).size());
        assertThrows(UnsupportedOperationException.class, () -> pieces.add(x), "the list is unmodifiable");
    }

    @Test
    void gradientsSplitBack() {
        Tensor a = leaf(1, 2, 3, 4);
        Tensor b = leaf(2, 2, 1, 4);
        Tensor c = leaf(3, 2, 2, 4);
        check("cat dim 1", x -> Shapes.cat(1, x[0], x[1], x[2]), a, b, c);
        check("cat dim -2", x -> Shapes.cat(-2, x[0], x[1], x[2]), a, b, c);
        check("cat dim 0", x -> Shapes.cat(0, x[0], x[1]), leaf(4, 1, 3), leaf(5, 2, 3));
        check("cat dim -1", x -> Shapes.cat(-1, x[0], x[1]), leaf(6, 3, 2), leaf(7, 3, 1));
        check("cat of a transpose", x -> Shapes.cat(0, x[0].t(), x[1]), leaf(8, 3, 2), leaf(9, 1, 3));
        check("cat of a tensor with itself", x -> Shapes.cat(0, x[0], x[0]), leaf(10, 2, 3));
        for (int dim : new int[] {0, 1, 2, -1, -3}) {
            check("stack dim " + dim, x -> Shapes.stack(dim, x[0], x[1], x[2]), leaf(11, 2, 3), leaf(12, 2, 3),
                    leaf(13, 2, 3));
        }
        check("split", x -> {
            List<Tensor> p = Shapes.split(x[0], 2, -1);
            return Shapes.cat(-1, Arithmetic.scale(p.get(0), 2f), p.get(1), Arithmetic.scale(p.get(2), -3f));
        }, leaf(14, 3, 5));
        check("split sizes", x -> {
            List<Tensor> p = Shapes.split(x[0], new long[] {1, 2}, 0);
            return Arithmetic.mul(p.get(0), p.get(1));
        }, leaf(15, 3, 4));
        check("chunk", x -> Shapes.stack(0, Shapes.chunk(x[0], 2, 1).toArray(new Tensor[0])), leaf(16, 2, 4));
    }

    @Test
    void onlyInputsThatRequireAGradientGetOne() {
        Tensor a = leaf(1, 2, 3);
        Tensor constant = Tensor.randn(new Generator(2), 2, 3);
        Reduce.sum(Arithmetic.mul(Shapes.cat(0, a, constant), Tensor.full(2f, 4, 3))).backward();
        assertArrayEquals(Tensor.full(2f, 2, 3).toArray(), a.grad().toArray());
        assertNull(constant.grad());
        assertNull(Shapes.stack(0, constant, constant).gradFn(), "nothing recorded without a gradient to carry");
    }

    @Test
    void errorsNameTheBadValue() {
        Tensor a = Tensor.zeros(2, 3);
        expect(() -> Shapes.cat(2, a, a), "dimension 2 out of range for a 2-d tensor (expected -2 to 1)");
        expect(() -> Shapes.cat(-3, a, a), "dimension -3");
        expect(() -> Shapes.cat(0, a, Tensor.zeros(2, 4)), "dimension 1: 4 vs 3");
        expect(() -> Shapes.cat(0, a, Tensor.zeros(6)), "tensor 1 has 1 dimensions");
        expect(() -> Shapes.cat(0, Tensor.full(1f)), "zero-dimensional");
        expect(() -> Shapes.cat(0), "at least one tensor");
        expect(() -> Shapes.cat(0, a, null), "tensor 1 is null");
        expect(() -> Shapes.cat(null, 0), "got null");
        expect(() -> Shapes.stack(3, a, a), "dimension 3 out of range for a 3-d result");
        expect(() -> Shapes.stack(0, a, Tensor.zeros(3, 2)), "tensor 1 [3, 2]");
        expect(() -> Shapes.split(a, 0, 1), "got 0 for dimension 1 of size 3");
        expect(() -> Shapes.split(a, -1, 1), "got -1");
        expect(() -> Shapes.split(a, 1, 2), "dimension 2 out of range");
        expect(() -> Shapes.split(a, new long[] {1, 1}, 1), "sum to 2, but dimension 1 has size 3");
        expect(() -> Shapes.split(a, new long[] {4, -1}, 1), "negative size -1");
        expect(() -> Shapes.chunk(a, 0, 0), "got 0");
        expect(() -> Shapes.split(Tensor.full(1f), 1, 0), "0-d tensor has no dimension 0");
        Tensor closed = Tensor.zeros(2, 3);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Shapes.cat(0, a, closed));
    }

    private static void expect(Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
    }
}
