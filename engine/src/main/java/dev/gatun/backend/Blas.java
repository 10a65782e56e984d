package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.openblas.OpenBlas;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Guarded single-precision BLAS: matrix products on oneDNN's {@code dnnl_sgemm} (tiny ones on OpenBLAS,
 * {@link #TINY_MACS}), the rest on OpenBLAS.
 * oneDNN's JIT-compiled AVX2 GEMM, on the same OpenMP threads as its other primitives, took 0.78 of
 * OpenBLAS 0.3.21's time over the products of the MLP and LeNet layers at 2 threads and 0.91 at one,
 * though OpenBLAS wins a few shapes ({@code bench/results/gemm.md}); system property
 * {@code gatun.gemm=openblas}, or {@link #setGemmLibrary}, sends products to OpenBLAS instead.
 *
 * <p>Matrices are row-major; every offset and leading dimension is counted in floats from the start of
 * its segment. Each call checks, in Java, that the region BLAS will read or write lies inside its
 * segment, that leading dimensions are legal and that the output does not overlap an input, so a bad
 * argument is an {@link IllegalArgumentException} and never a stray native write.
 */
public final class Blas {

    private static final long FLOAT_BYTES = Float.BYTES;

    private static volatile boolean gemmOnOneDnn = parseGemmLibrary(System.getProperty("gatun.gemm", "onednn"));

    /**
     * Products of fewer multiply-adds than this run on the calling thread alone. OpenBLAS 0.3.21 splits
     * any product above 2¹⁸ multiply-adds across its threads; up to about 2²⁰ the hand-off costs more
     * than the second core gives back (a 10×256×128 product: 17.7 µs on one thread, 29.1 µs on two; a
     * 128×64×128 one breaks even), and inside a training step, where the pool has gone idle between
     * calls, it cost several times more.
     */
    static final long SINGLE_THREAD_MACS = 1L << 20;

    /** Products below this many multiply-adds OpenBLAS 0.3.21 runs on the calling thread by itself. */
    static final long OPENBLAS_SERIAL_MACS = 1L << 18;

    /**
     * OpenBLAS's thread count is one global, and lowering it frees the work buffers of the threads
     * above the new count. Every call into OpenBLAS holds the read lock; changing the count takes the
     * write lock, so no call is running while buffers come and go. A small product runs single-threaded
     * only when it gets the write lock at once; under contention it runs as it is.
     */
    private static final ReentrantReadWriteLock CALLS = new ReentrantReadWriteLock();

    private Blas() {}

    /**
     * {@code C[m×n] = alpha · op(A) · op(B) + beta · C} with {@code op(A)} of shape m×k and {@code op(B)}
     * of shape k×n. {@code transA} means A is stored k×m (row-major) and used transposed; likewise B.
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, long aOffset, int lda,
                             MemorySegment b, long bOffset, int ldb, float beta,
                             MemorySegment c, long cOffset, int ldc) {
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("sgemm: negative size m=" + m + " n=" + n + " k=" + k);
        }
        long aExtent = matrixExtent("A", transA ? k : m, transA ? m : k, lda, aOffset, a);
        long bExtent = matrixExtent("B", transB ? n : k, transB ? k : n, ldb, bOffset, b);
        long cExtent = matrixExtent("C", m, n, ldc, cOffset, c);
        if (m == 0 || n == 0) {
            return;
        }
        checkNoOverlap("C", c, cOffset, cExtent, "A", a, aOffset, aExtent);
        checkNoOverlap("C", c, cOffset, cExtent, "B", b, bOffset, bExtent);
        NativeLibraries.load();
        if (gemmOnOneDnn) {
            if (k == 0) { // dnnl_sgemm leaves C as it is; the product is empty, so C = beta · C
                scaleRows(m, n, beta, c, cOffset, ldc);
                return;
            }
            if ((long) m * n * k <= TINY_MACS) {
                openBlasSgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc);
                return;
            }
            Threads.applyToCurrentThread();
            if (!transA && transB && m > 1 && m < n && (long) m * n * k >= SWAP_MIN_MACS) {
                // oneDNN's matmul primitive (brgemm) runs this shape at full speed, with no transposes.
                if (ldc == n && (beta == 0f || beta == 1f)
                        && BatchedGemm.multiply(new long[0], m, n, k, alpha, beta, a, aOffset, new long[] {lda, 1},
                                b, bOffset, new long[] {1, ldb}, c, cOffset)) {
                    return;
                }
                swappedProduct(m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc);
                return;
            }
            dnnlSgemm(transA, transB, m, n, k, alpha, slice(a, aOffset), lda, slice(b, bOffset), ldb, beta,
                    slice(c, cOffset), ldc);
            return;
        }
        openBlasSgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc);
    }

    /** OpenBLAS's sgemm on checked operands. */
    private static void openBlasSgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                      MemorySegment a, long aOffset, int lda, MemorySegment b, long bOffset, int ldb,
                                      float beta, MemorySegment c, long cOffset, int ldc) {
        Threads.applyToCurrentThread(); // OpenBLAS shares OpenMP's workers with oneDNN
        int threads = Threads.get();
        long macs = (long) m * n * k;
        // Below OPENBLAS_SERIAL_MACS OpenBLAS runs on the calling thread by itself.
        boolean alone = threads > 1 && macs >= OPENBLAS_SERIAL_MACS && macs < SINGLE_THREAD_MACS
                && CALLS.writeLock().tryLock();
        Lock held = alone ? CALLS.writeLock() : CALLS.readLock();
        if (alone) {
            OpenBlas.openblas_set_num_threads(1);
        } else {
            held.lock();
        }
        try {
            OpenBlas.cblas_sgemm(OpenBlas.CblasRowMajor(),
                    transA ? OpenBlas.CblasTrans() : OpenBlas.CblasNoTrans(),
                    transB ? OpenBlas.CblasTrans() : OpenBlas.CblasNoTrans(),
                    m, n, k, alpha,
                    slice(a, aOffset), lda, slice(b, bOffset), ldb, beta, slice(c, cOffset), ldc);
        } finally {
            if (alone) {
                OpenBlas.openblas_set_num_threads(threads);
            }
            held.unlock();
        }
    }

    /**
     * Products of at most this many multiply-adds run on OpenBLAS even when oneDNN is the GEMM library:
     * below 2¹⁸ OpenBLAS 0.3.21 runs them on the calling thread with its small-matrix kernels, where each
     * {@code dnnl_sgemm} call costs 3-5 µs whatever the size (and two signal-mask changes, see
     * {@link Signals}). Best of many calls on the Zen 5 VM of bench/results, oneDNN against OpenBLAS:
     * 32×16×16 4.89 against 0.72 µs at one thread, 3.14 against 0.58 at two; 32×10×16 3.83 against 0.40;
     * around 400,000 multiply-adds the two are even (32×784×16 9.55 against 10.70 µs), and oneDNN is 1.6-2.5
     * times faster on the large products of the benchmarks.
     */
    static final long TINY_MACS = 1L << 16;

    /** A·Bᵀ products of at least this many multiply-adds may run transposed ({@link #swappedProduct}). */
    static final long SWAP_MIN_MACS = 1L << 22;


    /**
     * C = alpha·A·Bᵀ + beta·C (A m×k, B n×k, m < n) on oneDNN as Cᵀ = alpha·B·Aᵀ + beta·Cᵀ in a scratch
     * matrix, then transposed into C. oneDNN 2.6's AVX-512 GEMM runs A·Bᵀ with fewer rows in A than in B
     * well below its speed the other way round: a linear layer's forward product, a batch of 64 against
     * 500 outputs of 2,450 inputs, took 2.05 ms; B·Aᵀ took 1.14 ms (2 threads), and the two transposes
     * of 64×500 floats are small beside either. Used where the matmul primitive cannot take the operands
     * ({@link BatchedGemm}, which computes the product in place: on Zen 5, one thread, the MLP's
     * 128×784·784×512 product ran at 200 GFLOP/s there, and mlp_train_b128_adam's step took 1.93 ms
     * against 2.63 with the Java transposes).
     */
    private static void swappedProduct(int m, int n, int k, float alpha, MemorySegment a, long aOffset, int lda,
                                       MemorySegment b, long bOffset, int ldb, float beta, MemorySegment c,
                                       long cOffset, int ldc) {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment t = MemoryPool.allocate(call, (long) m * n * FLOAT_BYTES);
            if (beta != 0) {
                transpose(c, cOffset, ldc, m, n, t, 0, m);
            } else {
                t.fill((byte) 0); // a pooled block may hold anything, NaN included
            }
            dnnlSgemm(false, true, n, m, k, alpha, slice(b, bOffset), ldb, slice(a, aOffset), lda, beta, t, m);
            transpose(t, 0, m, n, m, c, cOffset, ldc);
        }
    }

    /** oneDNN's sgemm on checked operands, with the thread's signals held back (see {@link Signals}). */
    private static void dnnlSgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, MemorySegment a,
                                  int lda, MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        long signals = Signals.block(); // oneDNN's GEMM kernels must not take a signal
        try {
            OneDnn.check(Dnnl.dnnl_sgemm(transA ? (byte) 'T' : (byte) 'N', transB ? (byte) 'T' : (byte) 'N', m, n,
                    k, alpha, a, lda, b, ldb, beta, c, ldc), "dnnl_sgemm");
        } finally {
            Signals.restore(signals);
        }
    }

    /** to[j][i] = from[i][j] for i < rows, j < cols (row-major, leading dimensions in floats). */
    private static void transpose(MemorySegment from, long fromOffset, int ldFrom, int rows, int cols,
                                  MemorySegment to, long toOffset, int ldTo) {
        for (int i = 0; i < rows; i++) {
            long src = (fromOffset + (long) i * ldFrom) * FLOAT_BYTES;
            for (int j = 0; j < cols; j++) {
                to.set(ValueLayout.JAVA_FLOAT, (toOffset + (long) j * ldTo + i) * FLOAT_BYTES,
                        from.get(ValueLayout.JAVA_FLOAT, src + (long) j * FLOAT_BYTES));
            }
        }
    }

    private static boolean parseGemmLibrary(String library) {
        String v = library == null ? "" : library.trim();
        return switch (v) {
            case "onednn" -> true;
            case "openblas" -> false;
            default -> throw new IllegalArgumentException(
                    "the GEMM library (gatun.gemm) must be onednn or openblas, got '" + v + "'");
        };
    }

    private static void scaleRows(int m, int n, float beta, MemorySegment c, long cOffset, int ldc) {
        for (int i = 0; i < m; i++) {
            MemorySegment row = c.asSlice((cOffset + (long) i * ldc) * FLOAT_BYTES, n * FLOAT_BYTES);
            if (beta == 0f) {
                row.fill((byte) 0);
            } else if (beta != 1f) {
                for (long j = 0; j < n; j++) {
                    row.setAtIndex(ValueLayout.JAVA_FLOAT, j, beta * row.getAtIndex(ValueLayout.JAVA_FLOAT, j));
                }
            }
        }
    }

    /** Which library {@link #sgemm} calls: {@code onednn} or {@code openblas}. */
    public static String gemmLibrary() {
        return gemmOnOneDnn ? "onednn" : "openblas";
    }

    /** Whether oneDNN computes the matrix products. */
    static boolean onOneDnn() {
        return gemmOnOneDnn;
    }

    /** Sends matrix products to {@code onednn} or {@code openblas} from now on. */
    public static void setGemmLibrary(String library) {
        gemmOnOneDnn = parseGemmLibrary(library);
    }

    /** {@code y = alpha · op(A) · x + beta · y}, A stored m×n row-major; op(A) is A or Aᵀ. */
    public static void sgemv(boolean transA, int m, int n, float alpha,
                             MemorySegment a, long aOffset, int lda,
                             MemorySegment x, long xOffset, int incx, float beta,
                             MemorySegment y, long yOffset, int incy) {
        if (m < 0 || n < 0) {
            throw new IllegalArgumentException("sgemv: negative size m=" + m + " n=" + n);
        }
        long aExtent = matrixExtent("A", m, n, lda, aOffset, a);
        int xLen = transA ? m : n;
        int yLen = transA ? n : m;
        long xExtent = vectorExtent("x", xLen, incx, xOffset, x);
        long yExtent = vectorExtent("y", yLen, incy, yOffset, y);
        if (yLen == 0) {
            return;
        }
        checkNoOverlap("y", y, yOffset, yExtent, "A", a, aOffset, aExtent);
        checkNoOverlap("y", y, yOffset, yExtent, "x", x, xOffset, xExtent);
        NativeLibraries.load();
        CALLS.readLock().lock();
        try {
            OpenBlas.cblas_sgemv(OpenBlas.CblasRowMajor(), transA ? OpenBlas.CblasTrans() : OpenBlas.CblasNoTrans(),
                    m, n, alpha, slice(a, aOffset), lda, slice(x, xOffset), incx, beta, slice(y, yOffset), incy);
        } finally {
            CALLS.readLock().unlock();
        }
    }

    /** {@code y += alpha · x} over n elements. */
    public static void saxpy(int n, float alpha, MemorySegment x, long xOffset, int incx,
                             MemorySegment y, long yOffset, int incy) {
        checkLength("saxpy", n);
        long xExtent = vectorExtent("x", n, incx, xOffset, x);
        long yExtent = vectorExtent("y", n, incy, yOffset, y);
        if (n == 0) {
            return;
        }
        checkNoOverlap("y", y, yOffset, yExtent, "x", x, xOffset, xExtent);
        NativeLibraries.load();
        CALLS.readLock().lock();
        try {
            OpenBlas.cblas_saxpy(n, alpha, slice(x, xOffset), incx, slice(y, yOffset), incy);
        } finally {
            CALLS.readLock().unlock();
        }
    }

    /** {@code x *= alpha} over n elements. */
    public static void sscal(int n, float alpha, MemorySegment x, long xOffset, int incx) {
        checkLength("sscal", n);
        vectorExtent("x", n, incx, xOffset, x);
        if (n == 0) {
            return;
        }
        NativeLibraries.load();
        CALLS.readLock().lock();
        try {
            OpenBlas.cblas_sscal(n, alpha, slice(x, xOffset), incx);
        } finally {
            CALLS.readLock().unlock();
        }
    }

    /** The dot product of n elements of x and y. */
    public static float sdot(int n, MemorySegment x, long xOffset, int incx, MemorySegment y, long yOffset, int incy) {
        checkLength("sdot", n);
        vectorExtent("x", n, incx, xOffset, x);
        vectorExtent("y", n, incy, yOffset, y);
        if (n == 0) {
            return 0f;
        }
        NativeLibraries.load();
        CALLS.readLock().lock();
        try {
            return OpenBlas.cblas_sdot(n, slice(x, xOffset), incx, slice(y, yOffset), incy);
        } finally {
            CALLS.readLock().unlock();
        }
    }

    /** Sets OpenBLAS's thread count, once no call is running. */
    static void setThreads(int n) {
        CALLS.writeLock().lock();
        try {
            OpenBlas.openblas_set_num_threads(n);
        } finally {
            CALLS.writeLock().unlock();
        }
    }

    /** OpenBLAS's build description, e.g. {@code OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64}. */
    public static String config() {
        NativeLibraries.load();
        return cString(OpenBlas.openblas_get_config());
    }

    /** The CPU kernel OpenBLAS picked at load time, e.g. {@code Haswell}. */
    public static String coreName() {
        NativeLibraries.load();
        return cString(OpenBlas.openblas_get_corename());
    }

    static String cString(MemorySegment p) {
        if (p.equals(MemorySegment.NULL)) {
            return "";
        }
        // A C string returned by the library: its length is unknown until the terminating zero.
        return p.reinterpret(4096).getString(0);
    }

    private static void checkLength(String call, int n) {
        if (n < 0) {
            throw new IllegalArgumentException(call + ": negative length " + n);
        }
    }

    /** Floats touched by a rows×cols row-major matrix with leading dimension ld, validated. */
    private static long matrixExtent(String name, int rows, int cols, int ld, long offset, MemorySegment s) {
        if (ld < Math.max(1, cols)) {
            throw new IllegalArgumentException("leading dimension of " + name + " is " + ld + ", must be >= max(1, "
                    + cols + ")");
        }
        long extent = rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols;
        checkInside(name, offset, extent, s);
        return extent;
    }

    private static long vectorExtent(String name, int n, int inc, long offset, MemorySegment s) {
        if (inc <= 0) {
            throw new IllegalArgumentException("increment of " + name + " must be positive, got " + inc);
        }
        long extent = n == 0 ? 0 : (long) (n - 1) * inc + 1;
        checkInside(name, offset, extent, s);
        return extent;
    }

    private static void checkInside(String name, long offset, long extentFloats, MemorySegment s) {
        long capacity = s.byteSize() / FLOAT_BYTES;
        if (offset < 0 || offset + extentFloats > capacity) {
            throw new IllegalArgumentException(name + " needs floats [" + offset + ", " + (offset + extentFloats)
                    + ") but its segment holds " + capacity);
        }
        if (s.address() % FLOAT_BYTES != 0) {
            throw new IllegalArgumentException(name + " is not float-aligned");
        }
    }

    private static void checkNoOverlap(String outName, MemorySegment out, long outOffset, long outExtent,
                                       String inName, MemorySegment in, long inOffset, long inExtent) {
        if (outExtent == 0 || inExtent == 0) {
            return;
        }
        long o0 = out.address() + outOffset * FLOAT_BYTES;
        long o1 = o0 + outExtent * FLOAT_BYTES;
        long i0 = in.address() + inOffset * FLOAT_BYTES;
        long i1 = i0 + inExtent * FLOAT_BYTES;
        if (o0 < i1 && i0 < o1) {
            throw new IllegalArgumentException("output " + outName + " overlaps input " + inName);
        }
    }

    private static MemorySegment slice(MemorySegment s, long offsetFloats) {
        return offsetFloats == 0 ? s : s.asSlice(offsetFloats * FLOAT_BYTES);
    }
}
