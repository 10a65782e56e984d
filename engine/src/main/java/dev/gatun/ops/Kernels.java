package dev.gatun.ops;

import dev.gatun.backend.Blas;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Elementwise and reduction kernels in plain Java, without autograd. The differentiable ops
 * ({@link Arithmetic}, {@link Pointwise}, {@link Reduce}, ...) and backward closures are built on these.
 * Results are new contiguous tensors in the current scope.
 *
 * <p>This is engine machinery rather than user API: nothing here records a gradient. Programs use the
 * differentiable ops, or the methods of {@link Tensor}. The few members that are public serve the tensor
 * and autograd packages ({@link #add}, {@link #addInPlace}, {@link #sumToShape}); the rest is visible to
 * the ops package only.
 *
 * <p>Kernels move data between tensors and Java arrays in bulk ({@link Tensor#toArray()},
 * {@link Tensor#fromArray}) and compute on the arrays: per-element {@code MemorySegment} access is
 * only fast while the JIT's type profiles for it stay clean, which a process using segments of
 * several kinds does not guarantee, whereas array loops always compile to tight, vectorizable code.
 * Each binary op has its own loop (not a lambda per element) for the same reason.
 */
public final class Kernels {

    private Kernels() {}

    /** The binary elementwise operations; POW is {@link #powf}. */
    enum BinaryOp { ADD, SUB, MUL, DIV, POW }

    /** The shape two shapes broadcast to (numpy rules), or an exception naming both. */
    static long[] broadcastShapes(long[] a, long[] b) {
        int r = Math.max(a.length, b.length);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            int ai = i - (r - a.length);
            int bi = i - (r - b.length);
            long x = ai >= 0 ? a[ai] : 1;
            long y = bi >= 0 ? b[bi] : 1;
            if (x != y && x != 1 && y != 1) {
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " do not broadcast (dimension " + i + ": " + x + " vs " + y + ")");
            }
            out[i] = x == 1 ? y : x;
        }
        return out;
    }

    /**
     * Elements from which a same-shape sum runs off-heap: below it the two downcalls cost more than the
     * copies through arrays (mlp13k_train_b32's step, whose tensors have 32 to 512 elements, took 0.095 and
     * 0.097 ms with every sum off-heap, 0.062 and 0.063 before, in alternating runs).
     */
    private static final long OFF_HEAP_MIN = 1 << 14;

    /** {@code a op b} with broadcasting. */
    static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        a.checkAlive();
        b.checkAlive();
        for (Tensor t : new Tensor[] {a, b}) {
            if (t.dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException(op.name().toLowerCase(java.util.Locale.ROOT) + " expects float32,"
                        + " got " + t.dtype() + " (a tensor of shape " + Arrays.toString(t.shape()) + "); convert it"
                        + " with to(DType.FLOAT32) if that is meant");
            }
        }
        if (op == BinaryOp.ADD && Arrays.equals(a.shape(), b.shape()) && a.layout() != null
                && a.layout().equals(b.layout())) {
            return addInLayout(a, b);
        }
        if ((op == BinaryOp.ADD || op == BinaryOp.SUB) && Arrays.equals(a.shape(), b.shape())
                && a.isContiguous() && b.isContiguous()
                && a.numel() >= OFF_HEAP_MIN && a.numel() <= Integer.MAX_VALUE) {
            // Residual connections and gradient sums: off-heap, a copy and one saxpy (1·b + a rounds
            // as a + b does, so the result is the same to the bit).
            long n = a.numel();
            Tensor out = Tensor.empty(a.shape());
            MemorySegment.copy(a.storageForReading(), a.offset() * Float.BYTES, out.storage(),
                    out.offset() * Float.BYTES, n * Float.BYTES);
            Blas.saxpy((int) n, op == BinaryOp.ADD ? 1f : -1f, b.storageForReading(), b.offset(), 1, out.storage(),
                    out.offset(), 1);
            return out;
        }
        long[] shape = broadcastShapes(a.shape(), b.shape());
        float[] out = new float[checkedSize(shape)];
        binaryArrays(op, a.toArray(), a.shape(), b.toArray(), b.shape(), out, shape);
        return Tensor.fromArray(out, shape);
    }

    /**
     * a + b for two tensors of one shape held in the same backend layout (a residual connection between
     * convolutions, or two gradients of one activation): added on the layout's buffers as flat arrays,
     * the result in that layout too, with no conversion to row-major and back.
     */
    private static Tensor addInLayout(Tensor a, Tensor b) {
        Object layout = a.layout();
        MemorySegment x = a.layoutData(layout);
        MemorySegment y = b.layoutData(layout);
        Tensor out = Tensor.emptyInLayoutOf(a);
        MemorySegment z = out.layoutData(layout);
        long n = x.byteSize() / Float.BYTES;
        if (n > Integer.MAX_VALUE || y.byteSize() != x.byteSize() || z.byteSize() != x.byteSize()) {
            throw new IllegalStateException("add: layout buffers of " + x.byteSize() + ", " + y.byteSize() + " and "
                    + z.byteSize() + " bytes");
        }
        MemorySegment.copy(x, 0, z, 0, x.byteSize());
        Blas.saxpy((int) n, 1f, y, 0, 1, z, 0, 1);
        return out;
    }

    /**
     * {@code a + b} with numpy broadcasting, recording no gradient.
     *
     * @param a the first operand
     * @param b the second operand
     * @return a new contiguous tensor of the broadcast shape (in {@code a}'s backend layout when both
     *     operands hold the same one)
     * @throws IllegalArgumentException if the shapes do not broadcast
     * @throws IllegalStateException if either tensor is closed
     */
    public static Tensor add(Tensor a, Tensor b) {
        return binary(BinaryOp.ADD, a, b);
    }

    /** {@code a · b} elementwise, broadcasting. */
    static Tensor mul(Tensor a, Tensor b) {
        return binary(BinaryOp.MUL, a, b);
    }

    /**
     * {@code dst += src} in place, recording no gradient (how gradients accumulate).
     *
     * @param dst the tensor added into
     * @param src the tensor added; its shape broadcasts to {@code dst}'s
     * @throws IllegalArgumentException if {@code src} does not broadcast to {@code dst}'s shape
     * @throws IllegalStateException if either tensor is closed
     */
    public static void addInPlace(Tensor dst, Tensor src) {
        dst.checkAlive();
        src.checkAlive();
        long[] shape = dst.shape();
        if (!Arrays.equals(broadcastShapes(shape, src.shape()), shape)) {
            throw new IllegalArgumentException("cannot add shape " + Arrays.toString(src.shape()) + " into "
                    + Arrays.toString(shape));
        }
        float[] d = dst.toArray();
        binaryArrays(BinaryOp.ADD, d, shape, src.toArray(), src.shape(), d, shape);
        dst.copyFrom(d);
    }

    static int checkedSize(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of " + n + " elements is too large for this kernel");
        }
        return (int) n;
    }

    /** Row-major element strides of {@code own} seen through the broadcast to {@code target} (0 where repeated). */
    private static int[] broadcastStrides(long[] own, long[] target) {
        int r = target.length;
        int[] st = new int[r];
        int step = 1;
        for (int i = r - 1, j = own.length - 1; i >= 0; i--, j--) {
            if (j >= 0 && own[j] != 1) {
                st[i] = step;
                step *= (int) own[j];
            }
        }
        return st;
    }

    /**
     * out = a op b, where a and b are row-major arrays of their own shapes broadcast to {@code shape}.
     * out may be a itself (same shape). Runs one tight loop per run of the innermost dimension.
     */
    static void binaryArrays(BinaryOp op, float[] a, long[] aShape, float[] b, long[] bShape, float[] out,
                             long[] shape) {
        int n = out.length;
        if (n == 0) {
            return;
        }
        if (a.length == n && b.length == n) {
            loop(op, a, 0, 1, b, 0, 1, out, 0, n);
            return;
        }
        int r = shape.length;
        int[] as = broadcastStrides(aShape, shape);
        int[] bs = broadcastStrides(bShape, shape);
        int inner = (int) shape[r - 1];
        int outer = n / inner;
        int[] idx = new int[r];
        int ao = 0;
        int bo = 0;
        for (int k = 0; k < outer; k++) {
            loop(op, a, ao, as[r - 1], b, bo, bs[r - 1], out, k * inner, inner);
            for (int d = r - 2; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    ao += as[d];
                    bo += bs[d];
                    break;
                }
                ao -= (int) (shape[d] - 1) * as[d];
                bo -= (int) (shape[d] - 1) * bs[d];
                idx[d] = 0;
            }
        }
    }

    /**
     * The row-major array {@code src} of shape {@code own} broadcast to {@code shape} (which {@code own}
     * broadcasts to): {@code src} itself when nothing repeats, else a new array with the repeats written
     * out, one bulk copy or fill per run of the innermost dimension.
     */
    static float[] expandArray(float[] src, long[] own, long[] shape) {
        int n = checkedSize(shape);
        if (src.length == n) {
            return src; // only size-1 dimensions differ: the same elements in the same order
        }
        float[] out = new float[n];
        if (n == 0) {
            return out;
        }
        int r = shape.length;
        int[] st = broadcastStrides(own, shape);
        int inner = (int) shape[r - 1];
        int[] idx = new int[r];
        int so = 0;
        for (int k = 0, outer = n / inner; k < outer; k++) {
            if (st[r - 1] == 1) {
                System.arraycopy(src, so, out, k * inner, inner);
            } else {
                Arrays.fill(out, k * inner, (k + 1) * inner, src[so]);
            }
            for (int d = r - 2; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    so += st[d];
                    break;
                }
                so -= (int) (shape[d] - 1) * st[d];
                idx[d] = 0;
            }
        }
        return out;
    }

    private static void loop(BinaryOp op, float[] a, int ao, int sa, float[] b, int bo, int sb, float[] o, int oo,
                             int n) {
        if (sa == 1 && sb == 1) {
            switch (op) {
                case ADD -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] + b[bo + i]; }
                case SUB -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] - b[bo + i]; }
                case MUL -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] * b[bo + i]; }
                case DIV -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] / b[bo + i]; }
                case POW -> { for (int i = 0; i < n; i++) o[oo + i] = powf(a[ao + i], b[bo + i]); }
            }
        } else if (sa == 1 && sb == 0) {
            float y = b[bo];
            switch (op) {
                case ADD -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] + y; }
                case SUB -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] - y; }
                case MUL -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] * y; }
                case DIV -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i] / y; }
                case POW -> { for (int i = 0; i < n; i++) o[oo + i] = powf(a[ao + i], y); }
            }
        } else if (sa == 0 && sb == 1) {
            float x = a[ao];
            switch (op) {
                case ADD -> { for (int i = 0; i < n; i++) o[oo + i] = x + b[bo + i]; }
                case SUB -> { for (int i = 0; i < n; i++) o[oo + i] = x - b[bo + i]; }
                case MUL -> { for (int i = 0; i < n; i++) o[oo + i] = x * b[bo + i]; }
                case DIV -> { for (int i = 0; i < n; i++) o[oo + i] = x / b[bo + i]; }
                case POW -> { for (int i = 0; i < n; i++) o[oo + i] = powf(x, b[bo + i]); }
            }
        } else {
            switch (op) {
                case ADD -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i * sa] + b[bo + i * sb]; }
                case SUB -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i * sa] - b[bo + i * sb]; }
                case MUL -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i * sa] * b[bo + i * sb]; }
                case DIV -> { for (int i = 0; i < n; i++) o[oo + i] = a[ao + i * sa] / b[bo + i * sb]; }
                case POW -> { for (int i = 0; i < n; i++) o[oo + i] = powf(a[ao + i * sa], b[bo + i * sb]); }
            }
        }
    }

    /**
     * a^b in float as C's {@code powf} (and so PyTorch) defines it: {@link Math#pow} except that 1^y is 1
     * for every y, NaN included, and (−1)^±∞ is 1, where Java's answer is NaN.
     */
    static float powf(float a, float b) {
        if (a == 1f || a == -1f && Float.isInfinite(b)) {
            return 1f;
        }
        return (float) Math.pow(a, b);
    }

    /** {@code a + s} for a scalar s. */
    static Tensor addScalar(Tensor a, float s) {
        float[] v = a.toArray();
        for (int i = 0; i < v.length; i++) {
            v[i] += s;
        }
        return Tensor.fromArray(v, a.shape());
    }

    /** {@code a / s} for a scalar s, divided (not multiplied by 1/s) so that it rounds as PyTorch's does. */
    static Tensor divScalar(Tensor a, float s) {
        float[] v = a.toArray();
        for (int i = 0; i < v.length; i++) {
            v[i] /= s;
        }
        return Tensor.fromArray(v, a.shape());
    }

    /** {@code a · s} for a scalar s. */
    static Tensor scale(Tensor a, float s) {
        float[] v = a.toArray();
        for (int i = 0; i < v.length; i++) {
            v[i] *= s;
        }
        return Tensor.fromArray(v, a.shape());
    }

    /**
     * Sums over the given dimensions (negative counts from the end), accumulating in double. With
     * keepDims the summed dimensions stay as size 1.
     */
    static Tensor sum(Tensor t, int[] dims, boolean keepDims) {
        t.checkAlive();
        int r = t.dim();
        boolean[] reduce = new boolean[r];
        for (int d : dims) {
            int i = d < 0 ? d + r : d;
            if (i < 0 || i >= r) {
                throw new IllegalArgumentException("dimension " + d + " out of range for a " + r + "-d tensor");
            }
            if (reduce[i]) {
                throw new IllegalArgumentException("dimension " + d + " repeated in " + Arrays.toString(dims));
            }
            reduce[i] = true;
        }
        long[] shape = t.shape();
        long[] outShape;
        if (keepDims) {
            outShape = shape.clone();
            for (int i = 0; i < r; i++) if (reduce[i]) outShape[i] = 1;
        } else {
            int kept = 0;
            for (int i = 0; i < r; i++) if (!reduce[i]) kept++;
            outShape = new long[kept];
            for (int i = 0, k = 0; i < r; i++) if (!reduce[i]) outShape[k++] = shape[i];
        }
        float[] in = t.toArray();
        double[] acc = new double[checkedSize(outShape)];
        if (in.length > 0) {
            if (r == 0) {
                acc[0] = in[0];
            } else {
                // Trailing reduced dimensions are one contiguous run per output: fold them into one
                // innermost dimension (e.g. [N, C, H, W] summed over H and W walks N·C runs of H·W).
                int folded = r;
                long run = 1;
                while (folded > 1 && reduce[folded - 1] && reduce[folded - 2]) {
                    run *= shape[--folded];
                }
                long[] walkShape = Arrays.copyOf(shape, folded);
                walkShape[folded - 1] *= run;
                shape = walkShape;
                r = folded;
                // Walk the input in row-major order, adding each run of the innermost dimension into
                // its output slots (stride 0 along reduced dimensions).
                int[] outStrides = new int[r];
                int step = 1;
                for (int i = r - 1; i >= 0; i--) {
                    if (!reduce[i]) {
                        outStrides[i] = step;
                        step *= (int) shape[i];
                    }
                }
                int inner = (int) shape[r - 1];
                boolean innerReduced = reduce[r - 1];
                int[] idx = new int[r];
                int dst = 0;
                for (int k = 0, outer = in.length / inner; k < outer; k++) {
                    int src = k * inner;
                    if (innerReduced) {
                        // Four partial sums: independent additions instead of one dependent chain.
                        double s0 = 0;
                        double s1 = 0;
                        double s2 = 0;
                        double s3 = 0;
                        int i = 0;
                        for (; i + 3 < inner; i += 4) {
                            s0 += in[src + i];
                            s1 += in[src + i + 1];
                            s2 += in[src + i + 2];
                            s3 += in[src + i + 3];
                        }
                        for (; i < inner; i++) s0 += in[src + i];
                        acc[dst] += (s0 + s1) + (s2 + s3);
                    } else {
                        for (int i = 0; i < inner; i++) acc[dst + i] += in[src + i];
                    }
                    for (int d = r - 2; d >= 0; d--) {
                        if (++idx[d] < shape[d]) {
                            dst += outStrides[d];
                            break;
                        }
                        dst -= (int) (shape[d] - 1) * outStrides[d];
                        idx[d] = 0;
                    }
                }
            }
        }
        float[] out = new float[acc.length];
        for (int i = 0; i < acc.length; i++) {
            out[i] = (float) acc[i];
        }
        return Tensor.fromArray(out, outShape);
    }

    /**
     * Sums {@code g} down to {@code shape}, undoing a broadcast from {@code shape} to {@code g}'s shape: the
     * gradient of a broadcast operand. Records no gradient.
     *
     * @param g a tensor whose shape {@code shape} broadcasts to
     * @param shape the shape to sum down to
     * @return {@code g} itself when the shapes are equal, else a new tensor of {@code shape}
     * @throws IllegalArgumentException if {@code shape} does not broadcast to {@code g}'s shape
     */
    public static Tensor sumToShape(Tensor g, long[] shape) {
        long[] gs = g.shape();
        if (Arrays.equals(gs, shape)) {
            return g;
        }
        int lead = gs.length - shape.length;
        if (lead < 0) {
            throw new IllegalArgumentException("cannot sum shape " + Arrays.toString(gs) + " to larger "
                    + Arrays.toString(shape));
        }
        int[] dims = new int[gs.length];
        int n = 0;
        for (int i = 0; i < gs.length; i++) {
            if (i < lead) {
                dims[n++] = i;
            } else if (shape[i - lead] == 1 && gs[i] != 1) {
                dims[n++] = i;
            } else if (shape[i - lead] != gs[i]) {
                throw new IllegalArgumentException("cannot sum shape " + Arrays.toString(gs) + " to "
                        + Arrays.toString(shape));
            }
        }
        Tensor s = sum(g, Arrays.copyOf(dims, n), true);
        try (var ignored = dev.gatun.autograd.Autograd.noGrad()) {
            return s.reshape(shape);
        }
    }
}
