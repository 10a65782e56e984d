package dev.gatun.ops;

import static dev.gatun.ops.ArgReduceTest.FIXTURE;
import static dev.gatun.ops.ArgReduceTest.assertSameFloats;
import static dev.gatun.ops.ArgReduceTest.bools;
import static dev.gatun.ops.ArgReduceTest.floats;
import static dev.gatun.ops.GradCheck.check;
import static dev.gatun.ops.GradCheck.leaf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/**
 * gather, indexSelect, where, maskedFill and the int64 embedding lookup ({@link Indexing}) against PyTorch
 * ({@code golden/indexing.json}), by central differences, and the index checks.
 */
class IndexingTest extends ScopedTest {

    private static final JsonNode S = FIXTURE.get("selection");

    private static Tensor floatsOf(JsonNode c, String values, String shape) {
        return Tensor.fromArray(floats(c.get(values)), Fixtures.longs(c.get(shape)));
    }

    /** Σ y·r backward, the fixture's r. */
    private static void backward(Tensor y, JsonNode c) {
        Reduce.sum(Arithmetic.mul(y, Tensor.fromArray(floats(c.get("r")), y.shape()))).backward();
    }

    @Test
    void gatherAsPyTorch() {
        JsonNode g = S.get("gather");
        for (JsonNode c : g.get("cases")) {
            String what = "gather dim " + c.get("dim");
            Tensor src = floatsOf(g, "src", "src_shape").requiresGrad(true);
            Tensor index = Tensor.fromLongs(Fixtures.longs(c.get("index")), Fixtures.longs(c.get("index_shape")));
            Tensor y = src.gather(c.get("dim").asInt(), index);
            assertArrayEquals(index.shape(), y.shape(), what);
            assertSameFloats(floats(c.get("y")), y.toArray(), 0f, what);
            backward(y, c);
            assertSameFloats(floats(c.get("grad")), src.grad().toArray(), 1e-6f, what + " gradient");
        }
    }

    @Test
    void indexSelectAsPyTorch() {
        JsonNode s = S.get("index_select");
        for (JsonNode c : s.get("cases")) {
            String what = "indexSelect dim " + c.get("dim");
            Tensor src = floatsOf(s, "src", "src_shape").requiresGrad(true);
            Tensor y = src.indexSelect(c.get("dim").asInt(), Tensor.fromLongs(Fixtures.longs(c.get("index"))));
            assertArrayEquals(Fixtures.longs(c.get("y_shape")), y.shape(), what);
            assertSameFloats(floats(c.get("y")), y.toArray(), 0f, what);
            backward(y, c);
            assertSameFloats(floats(c.get("grad")), src.grad().toArray(), 1e-6f, what + " gradient (repeats add)");
        }
    }

    @Test
    void whereAsPyTorch() {
        JsonNode c = S.get("where");
        Tensor cond = Tensor.fromBooleans(bools(c.get("cond")), Fixtures.longs(c.get("cond_shape")));
        Tensor a = floatsOf(c, "a", "a_shape").requiresGrad(true);
        Tensor b = floatsOf(c, "b", "b_shape").requiresGrad(true);
        Tensor y = a.where(cond, b);
        assertArrayEquals(Fixtures.longs(c.get("y_shape")), y.shape());
        assertSameFloats(floats(c.get("y")), y.toArray(), 0f, "where");
        backward(y, c);
        assertSameFloats(floats(c.get("grad_a")), a.grad().toArray(), 1e-5f, "∂a");
        assertSameFloats(floats(c.get("grad_b")), b.grad().toArray(), 1e-5f, "∂b");
    }

    @Test
    void maskedFillAsPyTorch() {
        for (JsonNode c : S.get("masked_fill")) {
            Tensor t = floatsOf(c, "t", "t_shape").requiresGrad(true);
            Tensor mask = Tensor.fromBooleans(bools(c.get("mask")), Fixtures.longs(c.get("mask_shape")));
            Tensor y = t.maskedFill(mask, c.get("value").asDouble());
            assertArrayEquals(Fixtures.longs(c.get("y_shape")), y.shape());
            assertSameFloats(floats(c.get("y")), y.toArray(), 0f, "maskedFill");
            backward(y, c);
            assertSameFloats(floats(c.get("grad")), t.grad().toArray(), 1e-5f, "maskedFill gradient");
        }
    }

    @Test
    void gradientsByCentralDifferences() {
        Tensor src = leaf(1, 3, 4, 5);
        Tensor idx = Tensor.fromLongs(new long[] {3, 0, 0, 1, 2, 3, 3, 3, 1, 0, 2, 2, 1, 0, 3, 1, 1, 2}, 3, 2, 3);
        check("gather dim 1", x -> x[0].gather(1, idx), src);
        check("gather of a transposed view", x -> x[0].transpose(1, 2).gather(2, idx), src);
        Tensor rows = Tensor.fromLongs(new long[] {2, 0, 2, 1});
        check("indexSelect dim 0", x -> x[0].indexSelect(0, rows), src);
        check("indexSelect dim -1", x -> x[0].indexSelect(-1, rows), src);
        Tensor cond = Tensor.fromBooleans(new boolean[] {true, false, false, true, true}, 5);
        Tensor a = leaf(2, 4, 5);
        Tensor b = leaf(3, 4, 1);
        check("where", x -> Indexing.where(cond, x[0], x[1]), a, b);
        Tensor mask = Tensor.fromBooleans(new boolean[] {false, true, true, false}, 4, 1);
        check("maskedFill", x -> x[0].maskedFill(mask, -3), a);
        check("maskedFill broadcasting the tensor", x -> x[0].maskedFill(mask, 7), leaf(5, 4));
    }

    @Test
    void otherDtypesAreSelectedToo() {
        Tensor l = Tensor.fromLongs(new long[] {10, 11, 12, 13, 14, 15}, 2, 3);
        Tensor idx = Tensor.fromLongs(new long[] {2, 2, 0, 1}, 2, 2);
        Tensor g = l.gather(1, idx);
        assertEquals(DType.INT64, g.dtype());
        assertArrayEquals(new long[] {12, 12, 13, 14}, g.toLongArray());
        assertArrayEquals(new long[] {13, 14, 15, 10, 11, 12}, l.indexSelect(0, Tensor.fromLongs(new long[] {1, 0}))
                .toLongArray());
        Tensor bools = Tensor.fromBooleans(new boolean[] {true, false, true});
        assertArrayEquals(new boolean[] {false, true}, bools.indexSelect(0, Tensor.fromLongs(new long[] {1, 2}))
                .toBooleanArray());
        Tensor cond = Tensor.fromBooleans(new boolean[] {true, false, true});
        Tensor w = Indexing.where(cond, Tensor.fromLongs(new long[] {1, 2, 3}), Tensor.fromLongs(new long[] {-1}));
        assertEquals(DType.INT64, w.dtype());
        assertArrayEquals(new long[] {1, -1, 3}, w.toLongArray());
        Tensor mixed = Indexing.where(cond, Tensor.fromLongs(new long[] {1, 2, 3}), Tensor.full(0.5f, 3));
        assertEquals(DType.FLOAT32, mixed.dtype(), "int64 and float32 promote to float32");
        assertArrayEquals(new float[] {1, 0.5f, 3}, mixed.toArray());
        assertArrayEquals(new long[] {-7, 11, -7}, Tensor.fromLongs(new long[] {10, 11, 12}).maskedFill(cond, -7)
                .toLongArray());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.fromLongs(new long[] {1}).maskedFill(Tensor.fromBooleans(new boolean[] {true}), 0.5));
        assertTrue(e.getMessage().contains("value 0.5 is not an int64"), e.getMessage());
        // A 0-d source and index.
        Tensor scalar = Tensor.full(3f).requiresGrad(true);
        Tensor picked = scalar.gather(0, Tensor.fromLongs(new long[] {0}, new long[0]));
        assertEquals(3f, picked.item());
    }

    @Test
    void indicesAreCheckedAndNamed() {
        Tensor src = Tensor.zeros(3, 4);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                () -> src.gather(1, Tensor.fromLongs(new long[] {0, 4, 1, 2}, 2, 2)));
        assertEquals("gather: index 4 at position [0, 1] is out of range for dimension 1 of size 4", e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> src.gather(0, Tensor.fromLongs(new long[] {0, -1}, 1, 2)));
        assertTrue(e.getMessage().startsWith("gather: index -1 at position [0, 1] is out of range for dimension 0 of"
                + " size 3") && e.getMessage().contains("not wrapped"), e.getMessage());
        e = assertThrows(IndexOutOfBoundsException.class,
                () -> src.indexSelect(-1, Tensor.fromLongs(new long[] {1, 1, 9})));
        assertEquals("indexSelect: index 9 at position [2] is out of range for dimension -1 of size 4", e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> src.indexSelect(0, Tensor.fromLongs(new long[] {-3})));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> src.gather(1, Tensor.zeros(3, 4)));
        assertTrue(bad.getMessage().contains("gather expects int64 indices, got float32"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> src.gather(1, Tensor.zeros(DType.INT64, 4)));
        assertTrue(bad.getMessage().contains("as many dimensions"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> src.gather(1, Tensor.zeros(DType.INT64, 4, 1)));
        assertTrue(bad.getMessage().contains("larger than the input of shape [3, 4] at dimension 0"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> src.indexSelect(0, Tensor.zeros(DType.INT64, 1, 1)));
        assertTrue(bad.getMessage().contains("must be 1-d"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> src.indexSelect(2, Tensor.zeros(DType.INT64, 1)));
        assertTrue(bad.getMessage().contains("dimension 2 out of range"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class,
                () -> Indexing.where(Tensor.ones(3), Tensor.ones(3), Tensor.ones(3)));
        assertTrue(bad.getMessage().contains("where expects a bool condition, got float32"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> src.maskedFill(Tensor.zeros(DType.INT64, 4), 0));
        assertTrue(bad.getMessage().contains("maskedFill expects a bool mask, got int64"), bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class,
                () -> src.maskedFill(Tensor.zeros(DType.BOOL, 2, 4), 0));
        assertTrue(bad.getMessage().contains("do not broadcast"), bad.getMessage());
    }

    @Test
    void embeddingTakesInt64IndicesOfAnyShape() {
        Tensor w = leaf(4, 6, 3);
        Tensor idx = Tensor.fromLongs(new long[] {5, 0, 2, 5, 5, 1, 0, 3}, 2, 2, 2);
        Tensor out = Indexing.embedding(w, idx);
        assertArrayEquals(new long[] {2, 2, 2, 3}, out.shape());
        int[] asInts = {5, 0, 2, 5, 5, 1, 0, 3};
        assertArrayEquals(Indexing.embedding(w, asInts, 2, 2, 2).toArray(), out.toArray());
        assertArrayEquals(w.indexSelect(0, idx.flatten()).toArray(), out.toArray(), "a lookup is an index_select");
        check("embedding with an int64 index", x -> Indexing.embedding(x[0], idx), w);
        w.setGrad(null);
        Tensor padded = Indexing.embedding(w, idx, 5);
        Reduce.sum(padded).backward();
        assertArrayEquals(new float[] {0, 0, 0}, w.grad().select(0, 5).toArray(), "the padding row gets none");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Indexing.embedding(w, Tensor.fromLongs(new long[] {0, 1L << 32}, 1, 2)));
        assertEquals("embedding: index 4294967296 at position [0, 1] is out of range [0, 6)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Indexing.embedding(w, Tensor.zeros(2)));
        assertTrue(e.getMessage().contains("expects int64 indices, got float32"), e.getMessage());

        try (dev.gatun.nn.Embedding emb = new dev.gatun.nn.Embedding(10, 4)) {
            Tensor tokens = Tensor.fromLongs(new long[] {1, 2, 4, 5, 4, 3, 2, 9}, 2, 4);
            Tensor v = emb.forward(tokens);
            assertArrayEquals(new long[] {2, 4, 4}, v.shape());
            assertArrayEquals(emb.weight().select(0, 9).toArray(), v.select(0, 1).select(0, 3).toArray());
            assertArrayEquals(v.toArray(), emb.forward(tokens.to(DType.FLOAT32)).toArray(),
                    "whole numbers in a float32 tensor still work");
            assertArrayEquals(new long[] {4, 4}, emb.forward(tokens.select(0, 0)).shape());
            e = assertThrows(IllegalArgumentException.class,
                    () -> emb.forward(Tensor.fromBooleans(new boolean[] {true})));
            assertTrue(e.getMessage().contains("expects int64 indices, got bool"), e.getMessage());
        }
    }
}
