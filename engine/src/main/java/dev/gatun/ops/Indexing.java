package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Selecting elements by index or by mask, as PyTorch's {@code torch.gather}, {@code torch.index_select},
 * {@code torch.where}, {@code Tensor.masked_fill} and {@code torch.nn.functional.embedding}. Each result
 * is a new contiguous tensor; each is differentiable with respect to the float32 tensor it selects from
 * (backward scatter-adds the gradient to the positions read, so a position read twice gets both), never
 * with respect to the indices or masks.
 *
 * <p>Indices are int64 tensors, checked in Java before anything is read: an index outside
 * [0, size) throws {@link IndexOutOfBoundsException} naming the index, its position, the dimension and its
 * size. Negative indices are rejected, not wrapped, as PyTorch's {@code gather}, {@code index_select} and
 * {@code embedding} reject them. Masks are bool tensors; true selects the first operand of
 * {@link #where} and the fill value of {@link #maskedFill}.
 *
 * <pre>
 *   gather(src, d, index)[i][j][k]      = src[i][index[i][j][k]][k]          (d = 1; index's shape)
 *   indexSelect(src, d, index)[i][j][k] = src[i][index[j]][k]                (d = 1; size index.numel())
 *   where(c, a, b)                      = c ? a : b                          (broadcasting)
 *   maskedFill(t, m, v)                 = m ? v : t                          (broadcasting)
 *   embedding(w, idx)[p...]             = w[idx[p...]]                       ([idx.shape..., D])
 * </pre>
 */
public final class Indexing {

    /** No padding index for {@link #embedding(Tensor, Tensor, int)}: every looked-up row gets its gradient. */
    public static final int NO_PADDING = -1;

    private Indexing() {}

    // ---------------------------------------------------------------- gather and index_select

    /**
     * The elements of {@code src} picked along {@code dim} by {@code index} ({@code torch.gather}): for a
     * 3-d tensor and dim 1, {@code out[i][j][k] = src[i][index[i][j][k]][k]}. Differentiable with respect to
     * a float32 {@code src}.
     *
     * @param src   the tensor to pick from, of any dtype
     * @param dim   the dimension the index selects along, negative counting from the end
     * @param index an int64 tensor of src's number of dimensions, no larger than src in any other dimension
     * @return a tensor of index's shape and src's dtype
     * @throws IllegalArgumentException  if index is not int64, the ranks differ, index is larger than src in
     *                                   a dimension other than dim, or dim is out of range
     * @throws IndexOutOfBoundsException if an index is outside [0, src.size(dim))
     * @throws IllegalStateException     if a tensor is closed
     */
    public static Tensor gather(Tensor src, int dim, Tensor index) {
        src.checkAlive();
        requireIndex("gather", index);
        long[] ss = src.shape();
        long[] is = index.shape();
        if (ss.length != is.length) {
            throw new IllegalArgumentException("gather: index of shape " + Arrays.toString(is) + " must have as many"
                    + " dimensions as the input of shape " + Arrays.toString(ss));
        }
        if (ss.length == 0) {
            // A 0-d input has one element, which a 0-d index may pick with index 0 along dimension 0 or -1.
            checkDim("gather", dim, 1);
            checkIndices("gather", index.toLongArray(), 1, dim, is);
            return select("gather", src, new int[] {0}, is);
        }
        int d = checkDim("gather", dim, ss.length);
        for (int i = 0; i < ss.length; i++) {
            if (i != d && is[i] > ss[i]) {
                throw new IllegalArgumentException("gather: index of shape " + Arrays.toString(is)
                        + " is larger than the input of shape " + Arrays.toString(ss) + " at dimension " + i);
            }
        }
        Kernels.checkedSize(ss);
        long[] idx = index.toLongArray();
        checkIndices("gather", idx, ss[d], dim, is);
        int r = ss.length;
        long[] srcStrides = rowMajorStrides(ss);
        int[] positions = new int[idx.length];
        long[] at = new long[r];
        for (int p = 0; p < idx.length; p++) {
            long o = 0;
            for (int i = 0; i < r; i++) o += (i == d ? idx[p] : at[i]) * srcStrides[i];
            positions[p] = (int) o;
            for (int i = r - 1; i >= 0 && ++at[i] == is[i]; i--) at[i] = 0;
        }
        return select("gather", src, positions, is);
    }

    /**
     * The slices of {@code src} at {@code index} along {@code dim} ({@code torch.index_select}): for a 3-d
     * tensor and dim 1, {@code out[i][j][k] = src[i][index[j]][k]}. Differentiable with respect to a float32
     * {@code src}.
     *
     * @param src   the tensor to pick from, of any dtype, at least 1-d
     * @param dim   the dimension the index selects along, negative counting from the end
     * @param index a 1-d (or 0-d) int64 tensor
     * @return a tensor of src's shape with dimension dim of size index.numel(), and src's dtype
     * @throws IllegalArgumentException  if index is not int64 or not 1-d, src is 0-d, or dim is out of range
     * @throws IndexOutOfBoundsException if an index is outside [0, src.size(dim))
     * @throws IllegalStateException     if a tensor is closed
     */
    public static Tensor indexSelect(Tensor src, int dim, Tensor index) {
        src.checkAlive();
        requireIndex("indexSelect", index);
        if (index.dim() > 1) {
            throw new IllegalArgumentException("indexSelect: the index must be 1-d, got shape "
                    + Arrays.toString(index.shape()));
        }
        long[] ss = src.shape();
        if (ss.length == 0) {
            throw new IllegalArgumentException("indexSelect: the input must have at least one dimension, got a 0-d"
                    + " tensor");
        }
        int d = checkDim("indexSelect", dim, ss.length);
        Kernels.checkedSize(ss);
        long[] idx = index.toLongArray();
        checkIndices("indexSelect", idx, ss[d], dim, index.shape());
        long[] outShape = ss.clone();
        outShape[d] = idx.length;
        int n = (int) ss[d];
        int outer = 1;
        for (int i = 0; i < d; i++) outer *= (int) ss[i];
        int inner = 1;
        for (int i = d + 1; i < ss.length; i++) inner *= (int) ss[i];
        int[] positions = new int[Kernels.checkedSize(outShape)];
        int p = 0;
        for (int o = 0; o < outer; o++) {
            for (long k : idx) {
                int base = (o * n + (int) k) * inner;
                for (int i = 0; i < inner; i++) positions[p++] = base + i;
            }
        }
        return select("indexSelect", src, positions, outShape);
    }

    /**
     * src's elements at the row-major {@code positions} in {@code outShape}, recording the scatter-add
     * backward for a float32 src.
     */
    private static Tensor select(String op, Tensor src, int[] positions, long[] outShape) {
        long[] srcShape = src.shape();
        Tensor out = switch (src.dtype()) {
            case FLOAT32 -> {
                float[] x = src.toArray();
                float[] v = new float[positions.length];
                for (int i = 0; i < v.length; i++) v[i] = x[positions[i]];
                yield Tensor.fromArray(v, outShape);
            }
            case INT64 -> {
                long[] x = src.toLongArray();
                long[] v = new long[positions.length];
                for (int i = 0; i < v.length; i++) v[i] = x[positions[i]];
                yield Tensor.fromLongs(v, outShape);
            }
            case BOOL -> {
                boolean[] x = src.toBooleanArray();
                boolean[] v = new boolean[positions.length];
                for (int i = 0; i < v.length; i++) v[i] = x[positions[i]];
                yield Tensor.fromBooleans(v, outShape);
            }
        };
        return Autograd.recordValueFree(out, op, g -> new Tensor[] {scatterAdd(g, positions, srcShape)}, src);
    }

    /** A gradient of {@code shape}: each element of g added at its position. */
    private static Tensor scatterAdd(Tensor g, int[] positions, long[] shape) {
        float[] gv = g.toArray();
        float[] dx = new float[Kernels.checkedSize(shape)];
        for (int i = 0; i < gv.length; i++) dx[positions[i]] += gv[i];
        return Tensor.fromArray(dx, shape);
    }

    // ---------------------------------------------------------------- where and masked_fill

    /**
     * {@code condition ? a : b} elementwise ({@code torch.where(condition, a, b)}), all three broadcasting.
     * Differentiable with respect to float32 {@code a} and {@code b}: each gets the gradient where it was
     * chosen, summed back to its shape. Operands of different dtypes are promoted as PyTorch promotes them
     * (float32 over int64 over bool).
     *
     * @param condition a bool tensor
     * @param a         the values where the condition holds
     * @param b         the values where it does not
     * @return a tensor of the broadcast shape and the operands' (promoted) dtype
     * @throws IllegalArgumentException if condition is not bool, or the shapes do not broadcast
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor where(Tensor condition, Tensor a, Tensor b) {
        requireMask("where", "condition", condition);
        a.checkAlive();
        b.checkAlive();
        DType type = promote(a.dtype(), b.dtype());
        Tensor x = a.to(type);
        Tensor y = b.to(type);
        long[] shape = Kernels.broadcastShapes(condition.shape(), Kernels.broadcastShapes(x.shape(), y.shape()));
        boolean[] c = condition.toBooleanArray();
        int[] pc = Compare.broadcastPositions(condition.shape(), shape);
        int[] px = Compare.broadcastPositions(x.shape(), shape);
        int[] py = Compare.broadcastPositions(y.shape(), shape);
        int n = pc.length;
        Tensor out = switch (type) {
            case FLOAT32 -> {
                float[] u = x.toArray();
                float[] w = y.toArray();
                float[] v = new float[n];
                for (int i = 0; i < n; i++) v[i] = c[pc[i]] ? u[px[i]] : w[py[i]];
                yield Tensor.fromArray(v, shape);
            }
            case INT64 -> {
                long[] u = x.toLongArray();
                long[] w = y.toLongArray();
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = c[pc[i]] ? u[px[i]] : w[py[i]];
                yield Tensor.fromLongs(v, shape);
            }
            case BOOL -> {
                boolean[] u = x.toBooleanArray();
                boolean[] w = y.toBooleanArray();
                boolean[] v = new boolean[n];
                for (int i = 0; i < n; i++) v[i] = c[pc[i]] ? u[px[i]] : w[py[i]];
                yield Tensor.fromBooleans(v, shape);
            }
        };
        long[] xs = x.shape();
        long[] ys = y.shape();
        return Autograd.record(out, "where", g -> {
            float[] gv = g.toArray();
            Tensor gx = null;
            Tensor gy = null;
            if (x.requiresGrad()) {
                float[] m = new float[n];
                for (int i = 0; i < n; i++) if (c[pc[i]]) m[i] = gv[i];
                gx = Kernels.sumToShape(Tensor.fromArray(m, shape), xs);
            }
            if (y.requiresGrad()) {
                float[] m = new float[n];
                for (int i = 0; i < n; i++) if (!c[pc[i]]) m[i] = gv[i];
                gy = Kernels.sumToShape(Tensor.fromArray(m, shape), ys);
            }
            return new Tensor[] {gx, gy};
        }, x, y);
    }

    /**
     * {@code t} with {@code value} where {@code mask} is true ({@code Tensor.masked_fill}), the mask
     * broadcasting with t. Differentiable with respect to a float32 {@code t}: the gradient passes where the
     * mask is false and is zero where it is true.
     *
     * @param t     the tensor, of any dtype
     * @param mask  a bool tensor
     * @param value the fill value: for an int64 t a whole number in its range, for a bool t non-zero is true
     * @return a tensor of the broadcast shape and t's dtype
     * @throws IllegalArgumentException if mask is not bool, the shapes do not broadcast, or value is not a
     *                                  whole number for an int64 t
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor maskedFill(Tensor t, Tensor mask, double value) {
        t.checkAlive();
        requireMask("maskedFill", "mask", mask);
        if (t.dtype() == DType.INT64 && !(value == Math.rint(value) && value >= -0x1p63 && value < 0x1p63)) {
            throw new IllegalArgumentException("maskedFill: value " + value + " is not an int64, for an int64 tensor");
        }
        long[] shape = Kernels.broadcastShapes(t.shape(), mask.shape());
        boolean[] m = mask.toBooleanArray();
        int[] pm = Compare.broadcastPositions(mask.shape(), shape);
        int[] pt = Compare.broadcastPositions(t.shape(), shape);
        int n = pm.length;
        Tensor out = switch (t.dtype()) {
            case FLOAT32 -> {
                float[] x = t.toArray();
                float fill = (float) value;
                float[] v = new float[n];
                for (int i = 0; i < n; i++) v[i] = m[pm[i]] ? fill : x[pt[i]];
                yield Tensor.fromArray(v, shape);
            }
            case INT64 -> {
                long[] x = t.toLongArray();
                long fill = (long) value;
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = m[pm[i]] ? fill : x[pt[i]];
                yield Tensor.fromLongs(v, shape);
            }
            case BOOL -> {
                boolean[] x = t.toBooleanArray();
                boolean fill = value != 0;
                boolean[] v = new boolean[n];
                for (int i = 0; i < n; i++) v[i] = m[pm[i]] ? fill : x[pt[i]];
                yield Tensor.fromBooleans(v, shape);
            }
        };
        long[] ts = t.shape();
        return Autograd.record(out, "maskedFill", g -> {
            float[] gv = g.toArray();
            for (int i = 0; i < n; i++) if (m[pm[i]]) gv[i] = 0;
            return new Tensor[] {Kernels.sumToShape(Tensor.fromArray(gv, shape), ts)};
        }, t);
    }

    // ---------------------------------------------------------------- embedding

    /**
     * The rows of {@code weight} at {@code indices} ({@code torch.nn.functional.embedding}): indices of
     * any shape S give [S..., D]. Differentiable with respect to the weight (repeated indices accumulate).
     *
     * @param weight  a float32 table [V, D]
     * @param indices an int64 tensor of any shape, each in [0, V)
     * @return a float32 tensor [indices.shape()..., D]
     * @throws IllegalArgumentException if weight is not [V, D], indices is not int64, or an index is outside
     *                                  [0, V) (the message names it and its position)
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor embedding(Tensor weight, Tensor indices) {
        return embedding(weight, indices, NO_PADDING);
    }

    /**
     * As {@link #embedding(Tensor, Tensor)}; rows at {@code paddingIdx} receive no gradient (the lookup still
     * returns them), as PyTorch's {@code padding_idx}.
     *
     * @param weight     a float32 table [V, D]
     * @param indices    an int64 tensor of any shape, each in [0, V)
     * @param paddingIdx the row that gets no gradient, in [0, V), or {@link #NO_PADDING}
     * @return a float32 tensor [indices.shape()..., D]
     * @throws IllegalArgumentException if weight is not [V, D], indices is not int64, an index is outside
     *                                  [0, V), or the padding index is neither in range nor NO_PADDING
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor embedding(Tensor weight, Tensor indices, int paddingIdx) {
        weight.checkAlive();
        requireIndex("embedding", indices);
        long[] idx = indices.toLongArray();
        long v = weight.dim() == 2 ? weight.size(0) : 0;
        int[] small = new int[idx.length];
        for (int p = 0; p < idx.length; p++) {
            // Checked here as longs: a cast to int could wrap an out-of-range index into range.
            if (weight.dim() == 2 && (idx[p] < 0 || idx[p] >= v)) {
                throw new IllegalArgumentException("embedding: index " + idx[p] + " at position "
                        + Arrays.toString(unravel(p, indices.shape())) + " is out of range [0, " + v + ")");
            }
            small[p] = (int) idx[p];
        }
        return embedding(weight, small, indices.shape(), paddingIdx);
    }

    /**
     * The rows of {@code weight} at {@code indices}, shaped [shape..., D].
     *
     * @param weight  a float32 table [V, D]
     * @param indices the row of each position, row-major, each in [0, V)
     * @param shape   the shape S of the positions
     * @return a float32 tensor [S..., D]
     * @throws IllegalArgumentException if weight is not [V, D], the indices do not fill the shape, or an index
     *                                  is outside [0, V)
     * @throws IllegalStateException    if the weight is closed
     */
    public static Tensor embedding(Tensor weight, int[] indices, long... shape) {
        return embedding(weight, indices, shape, NO_PADDING);
    }

    /**
     * The rows of {@code weight} at {@code indices}, shaped [shape..., D]; rows equal to
     * {@code paddingIdx} (in [0, V), or {@link #NO_PADDING}) receive no gradient. Every index is checked
     * against [0, V) first.
     *
     * @param weight     a float32 table [V, D]
     * @param indices    the row of each position, row-major, each in [0, V)
     * @param shape      the shape S of the positions
     * @param paddingIdx the row that gets no gradient, in [0, V), or {@link #NO_PADDING}
     * @return a float32 tensor [S..., D]
     * @throws IllegalArgumentException if weight is not a float32 [V, D], the indices do not fill the shape,
     *                                  an index is outside [0, V), or the padding index is out of range
     * @throws IllegalStateException    if the weight is closed
     */
    public static Tensor embedding(Tensor weight, int[] indices, long[] shape, int paddingIdx) {
        weight.checkAlive();
        if (weight.dim() != 2) {
            throw new IllegalArgumentException("embedding: weight must be [V, D], got shape "
                    + Arrays.toString(weight.shape()));
        }
        if (weight.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("embedding expects a float32 weight, got " + weight.dtype());
        }
        if (indices == null || shape == null) {
            throw new IllegalArgumentException("embedding: indices and their shape are required");
        }
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("embedding: negative size in index shape " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, d);
        }
        if (count != indices.length) {
            throw new IllegalArgumentException("embedding: index shape " + Arrays.toString(shape) + " holds " + count
                    + " indices, got " + indices.length);
        }
        long v = weight.size(0);
        long dim = weight.size(1);
        if (paddingIdx != NO_PADDING && (paddingIdx < 0 || paddingIdx >= v)) {
            throw new IllegalArgumentException("embedding: padding index " + paddingIdx + " is out of range [0, " + v
                    + ")");
        }
        for (int p = 0; p < indices.length; p++) {
            if (indices[p] < 0 || indices[p] >= v) {
                throw new IllegalArgumentException("embedding: index " + indices[p] + " at position " + p
                        + " is out of range [0, " + v + ")");
            }
        }
        int[] idx = indices.clone(); // the caller may reuse its array before backward runs
        Tensor w = weight.contiguous();
        long[] outShape = Arrays.copyOf(shape, shape.length + 1);
        outShape[shape.length] = dim;
        Tensor out = Tensor.empty(outShape);  // every row is copied in below
        long rowBytes = dim * Float.BYTES;
        MemorySegment src = w.storageForReading();
        MemorySegment dst = out.storage();
        long base = w.offset() * Float.BYTES;
        for (int p = 0; p < idx.length; p++) {
            MemorySegment.copy(src, base + idx[p] * rowBytes, dst, p * rowBytes, rowBytes);
        }
        if (Autograd.needsGrad(w)) {
            Lookups.note(out, w, idx, paddingIdx);
        }
        return Autograd.recordValueFree(out, "embedding",
                g -> new Tensor[] {embeddingBackward(g, idx, v, dim, paddingIdx)}, w);
    }

    /** ∂weight [V, D]: each position's gradient row added to the row it looked up. */
    private static Tensor embeddingBackward(Tensor grad, int[] idx, long v, long dim, int paddingIdx) {
        float[] g = grad.contiguous().toArray();
        int d = (int) dim;
        float[] dw = new float[Math.toIntExact(v * dim)];
        for (int p = 0; p < idx.length; p++) {
            if (idx[p] == paddingIdx) continue;
            int row = idx[p] * d;
            int from = p * d;
            for (int k = 0; k < d; k++) dw[row + k] += g[from + k];
        }
        return Tensor.fromArray(dw, v, dim);
    }

    // ---------------------------------------------------------------- checks

    private static void requireIndex(String op, Tensor index) {
        if (index == null) {
            throw new IllegalArgumentException(op + ": the index tensor is null");
        }
        index.checkAlive();
        if (index.dtype() != DType.INT64) {
            throw new IllegalArgumentException(op + " expects int64 indices, got " + index.dtype() + " (a tensor of"
                    + " shape " + Arrays.toString(index.shape()) + "); convert it with to(DType.INT64) if that is"
                    + " meant");
        }
    }

    private static void requireMask(String op, String what, Tensor mask) {
        if (mask == null) {
            throw new IllegalArgumentException(op + ": the " + what + " is null");
        }
        mask.checkAlive();
        if (mask.dtype() != DType.BOOL) {
            throw new IllegalArgumentException(op + " expects a bool " + what + ", got " + mask.dtype() + " (a tensor"
                    + " of shape " + Arrays.toString(mask.shape()) + "); make one with a comparison such as gt, or"
                    + " convert it with to(DType.BOOL)");
        }
    }

    private static int checkDim(String op, int dim, int rank) {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw new IllegalArgumentException(op + ": dimension " + dim + " out of range for a "
                    + (rank == 1 ? "1-d (or 0-d)" : rank + "-d") + " tensor");
        }
        return d;
    }

    /** Every index in [0, size), else an exception naming it, its position in the index, the dimension and size. */
    private static void checkIndices(String op, long[] idx, long size, int dim, long[] indexShape) {
        for (int p = 0; p < idx.length; p++) {
            if (idx[p] < 0 || idx[p] >= size) {
                throw new IndexOutOfBoundsException(op + ": index " + idx[p] + " at position "
                        + Arrays.toString(unravel(p, indexShape)) + " is out of range for dimension " + dim
                        + " of size " + size
                        + (idx[p] < 0 ? " (negative indices are not wrapped, as in PyTorch)" : ""));
            }
        }
    }

    private static long[] rowMajorStrides(long[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    /** The multi-index of row-major position {@code p} in {@code shape}, for messages. */
    private static long[] unravel(long p, long[] shape) {
        long[] at = new long[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] > 0) {
                at[i] = p % shape[i];
                p /= shape[i];
            }
        }
        return at;
    }

    /** The dtype two operands are computed in: float32 over int64 over bool, as PyTorch promotes. */
    private static DType promote(DType a, DType b) {
        if (a == b) {
            return a;
        }
        return a == DType.FLOAT32 || b == DType.FLOAT32 ? DType.FLOAT32 : DType.INT64;
    }
}
