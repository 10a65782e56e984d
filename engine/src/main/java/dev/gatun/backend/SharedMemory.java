package dev.gatun.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native memory that any thread may use, with a lifetime that no thread can cut short under another.
 * Two kinds:
 *
 * <ul>
 *   <li><b>{@link #open Closeable}</b> (detached scopes: parameters, optimizer state), freed at
 *       {@link #close()}. Every native execution that is handed raw addresses (a oneDNN primitive reads
 *       its operands through {@code dnnl_memory_t} objects, out of the FFM runtime's sight) first takes
 *       a {@link Hold} on each operand's memory, in one place ({@code Primitives.execute}), and lets go
 *       when the call returns. A close meanwhile is deferred: the memory is marked closed at once (new
 *       holds and every later use are refused with an exception that names it) and freed when the last
 *       holder lets go. Downcalls that take segments (BLAS, gatun's kernels) are held by the FFM runtime
 *       itself; a close that meets one is retried until the call has returned. A close never throws and
 *       never leaks. Memory whose handle became unreachable without a close is freed by a cleaner.
 *   <li><b>{@link #reclaimable Reclaimable}</b> (tensors made outside any scope): an automatic arena,
 *       freed by the garbage collector once no segment of it is reachable, which includes the segments
 *       a running call or a Java loop is using: safe by construction, whatever the timing. A
 *       {@link #close()} makes every later use fail at once; the memory itself goes at the next
 *       collection.
 * </ul>
 *
 * <p>Native memory does not press on the Java heap, so the bytes of both kinds not freed yet are
 * counted, and when they grow by {@code gatun.gc.bytes} (default 64 MiB) beyond what was there after
 * the last collection this class asked for, it asks for another, as the JDK does for direct buffers.
 * Scopes remain the fast path: they free at once and cost the collector nothing.
 */
public final class SharedMemory implements AutoCloseable {

    /** Bytes allocated beyond the last collection's level before another collection is requested. */
    public static final long GC_BUDGET = Math.max(1L << 20, Long.getLong("gatun.gc.bytes", 64L << 20));

    private static final Cleaner CLEANER = Cleaner.create();

    /** Closeable memory by the FFM scope of its segments, for {@link #hold}. */
    private static final ConcurrentHashMap<MemorySegment.Scope, State> BY_SCOPE = new ConcurrentHashMap<>();

    /** Bytes allocated and not freed yet (live, closed or forgotten). */
    private static final AtomicLong UNFREED_BYTES = new AtomicLong();
    /** {@link #UNFREED_BYTES} above which the next allocation requests a collection. */
    private static final AtomicLong COLLECT_ABOVE = new AtomicLong(GC_BUDGET);
    private static final AtomicLong COLLECTIONS = new AtomicLong();
    private static final AtomicLong RECLAIMED = new AtomicLong();
    private static final AtomicLong DEFERRED = new AtomicLong();

    private final State state;

    private SharedMemory(State state) {
        this.state = state;
    }

    /**
     * New closeable memory (freed at {@link #close()}, deferred while a native call holds it);
     * {@code description} names its owner in messages ("a detached scope").
     */
    public static SharedMemory open(String description) {
        State st = new State(Arena.ofShared(), description, false);
        SharedMemory m = new SharedMemory(st);
        BY_SCOPE.put(st.arena.scope(), st);
        // The action holds the state, never this handle: once the handle is unreachable, nobody can
        // reach the memory but a native call holding it, and the close waits for that.
        CLEANER.register(m, st::reclaim);
        return m;
    }

    /**
     * New reclaimable memory, freed by the garbage collector once no segment of it is reachable;
     * {@code description} names its owner in messages ("tensor [3, 4]").
     */
    public static SharedMemory reclaimable(String description) {
        return new SharedMemory(new State(Arena.ofAuto(), description, true));
    }

    /**
     * {@code bytes} of this memory, 64-byte aligned, zero-filled when {@code zero}; large buffers come
     * from {@link MemoryPool}.
     */
    public MemorySegment allocate(long bytes, boolean zero) {
        MemorySegment m;
        synchronized (state) {
            if (state.isClosing()) {
                throw new IllegalStateException(state.description + " is closed");
            }
            m = MemoryPool.allocate(state.arena, bytes, zero);
            state.bytes += bytes;
            if (state.automatic) {
                // Counted free when the collector frees the arena. The action captures nothing that
                // reaches the arena, or the arena could never become unreachable.
                long b = bytes;
                MemorySegment.NULL.reinterpret(0, state.arena, ignored -> freed(b, true));
            }
        }
        long unfreed = UNFREED_BYTES.addAndGet(bytes);
        long limit = COLLECT_ABOVE.get();
        if (unfreed > limit && COLLECT_ABOVE.compareAndSet(limit, unfreed + GC_BUDGET)) {
            COLLECTIONS.incrementAndGet();
            System.gc(); // frees what is unreachable; the next threshold is a budget away
        }
        return m;
    }

    /** Counts {@code bytes} freed, and lowers the collection threshold again, never below one budget. */
    private static void freed(long bytes, boolean byCollector) {
        long unfreed = UNFREED_BYTES.addAndGet(-bytes);
        COLLECT_ABOVE.accumulateAndGet(Math.max(GC_BUDGET, unfreed + GC_BUDGET), Math::min);
        if (byCollector) {
            RECLAIMED.incrementAndGet();
        }
    }

    /** Whether this memory is open: not closed by its owner (it may still be held by a running call). */
    public boolean isOpen() {
        return !state.isClosing();
    }

    /** The owner named in messages. */
    public String description() {
        return state.description;
    }

    /**
     * Closes this memory: every later use fails. Closeable memory is freed now, or, while a native call
     * holds it, when that call returns; reclaimable memory at the next collection. Idempotent; never
     * throws.
     */
    @Override
    public void close() {
        state.close(false);
    }

    /**
     * Holds the memory of {@code segments} while native code uses it out of the FFM runtime's sight
     * (through raw addresses): a close meanwhile is deferred until {@link Hold#close()}, so the memory is
     * not freed under the native code. For one native call ({@code Primitives.execute}), or for work that
     * outlives the call that started it: a non-blocking MPI collective holds its buffer from its start
     * until it completes ({@code Communicator.Request}). A hold never closed keeps the memory allocated
     * for good (a leak, never a crash).
     *
     * <p>Segments of confined arenas (only their owning thread can use or close them), of reclaimable
     * memory (kept by the segments themselves, which the caller references) and of the global arena need
     * no hold and are only checked to be alive; the caller of work that outlives its call must keep such
     * segments reachable, and cannot stop a confined arena's thread from closing it.
     *
     * @param what     the operation, for the message of a refusal
     * @param segments the memory to hold; null entries are skipped
     * @return the holds; close it once the native code is done with the memory
     * @throws IllegalStateException naming {@code what} and the memory's owner when any of it is closed
     */
    public static Hold hold(String what, MemorySegment... segments) {
        Hold h = new Hold(segments.length);
        try {
            for (MemorySegment s : segments) {
                if (s == null) {
                    continue;
                }
                State st = BY_SCOPE.get(s.scope());
                if (st != null) {
                    if (!st.acquire()) {
                        throw new IllegalStateException(what + ": an operand's memory (" + st.description
                                + ") was closed");
                    }
                    h.add(st);
                } else if (!s.scope().isAlive()) {
                    throw new IllegalStateException(what + ": an operand's memory was freed (its scope or tensor"
                            + " was closed)");
                }
            }
            return h;
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
    }

    /**
     * The holds {@link #hold} took; {@link #close()} lets go of them all, and a close of the memory that
     * waited for them then frees it. Close it once, on one thread at a time (it is not synchronised).
     */
    public static final class Hold implements AutoCloseable {
        private final List<State> held;

        private Hold(int n) {
            held = new ArrayList<>(n);
        }

        private void add(State s) {
            held.add(s);
        }

        /** Lets go of the holds; a later call does nothing. */
        @Override
        public void close() {
            for (State s : held) {
                s.release();
            }
            held.clear();
        }
    }

    /** Bytes of shared memory allocated and not freed yet: live, closed or forgotten. */
    public static long unfreedBytes() {
        return UNFREED_BYTES.get();
    }

    /** How many garbage collections this class has requested. */
    public static long collectionsRequested() {
        return COLLECTIONS.get();
    }

    /**
     * How many allocations the garbage collector freed: of reclaimable memory, and of closeable memory
     * whose handle was forgotten.
     */
    public static long reclaimedCount() {
        return RECLAIMED.get();
    }

    /** How many closes had to wait for a native call that held the memory. */
    public static long deferredCloses() {
        return DEFERRED.get();
    }

    /** The memory behind a handle: its arena, its holds and whether it is closing. */
    private static final class State {
        /** The sign bit of {@link #holds}: set once the memory is closing. */
        private static final int CLOSING = Integer.MIN_VALUE;

        final Arena arena;
        final String description;
        /** An automatic arena, freed by the collector: no holds, no explicit free. */
        final boolean automatic;
        /** Bytes allocated. Guarded by this. */
        long bytes;
        /**
         * The running calls holding the memory, with {@link #CLOSING} set once it is closed: lock-free,
         * since every execution on shared parameters takes a hold. The memory is freed by whoever
         * brings it to exactly {@code CLOSING} (a close finding no hold, or the last release after it).
         */
        private final AtomicInteger holds = new AtomicInteger();

        State(Arena arena, String description, boolean automatic) {
            this.arena = arena;
            this.description = description;
            this.automatic = automatic;
        }

        boolean isClosing() {
            return holds.get() < 0;
        }

        boolean acquire() {
            for (;;) {
                int h = holds.get();
                if (h < 0) {
                    return false;
                }
                if (holds.compareAndSet(h, h + 1)) {
                    return true;
                }
            }
        }

        void release() {
            if (holds.decrementAndGet() == CLOSING) {
                free();
            }
        }

        /** Called by the cleaner when the handle of closeable memory became unreachable without a close. */
        void reclaim() {
            close(true);
        }

        /** Marks closing, and frees closeable memory unless held (then the last release frees it). */
        void close(boolean byCollector) {
            int before;
            long b;
            synchronized (this) { // against a concurrent allocate, for the byte count
                before = holds.getAndUpdate(h -> h < 0 ? h : h | CLOSING);
                if (before < 0 || automatic) {
                    return;
                }
                b = bytes;
            }
            freed(b, byCollector);
            if (before == 0) {
                free();
            } else {
                DEFERRED.incrementAndGet();
            }
        }

        /**
         * Closes the arena. A downcall that took one of its segments (BLAS, a kernel) holds the arena
         * in the FFM runtime while it runs, and the close then fails: it is retried until that returns.
         */
        void free() {
            BY_SCOPE.remove(arena.scope());
            try {
                arena.close();
            } catch (IllegalStateException busy) {
                CompletableFuture.delayedExecutor(1, TimeUnit.MILLISECONDS).execute(this::free);
            }
        }
    }
}
