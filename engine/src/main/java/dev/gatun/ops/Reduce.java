package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;

/**
 * Reductions: differentiable sums and means over dimensions (the gradient is broadcast back over them),
 * and the arg-reductions {@code argmax}/{@code argmin} and {@code max}/{@code min} of PyTorch.
 *
 * <p>The max and min reductions take float32 or int64 tensors. As in PyTorch, NaN counts as larger (for
 * max) and smaller (for min) than every number, so a slice holding NaN gives NaN and the position of its
 * first NaN; among equal extremes the first position wins. Indices are int64 positions along the reduced
 * dimension ({@link #argmax(Tensor)}: in the flattened tensor). The values of {@link #max(Tensor, int,
 * boolean)} are differentiable: the gradient goes to the position the index names; that of
 * {@link #max(Tensor)} is shared evenly among all positions holding the maximum, as PyTorch shares it.
 */
public final class Reduce {

    private Reduce() {}

    /**
     * The values and int64 indices of a max or min along a dimension ({@code torch.return_types.max}).
     *
     * @param values  the extreme values, of the input's dtype
     * @param indices their int64 positions along the reduced dimension, of the same shape
     */
    public record ValuesIndices(Tensor values, Tensor indices) {}

    /**
     * The sum of all elements, a 0-d tensor ({@code torch.sum}).
     *
     * @param t a float32 tensor
     * @return the sum, accumulated in double
     * @throws IllegalArgumentException if t is not float32
     */
    public static Tensor sum(Tensor t) {
        return sum(t, allDims(t), false);
    }

    /**
     * Sums over {@code dims}; with keepDims they stay as size 1 ({@code torch.sum(t, dims, keepdim)}).
     *
     * @param t        a float32 tensor
     * @param dims     the dimensions to sum over, negative counting from the end
     * @param keepDims whether the summed dimensions stay, as size 1
     * @return the sums
     * @throws IllegalArgumentException if t is not float32, or a dimension is out of range or repeated
     */
    public static Tensor sum(Tensor t, int[] dims, boolean keepDims) {
        Tensor out = Kernels.sum(t, dims, keepDims);
        long[] shape = t.shape();
        long[] kept = keptShape(t, dims);
        return Autograd.recordValueFree(out, "sum", g -> new Tensor[] {g.reshape(kept).expand(shape).contiguous()}, t);
    }

    /**
     * The mean of all elements, a 0-d tensor ({@code torch.mean}); NaN for an empty tensor.
     *
     * @param t a float32 tensor
     * @return the mean
     * @throws IllegalArgumentException if t is not float32
     */
    public static Tensor mean(Tensor t) {
        return mean(t, allDims(t), false);
    }

    /**
     * Means over {@code dims}; with keepDims they stay as size 1 ({@code torch.mean(t, dims, keepdim)}).
     *
     * @param t        a float32 tensor
     * @param dims     the dimensions to average over, negative counting from the end
     * @param keepDims whether the averaged dimensions stay, as size 1
     * @return the means
     * @throws IllegalArgumentException if t is not float32, or a dimension is out of range or repeated
     */
    public static Tensor mean(Tensor t, int[] dims, boolean keepDims) {
        Tensor sum = sum(t, dims, keepDims); // checks the dimensions
        long count = 1;
        long[] shape = t.shape();
        for (int d : dims) {
            count *= shape[d < 0 ? d + shape.length : d];
        }
        return Arithmetic.scale(sum, count == 0 ? Float.NaN : 1f / count);
    }

    /**
     * The position of the largest element in the flattened tensor, a 0-d int64 tensor
     * ({@code torch.argmax(t)}).
     *
     * @param t a float32 or int64 tensor with at least one element
     * @return the row-major position of the first maximum (of the first NaN, if any)
     * @throws IllegalArgumentException if t is empty or bool
     */
    public static Tensor argmax(Tensor t) {
        return Tensor.fromLongs(new long[] {scan("argmax", t, null, true).position[0]}, new long[0]);
    }

    /**
     * The position of the smallest element in the flattened tensor, a 0-d int64 tensor
     * ({@code torch.argmin(t)}).
     *
     * @param t a float32 or int64 tensor with at least one element
     * @return the row-major position of the first minimum (of the first NaN, if any)
     * @throws IllegalArgumentException if t is empty or bool
     */
    public static Tensor argmin(Tensor t) {
        return Tensor.fromLongs(new long[] {scan("argmin", t, null, false).position[0]}, new long[0]);
    }

    /**
     * The positions of the largest elements along {@code dim} ({@code torch.argmax(t, dim, keepdim)}).
     *
     * @param t       a float32 or int64 tensor
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return an int64 tensor of indices in [0, t.size(dim))
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or t is bool
     */
    public static Tensor argmax(Tensor t, int dim, boolean keepdim) {
        Scan s = scan("argmax", t, dim, true);
        return Tensor.fromLongs(s.index, s.outShape(keepdim));
    }

    /**
     * The positions of the smallest elements along {@code dim} ({@code torch.argmin(t, dim, keepdim)}).
     *
     * @param t       a float32 or int64 tensor
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return an int64 tensor of indices in [0, t.size(dim))
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or t is bool
     */
    public static Tensor argmin(Tensor t, int dim, boolean keepdim) {
        Scan s = scan("argmin", t, dim, false);
        return Tensor.fromLongs(s.index, s.outShape(keepdim));
    }

    /**
     * The largest elements along {@code dim} and their positions ({@code torch.max(t, dim, keepdim)}).
     * The values are differentiable: each one's gradient goes to the position its index names.
     *
     * @param t       a float32 or int64 tensor
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return the values (t's dtype) and int64 indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or t is bool
     */
    public static ValuesIndices max(Tensor t, int dim, boolean keepdim) {
        return valuesIndices("max", t, dim, keepdim, true);
    }

    /**
     * The smallest elements along {@code dim} and their positions ({@code torch.min(t, dim, keepdim)}).
     * The values are differentiable: each one's gradient goes to the position its index names.
     *
     * @param t       a float32 or int64 tensor
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return the values (t's dtype) and int64 indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or t is bool
     */
    public static ValuesIndices min(Tensor t, int dim, boolean keepdim) {
        return valuesIndices("min", t, dim, keepdim, false);
    }

    /**
     * The largest element, a 0-d tensor of t's dtype ({@code torch.max(t)}). Differentiable: the gradient
     * is shared evenly among the positions holding the maximum.
     *
     * @param t a float32 or int64 tensor with at least one element
     * @return the maximum (NaN if t holds NaN)
     * @throws IllegalArgumentException if t is empty or bool
     */
    public static Tensor max(Tensor t) {
        return extreme("max", t, true);
    }

    /**
     * The smallest element, a 0-d tensor of t's dtype ({@code torch.min(t)}). Differentiable: the gradient
     * is shared evenly among the positions holding the minimum.
     *
     * @param t a float32 or int64 tensor with at least one element
     * @return the minimum (NaN if t holds NaN)
     * @throws IllegalArgumentException if t is empty or bool
     */
    public static Tensor min(Tensor t) {
        return extreme("min", t, false);
    }

    private static ValuesIndices valuesIndices(String op, Tensor t, int dim, boolean keepdim, boolean max) {
        Scan s = scan(op, t, dim, max);
        long[] outShape = s.outShape(keepdim);
        Tensor indices = Tensor.fromLongs(s.index, outShape);
        if (s.longs != null) {
            return new ValuesIndices(Tensor.fromLongs(s.longs, outShape), indices);
        }
        long[] shape = t.shape();
        int[] position = s.position;
        Tensor values = Autograd.record(Tensor.fromArray(s.floats, outShape), op, g -> {
            float[] gv = g.toArray();
            float[] dx = new float[Math.toIntExact(t.numel())];
            for (int j = 0; j < gv.length; j++) dx[position[j]] += gv[j];
            return new Tensor[] {Tensor.fromArray(dx, shape)};
        }, t);
        return new ValuesIndices(values, indices);
    }

    private static Tensor extreme(String op, Tensor t, boolean max) {
        Scan s = scan(op, t, null, max);
        if (s.longs != null) {
            return Tensor.fromLongs(s.longs, new long[0]);
        }
        float best = s.floats[0];
        long[] shape = t.shape();
        return Autograd.record(Tensor.fromArray(new float[] {best}, new long[0]), op, g -> {
            float[] x = t.toArray();
            boolean nan = Float.isNaN(best);
            int count = 0;
            for (float v : x) if (v == best || nan && Float.isNaN(v)) count++;
            float share = g.item() / count;
            float[] dx = new float[x.length];
            for (int i = 0; i < x.length; i++) if (x[i] == best || nan && Float.isNaN(x[i])) dx[i] = share;
            return new Tensor[] {Tensor.fromArray(dx, shape)};
        }, t);
    }

    /**
     * The result of scanning for extremes: per output element (row-major over the kept dimensions) its
     * value ({@code floats} or {@code longs}, by dtype), its index along the dimension and its row-major
     * position in the input.
     */
    private record Scan(float[] floats, long[] longs, long[] index, int[] position, long[] shape, int dim) {

        /** The output shape: the input's with the dimension kept as 1 or dropped (always 0-d for a 0-d input). */
        long[] outShape(boolean keepdim) {
            if (dim < 0) {
                return new long[0];
            }
            if (keepdim) {
                long[] s = shape.clone();
                s[dim] = 1;
                return s;
            }
            long[] s = new long[shape.length - 1];
            for (int i = 0, j = 0; i < shape.length; i++) if (i != dim) s[j++] = shape[i];
            return s;
        }
    }

    /** Scans {@code dim} (null: the flattened tensor) for its maxima or minima. */
    private static Scan scan(String op, Tensor t, Integer dim, boolean max) {
        t.checkAlive();
        if (t.dtype() == DType.BOOL) {
            throw new IllegalArgumentException(op + " expects float32 or int64, got bool (a tensor of shape "
                    + Arrays.toString(t.shape()) + "); convert it with to(DType.INT64) if that is meant");
        }
        long[] shape = t.shape();
        int r = shape.length;
        int d;
        long outer;
        long n;
        long inner;
        if (dim == null || r == 0) {
            if (dim != null && dim != 0 && dim != -1) {
                throw new IllegalArgumentException(op + ": dimension " + dim + " out of range for a 0-d tensor");
            }
            d = -1;
            outer = 1;
            n = t.numel();
            inner = 1;
        } else {
            d = dim < 0 ? dim + r : dim;
            if (d < 0 || d >= r) {
                throw new IllegalArgumentException(op + ": dimension " + dim + " out of range for a " + r
                        + "-d tensor");
            }
            n = shape[d];
            outer = 1;
            for (int i = 0; i < d; i++) outer *= shape[i];
            inner = 1;
            for (int i = d + 1; i < r; i++) inner *= shape[i];
        }
        if (n == 0) {
            throw new IllegalArgumentException(op + ": " + (d < 0 ? "an empty tensor" : "dimension " + dim
                    + " of shape " + Arrays.toString(shape) + " is empty, and") + " has no " + (max ? "maximum"
                    : "minimum"));
        }
        int count = Math.toIntExact(outer * inner);
        long[] index = new long[count];
        int[] position = new int[count];
        int len = (int) n;
        int step = (int) inner;
        if (t.dtype() == DType.FLOAT32) {
            float[] x = t.toArray();
            float[] values = new float[count];
            for (int j = 0; j < count; j++) {
                int base = (int) (j / inner) * len * step + (int) (j % inner);
                int best = 0;
                float bv = x[base];
                for (int k = 1; k < len && bv == bv; k++) {
                    float v = x[base + k * step];
                    // NaN wins over every number, and the first NaN stays (bv == bv ends the scan).
                    if (v != v || (max ? v > bv : v < bv)) {
                        bv = v;
                        best = k;
                    }
                }
                values[j] = bv;
                index[j] = best;
                position[j] = base + best * step;
            }
            return new Scan(values, null, index, position, shape, d);
        }
        long[] x = t.toLongArray();
        long[] values = new long[count];
        for (int j = 0; j < count; j++) {
            int base = (int) (j / inner) * len * step + (int) (j % inner);
            int best = 0;
            long bv = x[base];
            for (int k = 1; k < len; k++) {
                long v = x[base + k * step];
                if (max ? v > bv : v < bv) {
                    bv = v;
                    best = k;
                }
            }
            values[j] = bv;
            index[j] = best;
            position[j] = base + best * step;
        }
        return new Scan(null, values, index, position, shape, d);
    }

    private static int[] allDims(Tensor t) {
        int[] d = new int[t.dim()];
        for (int i = 0; i < d.length; i++) d[i] = i;
        return d;
    }

    /** t's shape with the reduced dims set to 1 (the keepDims shape). */
    private static long[] keptShape(Tensor t, int[] dims) {
        long[] s = t.shape();
        for (int d : dims) {
            s[d < 0 ? d + s.length : d] = 1;
        }
        return s;
    }
}
