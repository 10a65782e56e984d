package dev.gatun.distributed;

import dev.gatun.backend.Blas;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.nn.Module;
import dev.gatun.tensor.Tensor;
import dev.gatun.train.Trainer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Data-parallel training in the manner of PyTorch's {@code DistributedDataParallel}: every process of an
 * MPI job holds the same model and trains it on its share of each batch; after each backward pass the
 * gradients are averaged over the processes, so that every process takes the same optimizer step, the one
 * a single process would take on the whole batch.
 *
 * <ul>
 *   <li>At construction, rank 0's parameters and buffers are broadcast to every process.</li>
 *   <li>{@link #gradientsReady} averages the gradients: the parameters are grouped into buckets of about
 *       {@code bucketBytes} (in reverse order of registration, the order backward finishes them), each
 *       bucket's gradients copied into an off-heap buffer of its own, every bucket's allreduce started
 *       ({@code MPI_Iallreduce}, in place) before the first is waited for, and the means copied back. No
 *       gradient passes through the Java heap.</li>
 *   <li>{@link #batches} gives this process its share of each batch of an epoch: {@link ShardedSampler}.</li>
 *   <li>{@link #sum} and {@link #reduce} combine the figures of an epoch or an evaluation.</li>
 * </ul>
 *
 * <p>The allreduces start once backward has ended; starting each bucket as soon as backward has finished
 * its gradients (overlap) is not done (bench/results/distributed.md measures where it would matter).
 */
public final class DistributedDataParallel implements Trainer.DataParallel, AutoCloseable {

    /** The default bucket size, as PyTorch's {@code bucket_cap_mb=25}. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    private final Communicator comm;
    private final Module model;
    private final List<Tensor> parameters;
    private final List<Bucket> buckets = new ArrayList<>();
    private final Arena arena = Arena.ofShared();
    private long communicationNanos;
    private long steps;
    private boolean closed;

    /** Parameters whose gradients share one buffer: {@code first..last} of {@link #parameters}. */
    private record Bucket(int first, int last, MemorySegment buffer) {}

    /**
     * Wraps {@code model} for data-parallel training over {@code comm}, broadcasting rank 0's parameters
     * and buffers to every process; every process must call it with the same architecture.
     *
     * @param comm        the processes
     * @param model       the model, the same architecture in every process
     * @param bucketBytes the gradient bytes per allreduce, at least 4 (a parameter larger than this gets a
     *                    bucket of its own)
     * @throws NullPointerException if {@code comm} or {@code model} is null
     * @throws IllegalArgumentException if {@code bucketBytes < 4}, or a parameter or buffer is not a
     *     contiguous float32 tensor
     * @throws IllegalStateException if the communicator or a tensor of the model is closed
     */
    public DistributedDataParallel(Communicator comm, Module model, long bucketBytes) {
        this.comm = Objects.requireNonNull(comm, "comm");
        this.model = Objects.requireNonNull(model, "model");
        if (bucketBytes < Float.BYTES) {
            throw new IllegalArgumentException("a gradient bucket holds at least one float (4 bytes), got "
                    + bucketBytes + " bytes");
        }
        this.parameters = List.copyOf(model.parameters()).reversed(); // backward finishes the last layers first
        for (Tensor p : parameters) {
            Communicator.storage(p, "data-parallel training"); // all checked before any is broadcast
        }
        for (Tensor b : model.namedBuffers().values()) {
            Communicator.storage(b, "data-parallel training");
        }
        for (Tensor p : parameters) {
            comm.broadcast(p, 0);
        }
        for (Tensor b : model.namedBuffers().values()) {
            comm.broadcast(b, 0);
        }
        int first = 0;
        long bytes = 0;
        for (int i = 0; i < parameters.size(); i++) {
            long n = parameters.get(i).numel() * Float.BYTES;
            if (i > first && bytes + n > bucketBytes) {
                buckets.add(new Bucket(first, i - 1, arena.allocate(bytes, Float.BYTES)));
                first = i;
                bytes = 0;
            }
            bytes += n;
        }
        if (first < parameters.size()) {
            buckets.add(new Bucket(first, parameters.size() - 1, arena.allocate(bytes, Float.BYTES)));
        }
    }

    /**
     * {@link #DistributedDataParallel(Communicator, Module, long)} with {@link #DEFAULT_BUCKET_BYTES}.
     *
     * @param comm  the processes
     * @param model the model, the same architecture in every process
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if a parameter or buffer is not a contiguous float32 tensor
     * @throws IllegalStateException if the communicator or a tensor of the model is closed
     */
    public DistributedDataParallel(Communicator comm, Module model) {
        this(comm, model, DEFAULT_BUCKET_BYTES);
    }

    /**
     * The processes this wrapper trains over.
     *
     * @return the communicator
     */
    public Communicator communicator() {
        return comm;
    }

    /**
     * The number of gradient buckets, each one allreduce per step.
     *
     * @return the bucket count
     */
    public int bucketCount() {
        return buckets.size();
    }

    /**
     * Whether this process is rank 0, the one that prints and writes files.
     *
     * @return true on rank 0
     */
    public boolean isMain() {
        return comm.rank() == 0;
    }

    /**
     * The time spent in {@link #gradientsReady} (copies, allreduces and waits), summed over the steps.
     *
     * @return nanoseconds
     */
    public long communicationNanos() {
        return communicationNanos;
    }

    /**
     * How many times {@link #gradientsReady} has averaged the gradients.
     *
     * @return the steps
     */
    public long steps() {
        return steps;
    }

    @Override
    public Iterable<Batch> batches(DataLoader train, int epoch) {
        return ShardedSampler.batches(train, epoch, comm.rank(), comm.size());
    }

    /**
     * Replaces each parameter's gradient by its mean over the processes. A parameter without a gradient
     * counts as zeros and stays without one.
     *
     * @param model the model of this wrapper
     * @throws IllegalArgumentException if {@code model} is not the wrapped model
     * @throws IllegalStateException if this wrapper or its communicator is closed, or a gradient is closed or
     *     not a contiguous float32 tensor of its parameter's shape
     */
    @Override
    public void gradientsReady(Module model) {
        if (model != this.model) {
            throw new IllegalArgumentException("gradientsReady is for the model this wrapper was made with");
        }
        if (closed) {
            throw new IllegalStateException("the data-parallel wrapper is closed");
        }
        long start = System.nanoTime();
        if (comm.size() > 1) {
            List<Communicator.Request> requests = new ArrayList<>(buckets.size());
            try {
                for (Bucket b : buckets) {
                    long at = 0;
                    for (int i = b.first; i <= b.last; i++) {
                        Tensor p = parameters.get(i);
                        long n = p.numel() * Float.BYTES;
                        Tensor g = p.grad();
                        if (g == null) {
                            b.buffer.asSlice(at, n).fill((byte) 0);
                        } else {
                            MemorySegment.copy(gradStorage(p, g), g.offset() * Float.BYTES, b.buffer, at, n);
                        }
                        at += n;
                    }
                    requests.add(comm.allreduceAsync(b.buffer, 0, b.buffer.byteSize() / Float.BYTES,
                            Communicator.Op.SUM));
                }
            } finally {
                for (Communicator.Request r : requests) {
                    r.waitFor(); // every started allreduce completes before its buffer is touched again
                }
            }
            float scale = 1f / comm.size();
            for (Bucket b : buckets) {
                // The sums become means in one native pass, then go back to the gradients in bulk copies.
                Blas.sscal((int) (b.buffer.byteSize() / Float.BYTES), scale, b.buffer, 0, 1);
                long at = 0;
                for (int i = b.first; i <= b.last; i++) {
                    Tensor p = parameters.get(i);
                    long n = p.numel() * Float.BYTES;
                    Tensor g = p.grad();
                    if (g != null) {
                        MemorySegment.copy(b.buffer, at, g.storage(), g.offset() * Float.BYTES, n);
                    }
                    at += n;
                }
            }
        }
        communicationNanos += System.nanoTime() - start;
        steps++;
    }

    private static MemorySegment gradStorage(Tensor p, Tensor g) {
        if (!Arrays.equals(g.shape(), p.shape())) {
            throw new IllegalStateException("a gradient of shape " + Arrays.toString(g.shape())
                    + " for a parameter of shape " + Arrays.toString(p.shape()));
        }
        return Communicator.storage(g, "gradient averaging");
    }

    @Override
    public double[] sum(double[] values) {
        return comm.sum(values);
    }

    /**
     * Frees the gradient buckets; the communicator stays open. Idempotent.
     */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "DistributedDataParallel(rank " + comm.rank() + " of " + comm.size() + ", " + parameters.size()
                + " parameters in " + buckets.size() + " buckets)";
    }
}
