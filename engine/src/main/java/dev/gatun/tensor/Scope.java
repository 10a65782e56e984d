package dev.gatun.tensor;

import dev.gatun.backend.MemoryPool;
import dev.gatun.backend.SharedMemory;
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
 *   <li>{@link #detached()}: any thread ({@link SharedMemory}). Closing it costs a handshake with every
 *       thread (tens of microseconds or more), so keep it for long-lived memory such as parameters.
 *       A close while a native call on another thread uses its tensors waits for that call: the
 *       scope is closed at once for every new use (which fails with an exception), and its memory is
 *       freed when the call returns. A detached scope that becomes unreachable without being closed,
 *       with all of its tensors, is freed by the garbage collector.
 * </ul>
 */
public final class Scope implements AutoCloseable {

    private static final ThreadLocal<ArrayDeque<Scope>> CURRENT = ThreadLocal.withInitial(ArrayDeque::new);

    /** Byte alignment of every allocation: a cache line, and what oneDNN and AVX-512 prefer. */
    public static final long ALIGNMENT = 64;

    /** The confined arena of a scope of one thread, or null for a detached scope. */
    private final Arena arena;
    /** The memory of a detached scope, or null. */
    private final SharedMemory shared;
    /** The thread whose current-scope stack holds this scope, or null if it is never current. */
    private final Thread openedOn;
    /** The thread that made this scope (whose confined arena it is). */
    private final Thread madeOn = Thread.currentThread();
    private boolean closed;

    private Scope(Arena arena, SharedMemory shared, Thread openedOn) {
        this.arena = arena;
        this.shared = shared;
        this.openedOn = openedOn;
    }

    /**
     * Opens a scope confined to the calling thread and makes it that thread's current scope until it
     * is closed. Scopes opened this way nest, and must be closed innermost first on the same thread.
     *
     * @return the new scope, now {@link #current()}; close it (try-with-resources) to free its tensors
     */
    public static Scope open() {
        Scope s = new Scope(Arena.ofConfined(), null, Thread.currentThread());
        CURRENT.get().push(s);
        return s;
    }

    /**
     * Makes a scope confined to the calling thread that is never current (e.g. an op's temporaries).
     * Tensors go into it only when it is named at creation.
     *
     * @return the new scope; the caller closes it
     */
    public static Scope local() {
        return new Scope(Arena.ofConfined(), null, null);
    }

    /**
     * Makes a scope whose tensors any thread may use, never current: for long-lived, shared memory such
     * as parameters and optimizer state. Closing it is expensive (see the class comment); a detached
     * scope that becomes unreachable is freed by the garbage collector.
     *
     * @return the new scope; it may be closed from any thread
     */
    public static Scope detached() {
        return new Scope(null, SharedMemory.open("a detached scope"), null);
    }

    /**
     * The calling thread's current scope: where tensors created without a named scope go.
     *
     * @return the innermost scope this thread {@linkplain #open() opened} and has not closed, or
     *         {@code null} if there is none
     */
    public static Scope current() {
        ArrayDeque<Scope> stack = CURRENT.get();
        return stack.peek();
    }

    /**
     * Whether this scope is still open.
     *
     * @return false once {@link #close()} has run (for a detached scope, from the moment a close begins)
     */
    public boolean isOpen() {
        return !closed && (shared != null ? shared.isOpen() : arena.scope().isAlive());
    }

    /** What this scope is, for messages. */
    String describe() {
        return shared != null ? "detached scope" : openedOn != null ? "scope opened on thread " + openedOn.getName()
                : "local scope";
    }

    /**
     * Throws, naming both threads, when a tensor of this scope is used on another thread than the one
     * whose memory it is (a scope opened or made local is confined to its thread); nothing for a detached
     * scope.
     */
    void checkThread(String what) {
        if (arena != null && Thread.currentThread() != madeOn) {
            throw new WrongThreadException(what + " belongs to a " + describe() + " (made on thread "
                    + madeOn.getName() + ") and is used on thread " + Thread.currentThread().getName()
                    + ": a scope's tensors stay on its thread; share tensors across threads through a detached"
                    + " scope (Scope.detached()) or tensors that own their memory");
        }
    }

    /** {@code bytes} of this scope's memory, zero-filled when {@code zero} (else of unspecified content). */
    MemorySegment allocate(long bytes, boolean zero) {
        if (!isOpen()) {
            throw new IllegalStateException("cannot allocate in a closed " + describe());
        }
        // Large buffers are recycled through MemoryPool, so that a step that frees and re-allocates
        // the same sizes touches no fresh pages.
        return shared != null ? shared.allocate(bytes, zero) : MemoryPool.allocate(arena, bytes, zero);
    }

    /**
     * Frees every tensor of this scope; using one of them afterwards throws {@link IllegalStateException}.
     * A current scope must be closed on the thread that opened it, innermost first, as try-with-resources
     * does. Closing a closed scope does nothing.
     *
     * @throws IllegalStateException if this scope was made by {@link #open()} and the calling thread is
     *                               not the one that opened it, or an inner scope of that thread is still
     *                               open
     * @throws WrongThreadException  if this scope was made by {@link #local()} and the calling thread is
     *                               not the one that made it; the scope then stays open, for its maker
     *                               to close
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
        if (shared != null) {
            closed = true;
            shared.close();
            return;
        }
        if (openedOn == null && Thread.currentThread() != madeOn) {
            // Refused before anything changes: the scope stays open, and its maker can still close it.
            throw new WrongThreadException("a local scope must be closed by the thread that made it ("
                    + madeOn.getName() + "), not " + Thread.currentThread().getName());
        }
        arena.close();
        closed = true;
    }
}
