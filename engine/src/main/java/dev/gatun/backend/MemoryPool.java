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
        if (Guard.ENABLED) {
            return Guard.allocate(owner, bytes);
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

    /**
     * A debugging mode for native code that writes where it should not ({@code -Dgatun.debug.guard=true}):
     * every buffer, of any size, gets memory of its own between two guard zones filled with a pattern,
     * and is zero-filled. When its owner closes, the guard zones are checked (a change means a native call
     * wrote before or past the buffer), and the buffer is filled with another pattern and kept in
     * quarantine, up to {@code gatun.debug.quarantine.bytes} (default 256 MiB), before it is released;
     * a change found when it leaves quarantine, or by {@link #checkGuards()}, means a native call wrote
     * into it after it was freed. Each finding is printed to standard error with the stack of the
     * buffer's allocation. Slow and memory-hungry: for finding bugs, never for production.
     */
    private static final class Guard {
        static final boolean ENABLED = Boolean.getBoolean("gatun.debug.guard");
        static final long ZONE = 4096;
        static final byte GUARD_BYTE = (byte) 0xA5;
        static final byte FREED_BYTE = (byte) 0xDB;
        static final long QUARANTINE_LIMIT = Long.getLong("gatun.debug.quarantine.bytes", 256L << 20);

        /** A guarded buffer: its mapping, the data's offset and size, and where it was allocated. */
        record Guarded(Arena arena, MemorySegment all, long bytes, Throwable site) {
            MemorySegment data() {
                return all.asSlice(ZONE, bytes);
            }
        }

        /** Guarded by the class lock of Guard. */
        static final ArrayDeque<Guarded> QUARANTINE = new ArrayDeque<>();
        static long quarantined;
        static final java.util.concurrent.atomic.AtomicLong VIOLATIONS = new java.util.concurrent.atomic.AtomicLong();
        /** The buffers not yet freed, whose guard zones {@link #checkGuards()} checks too. */
        static final java.util.Set<Guarded> LIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

        static {
            if (ENABLED) {
                Runtime.getRuntime().addShutdownHook(new Thread(MemoryPool::checkGuards, "gatun-guard-check"));
            }
        }

        static MemorySegment allocate(Arena owner, long bytes) {
            long tail = ZONE + (ALIGNMENT - bytes % ALIGNMENT) % ALIGNMENT;
            Arena arena = Arena.ofShared();
            MemorySegment all = arena.allocate(ZONE + bytes + tail, ALIGNMENT);
            all.fill(GUARD_BYTE);
            Guarded g = new Guarded(arena, all, bytes, new Throwable("buffer of " + bytes + " bytes allocated"));
            g.data().fill((byte) 0);
            LIVE.add(g);
            try {
                return MemorySegment.ofAddress(all.address() + ZONE).reinterpret(bytes, owner, ignored -> free(g));
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        }

        static void free(Guarded g) {
            LIVE.remove(g);
            checkZones(g);
            g.data().fill(FREED_BYTE);
            java.util.List<Guarded> released = new java.util.ArrayList<>();
            synchronized (Guard.class) {
                QUARANTINE.addLast(g);
                quarantined += g.all().byteSize();
                while (quarantined > QUARANTINE_LIMIT && QUARANTINE.size() > 1) {
                    Guarded old = QUARANTINE.pollFirst();
                    quarantined -= old.all().byteSize();
                    released.add(old);
                }
            }
            for (Guarded old : released) {
                checkFreed(old);
                old.arena().close();
            }
        }

        static void checkZones(Guarded g) {
            long head = firstDifferent(g.all().asSlice(0, ZONE), GUARD_BYTE);
            long tail = firstDifferent(g.all().asSlice(ZONE + g.bytes()), GUARD_BYTE);
            if (head >= 0) {
                report("a native write BEFORE the start of a buffer, at byte " + (head - ZONE) + " of it", g);
                g.all().asSlice(0, ZONE).fill(GUARD_BYTE);
            }
            if (tail >= 0) {
                report("a native write PAST the end of a buffer, at byte " + (g.bytes() + tail) + " of it", g);
                g.all().asSlice(ZONE + g.bytes()).fill(GUARD_BYTE);
            }
        }

        static void checkFreed(Guarded g) {
            long at = firstDifferent(g.data(), FREED_BYTE);
            if (at >= 0) {
                report("a native write into a buffer AFTER it was freed, at byte " + at + " of it", g);
                g.data().fill(FREED_BYTE); // reported once; a later check finds only later writes
            }
        }

        static long firstDifferent(MemorySegment m, byte expected) {
            for (long i = 0; i < m.byteSize(); i++) {
                if (m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != expected) {
                    return i;
                }
            }
            return -1;
        }

        static void report(String what, Guarded g) {
            VIOLATIONS.incrementAndGet();
            java.io.StringWriter w = new java.io.StringWriter();
            g.site().printStackTrace(new java.io.PrintWriter(w));
            System.err.println("gatun guard: " + what + " (" + g.bytes() + " bytes); " + w);
        }
    }

    /**
     * Checks the guard zones of every live buffer and every buffer in quarantine for writes after it was
     * freed (see {@code -Dgatun.debug.guard=true}); does nothing when the mode is off. A buffer freed
     * meanwhile on another thread may be reported falsely: call it when no native call runs.
     *
     * @return the number of violations found since the process started (0 when the mode is off)
     */
    public static long checkGuards() {
        if (!Guard.ENABLED) {
            return 0;
        }
        java.util.List<Guard.Guarded> all;
        synchronized (Guard.class) {
            all = new java.util.ArrayList<>(Guard.QUARANTINE);
        }
        for (Guard.Guarded g : all) {
            try {
                Guard.checkFreed(g);
            } catch (IllegalStateException released) {
                // left quarantine (and was checked then) while this ran
            }
        }
        for (Guard.Guarded g : Guard.LIVE) {
            Guard.checkZones(g);
        }
        return Guard.VIOLATIONS.get();
    }
}
