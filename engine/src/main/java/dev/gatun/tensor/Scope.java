package dev.gatun.tensor;

import dev.gatun.backend.MemoryPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * An arena that owns the memory of every tensor created in it; {@link #close()} frees them all at
 * once (the ggml "context" idea). Typical lifetimes: one long-lived scope for parameters and
 * optimizer state, one scope per training step for activations, one per inference request.
 *
 * <pre>{@code
 * try (Scope step = Scope.open()) {      // becomes this thread's current scope
 *     Tensor y = MatMul.matmul(x, w);    // allocated in step
 * }                                      // y's memory is freed here
 * }</pre>
 *
 * <p>{@link #open()} makes the scope current for the calling thread until it is closed: tensors
 * created without an explicit scope land in the innermost current scope, or, when there is none,
 * own their memory themselves (freed by {@link Tensor#close()}). {@link #local()} and
 * {@link #detached()} make scopes that are never current: their tensors are created by naming them.
 *
 * <p>Which threads may touch the tensors:
 * <ul>
 *   <li>{@link #open()} and {@link #local()}: only the creating thread (a confined arena). Native
 *       code may still use the memory from its own threads (OpenMP, OpenBLAS) during a call made by
 *       that thread. Closing is cheap, which suits one scope per training step or per request.
 *   <li>{@link #detached()}: any thread (a shared arena). Closing it costs a handshake with every
 *       thread (tens of microseconds or more), so keep it for long-lived memory such as parameters;
 *       another thread still using a closed scope's tensors fails with an exception, never touches
 *       freed memory.
 * </ul>
 */
public final class Scope implements AutoCloseable {

    private static final ThreadLocal<ArrayDeque<Scope>> CURRENT = ThreadLocal.withInitial(ArrayDeque::new);

    /** Byte alignment of every allocation: a cache line, and what oneDNN and AVX-512 prefer. */
    public static final long ALIGNMENT = 64;

    private final Arena arena;
    /** The thread whose current-scope stack holds this scope, or null if it is never current. */
    private final Thread openedOn;
    private boolean closed;

    private Scope(Arena arena, Thread openedOn) {
        this.arena = arena;
        this.openedOn = openedOn;
    }

    /**
     * Opens a scope confined to the calling thread and makes it that thread's current scope until it
     * is closed.
     */
    public static Scope open() {
        Scope s = new Scope(Arena.ofConfined(), Thread.currentThread());
        CURRENT.get().push(s);
        return s;
    }

    /** A scope confined to the calling thread that is never current (e.g. an op's temporaries). */
    public static Scope local() {
        return new Scope(Arena.ofConfined(), null);
    }

    /** A scope whose tensors any thread may use, never current: for long-lived, shared memory. */
    public static Scope detached() {
        return new Scope(Arena.ofShared(), null);
    }

    /** The innermost open scope of the calling thread, or {@code null}. */
    public static Scope current() {
        ArrayDeque<Scope> stack = CURRENT.get();
        return stack.peek();
    }

    /** Whether this scope is still open. */
    public boolean isOpen() {
        return !closed && arena.scope().isAlive();
    }

    /** {@code bytes} of this scope's memory, zero-filled when {@code zero} (else of unspecified content). */
    MemorySegment allocate(long bytes, boolean zero) {
        if (closed) {
            throw new IllegalStateException("scope is closed");
        }
        return allocate(arena, bytes, zero);
    }

    /**
     * Memory owned by {@code arena}: large buffers are recycled through {@link MemoryPool} (so a step
     * that frees and re-allocates the same sizes touches no fresh pages), small ones come from the arena.
     */
    static MemorySegment allocate(Arena arena, long bytes, boolean zero) {
        MemorySegment m = MemoryPool.allocate(arena, bytes);
        if (zero && bytes >= MemoryPool.MIN_POOLED_BYTES) {
            m.fill((byte) 0);
        }
        return m;
    }

    /**
     * Frees every tensor of this scope. A current scope must be closed on the thread that opened it,
     * innermost first, as try-with-resources does.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (openedOn != null) {
            if (Thread.currentThread() != openedOn) {
                throw new IllegalStateException("a current scope must be closed by the thread that opened it ("
                        + openedOn.getName() + ")");
            }
            ArrayDeque<Scope> stack = CURRENT.get();
            if (stack.peek() != this) {
                throw new IllegalStateException("scopes must be closed innermost first");
            }
            stack.pop();
        }
        closed = true;
        arena.close();
    }
}
