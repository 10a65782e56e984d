package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The primitive cache stays within its budget, and eviction never destroys a primitive in use. */
class PrimitiveCacheTest {

    /**
     * An eltwise primitive for each of thousands of lengths, as a server sees every batch size: the
     * cache's estimated bytes stay within the budget, old entries are evicted, and an evicted length
     * computes correctly again when it comes back.
     */
    @Test
    void everyNewSizeDoesNotGrowTheCacheBeyondItsBudget() {
        long budget = PrimitiveCache.budget();
        PrimitiveCache.setBudget(1L << 20); // 64 eltwise primitives
        int lengths = 160;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(ValueLayout.JAVA_FLOAT, lengths + 1);
            MemorySegment dst = a.allocate(ValueLayout.JAVA_FLOAT, lengths + 1);
            for (int i = 0; i <= lengths; i++) {
                src.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % 2 == 0 ? i : -i);
            }
            long evictions = PrimitiveCache.evictions();
            for (int n = 1; n <= lengths; n++) {
                Eltwise.forward(Eltwise.Algorithm.RELU, src, 0, dst, 0, n);
                assertTrue(PrimitiveCache.bytesInUse() <= PrimitiveCache.budget(),
                        PrimitiveCache.bytesInUse() + " bytes cached, budget " + PrimitiveCache.budget());
            }
            assertTrue(PrimitiveCache.evictions() > evictions + 80, "no eviction happened");
            Eltwise.forward(Eltwise.Algorithm.RELU, src, 0, dst, 0, 7); // evicted long ago: made again
            assertEquals(6f, dst.getAtIndex(ValueLayout.JAVA_FLOAT, 6));
            assertEquals(0f, dst.getAtIndex(ValueLayout.JAVA_FLOAT, 5));
            OneDnn.CacheStatus status = OneDnn.primitiveCache();
            assertTrue(status.entries() > 0 && status.bytes() <= status.budget(), status.toString());
        } finally {
            PrimitiveCache.setBudget(budget);
        }
    }

    /**
     * oneDNN fixes a primitive's threads when it plans it, so a new thread setting gets primitives of its
     * own, and going back to the old setting finds the old ones; results are the same under each.
     */
    @Test
    void aNewThreadSettingGetsPrimitivesPlannedForIt() {
        int threads = Threads.get();
        int n = 12_345; // a length no other test uses
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(ValueLayout.JAVA_FLOAT, n);
            MemorySegment dst = a.allocate(ValueLayout.JAVA_FLOAT, n);
            for (int i = 0; i < n; i++) {
                src.setAtIndex(ValueLayout.JAVA_FLOAT, i, i % 3 == 0 ? -i : i);
            }
            Threads.set(1);
            Eltwise.forward(Eltwise.Algorithm.RELU, src, 0, dst, 0, n);
            int entries = PrimitiveCache.size();
            Threads.set(2);
            Eltwise.forward(Eltwise.Algorithm.RELU, src, 0, dst, 0, n);
            assertEquals(entries + 1, PrimitiveCache.size(), "no primitive made for two threads");
            assertEquals(0f, dst.getAtIndex(ValueLayout.JAVA_FLOAT, 3));
            assertEquals(4f, dst.getAtIndex(ValueLayout.JAVA_FLOAT, 4));
            Threads.set(1);
            Eltwise.forward(Eltwise.Algorithm.RELU, src, 0, dst, 0, n);
            assertEquals(entries + 1, PrimitiveCache.size(), "the one-thread primitive was not found again");
        } finally {
            Threads.set(threads);
        }
    }

    /** A retired primitive held by an execution is not destroyed; once destroyed, it is refused. */
    @Test
    void aHeldPrimitiveOutlivesItsEviction() {
        PrimitiveCache.Life life = new PrimitiveCache.Life();
        life.acquire("test");
        life.retire(0);
        // Long past the grace period, but held: not destroyed (the primitive handle is never touched).
        assertFalse(life.destroyIfUnused(Long.MAX_VALUE, null));
        life.release();
        life.acquire("test");
        life.release();
    }

    @Test
    void aDestroyedPrimitiveIsRefusedNotRun() {
        Primitives.Primitive p = Primitives.reorder(
                Primitives.f32Desc(new long[] {3}, dev.gatun.bindings.dnnl.Dnnl.dnnl_a(), "test"),
                Primitives.f32Desc(new long[] {3}, dev.gatun.bindings.dnnl.Dnnl.dnnl_a(), "test"));
        PrimitiveCache.Life life = p.life();
        life.retire(0);
        assertTrue(life.destroyIfUnused(Long.MAX_VALUE, p));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> life.acquire("reorder"));
        assertTrue(e.getMessage().contains("evicted"), e.getMessage());
    }
}
