package dev.gatun.data;

import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * Cuts samples into mini-batches of tensors, epoch by epoch: a classification {@link Dataset} into
 * inputs and class labels, a {@link TensorDataset} into the same rows of each of its tensors.
 *
 * <p>Each epoch visits the samples in an order given by {@link Order}: {@link Order#sequential()}
 * (0, 1, 2, ...) or {@link Order#shuffled(long)}, a permutation derived from the seed and the epoch
 * number, so that every epoch has a new order and a run with the same seed sees the same orders
 * again. The order is cut into batches of {@code batchSize} samples; when N is not a multiple of the
 * batch size, the last batch is smaller ({@link LastBatch#KEEP}, {@code ceil(N / batchSize)} batches)
 * or left out ({@link LastBatch#DROP}, {@code floor(N / batchSize)} batches).
 *
 * <pre>{@code
 * var loader = new DataLoader(mnist.train(), 64, Order.shuffled(42), LastBatch.DROP);
 * for (int epoch = 0; epoch < 10; epoch++) {
 *     for (Batch batch : loader.epoch(epoch)) {
 *         try (batch; Scope step = Scope.open()) {   // inputs [64, 1, 28, 28], labels int[64]
 *             ...
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>The same loader serves a {@link TensorDataset}, with the same orders and last-batch policies; an
 * autoencoder's batches, for one, are their own targets:
 *
 * <pre>{@code
 * var loader = new DataLoader(TensorDataset.of(images), 64, Order.shuffled(42), LastBatch.KEEP);
 * for (Batch batch : loader.epoch(epoch)) {
 *     try (batch; Scope step = Scope.open()) {
 *         Tensor x = batch.inputs();                    // [B, 784]
 *         Tensor loss = Loss.mse(model.forward(x), x);
 *         ...
 *     }
 * }
 * }</pre>
 *
 * <p>A loader is immutable and each iteration of {@link #epoch} is independent, so several threads
 * may iterate one loader.
 */
public final class DataLoader {

    /** The order in which an epoch visits the samples. */
    public sealed interface Order {
        /** Samples 0, 1, ..., N-1 in every epoch. */
        record Sequential() implements Order {}

        /**
         * A fresh permutation each epoch, determined by {@code seed} and the epoch number.
         *
         * @param seed the seed of the run's permutations
         */
        record Shuffled(long seed) implements Order {}

        /**
         * Samples in their stored order.
         *
         * @return the sequential order
         */
        static Order sequential() {
            return new Sequential();
        }

        /**
         * A seeded permutation per epoch.
         *
         * @param seed the seed of the run's permutations
         * @return the shuffled order
         */
        static Order shuffled(long seed) {
            return new Shuffled(seed);
        }
    }

    /** What to do with the last batch when it would be smaller than the batch size. */
    public enum LastBatch {
        /** Yield it, smaller. */
        KEEP,
        /** Leave it out, so that every batch has exactly {@code batchSize} samples. */
        DROP
    }

    /**
     * One mini-batch: tensors whose first dimension is the batch size B, made when the iterator hands the
     * batch out, in the thread's current {@link dev.gatun.tensor.Scope} (with none open they own their
     * memory, which {@link #close()} frees). From a {@link Dataset}: the inputs {@code [B,
     * ...featureShape]} and the class labels, {@code int[B]}. From a {@link TensorDataset}: the same rows
     * of each of its tensors, in its order; {@link #inputs()} is the first, {@link #targets()} the second.
     */
    public static final class Batch implements AutoCloseable {

        private final List<Tensor> tensors;
        private final int[] labels;
        private Tensor labelTensor; // the labels as int64, made on first use of targets()

        /**
         * A classification batch.
         *
         * @param inputs the inputs [B, ...]
         * @param labels the class label of each sample, {@code int[B]} (held, not copied)
         * @throws NullPointerException if an argument is null
         * @throws IllegalArgumentException if inputs and labels hold different numbers of samples
         */
        public Batch(Tensor inputs, int[] labels) {
            Objects.requireNonNull(inputs, "inputs");
            Objects.requireNonNull(labels, "labels");
            if (inputs.dim() < 1 || inputs.size(0) != labels.length) {
                throw new IllegalArgumentException("batch size mismatch: inputs of shape "
                        + Arrays.toString(inputs.shape()) + " but " + labels.length + " labels");
            }
            this.tensors = List.of(inputs);
            this.labels = labels;
        }

        /**
         * A batch of tensors without class labels.
         *
         * @param tensors one or more tensors with the same first dimension B
         * @throws NullPointerException if a tensor is null
         * @throws IllegalArgumentException if there is no tensor, or a tensor is 0-d or has another first
         *     dimension (the message names their shapes)
         */
        public Batch(Tensor... tensors) {
            this.tensors = List.of(tensors);
            if (this.tensors.isEmpty()) {
                throw new IllegalArgumentException("a batch needs at least one tensor");
            }
            long b = this.tensors.getFirst().dim() < 1 ? -1 : this.tensors.getFirst().size(0);
            for (Tensor t : this.tensors) {
                if (t.dim() < 1 || t.size(0) != b || b < 0) {
                    StringBuilder shapes = new StringBuilder();
                    for (Tensor u : this.tensors) {
                        shapes.append(shapes.isEmpty() ? "" : ", ").append(Arrays.toString(u.shape()));
                    }
                    throw new IllegalArgumentException("batch size mismatch: the tensors' first dimensions differ: "
                            + shapes);
                }
            }
            this.labels = null;
        }

        /**
         * The number of samples, B.
         *
         * @return B
         */
        public int size() {
            return (int) tensors.getFirst().size(0);
        }

        /**
         * The inputs: the features of a classification batch, or the first tensor of a batch of a
         * {@link TensorDataset}.
         *
         * @return a tensor [B, ...]
         */
        public Tensor inputs() {
            return tensors.getFirst();
        }

        /**
         * Whether this batch has class labels (it comes from a {@link Dataset}).
         *
         * @return true for a classification batch
         */
        public boolean hasLabels() {
            return labels != null;
        }

        /**
         * The class labels of a classification batch.
         *
         * @return the label of each sample, {@code int[B]} (the batch's own array)
         * @throws IllegalStateException if the batch has none (it comes from a {@link TensorDataset})
         */
        public int[] labels() {
            if (labels == null) {
                throw new IllegalStateException("this batch has no class labels: it holds " + tensors.size()
                        + " tensor(s) of a TensorDataset; use inputs(), targets() or tensor(i)");
            }
            return labels;
        }

        /**
         * The targets: the class labels of a classification batch as an int64 tensor {@code [B]} (made on
         * first use, in the scope current then, and closed with the batch), or the second tensor of a batch
         * of a {@link TensorDataset}.
         *
         * @return a tensor [B, ...]
         * @throws IllegalStateException if the batch has no labels and only one tensor
         */
        public Tensor targets() {
            if (labels != null) {
                if (labelTensor == null) {
                    long[] l = new long[labels.length];
                    for (int i = 0; i < l.length; i++) l[i] = labels[i];
                    labelTensor = Tensor.fromLongs(l, l.length);
                }
                return labelTensor;
            }
            if (tensors.size() < 2) {
                throw new IllegalStateException(
                        "this batch holds one tensor, the inputs; a TensorDataset of two tensors gives targets");
            }
            return tensors.get(1);
        }

        /**
         * The number of tensors in the batch.
         *
         * @return 1 for a classification batch, else the TensorDataset's number of tensors
         */
        public int numTensors() {
            return tensors.size();
        }

        /**
         * Tensor {@code i} of the batch, in the order of the dataset's tensors.
         *
         * @param i the tensor's position, from 0
         * @return a tensor [B, ...]
         * @throws IndexOutOfBoundsException if {@code i} is not below {@link #numTensors()}
         */
        public Tensor tensor(int i) {
            return tensors.get(Objects.checkIndex(i, tensors.size()));
        }

        /** Closes the batch's tensors (freeing their memory if they own it). */
        @Override
        public void close() {
            for (Tensor t : tensors) {
                t.close();
            }
            if (labelTensor != null) {
                labelTensor.close();
            }
        }
    }

    private final Samples dataset;
    private final int batchSize;
    private final Order order;
    private final LastBatch lastBatch;

    /**
     * A loader over {@code dataset}.
     *
     * @param dataset   the samples: a {@link Dataset} or a {@link TensorDataset}
     * @param batchSize the number of samples per batch
     * @param order     the order of the samples in each epoch
     * @param lastBatch whether a smaller last batch is kept or dropped
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if the dataset is empty, {@code batchSize < 1}, or
     *     {@link LastBatch#DROP} would leave no batch at all (batch size larger than the dataset)
     */
    public DataLoader(Samples dataset, int batchSize, Order order, LastBatch lastBatch) {
        this.dataset = Objects.requireNonNull(dataset, "dataset");
        this.order = Objects.requireNonNull(order, "order");
        this.lastBatch = Objects.requireNonNull(lastBatch, "lastBatch");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        if (dataset.size() == 0) {
            throw new IllegalArgumentException("cannot load batches from an empty dataset");
        }
        if (lastBatch == LastBatch.DROP && batchSize > dataset.size()) {
            throw new IllegalArgumentException("batch size " + batchSize + " exceeds the " + dataset.size()
                    + " samples and the last partial batch is dropped: an epoch would have no batches");
        }
        this.batchSize = batchSize;
    }

    /**
     * The samples this loader reads.
     *
     * @return the {@link Dataset} or {@link TensorDataset} it was made with
     */
    public Samples dataset() {
        return dataset;
    }

    /**
     * The number of samples per batch (the last one may hold fewer, see {@link LastBatch}).
     *
     * @return the batch size
     */
    public int batchSize() {
        return batchSize;
    }

    /**
     * The order of the samples in an epoch.
     *
     * @return the order
     */
    public Order order() {
        return order;
    }

    /**
     * Whether a smaller last batch is kept or dropped.
     *
     * @return the last-batch policy
     */
    public LastBatch lastBatch() {
        return lastBatch;
    }

    /**
     * Batches per epoch.
     *
     * @return {@code ceil(N / batchSize)} with {@code KEEP}, {@code floor(N / batchSize)} with {@code DROP}
     */
    public int numBatches() {
        int n = dataset.size();
        // (n − 1) / b + 1 rather than (n + b − 1) / b, which overflows an int for a batch size near 2^31.
        return lastBatch == LastBatch.DROP ? n / batchSize : n == 0 ? 0 : (n - 1) / batchSize + 1;
    }

    /**
     * The number of samples an epoch visits.
     *
     * @return N, or N rounded down to whole batches with {@code DROP}
     */
    public int samplesPerEpoch() {
        return lastBatch == LastBatch.DROP ? numBatches() * batchSize : dataset.size();
    }

    /**
     * The indices of all N samples in the order epoch {@code epoch} visits them (with {@code DROP}, the
     * last {@code N mod batchSize} are the ones left out).
     *
     * @param epoch the epoch, from 0
     * @return a new array of the N indices
     * @throws IllegalArgumentException if {@code epoch} is negative
     */
    public int[] sampleOrder(int epoch) {
        checkEpoch(epoch);
        int n = dataset.size();
        return switch (order) {
            case Order.Sequential() -> {
                int[] p = new int[n];
                Arrays.setAll(p, i -> i);
                yield p;
            }
            case Order.Shuffled(long seed) -> Shuffle.permutation(n, Shuffle.combine(seed, epoch));
        };
    }

    /**
     * The batches of epoch {@code epoch}; each iteration starts the epoch from its first batch and makes
     * each batch's tensors when it hands the batch out.
     *
     * @param epoch the epoch, from 0
     * @return the epoch's batches
     * @throws IllegalArgumentException if {@code epoch} is negative
     */
    public Iterable<Batch> epoch(int epoch) {
        checkEpoch(epoch);
        return () -> new BatchIterator(sampleOrder(epoch));
    }

    private static void checkEpoch(int epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be non-negative, got " + epoch);
        }
    }

    private final class BatchIterator implements Iterator<Batch> {
        private final int[] indices;
        private final int batches = numBatches();
        private int next;

        BatchIterator(int[] indices) {
            this.indices = indices;
        }

        @Override
        public boolean hasNext() {
            return next < batches;
        }

        @Override
        public Batch next() {
            if (!hasNext()) {
                throw new NoSuchElementException("epoch has " + batches + " batches");
            }
            int from = next++ * batchSize;
            int b = Math.min(batchSize, indices.length - from);
            return switch (dataset) {
                case Dataset d -> classification(d, from, b);
                case TensorDataset t -> {
                    Tensor[] tensors = new Tensor[t.numTensors()];
                    for (int k = 0; k < tensors.length; k++) {
                        tensors[k] = t.rows(k, indices, from, b);
                    }
                    yield new Batch(tensors);
                }
            };
        }

        private Batch classification(Dataset d, int from, int b) {
            long[] featureShape = d.featureShape();
            long[] shape = new long[featureShape.length + 1];
            shape[0] = b;
            System.arraycopy(featureShape, 0, shape, 1, featureShape.length);
            Tensor inputs = Tensor.zeros(shape);
            Rows.gather(MemorySegment.ofArray(d.featureArray()), (long) d.featureSize() * Float.BYTES, indices, from, b,
                    inputs.storage(), inputs.offset() * Float.BYTES);
            int[] labels = new int[b];
            for (int k = 0; k < b; k++) {
                labels[k] = d.label(indices[from + k]);
            }
            return new Batch(inputs, labels);
        }
    }

    @Override
    public String toString() {
        return "DataLoader(" + dataset + ", batch " + batchSize + ", " + order + ", last batch " + lastBatch + ")";
    }
}
