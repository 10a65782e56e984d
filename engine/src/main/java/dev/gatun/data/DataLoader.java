package dev.gatun.data;

import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * Cuts a {@link Dataset} into mini-batches of tensors, epoch by epoch.
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
 * <p>A loader is immutable and each iteration of {@link #epoch} is independent, so several threads
 * may iterate one loader.
 */
public final class DataLoader {

    /** The order in which an epoch visits the samples. */
    public sealed interface Order {
        /** Samples 0, 1, ..., N-1 in every epoch. */
        record Sequential() implements Order {}

        /** A fresh permutation each epoch, determined by {@code seed} and the epoch number. */
        record Shuffled(long seed) implements Order {}

        /** Samples in their stored order. */
        static Order sequential() {
            return new Sequential();
        }

        /** A seeded permutation per epoch. */
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
     * One mini-batch: {@code inputs} is {@code [B, ...featureShape]}, {@code labels} is {@code [B]}.
     * The inputs tensor is created when the iterator hands the batch out, in the thread's current
     * {@link dev.gatun.tensor.Scope}; with none open it owns its memory, which {@link #close()} frees.
     */
    public record Batch(Tensor inputs, int[] labels) implements AutoCloseable {
        /** @throws IllegalArgumentException if inputs and labels hold different numbers of samples */
        public Batch {
            Objects.requireNonNull(inputs, "inputs");
            Objects.requireNonNull(labels, "labels");
            if (inputs.dim() < 1 || inputs.size(0) != labels.length) {
                throw new IllegalArgumentException("batch size mismatch: inputs of shape "
                        + Arrays.toString(inputs.shape()) + " but " + labels.length + " labels");
            }
        }

        /** The number of samples, B. */
        public int size() {
            return labels.length;
        }

        /** Closes the inputs tensor (freeing its memory if it owns it). */
        @Override
        public void close() {
            inputs.close();
        }
    }

    private final Dataset dataset;
    private final int batchSize;
    private final Order order;
    private final LastBatch lastBatch;

    /**
     * A loader over {@code dataset}.
     *
     * @throws IllegalArgumentException if the dataset is empty, {@code batchSize < 1}, or
     *     {@link LastBatch#DROP} would leave no batch at all (batch size larger than the dataset)
     */
    public DataLoader(Dataset dataset, int batchSize, Order order, LastBatch lastBatch) {
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

    /** The dataset this loader reads. */
    public Dataset dataset() {
        return dataset;
    }

    /** The number of samples per batch (the last one may hold fewer, see {@link LastBatch}). */
    public int batchSize() {
        return batchSize;
    }

    /** The order of the samples in an epoch. */
    public Order order() {
        return order;
    }

    /** Whether a smaller last batch is kept or dropped. */
    public LastBatch lastBatch() {
        return lastBatch;
    }

    /** Batches per epoch: {@code ceil(N / batchSize)} with {@code KEEP}, {@code floor(N / batchSize)} with {@code DROP}. */
    public int numBatches() {
        int n = dataset.size();
        return lastBatch == LastBatch.DROP ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /** The number of samples an epoch visits: N, or N rounded down to whole batches with {@code DROP}. */
    public int samplesPerEpoch() {
        return lastBatch == LastBatch.DROP ? numBatches() * batchSize : dataset.size();
    }

    /**
     * The indices of all N samples in the order epoch {@code epoch} visits them (with {@code DROP}, the
     * last {@code N mod batchSize} are the ones left out).
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

    /** The batches of epoch {@code epoch} (0, 1, ...); each iteration starts the epoch from its first batch. */
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
            long[] featureShape = dataset.featureShape();
            long[] shape = new long[featureShape.length + 1];
            shape[0] = b;
            System.arraycopy(featureShape, 0, shape, 1, featureShape.length);

            int f = dataset.featureSize();
            float[] features = dataset.featureArray();
            Tensor inputs = Tensor.zeros(shape);
            MemorySegment dst = inputs.storage();
            long base = inputs.offset() * Float.BYTES;
            int[] labels = new int[b];
            for (int k = 0; k < b; k++) {
                int i = indices[from + k];
                MemorySegment.copy(features, i * f, dst, ValueLayout.JAVA_FLOAT, base + (long) k * f * Float.BYTES, f);
                labels[k] = dataset.label(i);
            }
            return new Batch(inputs, labels);
        }
    }

    @Override
    public String toString() {
        return "DataLoader(" + dataset + ", batch " + batchSize + ", " + order + ", last batch " + lastBatch + ")";
    }
}
