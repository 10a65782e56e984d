package dev.gatun.backend;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Asynchronous signals held back from a thread while it runs native compute code.
 *
 * <p>oneDNN 2.x's generated f32 GEMM kernels ({@code jit_avx512_common_gemm_f32}, {@code jit_avx_gemm_f32},
 * behind {@code dnnl_sgemm} and the gemm-based primitives) point the stack pointer at a heap buffer while
 * they run. A signal delivered meanwhile has its frame written there, over the heap: glibc then aborts
 * ("corrupted size vs. prev_size", "malloc(): unaligned tcache chunk") or the JVM crashes later
 * (oneDNN issue 4845, fixed in oneDNN 3.11). A JVM signals its threads routinely: JFR's and other
 * profilers' sampling, thread suspension, a {@code SIGPIPE} or {@code SIGQUIT}. With signals sent to
 * every thread of a process every 200 µs, 11 runs of 12 of a training workload aborted; with them held
 * back around the native calls, none did (bench/results/signals.md).
 *
 * <p>So every call that may run those kernels ({@code dnnl_sgemm}, and the primitives whose
 * implementation is gemm-based or a reference one such as the RNNs', see {@link Primitives}) runs
 * between {@link #block()} and {@link #restore(long)}: the thread's asynchronous signals wait (pending,
 * not lost) until the call returns. Synchronous fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
 * SIGSYS) stay deliverable, and glibc keeps its two internal signals deliverable. OpenMP's worker threads
 * block their signals for good ({@link #blockWorkerSignals}). The cost is two {@code pthread_sigmask}
 * system calls per such call (a few hundred nanoseconds on bare metal, about 3 µs each on the
 * paravirtualised 2-core VM of bench/results/signals.md); {@code -Dgatun.signals.block=false} turns it
 * off.
 */
final class Signals {

    /** Whether native calls hold signals back ({@code gatun.signals.block}, default true). */
    static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("gatun.signals.block", "true"));

    private static final int SIG_BLOCK = 0;
    private static final int SIG_SETMASK = 2;
    /** glibc's sigset_t: 1024 bits. */
    private static final long SIGSET_BYTES = 128;

    private static final MethodHandle PTHREAD_SIGMASK;
    private static final MemorySegment BLOCKED;

    static {
        Linker linker = Linker.nativeLinker();
        PTHREAD_SIGMASK = linker.downcallHandle(linker.defaultLookup().find("pthread_sigmask").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS), Linker.Option.critical(false));
        BLOCKED = Arena.global().allocate(SIGSET_BYTES, 8);
        long bits = -1L; // signals 1..64, bit n-1 for signal n
        for (int synchronous : new int[] {4, 5, 7, 8, 11, 31}) { // SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV SIGSYS
            bits &= ~(1L << (synchronous - 1));
        }
        BLOCKED.set(ValueLayout.JAVA_LONG, 0, bits);
    }

    /** Per thread: the mask to restore, and how deep the blocking calls are nested. */
    private static final class State {
        final MemorySegment old = Arena.ofAuto().allocate(SIGSET_BYTES, 8);
        int depth;
    }

    private static final ThreadLocal<State> STATE = ThreadLocal.withInitial(State::new);

    /** gatun_omp_block_worker_signals in gatun's kernels; null until first used. */
    private static volatile MethodHandle blockWorkers;

    /**
     * Forms the calling thread's OpenMP team of {@code threads} and has its workers block their
     * asynchronous signals for good (they are native threads no one needs to signal), so that a profiler
     * signalling every thread cannot hit a worker inside a GEMM kernel. Called when a thread first runs
     * OpenMP code and whenever the thread count changes ({@link Threads#applyToCurrentThread}).
     *
     * @param threads the team's size
     */
    static void blockWorkerSignals(int threads) {
        if (!ENABLED || threads < 2) {
            return;
        }
        MethodHandle h = blockWorkers;
        if (h == null) {
            NativeLibraries.load();
            h = Linker.nativeLinker().downcallHandle(
                    java.lang.foreign.SymbolLookup.loaderLookup().find("gatun_omp_block_worker_signals")
                            .orElseThrow(() -> new IllegalStateException("gatun's kernels lack"
                                    + " gatun_omp_block_worker_signals; rebuild the engine")),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            blockWorkers = h;
        }
        try {
            int ignored = (int) h.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException("gatun_omp_block_worker_signals failed", t);
        }
    }

    private Signals() {}

    /**
     * Holds back the calling thread's asynchronous signals until {@link #restore(long)}; nested calls
     * are counted. Nothing between this and its restore may park a virtual thread (no locks, no I/O):
     * the mask belongs to the carrier thread.
     *
     * @return the token for {@link #restore(long)}
     */
    static long block() {
        if (!ENABLED) {
            return 0;
        }
        State s = STATE.get();
        if (s.depth++ == 0) {
            call(SIG_BLOCK, BLOCKED, s.old);
        }
        return 1;
    }

    /**
     * Undoes {@link #block()}: the signals that arrived meanwhile are delivered now.
     *
     * @param token what {@link #block()} returned
     */
    static void restore(long token) {
        if (token == 0) {
            return;
        }
        State s = STATE.get();
        if (--s.depth == 0) {
            call(SIG_SETMASK, s.old, MemorySegment.NULL);
        }
    }

    private static void call(int how, MemorySegment set, MemorySegment old) {
        int rc;
        try {
            rc = (int) PTHREAD_SIGMASK.invokeExact(how, set, old);
        } catch (Throwable t) {
            throw new IllegalStateException("pthread_sigmask failed", t);
        }
        if (rc != 0) {
            throw new IllegalStateException("pthread_sigmask failed with error " + rc);
        }
    }
}
