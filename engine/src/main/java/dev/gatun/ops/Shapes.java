package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Differentiable joining and splitting of tensors along a dimension, as PyTorch's {@code torch.cat},
 * {@code torch.stack}, {@code Tensor.split} and {@code Tensor.chunk}. Dimensions may be negative, counting
 * from the end. The same ops are methods of {@link Tensor} ({@code Tensor.cat(0, a, b)},
 * {@code x.split(2, 1)}, ...).
 *
 * <p>{@link #cat} and {@link #stack} copy their inputs into one new contiguous tensor, straight from
 * storage to storage; the gradient of each input is its slice of the output's gradient. {@link #split}
 * and {@link #chunk} return views (no copy), whose gradients flow back into the pieces' places.
 */
public final class Shapes {

    private Shapes() {}

    /**
     * The tensors joined along an existing dimension ({@code torch.cat(tensors, dim)}; Java puts the
     * varargs last). All must have the same number of dimensions (at least one) and equal sizes except
     * along {@code dim}.
     *
     * @param dim the dimension to join along; negative counts from the end
     * @param tensors the tensors, at least one
     * @return a new contiguous tensor whose size along {@code dim} is the sum of the inputs'
     * @throws IllegalArgumentException if there is no tensor or a null one, a tensor is 0-d, the ranks or
     *     the other sizes differ, or {@code dim} is out of range (the message names the value)
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor cat(int dim, Tensor... tensors) {
        checkTensors("cat", tensors);
        Tensor first = tensors[0];
        int r = first.dim();
        if (r == 0) {
            throw new IllegalArgumentException("cat: zero-dimensional tensor (at position 0) cannot be concatenated;"
                    + " use stack");
        }
        int d = dimIndex("cat", dim, r);
        long[] shape = first.shape();
        long total = 0;
        for (int i = 0; i < tensors.length; i++) {
            long[] s = tensors[i].shape();
            if (s.length != r) {
                throw new IllegalArgumentException("cat: tensor " + i + " has " + s.length
                        + " dimensions, tensor 0 has " + r + " (shapes " + Arrays.toString(s) + " and "
                        + Arrays.toString(shape) + ")");
            }
            for (int k = 0; k < r; k++) {
                if (k != d && s[k] != shape[k]) {
                    throw new IllegalArgumentException("cat: sizes must match except in dimension " + d
                            + ", but tensor " + i + " has shape " + Arrays.toString(s) + " and tensor 0 " + Arrays.toString(shape)
                            + " (dimension " + k + ": " + s[k] + " vs " + shape[k] + ")");
                }
            }
            total = Math.addExact(total, s[d]);
        }
        long[] outShape = shape.clone();
        outShape[d] = total;
        long[] starts = new long[tensors.length + 1];
        for (int i = 0; i < tensors.length; i++) {
            starts[i + 1] = starts[i] + tensors[i].size(d);
        }
        Tensor out = Tensor.empty(outShape);
        try (var ignored = Autograd.noGrad()) {
            for (int i = 0; i < tensors.length; i++) {
                out.slice(d, starts[i], starts[i + 1]).copyFrom(tensors[i]);
            }
        }
        Tensor[] inputs = tensors.clone();
        return Autograd.recordValueFree(out, "cat", g -> {
            Tensor[] grads = new Tensor[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                grads[i] = inputs[i].requiresGrad() ? g.slice(d, starts[i], starts[i + 1]) : null;
            }
            return grads;
        }, inputs);
    }

    /**
     * The tensors joined along an existing dimension, in PyTorch's argument order
     * ({@code torch.cat(tensors, dim)}); see {@link #cat(int, Tensor...)}.
     *
     * @param tensors the tensors, at least one
     * @param dim the dimension to join along; negative counts from the end
     * @return a new contiguous tensor whose size along {@code dim} is the sum of the inputs'
     * @throws IllegalArgumentException as {@link #cat(int, Tensor...)}, or if {@code tensors} is null
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor cat(List<Tensor> tensors, int dim) {
        return cat(dim, toArray("cat", tensors));
    }

    /**
     * The tensors, all of one shape, stacked along a new dimension ({@code torch.stack(tensors, dim)}):
     * the result has one more dimension, of size {@code tensors.length}, at {@code dim}.
     *
     * @param dim where the new dimension goes, from 0 to the inputs' rank; negative counts from the end
     *     of the result ({@code -1}: last)
     * @param tensors the tensors, at least one, all of the same shape
     * @return a new contiguous tensor
     * @throws IllegalArgumentException if there is no tensor or a null one, the shapes differ, or
     *     {@code dim} is out of range (the message names the value)
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor stack(int dim, Tensor... tensors) {
        checkTensors("stack", tensors);
        long[] shape = tensors[0].shape();
        for (int i = 1; i < tensors.length; i++) {
            if (!Arrays.equals(tensors[i].shape(), shape)) {
                throw new IllegalArgumentException("stack expects tensors of one shape, but tensor 0 has shape "
                        + Arrays.toString(shape) + " and tensor " + i + " " + Arrays.toString(tensors[i].shape()));
            }
        }
        int d = dimIndex("stack", dim, shape.length + 1);
        long[] outShape = new long[shape.length + 1];
        for (int k = 0, j = 0; k < outShape.length; k++) {
            outShape[k] = k == d ? tensors.length : shape[j++];
        }
        Tensor out = Tensor.empty(outShape);
        try (var ignored = Autograd.noGrad()) {
            for (int i = 0; i < tensors.length; i++) {
                out.select(d, i).copyFrom(tensors[i]);
            }
        }
        Tensor[] inputs = tensors.clone();
        return Autograd.recordValueFree(out, "stack", g -> {
            Tensor[] grads = new Tensor[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                grads[i] = inputs[i].requiresGrad() ? g.select(d, i) : null;
            }
            return grads;
        }, inputs);
    }

    /**
     * The tensors stacked along a new dimension, in PyTorch's argument order
     * ({@code torch.stack(tensors, dim)}); see {@link #stack(int, Tensor...)}.
     *
     * @param tensors the tensors, at least one, all of the same shape
     * @param dim where the new dimension goes; negative counts from the end of the result
     * @return a new contiguous tensor
     * @throws IllegalArgumentException as {@link #stack(int, Tensor...)}, or if {@code tensors} is null
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor stack(List<Tensor> tensors, int dim) {
        return stack(dim, toArray("stack", tensors));
    }

    /**
     * {@code t} cut along {@code dim} into pieces of {@code splitSize} (the last one smaller if the size
     * does not divide), as views ({@code Tensor.split(split_size, dim)}).
     *
     * @param t the tensor
     * @param splitSize the size of each piece, positive (0 only when the dimension is empty)
     * @param dim the dimension to cut; negative counts from the end
     * @return the pieces in order, an unmodifiable list of at least one view
     * @throws IllegalArgumentException if {@code splitSize} is negative, or 0 for a non-empty dimension,
     *     or {@code dim} is out of range
     * @throws IllegalStateException if {@code t} is closed
     */
    public static List<Tensor> split(Tensor t, long splitSize, int dim) {
        t.checkAlive();
        int d = dimIndex("split", dim, t.dim());
        long n = t.size(d);
        if (splitSize < 0 || splitSize == 0 && n > 0) {
            throw new IllegalArgumentException("split: split size must be positive (0 only for an empty dimension),"
                    + " got " + splitSize + " for dimension " + dim + " of size " + n);
        }
        if (n == 0) {
            return List.of(t.slice(d, 0, 0));
        }
        List<Tensor> pieces = new ArrayList<>();
        for (long start = 0; start < n; start += splitSize) {
            pieces.add(t.slice(d, start, Math.min(n, start + splitSize)));
        }
        return List.copyOf(pieces);
    }

    /**
     * {@code t} cut along {@code dim} into pieces of the given sizes, as views
     * ({@code Tensor.split([sizes], dim)}).
     *
     * @param t the tensor
     * @param sizes the size of each piece, non-negative, summing to the size of dimension {@code dim}
     * @param dim the dimension to cut; negative counts from the end
     * @return the pieces in order, an unmodifiable list with one view per size
     * @throws IllegalArgumentException if {@code sizes} is null or empty, a size is negative, the sizes do
     *     not sum to the dimension's size, or {@code dim} is out of range
     * @throws IllegalStateException if {@code t} is closed
     */
    public static List<Tensor> split(Tensor t, long[] sizes, int dim) {
        t.checkAlive();
        int d = dimIndex("split", dim, t.dim());
        if (sizes == null || sizes.length == 0) {
            throw new IllegalArgumentException("split: needs at least one size, got "
                    + (sizes == null ? "null" : "[]"));
        }
        long n = t.size(d);
        long sum = 0;
        for (long s : sizes) {
            if (s < 0) {
                throw new IllegalArgumentException("split: negative size " + s + " in " + Arrays.toString(sizes));
            }
            sum += s;
        }
        if (sum != n) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " sum to " + sum
                    + ", but dimension " + dim + " has size " + n);
        }
        Tensor[] pieces = new Tensor[sizes.length];
        long start = 0;
        for (int i = 0; i < sizes.length; i++) {
            pieces[i] = t.slice(d, start, start + sizes[i]);
            start += sizes[i];
        }
        return List.of(pieces);
    }

    /**
     * {@code t} cut along {@code dim} into {@code chunks} pieces of equal size, rounded up, as views
     * ({@code Tensor.chunk(chunks, dim)}): the last piece is smaller when the size does not divide, and
     * there are fewer pieces when the rounded-up size covers the dimension sooner (as in PyTorch: 5 rows
     * in 4 chunks give 3 pieces of 2, 2 and 1). An empty dimension gives {@code chunks} empty pieces.
     *
     * @param t the tensor
     * @param chunks the number of pieces wanted, positive
     * @param dim the dimension to cut; negative counts from the end
     * @return the pieces in order, an unmodifiable list of at most {@code chunks} views
     * @throws IllegalArgumentException if {@code chunks} is not positive or {@code dim} is out of range
     * @throws IllegalStateException if {@code t} is closed
     */
    public static List<Tensor> chunk(Tensor t, int chunks, int dim) {
        t.checkAlive();
        if (chunks <= 0) {
            throw new IllegalArgumentException("chunk: number of chunks must be positive, got " + chunks);
        }
        int d = dimIndex("chunk", dim, t.dim());
        long n = t.size(d);
        if (n == 0) {
            long[] sizes = new long[chunks];
            return split(t, sizes, d);
        }
        return split(t, (n + chunks - 1) / chunks, d);
    }

    /** {@code dim} as an index in [0, rank), negative counting from the end, or an exception naming it. */
    static int dimIndex(String op, int dim, int rank) {
        if (rank == 0) {
            throw new IllegalArgumentException(op + ": a 0-d tensor has no dimension " + dim);
        }
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw new IllegalArgumentException(op + ": dimension " + dim + " out of range for a " + rank
                    + "-d " + (op.equals("stack") ? "result" : "tensor") + " (expected " + -rank + " to "
                    + (rank - 1) + ")");
        }
        return d;
    }

    private static void checkTensors(String op, Tensor[] tensors) {
        if (tensors == null || tensors.length == 0) {
            throw new IllegalArgumentException(op + " needs at least one tensor, got "
                    + (tensors == null ? "null" : "none"));
        }
        for (int i = 0; i < tensors.length; i++) {
            if (tensors[i] == null) {
                throw new IllegalArgumentException(op + ": tensor " + i + " is null");
            }
            tensors[i].checkAlive();
        }
    }

    private static Tensor[] toArray(String op, List<Tensor> tensors) {
        if (tensors == null) {
            throw new IllegalArgumentException(op + " needs a list of tensors, got null");
        }
        return tensors.toArray(new Tensor[0]);
    }
}
