package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class MemoryPoolTest {

    /** An odd size no other test allocates, so that the pool's free list for it is this test's own. */
    private static final long BYTES = 3 * MemoryPool.MIN_POOLED_BYTES + 4 * 1234;

    @Test
    void aBufferDiesWithItsArenaAndItsBlockIsReused() {
        MemorySegment first;
        long address;
        try (Arena a = Arena.ofConfined()) {
            first = MemoryPool.allocate(a, BYTES);
            address = first.address();
            assertEquals(BYTES, first.byteSize());
            assertEquals(0, address % 64, "64-byte aligned");
            first.set(ValueLayout.JAVA_FLOAT, 0, 42f);
        }
        MemorySegment stale = first;
        assertThrows(IllegalStateException.class, () -> stale.get(ValueLayout.JAVA_FLOAT, 0),
                "a closed arena's buffer cannot be touched, even though its block lives on in the pool");
        long reusedBefore = MemoryPool.reusedCount();
        try (Arena b = Arena.ofConfined()) {
            MemorySegment second = MemoryPool.allocate(b, BYTES);
            assertEquals(address, second.address(), "the returned block is handed out again");
            assertEquals(reusedBefore + 1, MemoryPool.reusedCount());
        }
    }

    @Test
    void zerosAreZeroOnRecycledMemory() {
        long n = BYTES / Float.BYTES + 17;
        try (Scope s = Scope.open()) {
            Tensor.full(7f, n);
        }
        try (Scope s = Scope.open()) {
            Tensor z = Tensor.zeros(n);
            for (float v : z.toArray()) {
                assertEquals(0f, v);
            }
        }
    }

    @Test
    void smallBuffersBypassThePoolAndTrimReleasesFreeBlocks() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment small = MemoryPool.allocate(a, 100);
            assertEquals(100, small.byteSize());
            assertEquals(0, small.get(ValueLayout.JAVA_BYTE, 99), "small buffers come zeroed from the arena");
            MemoryPool.allocate(a, BYTES);
        }
        assertTrue(MemoryPool.freeBytes() >= BYTES);
        MemoryPool.trim();
        assertEquals(0, MemoryPool.freeBytes());
        assertThrows(IllegalArgumentException.class, () -> MemoryPool.allocate(Arena.global(), -1));
    }
}
