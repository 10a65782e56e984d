package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/** {@link Indexing#embedding}: lookup, the scatter-add gradient, padding, and the index checks. */
class EmbeddingTest extends ScopedTest {

    @Test
    void looksUpRowsInTheIndexShape() {
        Tensor w = Tensor.arange(12).view(4, 3);
        Tensor out = Indexing.embedding(w, new int[] {2, 0, 3, 2, 1, 0}, 2, 3);
        assertArrayEquals(new long[] {2, 3, 3}, out.shape());
        assertArrayEquals(new float[] {6, 7, 8, 0, 1, 2, 9, 10, 11, 6, 7, 8, 3, 4, 5, 0, 1, 2}, out.toArray());
    }

    @Test
    void repeatedIndicesAccumulateTheirGradients() {
        Tensor w = GradCheck.leaf(1, 5, 2);
        Tensor out = Indexing.embedding(w, new int[] {1, 3, 1, 1}, 4);
        Tensor r = Tensor.fromArray(new float[] {1, 2, 10, 20, 100, 200, 1000, 2000}, 4, 2);
        Reduce.sum(Arithmetic.mul(out, r)).backward();
        assertArrayEquals(new float[] {0, 0, 1101, 2202, 0, 0, 10, 20, 0, 0}, w.grad().toArray());
    }

    @Test
    void gradientByCentralDifferences() {
        int[] idx = {4, 0, 2, 4, 4, 1};
        Tensor w = GradCheck.leaf(2, 6, 3);
        GradCheck.check("embedding", t -> Indexing.embedding(t[0], idx, 3, 2), w);
    }

    @Test
    void thePaddingRowGetsNoGradient() {
        Tensor w = GradCheck.leaf(3, 4, 2);
        Tensor out = Indexing.embedding(w, new int[] {0, 2, 0, 3}, new long[] {4}, 0);
        assertArrayEquals(new float[] {w.get(0, 0), w.get(0, 1)}, out.select(0, 0).toArray());
        Reduce.sum(out).backward();
        assertArrayEquals(new float[] {0, 0, 0, 0, 1, 1, 1, 1}, w.grad().toArray());
    }

    @Test
    void badIndicesAreRejectedWithTheirNumbers() {
        Tensor w = Tensor.randn(new Generator(4), 65, 8);
        String m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.embedding(w, new int[] {3, 64, 65, 1}, 2, 2)).getMessage();
        assertEquals("embedding: index 65 at position 2 is out of range [0, 65)", m);
        m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.embedding(w, new int[] {-1}, 1)).getMessage();
        assertEquals("embedding: index -1 at position 0 is out of range [0, 65)", m);
        m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.embedding(w, new int[] {1, 2, 3}, 2, 2)).getMessage();
        assertEquals("embedding: index shape [2, 2] holds 4 indices, got 3", m);
        m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.embedding(w, new int[] {1}, new long[] {1}, 65)).getMessage();
        assertEquals("embedding: padding index 65 is out of range [0, 65)", m);
        m = assertThrows(IllegalArgumentException.class,
                () -> Indexing.embedding(Tensor.zeros(65), new int[] {1}, 1)).getMessage();
        assertEquals("embedding: weight must be [V, D], got shape [65]", m);
    }

    @Test
    void noTapeUnderNoGrad() {
        Tensor w = GradCheck.leaf(5, 3, 2);
        try (var ignored = Autograd.noGrad()) {
            assertNull(Indexing.embedding(w, new int[] {1}, 1).gradFn());
        }
    }
}
