package dev.gatun.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TensorTest {

    private static float[] range(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i;
        return v;
    }

    @Test
    void creationFillsAsAsked() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(new float[6], Tensor.zeros(2, 3).toArray());
            assertArrayEquals(new float[] {1, 1, 1}, Tensor.ones(3).toArray());
            assertArrayEquals(new float[] {2.5f, 2.5f}, Tensor.full(2.5f, 2, 1).toArray());
            assertArrayEquals(new float[] {0, 1, 2, 3}, Tensor.arange(4).toArray());
            assertArrayEquals(new float[] {1, 1.5f, 2, 2.5f}, Tensor.arange(1, 3, 0.5).toArray());
            assertArrayEquals(new float[] {5, 3}, Tensor.arange(5, 1, -2).toArray());
            Tensor t = Tensor.fromArray(range(6), 2, 3);
            assertArrayEquals(new long[] {2, 3}, t.shape());
            assertArrayEquals(new long[] {3, 1}, t.strides());
            assertEquals(5f, t.get(1, 2));
            assertEquals(0, Tensor.zeros(0, 4).numel());
            assertEquals(1, Tensor.zeros().numel());
        }
    }

    @Test
    void allocationsAreAligned() {
        try (Scope s = Scope.open()) {
            for (int n = 1; n < 20; n++) {
                assertEquals(0, Tensor.zeros(n).storage().address() % Scope.ALIGNMENT);
            }
        }
        try (Tensor owned = Tensor.zeros(3)) {
            assertEquals(0, owned.storage().address() % Scope.ALIGNMENT);
        }
    }

    @Test
    void seededRandomIsReproducibleAndPlausible() {
        try (Scope s = Scope.open()) {
            assertArrayEquals(Tensor.randn(new Generator(7), 100).toArray(),
                    Tensor.randn(new Generator(7), 100).toArray());
            assertFalse(java.util.Arrays.equals(Tensor.randn(new Generator(7), 100).toArray(),
                    Tensor.randn(new Generator(8), 100).toArray()));
            float[] u = Tensor.rand(new Generator(3), 10_000).toArray();
            double mean = 0;
            for (float x : u) {
                assertTrue(x >= 0 && x < 1);
                mean += x;
            }
            assertEquals(0.5, mean / u.length, 0.02);
            float[] g = Tensor.randn(new Generator(3), 10_000).toArray();
            double m = 0, sq = 0;
            for (float x : g) {
                m += x;
                sq += x * x;
            }
            m /= g.length;
            assertEquals(0, m, 0.05);
            assertEquals(1, sq / g.length - m * m, 0.05);
        }
    }

    @Test
    void badShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, -1));
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(Long.MAX_VALUE, 4));
        assertTrue(big.getMessage().contains("[9223372036854775807, 4]"), big.getMessage());
        big = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(1L << 32, 1L << 32));
        assertTrue(big.getMessage().contains("[4294967296, 4294967296]") && big.getMessage().contains("elements"),
                big.getMessage());
        // Larger than any machine's memory: refused before allocating, naming the size.
        big = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(1L << 40));
        assertTrue(big.getMessage().contains("[1099511627776]") && big.getMessage().contains("4.0 TiB"),
                big.getMessage());
        big = assertThrows(IllegalArgumentException.class, () -> Tensor.empty(1L << 62));
        assertTrue(big.getMessage().contains("memory"), big.getMessage());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.fromArray(new float[5], 2, 3));
        assertTrue(e.getMessage().contains("5 values"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.arange(0, 1, 0));
        Tensor six = Tensor.zeros(6);
        e = assertThrows(IllegalArgumentException.class, () -> six.view(1L << 32, 1L << 32, 24));
        assertTrue(e.getMessage().contains("more elements than a long counts"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> six.reshape(-1, 1L << 62, 4));
        assertTrue(e.getMessage().contains("more elements than a long counts"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.arange(-5));
        assertTrue(e.getMessage().contains("inconsistent with the step's sign"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.arange(0, 5, -1, DType.INT64));
        assertEquals(0, Tensor.arange(3, 3, -1, DType.INT64).numel(), "start = end: no values, either way");
    }

    /** Counted exactly near the ends of the long range, where a double would round the span. */
    @Test
    void arangeCountsExactlyAtTheEdgesOfTheLongRange() {
        try (Scope s = Scope.open()) {
            long max = Long.MAX_VALUE;
            assertArrayEquals(new long[] {max - 5, max - 3, max - 1},
                    Tensor.arange(max - 5, max, 2, DType.INT64).toLongArray());
            assertArrayEquals(new long[] {-10, max / 2 - 10, 2 * (max / 2) - 10},
                    Tensor.arange(-10, max, max / 2, DType.INT64).toLongArray());
            assertArrayEquals(new long[] {max, -1},
                    Tensor.arange(max, Long.MIN_VALUE, Long.MIN_VALUE, DType.INT64).toLongArray(),
                    "a span of 2^64 − 1 in steps of −2^63");
        }
    }

    @Test
    void viewsShareStorageWithoutCopying() {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.fromArray(range(24), 2, 3, 4);
            Tensor tr = t.transpose(0, 2);
            assertArrayEquals(new long[] {4, 3, 2}, tr.shape());
            assertArrayEquals(new long[] {1, 4, 12}, tr.strides());
            assertEquals(t.get(1, 2, 3), tr.get(3, 2, 1));
            assertFalse(tr.isContiguous());
            tr.set(-1f, 0, 1, 1);
            assertEquals(-1f, t.get(1, 1, 0), "a write through a view changes the base");

            Tensor p = t.permute(1, 2, 0);
            assertArrayEquals(new long[] {3, 4, 2}, p.shape());
            assertEquals(t.get(1, 2, 3), p.get(2, 3, 1));

            Tensor sl = t.slice(2, 1, 4, 2); // columns 1 and 3
            assertArrayEquals(new long[] {2, 3, 2}, sl.shape());
            assertArrayEquals(new float[] {1, 3, 5, 7, 9, 11}, sl.select(0, 0).toArray());

            Tensor sel = t.select(1, 2);
            assertArrayEquals(new float[] {8, 9, 10, 11, 20, 21, 22, 23}, sel.toArray());

            Tensor flat = t.view(6, 4);
            assertEquals(t.storage(), flat.storage());
            assertEquals(t.get(1, 0, 2), flat.get(3, 2));
            assertArrayEquals(new long[] {2, 12}, t.view(2, -1).shape());
            assertArrayEquals(new long[] {24}, t.flatten().shape());
            assertArrayEquals(new long[] {2, 12}, t.flatten(1, 2).shape());

            Tensor u = t.unsqueeze(1);
            assertArrayEquals(new long[] {2, 1, 3, 4}, u.shape());
            assertArrayEquals(t.toArray(), u.toArray());
            assertArrayEquals(new long[] {2, 3, 4, 1}, t.unsqueeze(-1).shape());
        }
    }

    @Test
    void viewOfNonContiguousNeedsReshape() {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.fromArray(range(6), 2, 3);
            Tensor tt = t.t();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tt.view(6));
            assertTrue(e.getMessage().contains("reshape"), e.getMessage());
            Tensor r = tt.reshape(6);
            assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, r.toArray());
            assertNotEquals(t.storage().address(), r.storage().address());
            // Splitting a dimension of a transposed view is still a view.
            Tensor big = Tensor.fromArray(range(24), 4, 6).t(); // [6, 4], strides [1, 6]
            Tensor split = big.view(2, 3, 4);
            assertEquals(big.storage().address(), split.storage().address());
            assertEquals(big.get(4, 1), split.get(1, 1, 1));
            assertThrows(IllegalArgumentException.class, () -> t.view(4));
            assertThrows(IllegalArgumentException.class, () -> t.view(-1, -1));
        }
    }

    @Test
    void expandBroadcastsWithZeroStrides() {
        try (Scope s = Scope.open()) {
            Tensor row = Tensor.fromArray(new float[] {1, 2, 3}, 1, 3);
            Tensor e = row.expand(2, 4, 3);
            assertArrayEquals(new long[] {0, 0, 1}, e.strides());
            assertArrayEquals(new float[] {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3},
                    e.toArray());
            assertThrows(IllegalArgumentException.class, () -> row.expand(2, 4));
            assertThrows(IllegalArgumentException.class, () -> row.expand(3));
            // Broadcast along the innermost dimensions (a mean's gradient over H and W), from a slice.
            Tensor col = Tensor.fromArray(new float[] {9, 1, 2, 9, 3, 4}, 2, 3).slice(1, 1, 3).view(2, 2, 1, 1);
            Tensor planes = col.expand(2, 2, 2, 3);
            assertArrayEquals(new long[] {0, 0}, new long[] {planes.stride(2), planes.stride(3)});
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4},
                    planes.toArray());
            assertArrayEquals(planes.toArray(), planes.contiguous().toArray());
        }
    }

    @Test
    void indexesAreChecked() {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.zeros(2, 3);
            assertThrows(IndexOutOfBoundsException.class, () -> t.get(2, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> t.get(0, -1));
            assertThrows(IllegalArgumentException.class, () -> t.get(0));
            assertThrows(IndexOutOfBoundsException.class, () -> t.slice(1, 0, 4));
            assertThrows(IllegalArgumentException.class, () -> t.slice(1, 0, 2, 0));
            assertThrows(IllegalArgumentException.class, () -> t.transpose(0, 2));
            assertThrows(IllegalArgumentException.class, () -> t.permute(0, 0));
            assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(3).t());
        }
    }

    @Test
    void closedTensorsThrowOnUse() {
        Tensor owned = Tensor.ones(4);
        Tensor view = owned.view(2, 2);
        owned.close();
        assertFalse(owned.isAlive());
        assertThrows(IllegalStateException.class, owned::toArray);
        assertThrows(IllegalStateException.class, () -> owned.get(0));
        IllegalStateException e = assertThrows(IllegalStateException.class, view::toArray);
        assertTrue(e.getMessage().contains("tensor [2, 2]") && e.getMessage().contains("tensor [4] it views was closed"),
                e.getMessage());
        assertThrows(IllegalStateException.class, () -> view.reshape(4));
        owned.close(); // idempotent
        assertTrue(owned.toString().contains("closed"));

        Tensor inScope;
        Tensor handle;
        try (Scope s = Scope.open()) {
            inScope = Tensor.ones(3);
            handle = Tensor.ones(3);
            handle.close(); // retires the handle; the memory is the scope's
            assertThrows(IllegalStateException.class, handle::toArray);
            assertEquals(3f, Tensor.fromArray(inScope.toArray()).toArray()[0] * 3);
        }
        assertThrows(IllegalStateException.class, inScope::toArray);
    }

    @Test
    void scopesNestAndOwnTheirTensors() {
        assertEquals(null, Scope.current());
        try (Scope outer = Scope.open()) {
            assertEquals(outer, Scope.current());
            Tensor a;
            try (Scope inner = Scope.open()) {
                assertEquals(inner, Scope.current());
                a = Tensor.zeros(2);
                assertTrue(a.isAlive());
                Tensor b = Tensor.zeros(outer, 2);
                assertTrue(b.isAlive());
            }
            assertFalse(a.isAlive());
            assertEquals(outer, Scope.current());
        }
        assertEquals(null, Scope.current());
        Scope detached = Scope.detached();
        assertEquals(null, Scope.current());
        Tensor d = Tensor.zeros(detached, 3);
        detached.close();
        assertFalse(d.isAlive());
        assertThrows(IllegalStateException.class, () -> Tensor.zeros(detached, 1));
    }

    @Test
    void scopesCloseInnermostFirst() {
        Scope outer = Scope.open();
        Scope inner = Scope.open();
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close();
        assertEquals(null, Scope.current());
    }

    @Test
    void copyFromHandlesStridesBothWays() {
        try (Scope s = Scope.open()) {
            Tensor t = Tensor.fromArray(range(6), 2, 3);
            Tensor dst = Tensor.zeros(3, 2).t(); // non-contiguous destination [2, 3]
            dst.copyFrom(t);
            assertArrayEquals(t.toArray(), dst.toArray());
            assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(3).copyFrom(t));
            Tensor c = t.t().contiguous();
            assertTrue(c.isContiguous());
            assertArrayEquals(new float[] {0, 3, 1, 4, 2, 5}, c.toArray());
            assertEquals(7f, Tensor.full(7f, 1, 1).item());
            assertThrows(IllegalArgumentException.class, () -> t.item());
            Tensor filled = Tensor.zeros(2, 3).t().fill(4f);
            assertArrayEquals(new float[] {4, 4, 4, 4, 4, 4}, filled.toArray());
        }
    }

    @Test
    void toStringReadsLikePyTorch() {
        try (Scope s = Scope.open()) {
            assertEquals("tensor([[0., 1., 2.],\n        [3., 4., 5.]], shape=[2, 3])",
                    Tensor.fromArray(range(6), 2, 3).toString());
            assertEquals("tensor([ 0.5000, -1.2500], shape=[2])",
                    Tensor.fromArray(new float[] {0.5f, -1.25f}).toString());
            assertEquals("tensor(3., shape=[])", Tensor.full(3f).toString());
            String big = Tensor.arange(2000).toString();
            assertTrue(big.startsWith("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.]"), big);
            String huge = Tensor.arange(1e9, 1e9 + 2, 1).toString();
            assertTrue(huge.contains("e+09"), huge);
        }
    }

    @Test
    void emptyPermutedLaysTheDimensionsOutInTheGivenOrder() {
        Tensor t = Tensor.emptyPermuted(new long[] {2, 3, 4}, 1, 0, 2);   // stored as [3, 2, 4]
        assertArrayEquals(new long[] {2, 3, 4}, t.shape());
        assertArrayEquals(new long[] {4, 8, 1}, t.strides());
        assertFalse(t.isContiguous());
        float[] values = new float[24];
        for (int i = 0; i < 24; i++) values[i] = i;
        t.copyFrom(Tensor.fromArray(values, 2, 3, 4));
        assertArrayEquals(values, t.toArray(), "reads back in its logical order");
        Tensor stored = t.permute(1, 0, 2);
        assertTrue(stored.isContiguous(), "the permuted view is the memory's order");
        assertEquals(values[4], stored.get(1, 0, 0));
        assertTrue(Tensor.emptyPermuted(new long[] {2, 3}, 0, 1).isContiguous());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.emptyPermuted(new long[] {2, 3, 4}, 0, 0, 2));
        assertTrue(e.getMessage().contains("not a permutation"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.emptyPermuted(new long[] {2, 3}, 0, 1, 2));
        assertThrows(IllegalArgumentException.class, () -> Tensor.emptyPermuted(new long[] {2, -3}, 1, 0));
        t.close();
        assertThrows(IllegalStateException.class, t::toArray);
    }
}
