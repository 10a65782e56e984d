package dev.gatun.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native memory that any thread may use, with a lifetime that no thread can cut short under another:
 * the memory of tensors made outside any scope and of {@code Scope.detached()} scopes.
 *
 * <p>Three rules make it safe by construction:
 * <ul>
 *   <li><b>Holds.</b> Every native execution that is handed raw addresses (a oneDNN primitive reads its
 *       operands through {@code dnnl_memory_t} objects, out of the FFM runtime's sight) first takes a
 *       {@link Hold} on each operand's memory, in one place ({@code Primitives.execute}), and lets go
 *       when the call returns. A {@link #close()} meanwhile is deferred: the memory is marked closed at
 *       once (new holds and every later use are refused with an exception that names it) and freed when
 *       the last holder lets go. Downcalls that take segments (BLAS, gatun's kernels) are held by the
 *       FFM runtime itself; a close that meets one is retried until the call has returned.
 *   <li><b>A safety net for forgotten memory.</b> The garbage collector frees memory whose handle
 *       (this object, reachable from every tensor and scope that uses it) became unreachable without a
 *       {@code close()}. Native memory does not press on the Java heap, so forgotten bytes are counted,
 *       and when they exceed {@code gatun.gc.bytes} (default 256 MiB) beyond what was live after the
 *       last collection, a collection is requested, as the JDK does for direct buffers. Scopes remain
 *       the fast path: they free at once and cost the collector nothing.
 *   <li><b>No failed close.</b> A close never throws and never leaks: whatever holds the memory, it is
 *       freed as soon as that ends.
 * </ul>
 */
public final class SharedMemory implements AutoCloseable {

    /** Unreclaimed bytes of forgotten memory tolerated before a garbage collection is requested. */
    public static final long GC_BUDGET = Math.max(1L << 20, Long.getLong("gatun.gc.bytes", 256L << 20));

    private static final Cleaner CLEANER = Cleaner.create();

    /** Memory by the FFM scope of its segments, for {@link #hold}. */
    private static final ConcurrentHashMap<MemorySegment.Scope, State> BY_SCOPE = new ConcurrentHashMap<>();

    /** Bytes allocated in memory not closed yet (live, or forgotten and not yet collected). */
    private static final AtomicLong OPEN_BYTES = new AtomicLong();
    /** {@link #OPEN_BYTES} above which the next allocation requests a collection. */
    private static final AtomicLong COLLECT_ABOVE = new AtomicLong(GC_BUDGET);
    private static final AtomicLong COLLECTIONS = new AtomicLong();
    private static final AtomicLong RECLAIMED = new AtomicLong();
    private static final AtomicLong DEFERRED = new AtomicLong();

    private final State state;

    private SharedMemory(String description) {
        this.state = new State(Arena.ofShared(), description);
        BY_SCOPE.put(state.arena.scope(), state);
        // The action holds the state, never this handle: once the handle is unreachable, nobody can
        // reach the memory but a native call holding it, and the close waits for that.
        CLEANER.register(this, state::reclaim);
    }

    /** New, empty shared memory; {@code description} names its owner in messages ("tensor [3, 4]"). */
    public static SharedMemory open(String description) {
        return new SharedMemory(description);
    }

    /**
     * {@code bytes} of this memory, 64-byte aligned, zero-filled when {@code zero}; large buffers come
     * from {@link MemoryPool}.
     */
    public MemorySegment allocate(long bytes, boolean zero) {
        MemorySegment m;
        synchronized (state) {
            if (state.closing) {
                throw new IllegalStateException(state.description + " is closed");
            }
            m = MemoryPool.allocate(state.arena, bytes);
            state.bytes += bytes;
        }
        if (zero && bytes >= MemoryPool.MIN_POOLED_BYTES) {
            m.fill((byte) 0);
        }
        long open = OPEN_BYTES.addAndGet(bytes);
        long limit = COLLECT_ABOVE.get();
        if (open > limit && COLLECT_ABOVE.compareAndSet(limit, open + GC_BUDGET)) {
            COLLECTIONS.incrementAndGet();
            System.gc(); // the cleaner frees what was forgotten; the next threshold is a budget away
        }
        return m;
    }

    /** Whether this memory is open: not closed by its owner (it may still be held by a running call). */
    public boolean isOpen() {
        synchronized (state) {
            return !state.closing;
        }
    }

    /** The owner named in messages. */
    public String description() {
        return state.description;
    }

    /**
     * Closes this memory: every later use fails, and it is freed now, or, while a native call holds it,
     * when that call returns. Idempotent; never throws.
     */
    @Override
    public void close() {
        state.close(false);
    }

    /**
     * Holds of the memory of {@code segments} for one native call: closes wait until {@link Hold#close()}.
     * Segments of confined arenas (only their owning thread can use or close them) and of the global
     * arena need no hold and are only checked to be alive.
     *
     * @throws IllegalStateException naming {@code what} and the memory's owner when any of it is closed
     */
    static Hold hold(String what, MemorySegment... segments) {
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

    /** The holds of one native call; {@link #close()} lets go of them all. */
    static final class Hold implements AutoCloseable {
        private final List<State> held;

        private Hold(int n) {
            held = new ArrayList<>(n);
        }

        private void add(State s) {
            held.add(s);
        }

        @Override
        public void close() {
            for (State s : held) {
                s.release();
            }
            held.clear();
        }
    }

    /** Bytes of shared memory not closed yet: live, or forgotten and not yet collected. */
    public static long openBytes() {
        return OPEN_BYTES.get();
    }

    /** How many garbage collections forgotten memory has requested. */
    public static long collectionsRequested() {
        return COLLECTIONS.get();
    }

    /** How many memories the garbage collector freed because their handle was forgotten. */
    public static long reclaimedCount() {
        return RECLAIMED.get();
    }

    /** How many closes had to wait for a native call that held the memory. */
    public static long deferredCloses() {
        return DEFERRED.get();
    }

    /** The memory behind a handle: its arena, its holds and whether it is closing. */
    private static final class State {
        final Arena arena;
        final String description;
        /** Guarded by this. */
        long bytes;
        int holds;
        boolean closing;
        boolean freed;

        State(Arena arena, String description) {
            this.arena = arena;
            this.description = description;
        }

        synchronized boolean acquire() {
            if (closing) {
                return false;
            }
            holds++;
            return true;
        }

        void release() {
            boolean free;
            synchronized (this) {
                holds--;
                free = closing && holds == 0 && !freed;
                if (free) {
                    freed = true;
                }
            }
            if (free) {
                free();
            }
        }

        /** Called by the cleaner when the handle became unreachable without a close. */
        void reclaim() {
            if (close(true)) {
                RECLAIMED.incrementAndGet();
            }
        }

        /** Marks closing and frees unless held; whether this call was the one that closed. */
        boolean close(boolean byCollector) {
            boolean free;
            long b;
            synchronized (this) {
                if (closing) {
                    return false;
                }
                closing = true;
                b = bytes;
                free = holds == 0;
                if (free) {
                    freed = true;
                } else {
                    DEFERRED.incrementAndGet();
                }
            }
            long open = OPEN_BYTES.addAndGet(-b);
            // Lower the threshold again when memory goes away, never below one budget.
            COLLECT_ABOVE.accumulateAndGet(Math.max(GC_BUDGET, open + GC_BUDGET), Math::min);
            if (free) {
                free();
            }
            return true;
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
