package dev.gatun.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.MatMul;
import dev.gatun.ops.Reduce;
import dev.gatun.testing.ScopedTest;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** int64 and bool tensors: creation, views, copies, conversion, printing, and refusal by float-only paths. */
class DTypeTest extends ScopedTest {

    @Test
    void elementSizesAreTorchs() {
        assertEquals(4, DType.FLOAT32.elementSize());
        assertEquals(8, DType.INT64.elementSize());
        assertEquals(1, DType.BOOL.elementSize());
        assertEquals("int64", DType.INT64.toString());
        assertTrue(DType.FLOAT32.isFloatingPoint());
        assertFalse(DType.INT64.isFloatingPoint());
    }

    @Test
    void factoriesMakeTheAskedDtype() {
        Tensor l = Tensor.fromLongs(new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, 2, 2);
        assertEquals(DType.INT64, l.dtype());
        assertArrayEquals(new long[] {2, 2}, l.shape());
        assertArrayEquals(new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, l.toLongArray());
        assertEquals(Long.MAX_VALUE, l.getLong(1, 1));
        assertEquals(-1, l.getLong(0, 1));

        Tensor b = Tensor.fromBooleans(new boolean[] {true, false, false, true, true, false}, 3, 2);
        assertEquals(DType.BOOL, b.dtype());
        assertArrayEquals(new boolean[] {true, false, false, true, true, false}, b.toBooleanArray());
        assertTrue(b.getBoolean(2, 0));
        assertFalse(b.getBoolean(2, 1));

        assertEquals(DType.FLOAT32, Tensor.of(new float[] {1, 2}).dtype());
        assertEquals(DType.INT64, Tensor.of(new long[] {1, 2}).dtype());
        assertEquals(DType.BOOL, Tensor.of(new boolean[] {true}).dtype());
        assertArrayEquals(new long[] {3}, Tensor.of(new long[] {1, 2, 3}).shape());
        assertArrayEquals(new long[] {}, Tensor.fromLongs(new long[] {7}, new long[0]).shape());
        assertEquals(7, Tensor.fromLongs(new long[] {7}, new long[0]).itemLong());

        assertArrayEquals(new long[6], Tensor.zeros(DType.INT64, 2, 3).toLongArray());
        assertArrayEquals(new boolean[4], Tensor.zeros(DType.BOOL, 4).toBooleanArray());
        assertArrayEquals(new long[] {1, 1, 1}, Tensor.ones(DType.INT64, 3).toLongArray());
        assertArrayEquals(new boolean[] {true, true}, Tensor.ones(DType.BOOL, 2).toBooleanArray());
        assertArrayEquals(new float[] {1, 1}, Tensor.ones(DType.FLOAT32, 2).toArray());
        assertEquals(DType.INT64, Tensor.empty(DType.INT64, 5).dtype());
        assertArrayEquals(new long[] {0, 1, 2, 3}, Tensor.arange(4, DType.INT64).toLongArray());
        assertArrayEquals(new long[] {10, 7, 4, 1}, Tensor.arange(10, 0, -3, DType.INT64).toLongArray());
        assertArrayEquals(new float[] {2, 4}, Tensor.arange(2, 6, 2, DType.FLOAT32).toArray());
        assertThrows(IllegalArgumentException.class, () -> Tensor.arange(3, DType.BOOL));
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros((DType) null, 2));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.fromLongs(new long[] {1, 2, 3}, 2, 2));
        assertTrue(e.getMessage().contains("3 values") && e.getMessage().contains("[2, 2]"), e.getMessage());
    }

    @Test
    void setAndSingleItemReaders() {
        Tensor l = Tensor.zeros(DType.INT64, 2, 2);
        l.setLong(-5, 1, 0);
        assertEquals(-5, l.getLong(1, 0));
        assertEquals(-5, l.select(0, 1).select(0, 0).itemLong());
        Tensor b = Tensor.zeros(DType.BOOL, 3);
        b.setBoolean(true, 2);
        assertArrayEquals(new boolean[] {false, false, true}, b.toBooleanArray());
        assertTrue(b.slice(0, 2, 3).itemBoolean());
        assertThrows(IndexOutOfBoundsException.class, () -> l.getLong(2, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.itemLong());
        assertTrue(e.getMessage().contains("one-element"), e.getMessage());
    }

    @Test
    void viewsAndCopiesWorkForEveryDtype() {
        long[] v = new long[24];
        for (int i = 0; i < v.length; i++) v[i] = 1000L * i - 7;
        Tensor l = Tensor.fromLongs(v, 2, 3, 4);
        Tensor f = Tensor.arange(24).view(2, 3, 4);
        // Each view of the int64 tensor holds the int64 values of the same view of a float32 tensor.
        checkView(l, f, t -> t);
        checkView(l, f, t -> t.transpose(0, 2));
        checkView(l, f, t -> t.permute(1, 2, 0));
        checkView(l, f, t -> t.slice(2, 1, 4, 2));
        checkView(l, f, t -> t.select(1, 2));
        checkView(l, f, t -> t.unsqueeze(1));
        checkView(l, f, t -> t.view(6, 4));
        checkView(l, f, t -> t.reshape(4, -1));
        checkView(l, f, t -> t.transpose(0, 1).reshape(24));
        checkView(l, f, t -> t.flatten(1, 2));
        checkView(l, f, t -> t.flatten());
        checkView(l, f, t -> t.select(0, 1).unsqueeze(0).expand(2, 3, 4));
        checkView(l, f, t -> t.transpose(1, 2).contiguous());
        checkView(l, f, t -> t.permute(2, 0, 1).copy());

        Tensor lt = l.transpose(0, 2);
        assertFalse(lt.isContiguous());
        assertTrue(lt.contiguous().isContiguous());
        lt.setLong(42, 3, 2, 1);
        assertEquals(42, l.getLong(1, 2, 3), "a write through a view changes the base");

        // Strided copies in both directions, and overlapping views of one storage.
        Tensor dst = Tensor.zeros(DType.INT64, 4, 3, 2);
        dst.copyFrom(l.transpose(0, 2));
        assertArrayEquals(l.transpose(0, 2).contiguous().toLongArray(), dst.toLongArray());
        Tensor row = Tensor.fromLongs(new long[] {1, 2, 3, 4, 5});
        row.slice(0, 1, 5).copyFrom(row.slice(0, 0, 4));
        assertArrayEquals(new long[] {1, 1, 2, 3, 4}, row.toLongArray());

        boolean[] bv = new boolean[12];
        for (int i = 0; i < bv.length; i++) bv[i] = i % 3 == 0;
        Tensor b = Tensor.fromBooleans(bv, 3, 4);
        Tensor bt = b.t().contiguous();
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 4; j++) assertEquals(b.getBoolean(i, j), bt.getBoolean(j, i));
        }
        Tensor bStrided = Tensor.zeros(DType.BOOL, 4, 3).t();
        bStrided.copyFrom(b);
        assertArrayEquals(bv, bStrided.toBooleanArray());
        bStrided.copyFrom(new boolean[12]);
        assertArrayEquals(new boolean[12], bStrided.toBooleanArray());
        Tensor lStrided = Tensor.zeros(DType.INT64, 3, 2).t();
        lStrided.copyFrom(new long[] {1, 2, 3, 4, 5, 6});
        assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6}, lStrided.toLongArray());
        assertArrayEquals(new long[] {1, 4, 2, 5, 3, 6}, lStrided.t().contiguous().toLongArray());
    }

    private static void checkView(Tensor l, Tensor f, java.util.function.Function<Tensor, Tensor> view) {
        Tensor lv = view.apply(l);
        Tensor fv = view.apply(f);
        assertEquals(DType.INT64, lv.dtype());
        assertArrayEquals(fv.shape(), lv.shape());
        float[] expected = fv.toArray();
        long[] actual = lv.toLongArray();
        for (int i = 0; i < expected.length; i++) {
            assertEquals(1000L * (long) expected[i] - 7, actual[i], "element " + i);
        }
    }

    @Test
    void conversionFollowsPyTorch() {
        Tensor f = Tensor.fromArray(new float[] {-2.7f, -0.5f, 0f, -0f, 0.5f, 2.9f, 1e10f, Float.NaN}, 2, 4);
        assertSame(f, f.to(DType.FLOAT32));
        Tensor finite = f.slice(1, 0, 3);
        assertArrayEquals(new long[] {-2, 0, 0, 0, 2, 10_000_000_000L}, finite.to(DType.INT64).toLongArray(),
                "truncation toward zero");
        assertArrayEquals(new boolean[] {true, true, false, false, true, true, true, true},
                f.to(DType.BOOL).toBooleanArray(), "non-zero is true, NaN included");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.to(DType.INT64));
        assertTrue(e.getMessage().contains("NaN") && e.getMessage().contains("[1, 3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Tensor.fromArray(new float[] {Float.POSITIVE_INFINITY}).to(DType.INT64));
        assertThrows(IllegalArgumentException.class, () -> Tensor.fromArray(new float[] {1e19f}).to(DType.INT64));

        Tensor l = Tensor.fromLongs(new long[] {-3, 0, 16_777_217});
        assertArrayEquals(new float[] {-3, 0, 16_777_216f}, l.to(DType.FLOAT32).toArray());
        assertArrayEquals(new boolean[] {true, false, true}, l.to(DType.BOOL).toBooleanArray());
        Tensor b = Tensor.fromBooleans(new boolean[] {true, false});
        assertArrayEquals(new long[] {1, 0}, b.to(DType.INT64).toLongArray());
        assertArrayEquals(new float[] {1, 0}, b.to(DType.FLOAT32).toArray());
        assertArrayEquals(new float[] {-3, 16_777_216f}, l.slice(0, 0, 3, 2).to(DType.FLOAT32).toArray());

        // copyFrom converts a source of another dtype, as Tensor.copy_ does.
        Tensor into = Tensor.zeros(DType.INT64, 2);
        into.copyFrom(Tensor.fromArray(new float[] {3.9f, -1.2f}));
        assertArrayEquals(new long[] {3, -1}, into.toLongArray());

        Tensor fromInt = f.requiresGrad(true);
        assertFalse(fromInt.slice(1, 0, 3).to(DType.INT64).requiresGrad(), "an int64 result has no gradient");
        assertThrows(IllegalArgumentException.class, () -> l.to(null));
    }

    @Test
    void printingShowsIntsAndBoolsWithTheDtype() {
        assertEquals("tensor([1, 2], dtype=int64, shape=[2])", Tensor.fromLongs(new long[] {1, 2}).toString());
        assertEquals("tensor([[ 1, 10],\n        [-3,  0]], dtype=int64, shape=[2, 2])",
                Tensor.fromLongs(new long[] {1, 10, -3, 0}, 2, 2).toString());
        assertEquals("tensor([ true, false], dtype=bool, shape=[2])",
                Tensor.fromBooleans(new boolean[] {true, false}).toString());
        assertEquals("tensor([true, true], dtype=bool, shape=[2])",
                Tensor.fromBooleans(new boolean[] {true, true}).toString());
        assertEquals("tensor(5, dtype=int64, shape=[])", Tensor.fromLongs(new long[] {5}, new long[0]).toString());
        assertEquals("tensor([1., 2.], shape=[2])", Tensor.fromArray(new float[] {1, 2}).toString());
        String big = Tensor.arange(2000, DType.INT64).toString();
        assertTrue(big.startsWith("tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int64"), big);
        Tensor owned;
        try (Scope inner = Scope.open()) {
            owned = Tensor.fromLongs(new long[] {1});
        }
        assertEquals("tensor(<closed>, dtype=int64, shape=[1])", owned.toString());
    }

    @Test
    void floatOnlyPathsRefuseOtherDtypesByName() {
        Tensor l = Tensor.fromLongs(new long[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.fromBooleans(new boolean[] {true, false, true, false}, 2, 2);
        Tensor f = Tensor.ones(2, 2);
        refused("int64", () -> l.toArray());
        refused("int64", () -> l.get(0, 0));
        refused("int64", () -> { l.set(1f, 0, 0); return l; });
        refused("int64", () -> l.fill(1f));
        refused("int64", () -> l.storage());
        refused("int64", () -> l.storageForReading());
        refused("int64", () -> l.copyFrom(new float[4]));
        refused("int64", () -> l.requiresGrad(true));
        refused("bool", () -> b.toArray());
        refused("bool", () -> b.requiresGrad(true));
        // Ops read through those accessors, so every one of them refuses in Java.
        refused("int64", () -> Arithmetic.add(l, l));
        refused("int64", () -> Arithmetic.mul(f, l));
        IllegalArgumentException named = assertThrows(IllegalArgumentException.class, () -> Arithmetic.sub(f, l));
        assertTrue(named.getMessage().startsWith("sub expects float32"), "names the op: " + named.getMessage());
        refused("int64", () -> MatMul.matmul(l, l));
        refused("int64", () -> MatMul.matmul(f, l));
        refused("int64", () -> Activation.relu(l));
        refused("int64", () -> Reduce.sum(l));
        refused("bool", () -> Reduce.mean(b));
        refused("bool", () -> Activation.sigmoid(b));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.select(0, 0).item());
        assertTrue(e.getMessage().contains("itemLong()"), e.getMessage());
        // The typed readers refuse the wrong dtype too.
        e = assertThrows(IllegalArgumentException.class, () -> f.toLongArray());
        assertTrue(e.getMessage().contains("expects int64, got float32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> l.getBoolean(0, 0));
        assertTrue(e.getMessage().contains("expects bool, got int64"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> l.copyFrom(new boolean[4]));
        assertThrows(IllegalArgumentException.class, () -> f.setLong(1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> f.setGrad(Tensor.zeros(DType.INT64, 2, 2)));
        assertTrue(f.requiresGrad(false) == f && !l.requiresGrad(false).requiresGrad());
    }

    private static void refused(String dtype, Supplier<Object> call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::get);
        assertTrue(e.getMessage().contains("expects float32, got " + dtype), e.getMessage());
    }

    @Test
    void ownedIntTensorsLiveWithoutAScope() {
        // Made on a thread with no current scope: the tensor owns its memory.
        Tensor[] made = new Tensor[1];
        Thread t = new Thread(() -> made[0] = Tensor.fromLongs(new long[] {4, 5, 6}).transpose(0, 0));
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertEquals(null, made[0].scope());
        assertArrayEquals(new long[] {4, 5, 6}, made[0].toLongArray());
        made[0].close();
        assertThrows(IllegalStateException.class, () -> made[0].toLongArray());
    }
}
