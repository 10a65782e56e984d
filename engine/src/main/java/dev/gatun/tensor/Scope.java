package dev.gatun.tensor;

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
 * own their memory themselves (freed by {@link Tensor#close()}). {@link #detached()} makes a scope
 * that is never current, for memory that must be passed around explicitly.
 *
 * <p>The arena is shared, so tensors of a scope may be read and written by any thread; closing it
 * while another thread still works on its tensors makes that thread fail with an exception, never
 * touch freed memory.
 */
public final class Scope implements AutoCloseable {

    private static final ThreadLocal<ArrayDeque<Scope>> CURRENT = ThreadLocal.withInitial(ArrayDeque::new);

    /** Byte alignment of every allocation: a cache line, and what oneDNN and AVX-512 prefer. */
    public static final long ALIGNMENT = 64;

    private final Arena arena = Arena.ofShared();
    private final Thread openedOn;
    private boolean closed;

    private Scope(Thread openedOn) {
        this.openedOn = openedOn;
    }

    /** Opens a scope and makes it the calling thread's current scope until it is closed. */
    public static Scope open() {
        Scope s = new Scope(Thread.currentThread());
        CURRENT.get().push(s);
        return s;
    }

    /** Opens a scope that is never current: tensors go into it only when it is named explicitly. */
    public static Scope detached() {
        return new Scope(null);
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

    MemorySegment allocate(long bytes) {
        if (closed) {
            throw new IllegalStateException("scope is closed");
        }
        return arena.allocate(bytes, ALIGNMENT);
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
