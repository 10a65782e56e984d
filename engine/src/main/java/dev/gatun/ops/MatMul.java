package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.BatchedGemm;
import dev.gatun.backend.Blas;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Matrix products with {@code torch.matmul} semantics, on OpenBLAS.
 *
 * <ul>
 *   <li>1-D · 1-D: the dot product, a 0-d tensor ({@code sdot}).
 *   <li>2-D · 1-D and 1-D · 2-D: matrix-vector ({@code sgemv}).
 *   <li>otherwise: batched matrix products over the broadcast leading dimensions ({@code sgemm} per
 *       batch, or one {@code sgemm} over all rows when the right operand is shared by the batch). A
 *       1-D left operand acts as a row, a 1-D right operand as a column, and that dimension is dropped.
 * </ul>
 *
 * A transposed operand (a view whose last two strides are swapped) goes to BLAS as a transpose flag
 * with its leading dimension, never copied; only operands whose last two dimensions are strided in
 * neither layout (e.g. a slice with step, a broadcast row) are copied first.
 *
 * <p>The products are methods of {@link Tensor} too ({@code a.matmul(b)}, {@code a.mm(b)},
 * {@code a.bmm(b)}).
 */
public final class MatMul {

    private MatMul() {}

    /**
     * {@code a · b} in a new tensor (in the current scope, or owning its memory), with
     * {@code torch.matmul}'s rules for 1-d operands and batch broadcasting (see the class comment).
     * Differentiable: ∂a = g·bᵀ and ∂b = aᵀ·g, each summed over the batch dimensions it was broadcast
     * along.
     *
     * @param a the left operand, at least 1-d
     * @param b the right operand, at least 1-d
     * @return the product, a new contiguous tensor
     * @throws IllegalArgumentException if an operand is 0-d, the inner dimensions differ, the batch
     *     dimensions do not broadcast, or a size exceeds BLAS's 32-bit sizes (the message names the shapes)
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        long[] outShape = outputShape(a, b);
        Tensor out = Tensor.empty(outShape);  // every element is written (beta = 0)
        try {
            compute(a, b, out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return Autograd.record(out, "matmul", g -> matmulBackward(a, b, g), a, b);
    }

    /**
     * The product of two matrices ({@code torch.mm}): as {@link #matmul(Tensor, Tensor)}, but both
     * operands must be 2-d.
     *
     * @param a the left matrix [n, k]
     * @param b the right matrix [k, m]
     * @return a new tensor [n, m]
     * @throws IllegalArgumentException if an operand is not 2-d or the inner sizes differ
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor mm(Tensor a, Tensor b) {
        a.checkAlive();
        b.checkAlive();
        if (a.dim() != 2 || b.dim() != 2) {
            throw new IllegalArgumentException("mm: expected two 2-d tensors, got shapes " + Arrays.toString(a.shape())
                    + " and " + Arrays.toString(b.shape()));
        }
        return matmul(a, b);
    }

    /**
     * Batched matrix products without broadcasting ({@code torch.bmm}): both operands 3-d with the same
     * batch size.
     *
     * @param a the left matrices [batch, n, k]
     * @param b the right matrices [batch, k, m]
     * @return a new tensor [batch, n, m]
     * @throws IllegalArgumentException if an operand is not 3-d, the batch sizes differ or the inner sizes
     *     differ
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor bmm(Tensor a, Tensor b) {
        a.checkAlive();
        b.checkAlive();
        if (a.dim() != 3 || b.dim() != 3 || a.size(0) != b.size(0)) {
            throw new IllegalArgumentException("bmm: expected two 3-d tensors of one batch size, got shapes "
                    + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
        }
        return matmul(a, b);
    }

    private static Tensor[] matmulBackward(Tensor a, Tensor b, Tensor g) {
        // Promote 1-d operands as the forward did, and give g the dimensions they dropped.
        Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
        Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
        Tensor g2;
        if (a.dim() == 1 && b.dim() == 1) {
            g2 = g.reshape(1, 1);
        } else if (a.dim() == 1) {
            g2 = g.unsqueeze(-2);
        } else if (b.dim() == 1) {
            g2 = g.unsqueeze(-1);
        } else {
            g2 = g;
        }
        Tensor da = null;
        Tensor db = null;
        if (a.requiresGrad()) {
            da = Kernels.sumToShape(matmul(g2, b2.transpose(-1, -2)), a2.shape()).reshape(a.shape());
        }
        if (b.requiresGrad()) {
            db = Kernels.sumToShape(matmul(a2.transpose(-1, -2), g2), b2.shape()).reshape(b.shape());
        }
        return new Tensor[] {da, db};
    }

    /**
     * {@code x · wᵀ + bias}, the fully connected layer with PyTorch's weight layout: x [..., in],
     * weight [out, in], bias [out] or null. Recorded as one node: ∂x = g·w, ∂w = gᵀ·x (over all
     * leading dimensions of x), ∂bias = Σ g over them.
     *
     * @param x the input, [..., in]
     * @param weight the weight, [out, in]
     * @param bias the bias, [out], or null for none
     * @return a new tensor [..., out]
     * @throws IllegalArgumentException if the shapes do not fit together (the message names them)
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        x.checkAlive();
        weight.checkAlive();
        if (weight.dim() != 2) {
            throw new IllegalArgumentException("linear: weight must be [out, in], got " + Arrays.toString(weight.shape()));
        }
        long in = weight.size(1);
        long outFeatures = weight.size(0);
        if (x.dim() == 0 || x.size(-1) != in) {
            throw new IllegalArgumentException("linear: input of shape " + Arrays.toString(x.shape()) + " does not end in "
                    + in + " features (weight " + Arrays.toString(weight.shape()) + ")");
        }
        if (bias != null) {
            bias.checkAlive();
            if (bias.dim() != 1 || bias.size(0) != outFeatures) {
                throw new IllegalArgumentException("linear: bias must be [" + outFeatures + "], got "
                        + Arrays.toString(bias.shape()));
            }
        }
        Tensor y;
        try (var ignored = Autograd.noGrad()) {
            Tensor wt = weight.t();
            if (bias == null) {
                y = matmul(x, wt);
            } else {
                // Start from the bias in every row and let the GEMM add x·wᵀ to it (beta = 1).
                long[] shape = outputShape(x, wt);
                y = Tensor.empty(shape);
                try {
                    if (!biasInProduct(x, weight, bias, y)) {
                        fillRows(y, bias.contiguous());
                        compute(x, wt, y, 1f);
                    }
                } catch (RuntimeException e) {
                    y.close();
                    throw e;
                }
            }
        }
        return Autograd.record(y, "linear", g -> {
            Tensor dx = x.requiresGrad() ? matmul(g, weight) : null;
            Tensor dw = null;
            Tensor dbias = null;
            if (weight.requiresGrad() || (bias != null && bias.requiresGrad())) {
                Tensor g2 = g.reshape(-1, outFeatures);
                if (weight.requiresGrad()) {
                    // A parameter's gradient goes straight into its buffer: the GEMM overwrites it after
                    // zeroGrad or adds to it (beta = 1), with no temporary and no copy.
                    Tensor x2 = x.reshape(-1, in);
                    Tensor sink = weight.gradSink();
                    if (sink != null) {
                        compute(g2.t(), x2, sink, weight.gradOverwrites() ? 0f : 1f);
                        weight.gradWritten();
                    } else {
                        dw = matmul(g2.t(), x2);
                    }
                }
                if (bias != null && bias.requiresGrad()) {
                    Tensor sink = bias.gradSink();
                    if (sink != null) {
                        // Σ over rows = g2ᵀ · 1, one GEMV into the gradient.
                        compute(g2.t(), Tensor.ones(g2.size(0)), sink, bias.gradOverwrites() ? 0f : 1f);
                        bias.gradWritten();
                    } else {
                        dbias = Kernels.sum(g2, new int[] {0}, false);
                    }
                }
            }
            return new Tensor[] {dx, dw, dbias};
        }, x, weight, bias);
    }

    /**
     * A batch of up to this many single-row products (one query against each head's keys, as a GPT generates)
     * runs as GEMV calls rather than one batched matmul primitive.
     */
    static final long GEMV_BATCH_MAX = 16;

    /** Rows from which a linear layer adds its bias in the product's own pass rather than in rows laid first. */
    static final long BIAS_IN_PRODUCT_MIN_ROWS = 64;
    /**
     * Output features from which it does: a narrow output (a discriminator's one logit) is a matrix-vector
     * product, left to the GEMM library (the matmul primitive took 0.125 ms a call for 64 × 6272 · 6272 × 1
     * at 2 threads, by ONEDNN_VERBOSE).
     */
    static final long BIAS_IN_PRODUCT_MIN_COLUMNS = 32;

    /**
     * y = x·weightᵀ + bias as one oneDNN matmul with a bias ({@link BatchedGemm}), when oneDNN is the GEMM
     * library, x and weight are contiguous and there are enough rows: the bias then costs no pass of its own
     * over y (laying the bias rows and the GEMM reading them back were a tenth of a GPT training step's Java
     * time). Few rows (batch-1 inference) or few columns keep the GEMM library's path. Returns whether it
     * computed y.
     */
    private static boolean biasInProduct(Tensor x, Tensor weight, Tensor bias, Tensor y) {
        long in = weight.size(1);
        long out = weight.size(0);
        long rows = in == 0 ? 0 : x.numel() / in;
        if (rows < BIAS_IN_PRODUCT_MIN_ROWS || out < BIAS_IN_PRODUCT_MIN_COLUMNS || in == 0 || !BatchedGemm.available()
                || !x.isContiguous() || !weight.isContiguous() || !bias.isContiguous() || !y.isContiguous()) {
            return false;
        }
        // weightᵀ [in, out] read in place: row stride 1, column stride in.
        return BatchedGemm.multiply(new long[0], rows, out, in, 1f, 0f, x.storageForReading(), x.offset(),
                new long[] {in, 1}, weight.storageForReading(), weight.offset(), new long[] {1, in},
                y.storage(), y.offset(), bias.storageForReading(), bias.offset());
    }

    /**
     * Every row of the contiguous tensor y (rows of the bias's length) set to the bias, off-heap: one row
     * copied, then the filled part doubled until y is full.
     */
    private static void fillRows(Tensor y, Tensor bias) {
        long width = bias.numel();
        long total = y.numel();
        if (total == 0) {
            return;
        }
        MemorySegment ys = y.storage();
        long base = y.offset() * Float.BYTES;
        MemorySegment.copy(bias.storageForReading(), bias.offset() * Float.BYTES, ys, base, width * Float.BYTES);
        for (long filled = width; filled < total; ) {
            long n = Math.min(filled, total - filled);
            MemorySegment.copy(ys, base, ys, base + filled * Float.BYTES, n * Float.BYTES);
            filled += n;
        }
    }

    /**
     * {@code out = a · b}, written into an existing tensor, recording no gradient.
     *
     * @param a the left operand
     * @param b the right operand
     * @param out the destination: contiguous, of the product's shape, sharing no storage with an input
     * @return {@code out}
     * @throws IllegalArgumentException if the operands do not multiply, or {@code out} has the wrong shape,
     *     is strided or aliases an input
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor matmul(Tensor a, Tensor b, Tensor out) {
        long[] outShape = outputShape(a, b);
        out.checkAlive();
        if (!Arrays.equals(out.shape(), outShape)) {
            throw new IllegalArgumentException("matmul: out has shape " + Arrays.toString(out.shape()) + ", the product of "
                    + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()) + " has shape "
                    + Arrays.toString(outShape));
        }
        if (!out.isContiguous()) {
            throw new IllegalArgumentException("matmul: out must be contiguous, strides are " + Arrays.toString(out.strides()));
        }
        if (out.sharesStorageWith(a) || out.sharesStorageWith(b)) {
            throw new IllegalArgumentException("matmul: out shares storage with an input");
        }
        compute(a, b, out);
        return out;
    }

    /**
     * The shape of {@code a · b} under {@link #matmul(Tensor, Tensor)}'s rules.
     *
     * @param a the left operand
     * @param b the right operand
     * @return the product's shape
     * @throws IllegalArgumentException if the operands do not multiply (the message names both shapes)
     * @throws IllegalStateException if either tensor is closed
     */
    public static long[] outputShape(Tensor a, Tensor b) {
        a.checkAlive();
        b.checkAlive();
        long[] as = a.shape();
        long[] bs = b.shape();
        if (as.length == 0 || bs.length == 0) {
            throw new IllegalArgumentException("matmul needs tensors of at least 1 dimension, got shapes "
                    + Arrays.toString(as) + " and " + Arrays.toString(bs));
        }
        long k1 = as[as.length - 1];
        long k2 = bs.length == 1 ? bs[0] : bs[bs.length - 2];
        if (k1 != k2) {
            throw new IllegalArgumentException("matmul: shapes " + Arrays.toString(as) + " and " + Arrays.toString(bs)
                    + " do not align (" + k1 + " != " + k2 + ")");
        }
        if (as.length == 1 && bs.length == 1) {
            return new long[0];
        }
        long m = as.length == 1 ? -1 : as[as.length - 2];
        long n = bs.length == 1 ? -1 : bs[bs.length - 1];
        long[] batch = broadcastBatch(as, bs);
        long[] out = Arrays.copyOf(batch, batch.length + (m >= 0 ? 1 : 0) + (n >= 0 ? 1 : 0));
        int i = batch.length;
        if (m >= 0) out[i++] = m;
        if (n >= 0) out[i] = n;
        checkBlasInt("rows", m);
        checkBlasInt("columns", n);
        checkBlasInt("inner dimension", k1);
        return out;
    }

    private static long[] broadcastBatch(long[] as, long[] bs) {
        int ab = Math.max(0, as.length - 2);
        int bb = Math.max(0, bs.length - 2);
        int r = Math.max(ab, bb);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            int ai = ab - r + i;
            int bi = bb - r + i;
            long x = ai >= 0 ? as[ai] : 1;
            long y = bi >= 0 ? bs[bi] : 1;
            if (x != y && x != 1 && y != 1) {
                throw new IllegalArgumentException("matmul: batch dimensions of " + Arrays.toString(as) + " and "
                        + Arrays.toString(bs) + " do not broadcast (" + x + " vs " + y + ")");
            }
            out[i] = x == 1 ? y : x;
        }
        return out;
    }

    private static void checkBlasInt(String what, long v) {
        if (v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("matmul: " + what + " " + v + " exceed BLAS's 32-bit sizes");
        }
    }

    /** How BLAS reads one matrix: transposed or not, leading dimension, element offset. */
    private record Layout(boolean trans, int ld) {
        /** The layout of a rows×cols matrix with the given strides, or null if BLAS cannot read it. */
        static Layout of(long rows, long cols, long rowStride, long colStride) {
            // Row-major (NoTrans): unit column stride and rows at least cols apart.
            if ((colStride == 1 || cols == 1) && (rows == 1 || rowStride >= Math.max(1, cols))) {
                long ld = rows == 1 ? Math.max(1, cols) : rowStride;
                if (ld <= Integer.MAX_VALUE) return new Layout(false, (int) ld);
            }
            // Column-major, i.e. the transpose is row-major: unit row stride, columns at least rows apart.
            if ((rowStride == 1 || rows == 1) && (cols == 1 || colStride >= Math.max(1, rows))) {
                long ld = cols == 1 ? Math.max(1, rows) : colStride;
                if (ld <= Integer.MAX_VALUE) return new Layout(true, (int) ld);
            }
            return null;
        }
    }

    /**
     * Temporary copies of operands BLAS cannot read; they live only for one call, on one thread. The
     * scope is made only when a copy is needed, so the common call allocates nothing.
     */
    private static final class Temporaries implements AutoCloseable {
        private Scope scope;

        Tensor copyOf(Tensor t) {
            return empty(t.shape()).copyFrom(t);
        }

        Tensor empty(long[] shape) {
            if (scope == null) {
                scope = Scope.local();
            }
            return Tensor.empty(scope, shape);
        }

        @Override
        public void close() {
            if (scope != null) {
                scope.close();
            }
        }
    }

    /**
     * {@code alpha · a · b} for operands of at least two dimensions, in a new tensor, not recorded for
     * autograd: the scaling rides in the GEMM (attention's scaled scores and their gradients).
     */
    static Tensor scaled(Tensor a, Tensor b, float alpha) {
        return scaled(a, b, alpha, null);
    }

    /**
     * As {@link #scaled(Tensor, Tensor, float)}, the result laid out in memory in the order of {@code like}'s
     * dimensions (its strides, largest first) when {@code like} has the result's rank and its last
     * dimension innermost: attention's output and its gradients of Q, K and V come out in the layout of the
     * projection the heads were sliced from, so that joining the heads (or the gradient's way back through
     * the slicing) is a view, not a copy. Null or any other {@code like}: row-major.
     */
    static Tensor scaled(Tensor a, Tensor b, float alpha, Tensor like) {
        if (a.dim() < 2 || b.dim() < 2) {
            throw new IllegalArgumentException("scaled product: operands of shapes " + Arrays.toString(a.shape())
                    + " and " + Arrays.toString(b.shape()) + " must have at least two dimensions");
        }
        long[] shape = outputShape(a, b);
        int[] order = like == null ? null : physicalOrder(like);
        Tensor out = order == null || order.length != shape.length ? Tensor.empty(shape)
                : Tensor.emptyPermuted(shape, order);
        try (Temporaries tmp = new Temporaries()) {
            batched(a, b, out, tmp, 0f, alpha);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * The order of t's dimensions in memory, outermost first (strides descending; equal strides keep the
     * dimensions' order), when t has at least three dimensions, its last one innermost with stride 1 and
     * the order is not the row-major one; else null.
     */
    private static int[] physicalOrder(Tensor t) {
        int r = t.dim();
        long[] st = t.strides();
        if (r < 3 || st[r - 1] != 1) {
            return null;
        }
        int[] o = BatchedGemm.memoryOrder(st);
        boolean rowMajor = true;
        for (int i = 0; i < r; i++) rowMajor &= o[i] == i;
        return rowMajor || o[r - 1] != r - 1 ? null : o;
    }

    private static void compute(Tensor a, Tensor b, Tensor out) {
        compute(a, b, out, 0f);
    }

    /** out = a·b + beta·out (beta is 0 or 1). */
    private static void compute(Tensor a, Tensor b, Tensor out, float beta) {
        try (Temporaries tmp = new Temporaries()) {
            if (a.dim() == 1 && b.dim() == 1) {
                dot(vectorForBlas(a, tmp), vectorForBlas(b, tmp), out, beta);
            } else if (a.dim() == 2 && b.dim() == 1) {
                matrixVector(matrixForBlas(a, tmp), vectorForBlas(b, tmp), out, beta);
            } else if (a.dim() == 1 && b.dim() == 2) {
                // x·B = (Bᵀ·x)ᵀ
                matrixVector(matrixForBlas(b, tmp).transpose(0, 1), vectorForBlas(a, tmp), out, beta);
            } else {
                batched(a, b, out, tmp, beta, 1f);
            }
        }
    }

    private static void dot(Tensor x, Tensor y, Tensor out, float beta) {
        float v = Blas.sdot((int) x.size(0), x.storageForReading(), x.offset(), (int) x.stride(0),
                y.storageForReading(), y.offset(), (int) y.stride(0));
        out.set(beta == 0f ? v : v + out.item());
    }

    /** out[m] = A[m×k] · x[k]; A already BLAS-readable. */
    private static void matrixVector(Tensor mat, Tensor x, Tensor out, float beta) {
        long m = mat.size(0);
        long k = mat.size(1);
        if (k == 0) {
            if (beta == 0f) out.fill(0f);
            return;
        }
        Layout l = Layout.of(m, k, mat.stride(0), mat.stride(1));
        if (l.trans()) {
            // A is stored as Aᵀ (k×m) row-major.
            Blas.sgemv(true, (int) k, (int) m, 1f, mat.storageForReading(), mat.offset(), l.ld(),
                    x.storageForReading(), x.offset(), (int) x.stride(0), beta, out.storage(), out.offset(), 1);
        } else {
            Blas.sgemv(false, (int) m, (int) k, 1f, mat.storageForReading(), mat.offset(), l.ld(),
                    x.storageForReading(), x.offset(), (int) x.stride(0), beta, out.storage(), out.offset(), 1);
        }
    }

    private static void batched(Tensor a, Tensor b, Tensor out, Temporaries tmp, float beta, float alpha) {
        Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;  // [1, K]
        Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;  // [K, 1]
        long m = a2.size(-2);
        long k = a2.size(-1);
        long n = b2.size(-1);
        long[] batch = broadcastBatch(a2.shape(), b2.shape());
        int nb = batch.length;
        long batchCount = 1;
        for (long d : batch) batchCount *= d;
        if (batchCount == 0 || m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            if (beta == 0f) out.fill(0f);
            return;
        }
        a2 = matrixForBlas(a2.expand(concat(batch, m, k)), tmp);
        b2 = matrixForBlas(b2.expand(concat(batch, k, n)), tmp);
        if (!out.isContiguous()) {
            // A result laid out in another order of its dimensions (scaled's): written in place by the
            // batched primitive, else computed row-major and copied.
            if (nb > 0 && out.dim() == nb + 2 && BatchedGemm.available()
                    && BatchedGemm.multiply(batch, m, n, k, alpha, beta, a2.storageForReading(), a2.offset(),
                            a2.strides(), b2.storageForReading(), b2.offset(), b2.strides(), out.storage(),
                            out.offset(), out.strides())) {
                return;
            }
            Tensor dense = beta == 0f ? tmp.empty(out.shape()) : tmp.copyOf(out);
            batched(a2, b2, dense, tmp, beta, alpha);
            out.copyFrom(dense);
            return;
        }
        Layout la = Layout.of(m, k, a2.stride(-2), a2.stride(-1));
        Layout lb = Layout.of(k, n, b2.stride(-2), b2.stride(-1));
        long outMatrix = m * n;

        // When B is the same matrix for every batch entry and A's rows are evenly spaced across the
        // batch, the whole product is one GEMM with batch·m rows.
        if (nb > 0 && allZero(b2.strides(), nb) && !la.trans()) {
            long ld = foldedRowStride(a2, nb, m, k);
            long rows = batchCount * m;
            if (ld > 0 && rows <= Integer.MAX_VALUE) {
                Blas.sgemm(false, lb.trans(), (int) rows, (int) n, (int) k, alpha,
                        a2.storageForReading(), a2.offset(), (int) ld, b2.storageForReading(), b2.offset(), lb.ld(),
                        beta, out.storage(), out.offset(), (int) n);
                return;
            }
        }
        // Otherwise one oneDNN primitive for the whole batch when it can read both operands' strides
        // (attention's per-head products): far cheaper than a GEMM call per batch entry.
        if (nb > 0 && batchCount > 1 && !(m == 1 && batchCount <= GEMV_BATCH_MAX) && BatchedGemm.available()
                && BatchedGemm.multiply(batch, m, n, k, alpha, beta, a2.storageForReading(), a2.offset(),
                        a2.strides(), b2.storageForReading(), b2.offset(), b2.strides(), out.storage(), out.offset())) {
            return;
        }
        long[] idx = new long[nb];
        long[] as = a2.strides();
        long[] bs = b2.strides();
        for (long i = 0; i < batchCount; i++) {
            long ao = a2.offset();
            long bo = b2.offset();
            for (int d = 0; d < nb; d++) {
                ao += idx[d] * as[d];
                bo += idx[d] * bs[d];
            }
            if (m == 1) {
                // A single row times a matrix: GEMV reads the matrix once and is several times faster
                // than GEMM at this shape (batch-1 inference through a linear layer).
                int incx = la.trans() ? la.ld() : 1;
                Blas.sgemv(!lb.trans(), lb.trans() ? (int) n : (int) k, lb.trans() ? (int) k : (int) n, alpha,
                        b2.storageForReading(), bo, lb.ld(), a2.storageForReading(), ao, incx, beta,
                        out.storage(), out.offset() + i * outMatrix, 1);
            } else {
                Blas.sgemm(la.trans(), lb.trans(), (int) m, (int) n, (int) k, alpha,
                        a2.storageForReading(), ao, la.ld(), b2.storageForReading(), bo, lb.ld(), beta,
                        out.storage(), out.offset() + i * outMatrix, (int) n);
            }
            for (int d = nb - 1; d >= 0; d--) {
                if (++idx[d] < batch[d]) break;
                idx[d] = 0;
            }
        }
    }

    /**
     * If the rows of all batch matrices of a (row-major, unit column stride) form one evenly strided
     * sequence of batch·m rows, that row stride; else -1.
     */
    private static long foldedRowStride(Tensor a, int nb, long m, long k) {
        long[] shape = a.shape();
        long[] st = a.strides();
        long rowStride = -1;
        if (m > 1) {
            rowStride = st[nb];
        } else {
            for (int d = nb - 1; d >= 0 && rowStride < 0; d--) {
                if (shape[d] != 1) rowStride = st[d];
            }
        }
        if (rowStride < Math.max(1, k) || rowStride > Integer.MAX_VALUE) {
            return -1;
        }
        long step = m * rowStride;
        for (int d = nb - 1; d >= 0; d--) {
            if (shape[d] == 1) continue;
            if (st[d] != step) return -1;
            step *= shape[d];
        }
        return rowStride;
    }

    private static boolean allZero(long[] strides, int count) {
        for (int i = 0; i < count; i++) {
            if (strides[i] != 0) return false;
        }
        return true;
    }

    private static long[] concat(long[] batch, long x, long y) {
        long[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = x;
        s[batch.length + 1] = y;
        return s;
    }

    /** t itself if BLAS can read its last two dimensions, else a contiguous copy in tmp. */
    private static Tensor matrixForBlas(Tensor t, Temporaries tmp) {
        return Layout.of(t.size(-2), t.size(-1), t.stride(-2), t.stride(-1)) != null ? t : tmp.copyOf(t);
    }

    /** t itself if BLAS can step through it (positive int increment), else a contiguous copy in tmp. */
    private static Tensor vectorForBlas(Tensor t, Temporaries tmp) {
        long inc = t.stride(0);
        return inc >= 1 && inc <= Integer.MAX_VALUE ? t : tmp.copyOf(t);
    }

}
