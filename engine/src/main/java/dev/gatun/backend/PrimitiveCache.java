package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * The one cache of oneDNN primitives, shared by every family (convolution, pooling, batch norm, RNN,
 * eltwise, reorders): a server sees every batch size and sequence length, and each adds primitives, so
 * the cache is bounded by bytes ({@code gatun.cache.bytes}, default 64 MiB) and evicts the least
 * recently used entry beyond that.
 *
 * <p>A primitive's bytes are not reported by oneDNN; each family states an estimate per primitive,
 * measured as the resident-set growth per new primitive of that family ({@link #bytesInUse()} is
 * therefore an estimate too).
 *
 * <p>Eviction never destroys a primitive under a running call: an evicted primitive is retired, and
 * destroyed once no execution holds it ({@link Life#acquire}, taken by {@code Primitives.execute}
 * and while it serves as another primitive's creation hint) and a grace period has passed, which
 * covers a caller between looking a primitive up and executing it. A primitive executed after it was
 * destroyed (a caller stalled for longer than the grace period in that window) is refused with an
 * exception, never run.
 */
final class PrimitiveCache {

    /** Estimated bytes the cache may hold. */
    private static volatile long budget = Math.max(1L << 20, Long.getLong("gatun.cache.bytes", 64L << 20));
    /** How long a retired primitive is kept for callers that looked it up just before its eviction. */
    private static final long GRACE_NANOS = 1_000_000_000L;

    /**
     * A cache entry: the family's value, its primitives, their estimated bytes, and when it was last
     * used (a hit writes the time, without any lock).
     */
    private static final class Entry {
        final Object value;
        final Primitives.Primitive[] primitives;
        final long bytes;
        volatile long lastUsed = System.nanoTime();

        Entry(Object value, Primitives.Primitive[] primitives, long bytes) {
            this.value = value;
            this.primitives = primitives;
            this.bytes = bytes;
        }
    }

    /**
     * The entries. A hit is a lock-free lookup, since every op of every thread asks the cache; inserting
     * and evicting (the least recently used, by {@link Entry#lastUsed}) hold the class lock.
     */
    private static final ConcurrentHashMap<Object, Entry> ENTRIES = new ConcurrentHashMap<>();
    /** Guarded by the class lock. */
    private static long bytes;
    private static long evictions;
    private static final List<Primitives.Primitive> RETIRED = new ArrayList<>();

    private PrimitiveCache() {}

    /**
     * A family's key with the thread setting its primitives were created under. oneDNN fixes a primitive's
     * thread count when it creates it (a convolution runs {@code parallel(nthr)} with the count it was
     * planned for, whatever the caller's OpenMP setting is later): after {@link Threads#set} a primitive
     * created before would keep its old team, and a server's workers at one thread each would run two
     * threads apiece on the same cores.
     */
    private record ThreadedKey(Object key, int threads) {}

    /**
     * The cached value of {@code key}, made by {@code create} when absent. {@code create} runs outside
     * the cache's lock (it may look up other entries, as a backward primitive needs its forward one);
     * should two threads create the same entry at once, one value is kept and the other's primitives
     * retired. {@code primitivesOf} lists a value's primitives; each counts {@code bytesPerPrimitive}.
     * Keys of different families must not be equal (each family uses its own key record).
     */
    @SuppressWarnings("unchecked")
    static <V> V get(Object familyKey, Function<Object, V> create,
                     Function<V, Primitives.Primitive[]> primitivesOf, long bytesPerPrimitive) {
        Object key = new ThreadedKey(familyKey, Threads.get());
        Entry hit = ENTRIES.get(key);
        if (hit != null) {
            hit.lastUsed = System.nanoTime();
            return (V) hit.value;
        }
        V value = create.apply(familyKey);
        Primitives.Primitive[] prims = primitivesOf.apply(value);
        synchronized (PrimitiveCache.class) {
            Entry e = ENTRIES.get(key);
            if (e != null) {
                retire(prims);
                return (V) e.value;
            }
            long b = bytesPerPrimitive * prims.length;
            ENTRIES.put(key, new Entry(value, prims, b));
            bytes += b;
            while (bytes > budget && ENTRIES.size() > 1) {
                Map.Entry<Object, Entry> eldest = null;
                for (Map.Entry<Object, Entry> c : ENTRIES.entrySet()) {
                    if (!c.getKey().equals(key)
                            && (eldest == null || c.getValue().lastUsed < eldest.getValue().lastUsed)) {
                        eldest = c;
                    }
                }
                ENTRIES.remove(eldest.getKey());
                bytes -= eldest.getValue().bytes;
                evictions++;
                retire(eldest.getValue().primitives);
            }
            destroyRetired();
            return value;
        }
    }

    /** The budget in estimated bytes. */
    static long budget() {
        return budget;
    }

    /** Sets the budget (at least 1 MiB); entries beyond it are evicted as the next ones arrive. */
    static void setBudget(long bytes) {
        budget = Math.max(1L << 20, bytes);
    }

    /** Estimated bytes of the primitives in the cache. */
    static synchronized long bytesInUse() {
        return bytes;
    }

    /** Entries in the cache. */
    static int size() {
        return ENTRIES.size();
    }

    /** Entries evicted so far. */
    static synchronized long evictions() {
        return evictions;
    }

    /** Evicted primitives not destroyed yet (held by a call, or within the grace period). */
    static synchronized int retiredCount() {
        return RETIRED.size();
    }

    /** Guarded by the class lock. */
    private static void retire(Primitives.Primitive[] prims) {
        long now = System.nanoTime();
        for (Primitives.Primitive p : prims) {
            p.life().retire(now);
            RETIRED.add(p);
        }
    }

    /** Destroys the retired primitives no call holds once their grace period is over. Guarded by the class lock. */
    private static void destroyRetired() {
        long now = System.nanoTime();
        RETIRED.removeIf(p -> p.life().destroyIfUnused(now, p));
    }

    /** Called when an execution lets go of a retired primitive. */
    private static synchronized void released() {
        destroyRetired();
    }

    /**
     * Whether a primitive may run: holds by running executions, and retirement from the cache. Lock-free,
     * since every execution of a primitive that many threads share takes a hold.
     */
    static final class Life {
        /** The value of {@link #holds} once the primitive is destroyed. */
        private static final int DESTROYED = Integer.MIN_VALUE;

        private final AtomicInteger holds = new AtomicInteger();
        private volatile long retiredAt = -1;

        /** Holds the primitive for one execution (or hint use). */
        void acquire(String what) {
            for (;;) {
                int h = holds.get();
                if (h == DESTROYED) {
                    throw new IllegalStateException(what + ": the oneDNN primitive was evicted from the cache and"
                            + " destroyed before this call could use it");
                }
                if (holds.compareAndSet(h, h + 1)) {
                    return;
                }
            }
        }

        void release() {
            if (holds.decrementAndGet() == 0 && retiredAt >= 0) {
                PrimitiveCache.released();
            }
        }

        synchronized void retire(long now) {
            if (retiredAt < 0) {
                retiredAt = now;
            }
        }

        /** Destroys {@code p} if unheld and retired for longer than the grace period; whether it is destroyed. */
        boolean destroyIfUnused(long now, Primitives.Primitive p) {
            if (holds.get() == DESTROYED) {
                return true;
            }
            if (retiredAt < 0 || now - retiredAt < GRACE_NANOS || !holds.compareAndSet(0, DESTROYED)) {
                return false;
            }
            OneDnn.check(Dnnl.dnnl_primitive_destroy(p.handle()), "dnnl_primitive_destroy");
            if (p.descriptor() != null) {
                OneDnn.check(Dnnl.dnnl_primitive_desc_destroy(p.descriptor()), "dnnl_primitive_desc_destroy");
            }
            return true;
        }
    }
}
