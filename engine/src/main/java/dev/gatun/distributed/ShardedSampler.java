package dev.gatun.distributed;

import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.data.Samples;
import dev.gatun.data.TensorDataset;
import java.util.Objects;

/**
 * Each process's share of every batch of an epoch, as PyTorch's {@code DistributedSampler} gives it: the
 * loader's order of the epoch (the same shuffled permutation in every process, from the loader's seed and
 * the epoch), cut into the loader's batches of B samples, and of batch k, process r of p gets the B/p
 * samples from {@code k·B + r·B/p}. Together the processes see exactly the batches one process would, so
 * that averaged gradients are those of the whole batch.
 *
 * <p>The loader must drop a last partial batch ({@link LastBatch#DROP}) and B must be a multiple of p, so
 * that every process has as many samples in every step.
 */
public final class ShardedSampler {

    private ShardedSampler() {}

    /**
     * The indices, into the loader's data set, of the samples process {@code rank} trains on in
     * {@code epoch}, in order: its share of batch 0, then of batch 1, ...
     *
     * @param loader the loader of the whole batches
     * @param epoch  the epoch, from 0
     * @param rank   this process, in [0, size)
     * @param size   the number of processes, at least 1
     * @return {@code loader.numBatches() · B / size} indices
     * @throws NullPointerException if {@code loader} is null
     * @throws IllegalArgumentException if {@code size < 1}, {@code rank} is outside [0, size), {@code epoch}
     *     is negative, the batch size is not a multiple of {@code size}, or the loader keeps a last partial
     *     batch
     */
    public static int[] shard(DataLoader loader, int epoch, int rank, int size) {
        Objects.requireNonNull(loader, "loader");
        if (size < 1) {
            throw new IllegalArgumentException("the number of processes must be at least 1, got " + size);
        }
        if (rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank must be in [0, " + size + "), got " + rank);
        }
        int batch = loader.batchSize();
        if (batch % size != 0) {
            throw new IllegalArgumentException("the batch size " + batch + " must be a multiple of the " + size
                    + " processes, so that each trains on as many samples");
        }
        if (loader.lastBatch() != LastBatch.DROP && loader.dataset().size() % batch != 0) {
            throw new IllegalArgumentException("the loader keeps a last partial batch (" + loader.dataset().size()
                    + " samples in batches of " + batch + "), which the " + size + " processes cannot share"
                    + " evenly; make it with LastBatch.DROP");
        }
        int[] order = loader.sampleOrder(epoch);
        int share = batch / size;
        int batches = loader.numBatches();
        int[] mine = new int[Math.multiplyExact(batches, share)];
        for (int k = 0; k < batches; k++) {
            System.arraycopy(order, k * batch + rank * share, mine, k * share, share);
        }
        return mine;
    }

    /**
     * The batches process {@code rank} trains on in {@code epoch}: {@code loader.numBatches()} batches of
     * B/size samples, its share of each of the loader's batches ({@link #shard}).
     *
     * @param loader the loader of the whole batches
     * @param epoch  the epoch, from 0
     * @param rank   this process, in [0, size)
     * @param size   the number of processes, at least 1
     * @return the epoch's batches for this process
     * @throws NullPointerException if {@code loader} is null
     * @throws IllegalArgumentException as {@link #shard}
     */
    public static Iterable<Batch> batches(DataLoader loader, int epoch, int rank, int size) {
        if (size == 1) {
            Objects.requireNonNull(loader, "loader");
            return loader.epoch(epoch);
        }
        int[] mine = shard(loader, epoch, rank, size);
        Samples subset = switch (loader.dataset()) {
            case Dataset d -> d.subset(mine);
            case TensorDataset t -> t.subset(mine);
        };
        return new DataLoader(subset, loader.batchSize() / size, Order.sequential(), LastBatch.DROP).epoch(0);
    }

    /**
     * The contiguous block of {@code n} samples (such as a validation or test set) process {@code rank}
     * evaluates: {@code [rank·n/size, (rank+1)·n/size)}, so that the blocks of all processes cover the
     * whole once.
     *
     * @param n    the number of samples, at least {@code size}
     * @param rank this process, in [0, size)
     * @param size the number of processes, at least 1
     * @return the indices of this process's block, none empty
     * @throws IllegalArgumentException if {@code size < 1}, {@code rank} is outside [0, size), or
     *     {@code n < size}
     */
    public static int[] block(int n, int rank, int size) {
        if (size < 1) {
            throw new IllegalArgumentException("the number of processes must be at least 1, got " + size);
        }
        if (rank < 0 || rank >= size) {
            throw new IllegalArgumentException("rank must be in [0, " + size + "), got " + rank);
        }
        if (n < size) {
            throw new IllegalArgumentException(n + " samples cannot be shared by " + size
                    + " processes with at least one each");
        }
        int from = (int) ((long) rank * n / size);
        int to = (int) ((long) (rank + 1) * n / size);
        int[] idx = new int[to - from];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = from + i;
        }
        return idx;
    }
}
