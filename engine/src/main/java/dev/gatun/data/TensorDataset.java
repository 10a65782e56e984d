package dev.gatun.data;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * Samples made of tensors of any shapes, numbered by their first dimension, as PyTorch's
 * {@code TensorDataset}: sample i is row i of every tensor. For data that are not a classification
 * {@link Dataset}: inputs and real-valued targets, a language model's token windows and next tokens, an
 * autoencoder's inputs alone. A {@link DataLoader} cuts it into batches of the same tensors, each batch
 * holding the same rows of every tensor.
 *
 * <pre>{@code
 * TensorDataset pairs = TensorDataset.of(x, y);            // x [N, 1, 28, 28], y [N, 10]
 * var loader = new DataLoader(pairs, 64, Order.shuffled(42), LastBatch.DROP);
 * for (Batch b : loader.epoch(epoch)) {
 *     try (b; Scope step = Scope.open()) {                   // b.inputs() [64, 1, 28, 28], b.targets() [64, 10]
 *         Tensor loss = Loss.mse(model.forward(b.inputs()), b.targets());
 *         ...
 *     }
 * }
 * }</pre>
 *
 * <p>A dataset holds copies of its tensors' values on the Java heap, taken when it is made, so it is
 * immutable and independent of the scopes of the tensors it was made from. Tensors may be float32, int64
 * (class labels, token ids) or bool (masks); batches keep each tensor's dtype.
 */
public final class TensorDataset implements Samples {

    /**
     * One tensor's samples: the values row after row on the heap, the shape of one sample and the element
     * type. Rows move as bytes; only reading a tensor in and writing a batch out look at the type.
     */
    private record Column(MemorySegment data, long[] sampleShape, long rowElements, DType dtype) {

        int elementBytes() {
            return dtype.elementSize();
        }

        long rowBytes() {
            return rowElements * elementBytes();
        }

        /** The values of {@code t}, copied. */
        static Column read(Tensor t) {
            long[] shape = t.shape();
            long[] sample = Arrays.copyOfRange(shape, 1, shape.length);
            long row = 1;
            for (long d : sample) row *= d;
            MemorySegment data = switch (t.dtype()) {
                case FLOAT32 -> MemorySegment.ofArray(t.toArray());
                case INT64 -> MemorySegment.ofArray(t.toLongArray());
                case BOOL -> {
                    boolean[] b = t.toBooleanArray();
                    byte[] bytes = new byte[b.length];
                    for (int i = 0; i < b.length; i++) bytes[i] = (byte) (b[i] ? 1 : 0);
                    yield MemorySegment.ofArray(bytes);
                }
            };
            return new Column(data, sample, row, t.dtype());
        }

        /** Heap memory for {@code rows} rows of this column's type. */
        MemorySegment heap(int rows) {
            int n = Math.toIntExact(rows * rowElements);
            return switch (dtype) {
                case FLOAT32 -> MemorySegment.ofArray(new float[n]);
                case INT64 -> MemorySegment.ofArray(new long[n]);
                case BOOL -> MemorySegment.ofArray(new byte[n]);
            };
        }

        /** A tensor of this column's type for {@code rows} samples, in the current scope. */
        Tensor tensor(int rows) {
            long[] shape = new long[sampleShape.length + 1];
            shape[0] = rows;
            System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
            return Tensor.zeros(dtype, shape);
        }

        /**
         * Copies {@code count} rows at {@code indices[from..]} into a new tensor. float32 rows go straight
         * into the tensor's storage; the integer types pass through a heap buffer, since only float32 storage
         * is exposed as memory.
         */
        Tensor gather(int[] indices, int from, int count) {
            Tensor t = tensor(count);
            if (dtype == DType.FLOAT32) {
                Rows.gather(data, rowBytes(), indices, from, count, t.storage(), t.offset() * elementBytes());
                return t;
            }
            MemorySegment rows = heap(count);
            Rows.gather(data, rowBytes(), indices, from, count, rows, 0);
            if (dtype == DType.INT64) {
                t.copyFrom(rows.toArray(java.lang.foreign.ValueLayout.JAVA_LONG));
            } else {
                byte[] bytes = rows.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                boolean[] b = new boolean[bytes.length];
                for (int i = 0; i < b.length; i++) b[i] = bytes[i] != 0;
                t.copyFrom(b);
            }
            return t;
        }
    }


    private final Column[] columns;
    private final int size;

    private TensorDataset(Column[] columns, int size) {
        this.columns = columns;
        this.size = size;
    }

    /**
     * A dataset of copies of {@code tensors}, whose first dimensions all number the same N samples.
     *
     * @param tensors one or more tensors of shapes [N, ...], each with at least one dimension
     * @return the dataset
     * @throws IllegalArgumentException if there is no tensor, a tensor is null or 0-d, the first dimensions
     *     differ (the message names the tensors and their shapes), a sample dimension is 0, or N does not
     *     fit an int
     * @throws IllegalStateException if a tensor has been freed
     */
    public static TensorDataset of(Tensor... tensors) {
        Objects.requireNonNull(tensors, "tensors");
        if (tensors.length == 0) {
            throw new IllegalArgumentException("a TensorDataset needs at least one tensor");
        }
        Column[] columns = new Column[tensors.length];
        long n = -1;
        for (int i = 0; i < tensors.length; i++) {
            Tensor t = tensors[i];
            if (t == null) {
                throw new IllegalArgumentException("tensor " + i + " of the TensorDataset is null");
            }
            t.checkAlive();
            long[] shape = t.shape();
            if (shape.length == 0) {
                throw new IllegalArgumentException("tensor " + i + " is 0-d; its first dimension must number the"
                        + " samples");
            }
            if (n < 0) {
                n = shape[0];
            } else if (shape[0] != n) {
                throw new IllegalArgumentException("every tensor must hold the same number of samples in its first"
                        + " dimension: tensor 0 has " + n + ", tensor " + i + " has shape " + Arrays.toString(shape));
            }
            for (int d = 1; d < shape.length; d++) {
                if (shape[d] < 1) {
                    throw new IllegalArgumentException("tensor " + i + " has shape " + Arrays.toString(shape)
                            + ": a sample needs sizes of at least 1");
                }
            }
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("tensor " + i + " holds " + n + " samples; at most "
                        + Integer.MAX_VALUE + " fit a dataset");
            }
            columns[i] = Column.read(t);
        }
        return new TensorDataset(columns, (int) n);
    }

    /**
     * The number of samples, N.
     *
     * @return N
     */
    @Override
    public int size() {
        return size;
    }

    /**
     * How many tensors each sample has.
     *
     * @return the number of tensors the dataset was made of
     */
    public int numTensors() {
        return columns.length;
    }

    /**
     * The shape of one sample of tensor {@code k}: its shape without the first dimension.
     *
     * @param k the tensor's position, from 0
     * @return a copy of the shape (empty for a tensor of shape [N])
     * @throws IndexOutOfBoundsException if {@code k} is not below {@link #numTensors()}
     */
    public long[] sampleShape(int k) {
        return columns[Objects.checkIndex(k, columns.length)].sampleShape().clone();
    }

    /**
     * All samples of tensor {@code k}, as a new tensor of shape [N, ...sampleShape(k)] in the current
     * scope (owning its memory when none is open).
     *
     * @param k the tensor's position, from 0
     * @return a copy of the data
     * @throws IndexOutOfBoundsException if {@code k} is not below {@link #numTensors()}
     */
    public Tensor tensor(int k) {
        Column c = columns[Objects.checkIndex(k, columns.length)];
        int[] all = new int[size];
        for (int i = 0; i < size; i++) all[i] = i;
        return c.gather(all, 0, size);
    }

    /** The rows {@code indices[from .. from + count)} of tensor {@code k} as a new tensor, for batches. */
    Tensor rows(int k, int[] indices, int from, int count) {
        return columns[k].gather(indices, from, count);
    }

    /**
     * The samples at {@code indices}, in that order (an index may repeat).
     *
     * @param indices sample numbers in {@code 0..N-1}
     * @return a new dataset of {@code indices.length} samples
     * @throws IndexOutOfBoundsException if an index lies outside {@code 0..N-1}, naming it and its position
     */
    public TensorDataset subset(int[] indices) {
        for (int k = 0; k < indices.length; k++) {
            if (indices[k] < 0 || indices[k] >= size) {
                throw new IndexOutOfBoundsException("subset: index " + indices[k] + " at position " + k
                        + " is outside 0.." + (size - 1));
            }
        }
        Column[] out = new Column[columns.length];
        for (int i = 0; i < columns.length; i++) {
            Column c = columns[i];
            MemorySegment data = c.heap(indices.length);
            Rows.gather(c.data(), c.rowBytes(), indices, 0, indices.length, data, 0);
            out[i] = new Column(data, c.sampleShape(), c.rowElements(), c.dtype());
        }
        return new TensorDataset(out, indices.length);
    }

    /**
     * A training part and a held-out validation part of a tensor dataset.
     *
     * @param train      the samples to train on
     * @param validation the samples held out
     */
    public record Split(TensorDataset train, TensorDataset validation) {}

    /**
     * Splits off {@code round(validationFraction × N)} samples, picked by a permutation seeded with
     * {@code seed}, as a validation set; the rest is the training set. Both parts keep the original order
     * of their samples, and the same seed picks the same samples as {@link Dataset#split} does for a
     * dataset of the same size.
     *
     * @param validationFraction the share of samples to hold out, strictly between 0 and 1
     * @param seed               the seed of the permutation
     * @return the two parts
     * @throws IllegalArgumentException unless {@code 0 < validationFraction < 1} and both parts get at least
     *     one sample
     */
    public Split split(double validationFraction, long seed) {
        int[][] parts = Dataset.splitIndices(size, validationFraction, seed);
        return new Split(subset(parts[0]), subset(parts[1]));
    }

    /**
     * A description such as {@code TensorDataset(100 samples of [1, 28, 28] and [10])}.
     *
     * @return the size and the sample shapes
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("TensorDataset(").append(size).append(" samples of ");
        for (int i = 0; i < columns.length; i++) {
            sb.append(i == 0 ? "" : i == columns.length - 1 ? " and " : ", ")
                    .append(Arrays.toString(columns[i].sampleShape()));
        }
        return sb.append(')').toString();
    }
}
