package dev.gatun.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * Recycled native memory for large buffers that live for one scope: activations and gradients of a
 * training step, the blocked copies oneDNN computes in. Freshly mapped memory costs a page fault per
 * 4 KiB on first touch, and a training step that frees and re-allocates the same megabytes every time
 * pays that again and again; the pool hands the same blocks back instead.
 *
 * <p>A buffer is handed out as a segment owned by the caller's arena: it becomes unusable when that
 * arena closes (accessing it then throws, as for any closed arena), and at that moment its block
 * returns to the pool. Blocks stay mapped while free, up to {@code gatun.pool.bytes} bytes in all
 * (default 1 GiB); beyond that, returned blocks are released at once. {@link #trim()} releases every
 * free block. Buffers below {@link #MIN_POOLED_BYTES} come straight from the caller's arena.
 *
 * <p>Pooled buffers are not zeroed: callers that need zeros fill them.
 */
public final class MemoryPool {

    /** Smaller buffers are not pooled: the C allocator serves them from memory it keeps anyway. */
    public static final long MIN_POOLED_BYTES = 128 * 1024;

    private static final long ALIGNMENT = 64;
    private static final long GRANULE = 64 * 1024;
    private static final long RETAIN_LIMIT = Long.getLong("gatun.pool.bytes", 1L << 30);

    /** A block of native memory with the arena that maps it. */
    private record Block(Arena arena, MemorySegment memory) {}

    /** Free blocks by capacity. Guarded by the class lock. */
    private static final TreeMap<Long, ArrayDeque<Block>> FREE = new TreeMap<>();
    private static long freeBytes;
    private static long reused;

    private MemoryPool() {}

    /**
     * A 64-byte-aligned segment of {@code bytes} whose lifetime is {@code owner}'s; not zeroed when it
     * comes from the pool (at least {@link #MIN_POOLED_BYTES}).
     */
    public static MemorySegment allocate(Arena owner, long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation of " + bytes + " bytes");
        }
        if (bytes < MIN_POOLED_BYTES) {
            return owner.allocate(bytes, ALIGNMENT);
        }
        Block block = take(bytes);
        try {
            return MemorySegment.ofAddress(block.memory().address()).reinterpret(bytes, owner, ignored -> give(block));
        } catch (RuntimeException e) {
            give(block); // the owner was already closed
            throw e;
        }
    }

    /**
     * As {@link #allocate(Arena, long)}, zero-filled when {@code zero} (small buffers come zeroed from
     * the arena; pooled ones are filled).
     */
    public static MemorySegment allocate(Arena owner, long bytes, boolean zero) {
        MemorySegment m = allocate(owner, bytes);
        if (zero && bytes >= MIN_POOLED_BYTES) {
            m.fill((byte) 0);
        }
        return m;
    }

    /** Bytes of free blocks the pool keeps at most ({@code gatun.pool.bytes}). */
    public static long retainLimit() {
        return RETAIN_LIMIT;
    }

    /** Bytes held in free blocks. */
    public static synchronized long freeBytes() {
        return freeBytes;
    }

    /** How many allocations were served by a block returned earlier. */
    public static synchronized long reusedCount() {
        return reused;
    }

    /** Releases every free block to the operating system. */
    public static void trim() {
        ArrayDeque<Block> released = new ArrayDeque<>();
        synchronized (MemoryPool.class) {
            for (ArrayDeque<Block> blocks : FREE.values()) {
                released.addAll(blocks);
            }
            FREE.clear();
            freeBytes = 0;
        }
        for (Block b : released) {
            b.arena().close();
        }
    }

    private static Block take(long bytes) {
        synchronized (MemoryPool.class) {
            // The smallest free block that fits, unless it would waste more than half of itself.
            Map.Entry<Long, ArrayDeque<Block>> e = FREE.ceilingEntry(bytes);
            if (e != null && e.getKey() <= 2 * bytes) {
                Block b = e.getValue().poll();
                if (e.getValue().isEmpty()) {
                    FREE.remove(e.getKey());
                }
                freeBytes -= b.memory().byteSize();
                reused++;
                return b;
            }
        }
        long capacity = Math.multiplyExact((bytes + GRANULE - 1) / GRANULE, GRANULE);
        // A shared arena per block, so that a block can be released from any thread.
        Arena arena = Arena.ofShared();
        return new Block(arena, arena.allocate(capacity, ALIGNMENT));
    }

    private static void give(Block b) {
        long size = b.memory().byteSize();
        synchronized (MemoryPool.class) {
            if (freeBytes + size <= RETAIN_LIMIT) {
                FREE.computeIfAbsent(size, k -> new ArrayDeque<>()).push(b);
                freeBytes += size;
                return;
            }
        }
        b.arena().close();
    }
}
