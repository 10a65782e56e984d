package dev.gatun.backend;

import dev.gatun.bindings.omp.Omp;
import dev.gatun.bindings.openblas.OpenBlas;

/**
 * The one thread setting for OpenBLAS and oneDNN alike.
 *
 * <p>Source of the initial value, first found wins: system property {@code gatun.threads}, environment
 * variable {@code GATUN_THREADS}, the number of available processors.
 *
 * <p>oneDNN in Debian runs on OpenMP (libgomp), whose thread count is a per-thread setting
 * ({@code omp_set_num_threads} changes only the calling thread's value; every other thread starts
 * from {@code OMP_NUM_THREADS}). So the setting is exported as {@code OMP_NUM_THREADS} before libgomp
 * is loaded, which makes it every thread's default, and {@link #set(int)} at run time bumps a generation
 * counter that {@link #applyToCurrentThread()} compares before native work on a thread.
 */
public final class Threads {

    /** The setting; 0 until first read, so that a bad configured value is a clear exception on use. */
    private static volatile int threads;
    private static volatile int generation;
    private static final ThreadLocal<int[]> APPLIED = ThreadLocal.withInitial(() -> new int[] {-1});

    private Threads() {}

    private static int initialThreads() {
        String v = System.getProperty("gatun.threads");
        String source = "gatun.threads";
        if (v == null || v.isBlank()) {
            v = System.getenv("GATUN_THREADS");
            source = "GATUN_THREADS";
        }
        if (v == null || v.isBlank()) {
            return Runtime.getRuntime().availableProcessors();
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n < 1) {
                throw new IllegalArgumentException(source + " must be a positive integer, got " + v);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + " must be a positive integer, got '" + v + "'", e);
        }
    }

    /** The current thread setting. */
    public static int get() {
        int t = threads;
        if (t == 0) {
            synchronized (Threads.class) {
                if (threads == 0) {
                    threads = initialThreads();
                }
                t = threads;
            }
        }
        return t;
    }

    /** Sets the threads used by OpenBLAS and oneDNN from now on. */
    public static synchronized void set(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + n);
        }
        NativeLibraries.load();
        threads = n;
        generation++;
        Blas.setThreads(n);
        applyToCurrentThread();
    }

    /**
     * Makes the calling thread's OpenMP setting match {@link #get()}, and its team's workers deaf to
     * signals ({@link Signals#blockWorkerSignals}); a field read and a comparison when nothing changed. The
     * backend calls this before every OpenMP-parallel native call.
     */
    public static void applyToCurrentThread() {
        int[] applied = APPLIED.get();
        int g = generation;
        if (applied[0] != g) {
            Omp.omp_set_num_threads(get());
            Signals.blockWorkerSignals(get());
            applied[0] = g;
        }
    }

    /** What OpenMP would use for a parallel region started from the calling thread. */
    public static int ompMaxThreads() {
        NativeLibraries.load();
        return Omp.omp_get_max_threads();
    }

    /** What OpenBLAS will use. */
    public static int openblasThreads() {
        NativeLibraries.load();
        return OpenBlas.openblas_get_num_threads();
    }

    /** Called once before libgomp is loaded: the gatun setting wins over a pre-set OMP_NUM_THREADS. */
    static void exportOmpDefault() {
        NativeLibraries.setenv("OMP_NUM_THREADS", Integer.toString(get()));
    }

    /** Applies the setting to OpenBLAS once the library is loaded. */
    static void applyToOpenBlas() {
        Blas.setThreads(get());
    }
}
