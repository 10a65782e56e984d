package dev.gatun.ops;

import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Elementwise and reduction kernels in plain Java over tensor storage, without autograd. The
 * differentiable ops ({@link Arithmetic}, {@link Reduce}, ...) and backward closures are built on these.
 * Results are new contiguous tensors in the current scope unless the method says otherwise.
 *
 * <p>Each binary op has its own loop (not a lambda per element) so the JIT can compile each into
 * straight-line, vectorizable code.
 */
public final class Kernels {

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;

    private Kernels() {}

    /** The binary elementwise operations. */
    public enum BinaryOp { ADD, SUB, MUL, DIV }

    /** The shape two shapes broadcast to (numpy rules), or an exception naming both. */
    public static long[] broadcastShapes(long[] a, long[] b) {
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

    /** {@code a op b} with broadcasting. */
    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        a.checkAlive();
        b.checkAlive();
        long[] shape = broadcastShapes(a.shape(), b.shape());
        Tensor out = Tensor.zeros(shape);
        binaryInto(op, a.expand(shape), b.expand(shape), out);
        return out;
    }

    /** {@code a + b}, broadcasting. */
    public static Tensor add(Tensor a, Tensor b) {
        return binary(BinaryOp.ADD, a, b);
    }

    /** {@code a · b} elementwise, broadcasting. */
    public static Tensor mul(Tensor a, Tensor b) {
        return binary(BinaryOp.MUL, a, b);
    }

    /** {@code dst += src}; src broadcasts to dst's shape. */
    public static void addInPlace(Tensor dst, Tensor src) {
        dst.checkAlive();
        src.checkAlive();
        binaryInto(BinaryOp.ADD, dst, src.expand(dst.shape()), dst);
    }

    /**
     * out = a op b over equal shapes (a and b may be broadcast views). Iterates the outer dimensions and
     * runs one tight loop over the innermost.
     */
    static void binaryInto(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        long[] shape = out.shape();
        long n = out.numel();
        if (n == 0) {
            return;
        }
        MemorySegment as = a.storage();
        MemorySegment bs = b.storage();
        MemorySegment os = out.storage();
        if (a.isContiguous() && b.isContiguous() && out.isContiguous()) {
            loop(op, as, a.offset(), 1, bs, b.offset(), 1, os, out.offset(), 1, n);
            return;
        }
        int r = shape.length;
        long inner = shape[r - 1];
        long[] ast = a.strides();
        long[] bst = b.strides();
        long[] ost = out.strides();
        long outerCount = n / inner;
        long[] idx = new long[r];
        long ao = a.offset();
        long bo = b.offset();
        long oo = out.offset();
        for (long k = 0; k < outerCount; k++) {
            loop(op, as, ao, ast[r - 1], bs, bo, bst[r - 1], os, oo, ost[r - 1], inner);
            for (int d = r - 2; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    ao += ast[d];
                    bo += bst[d];
                    oo += ost[d];
                    break;
                }
                ao -= (shape[d] - 1) * ast[d];
                bo -= (shape[d] - 1) * bst[d];
                oo -= (shape[d] - 1) * ost[d];
                idx[d] = 0;
            }
        }
    }

    private static void loop(BinaryOp op, MemorySegment a, long ao, long sa, MemorySegment b, long bo, long sb,
                             MemorySegment o, long oo, long so, long n) {
        if (sa == 1 && sb == 1 && so == 1) {
            switch (op) {
                case ADD -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) + b.getAtIndex(F, bo + i)); }
                case SUB -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) - b.getAtIndex(F, bo + i)); }
                case MUL -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) * b.getAtIndex(F, bo + i)); }
                case DIV -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) / b.getAtIndex(F, bo + i)); }
            }
            return;
        }
        if (sa == 1 && sb == 0 && so == 1) { // a row plus a broadcast scalar
            float y = b.getAtIndex(F, bo);
            switch (op) {
                case ADD -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) + y); }
                case SUB -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) - y); }
                case MUL -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) * y); }
                case DIV -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i, a.getAtIndex(F, ao + i) / y); }
            }
            return;
        }
        switch (op) {
            case ADD -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i * so, a.getAtIndex(F, ao + i * sa) + b.getAtIndex(F, bo + i * sb)); }
            case SUB -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i * so, a.getAtIndex(F, ao + i * sa) - b.getAtIndex(F, bo + i * sb)); }
            case MUL -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i * so, a.getAtIndex(F, ao + i * sa) * b.getAtIndex(F, bo + i * sb)); }
            case DIV -> { for (long i = 0; i < n; i++) o.setAtIndex(F, oo + i * so, a.getAtIndex(F, ao + i * sa) / b.getAtIndex(F, bo + i * sb)); }
        }
    }

    /** {@code a + s} for a scalar s. */
    public static Tensor addScalar(Tensor a, float s) {
        Tensor src = a.contiguous();
        Tensor out = Tensor.zeros(a.shape());
        MemorySegment in = src.storage();
        MemorySegment o = out.storage();
        long off = src.offset();
        long n = out.numel();
        for (long i = 0; i < n; i++) {
            o.setAtIndex(F, i, in.getAtIndex(F, off + i) + s);
        }
        return out;
    }

    /** {@code a · s} for a scalar s. */
    public static Tensor scale(Tensor a, float s) {
        Tensor src = a.contiguous();
        Tensor out = Tensor.zeros(a.shape());
        MemorySegment in = src.storage();
        MemorySegment o = out.storage();
        long off = src.offset();
        long n = out.numel();
        for (long i = 0; i < n; i++) {
            o.setAtIndex(F, i, in.getAtIndex(F, off + i) * s);
        }
        return out;
    }

    /**
     * Sums over the given dimensions (negative counts from the end). With keepDims the summed
     * dimensions stay as size 1.
     */
    public static Tensor sum(Tensor t, int[] dims, boolean keepDims) {
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
        Tensor out = Tensor.zeros(outShape);
        long n = t.numel();
        if (n == 0) {
            return out;
        }
        // Walk t in index order, adding each element into its output slot (stride 0 along reduced
        // dimensions); accumulate in double, one run of the innermost dimension at a time.
        long[] outStrides = new long[r];
        long step = 1;
        for (int i = r - 1; i >= 0; i--) {
            if (!reduce[i]) {
                outStrides[i] = step;
                step *= shape[i];
            }
        }
        double[] acc = new double[(int) out.numel()];
        MemorySegment in = t.storage();
        long[] st = t.strides();
        if (r == 0) {
            acc[0] = in.getAtIndex(F, t.offset());
        } else {
            long inner = shape[r - 1];
            long innerStride = st[r - 1];
            boolean innerReduced = reduce[r - 1];
            long[] idx = new long[r];
            long src = t.offset();
            int dst = 0;
            for (long k = 0, outer = n / inner; k < outer; k++) {
                if (innerReduced) {
                    double s = 0;
                    for (long i = 0; i < inner; i++) s += in.getAtIndex(F, src + i * innerStride);
                    acc[dst] += s;
                } else {
                    for (int i = 0; i < inner; i++) acc[dst + i] += in.getAtIndex(F, src + i * innerStride);
                }
                for (int d = r - 2; d >= 0; d--) {
                    if (++idx[d] < shape[d]) {
                        src += st[d];
                        dst += (int) outStrides[d];
                        break;
                    }
                    src -= (shape[d] - 1) * st[d];
                    dst -= (int) ((shape[d] - 1) * outStrides[d]);
                    idx[d] = 0;
                }
            }
        }
        MemorySegment o = out.storage();
        for (int i = 0; i < acc.length; i++) {
            o.setAtIndex(F, i, (float) acc[i]);
        }
        return out;
    }

    /** Sums g down to {@code shape}, undoing a broadcast from shape to g's shape. */
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
