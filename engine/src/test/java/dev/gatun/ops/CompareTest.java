package dev.gatun.ops;

import static dev.gatun.ops.ArgReduceTest.FIXTURE;
import static dev.gatun.ops.ArgReduceTest.bools;
import static dev.gatun.ops.ArgReduceTest.floats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/** Comparisons and logical operations ({@link Compare}) against PyTorch ({@code golden/indexing.json}). */
class CompareTest extends ScopedTest {

    private static final JsonNode C = FIXTURE.get("comparisons");

    @Test
    void comparisonsBroadcastAsPyTorch() {
        Tensor a = Tensor.fromArray(floats(C.get("a")), Fixtures.longs(C.get("a_shape")));
        Tensor b = Tensor.fromArray(floats(C.get("b")), Fixtures.longs(C.get("b_shape")));
        Map<String, BiFunction<Tensor, Tensor, Tensor>> ops = Map.of("eq", Tensor::eq, "ne", Tensor::ne,
                "lt", Tensor::lt, "le", Tensor::le, "gt", Tensor::gt, "ge", Tensor::ge);
        Map<String, BiFunction<Tensor, Double, Tensor>> scalar = Map.of("eq", Tensor::eq, "ne", Tensor::ne,
                "lt", Tensor::lt, "le", Tensor::le, "gt", Tensor::gt, "ge", Tensor::ge);
        ops.forEach((name, op) -> {
            Tensor out = op.apply(a, b);
            assertEquals(DType.BOOL, out.dtype(), name);
            assertArrayEquals(Fixtures.longs(C.get("shape")), out.shape(), name);
            assertArrayEquals(bools(C.get(name)), out.toBooleanArray(), name + " (NaN compares unequal)");
            assertArrayEquals(bools(C.get(name + "_scalar")), scalar.get(name).apply(a, 0.5).toBooleanArray(),
                    name + " with 0.5");
        });
    }

    @Test
    void int64IsPromotedLikePyTorch() {
        Tensor ai = Tensor.fromLongs(Fixtures.longs(C.get("ai")), 3, 4);
        Tensor bf = Tensor.fromArray(floats(C.get("bf")));
        assertArrayEquals(bools(C.get("lt_int_float")), ai.lt(bf).toBooleanArray(), "int64 < float32");
        assertArrayEquals(bools(C.get("eq_int_scalar")), ai.eq(1).toBooleanArray(), "int64 == 1");
        assertArrayEquals(bools(C.get("gt_int_fraction")), ai.gt(0.5).toBooleanArray(), "int64 > 0.5");
        // Large int64 values compare exactly as int64, not through float.
        Tensor big = Tensor.fromLongs(new long[] {(1L << 53) + 1, 1L << 53});
        assertArrayEquals(new boolean[] {true, false},
                big.gt(Tensor.fromLongs(new long[] {1L << 53})).toBooleanArray());
        // A float32 tensor compares with the scalar as float32, as PyTorch does: 0.1f == 0.1.
        assertTrue(Tensor.fromArray(new float[] {0.1f}).eq(0.1).itemBoolean());
        // bool against bool: false < true.
        Tensor t = Tensor.fromBooleans(new boolean[] {false, true});
        assertArrayEquals(new boolean[] {true, false}, t.lt(Tensor.fromBooleans(new boolean[] {true, true}))
                .toBooleanArray());
    }

    @Test
    void logicalOperationsReadNonZeroAsTrue() {
        Tensor fz = Tensor.fromArray(floats(C.get("fz")), 1, 4);
        Tensor bb = Tensor.fromBooleans(bools(C.get("bb")), 3, 1);
        assertArrayEquals(bools(C.get("and")), fz.logicalAnd(bb).toBooleanArray());
        assertArrayEquals(bools(C.get("or")), fz.logicalOr(bb).toBooleanArray());
        assertArrayEquals(bools(C.get("xor")), fz.logicalXor(bb).toBooleanArray());
        assertArrayEquals(new long[] {3, 4}, fz.logicalXor(bb).shape());
        assertArrayEquals(bools(C.get("not")), fz.logicalNot().toBooleanArray(), "NaN is true");
        assertArrayEquals(new boolean[] {true, false, true},
                Compare.logicalNot(Tensor.fromLongs(new long[] {0, 5, 0})).toBooleanArray());
    }

    @Test
    void stridedOperandsAndErrors() {
        Tensor m = Tensor.arange(6).view(2, 3);
        Tensor mt = m.t();
        assertArrayEquals(new boolean[] {false, true, false, true, false, true}, mt.gt(Tensor.fromArray(new float[]
                {2, 0})).toBooleanArray());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(2, 3).eq(Tensor.zeros(4)));
        assertTrue(e.getMessage().contains("do not broadcast"), e.getMessage());
        assertFalse(m.eq(m).logicalNot().toBooleanArray()[0]);
    }
}
