package dev.gatun.distributed;

import dev.gatun.backend.Blas;
import dev.gatun.backend.SharedMemory;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.nn.Module;
import dev.gatun.tensor.Tensor;
import dev.gatun.train.Trainer;
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
 *   <li>The gradients are averaged in buckets of about {@code bucketBytes}: the parameters are grouped in
 *       reverse order of registration (the order backward finishes them), each bucket's gradients copied
 *       into an off-heap buffer of its own and allreduced there ({@code MPI_Iallreduce}, in place), and
 *       the means copied back. No gradient passes through the Java heap.</li>
 *   <li>With overlap (off by default, {@link #DEFAULT_OVERLAP}), a hook on every parameter
 *       ({@link Tensor#registerPostAccumulateGradHook}) starts a bucket's allreduce as soon as backward
 *       has finished all of its gradients, so that the communication of the last layers' gradients goes on
 *       while backward computes the first layers'; every hook also tests the allreduces in flight, which is
 *       what makes Open MPI progress them. Buckets start in bucket order in every process, as MPI needs
 *       (one that is complete before an earlier one waits for it). {@link #gradientsReady} starts the
 *       buckets backward did not complete (a parameter that got no gradient counts as zeros), waits for
 *       all, and copies the means back. Without overlap, {@link #gradientsReady} does it all after
 *       backward: every bucket started before the first is waited for.</li>
 *   <li>Several backward passes before one {@link #gradientsReady} (gradient accumulation) average the sum
 *       of their gradients. Open a {@link #noSync()} region around every pass but the last, as with
 *       PyTorch's {@code no_sync()}: its hooks start nothing, and the last pass sends the sums. Without it,
 *       a pass that adds to gradients already sent makes {@link #gradientsReady} average them all again
 *       from the gradients as they are then: correct, at the cost of a second round of communication.
 *       Every process must run the same passes between two {@link #gradientsReady} calls, and the
 *       gradients must not change between backward and {@link #gradientsReady} other than by backward.</li>
 *   <li>{@link #batches} gives this process its share of each batch of an epoch: {@link ShardedSampler}.</li>
 *   <li>{@link #sum} and {@link #reduce} combine the figures of an epoch or an evaluation.</li>
 * </ul>
 *
 * <p>A training loop of one's own calls {@link #gradientsReady} after backward and before the optimizer
 * step (the README, "Distributed training", has an example); {@link Trainer#fit} does so itself.
 * {@link #communicationNanos} and {@link #waitNanos} show how much of the communication overlap hides
 * (bench/ddp-overlap.sh, bench/results/distributed.md).
 */
public final class DistributedDataParallel implements Trainer.DataParallel, AutoCloseable {

    /** The default bucket size, as PyTorch's {@code bucket_cap_mb=25}. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    /**
     * Whether the constructors without an {@code overlap} argument overlap communication with backward: no.
     * Between two single-thread processes of one 2-core machine overlap measured no better (LeNet-5: 18.92 ms
     * a step against 18.93; the MLP: 6.36 against 4.04, medians of 7 repeats, bench/results/distributed.md):
     * there the allreduce is the processes' own copying, and Open MPI progresses it only inside MPI calls.
     * Over a network, where the transfer proceeds without the processes, turn it on.
     */
    public static final boolean DEFAULT_OVERLAP = false;

    private final Communicator comm;
    private final Module model;
    /** The parameters, last registered first. */
    private final List<Tensor> parameters;
    private final Bucket[] buckets;
    private final boolean overlap;
    /** The buffers of the buckets: held by each allreduce in flight, so that a close never frees them under MPI. */
    private final SharedMemory memory = SharedMemory.open("the gradient buckets of a DistributedDataParallel");
    /** Each parameter's hook, or null (no overlap, or a parameter that required no gradient when registered). */
    private final Tensor.HookHandle[] hooks;

    // The state of a step, from one gradientsReady to the next. Guarded by this.
    /** Whether a parameter's hook has run since the last gradientsReady (outside noSync regions). */
    private final boolean[] fired;
    /** Per bucket, its first parameter not known to be finished. */
    private final int[] cursor;
    /** The allreduce of each bucket started in this step; buckets [0, started) have one. */
    private final Communicator.Request[] requests;
    private int started;
    /** Buckets [0, tested) are known to have completed. */
    private int tested;
    /** A backward pass added to gradients already sent in this step: gradientsReady averages them again. */
    private boolean resend;
    private int noSyncDepth;

    private long communicationNanos;
    private long waitNanos;
    private long overlappedBuckets;
    private long allreduces;
    private long steps;
    private boolean closed;

    /** Parameters whose gradients share one buffer: {@code first..last} of {@link #parameters}. */
    private record Bucket(int first, int last, MemorySegment buffer) {}

    /**
     * Wraps {@code model} for data-parallel training over {@code comm}, broadcasting rank 0's parameters
     * and buffers to every process; every process must call it with the same architecture and arguments.
     *
     * @param comm        the processes
     * @param model       the model, the same architecture in every process
     * @param bucketBytes the gradient bytes per allreduce, at least 4 (a parameter larger than this gets a
     *                    bucket of its own)
     * @param overlap     whether to start each bucket's allreduce during backward, as soon as its
     *                    gradients are complete (hooks on the parameters), rather than in
     *                    {@link #gradientsReady}
     * @throws NullPointerException if {@code comm} or {@code model} is null
     * @throws IllegalArgumentException if {@code bucketBytes < 4}, or a parameter or buffer is not a
     *     contiguous float32 tensor
     * @throws IllegalStateException if the communicator or a tensor of the model is closed
     */
    public DistributedDataParallel(Communicator comm, Module model, long bucketBytes, boolean overlap) {
        this.comm = Objects.requireNonNull(comm, "comm");
        this.model = Objects.requireNonNull(model, "model");
        this.overlap = overlap;
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
        List<Bucket> list = new ArrayList<>();
        int first = 0;
        long bytes = 0;
        for (int i = 0; i < parameters.size(); i++) {
            long n = parameters.get(i).numel() * Float.BYTES;
            if (i > first && bytes + n > bucketBytes) {
                list.add(new Bucket(first, i - 1, memory.allocate(bytes, false)));
                first = i;
                bytes = 0;
            }
            bytes += n;
        }
        if (first < parameters.size()) {
            list.add(new Bucket(first, parameters.size() - 1, memory.allocate(bytes, false)));
        }
        this.buckets = list.toArray(new Bucket[0]);
        this.fired = new boolean[parameters.size()];
        this.cursor = new int[buckets.length];
        this.requests = new Communicator.Request[buckets.length];
        resetStep();
        this.hooks = new Tensor.HookHandle[parameters.size()];
        if (overlap) {
            registerHooks();
        }
    }

    /**
     * {@link #DistributedDataParallel(Communicator, Module, long, boolean)} with {@link #DEFAULT_OVERLAP}.
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
        this(comm, model, bucketBytes, DEFAULT_OVERLAP);
    }

    /**
     * {@link #DistributedDataParallel(Communicator, Module, long, boolean)} with {@link #DEFAULT_BUCKET_BYTES}
     * and {@link #DEFAULT_OVERLAP}.
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
        return buckets.length;
    }

    /**
     * Whether allreduces start during backward (hooks on the parameters) rather than in
     * {@link #gradientsReady}.
     *
     * @return true with overlap
     */
    public boolean overlaps() {
        return overlap;
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
     * The time spent communicating, summed over the steps: in {@link #gradientsReady} (copies, allreduces,
     * waits, the means) and, with overlap, in the hooks during backward (copies into the buckets, starts
     * and tests of allreduces).
     *
     * @return nanoseconds
     */
    public synchronized long communicationNanos() {
        return communicationNanos;
    }

    /**
     * The part of {@link #communicationNanos} that {@link #gradientsReady} spent waiting for allreduces to
     * complete, summed over the steps: what overlap with backward did not hide (and, on a shared machine,
     * the time the other processes took to reach the same step).
     *
     * @return nanoseconds
     */
    public synchronized long waitNanos() {
        return waitNanos;
    }

    /**
     * How many bucket allreduces started during backward (in the parameters' hooks) rather than in
     * {@link #gradientsReady}, summed over the steps: {@link #bucketCount()} per step when backward
     * completes every bucket, 0 without overlap.
     *
     * @return the count
     */
    public synchronized long overlappedBuckets() {
        return overlappedBuckets;
    }

    /**
     * How many bucket allreduces have started, summed over the steps: {@link #bucketCount()} per step, and
     * as many again in a step whose gradients a later backward pass changed after they were sent (gradient
     * accumulation without {@link #noSync()}).
     *
     * @return the count
     */
    public synchronized long allreduceCount() {
        return allreduces;
    }

    /**
     * How many times {@link #gradientsReady} has averaged the gradients.
     *
     * @return the steps
     */
    public synchronized long steps() {
        return steps;
    }

    @Override
    public Iterable<Batch> batches(DataLoader train, int epoch) {
        return ShardedSampler.batches(train, epoch, comm.rank(), comm.size());
    }

    /**
     * A region whose backward passes only accumulate gradients, sending nothing (PyTorch's
     * {@code no_sync()}): for gradient accumulation, open it around every backward pass of a step but the
     * last; the last pass, outside it, starts the allreduces of the sums, and {@link #gradientsReady}
     * completes them. Without overlap the region changes nothing. Regions nest; {@link #gradientsReady}
     * inside one still averages.
     *
     * @return the region; close it (try-with-resources) before the step's last backward pass
     * @throws IllegalStateException if this wrapper is closed
     */
    public synchronized NoSync noSync() {
        if (closed) {
            throw new IllegalStateException("noSync: the data-parallel wrapper is closed");
        }
        noSyncDepth++;
        return new NoSync();
    }

    /** A region opened by {@link #noSync()}; {@link #close()} ends it. */
    public final class NoSync implements AutoCloseable {
        private boolean done;

        private NoSync() {}

        /** Ends the region; a later call does nothing. */
        @Override
        public void close() {
            synchronized (DistributedDataParallel.this) {
                if (!done) {
                    done = true;
                    noSyncDepth--;
                }
            }
        }
    }

    /**
     * Replaces each parameter's gradient by its mean over the processes. A parameter without a gradient
     * counts as zeros and stays without one. With overlap, the buckets that backward completed are in
     * flight already; this starts the others and waits for all.
     *
     * @param model the model of this wrapper
     * @throws IllegalArgumentException if {@code model} is not the wrapped model
     * @throws IllegalStateException if this wrapper or its communicator is closed, or a gradient is closed or
     *     not a contiguous float32 tensor of its parameter's shape
     */
    @Override
    public synchronized void gradientsReady(Module model) {
        if (model != this.model) {
            throw new IllegalArgumentException("gradientsReady is for the model this wrapper was made with");
        }
        if (closed) {
            throw new IllegalStateException("the data-parallel wrapper is closed");
        }
        long start = System.nanoTime();
        try {
            if (overlap) {
                registerHooks(); // parameters that have come to require a gradient since
            }
            if (comm.size() > 1) {
                reduce();
                if (resend) {
                    // A later backward pass added to gradients already sent: average them as they are now.
                    started = 0;
                    tested = 0;
                    reduce();
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
        } finally {
            resetStep();
            communicationNanos += System.nanoTime() - start;
        }
        steps++;
    }

    /** Starts every bucket not started yet, in bucket order, then waits for them all. */
    private void reduce() {
        try {
            while (started < buckets.length) {
                startNext();
            }
        } finally {
            long t0 = System.nanoTime();
            for (int b = tested; b < started; b++) {
                requests[b].waitFor(); // every started allreduce completes before its buffer is touched again
            }
            waitNanos += System.nanoTime() - t0;
        }
    }

    /** Copies the gradients of bucket {@link #started} into its buffer and starts its allreduce. */
    private void startNext() {
        Bucket b = buckets[started];
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
        requests[started] = comm.allreduceAsync(b.buffer, 0, b.buffer.byteSize() / Float.BYTES,
                Communicator.Op.SUM);
        started++;
        allreduces++;
    }

    /**
     * The hook of parameter {@code i}: its gradient of this backward pass is complete. Starts the buckets
     * that are complete now, in order, and tests those in flight (which progresses them).
     */
    private synchronized void gradientDone(int i) {
        if (closed || comm.size() == 1) {
            return;
        }
        long start = System.nanoTime();
        try {
            if (noSyncDepth > 0) {
                // Accumulating: sends nothing, but a gradient already sent has changed.
                resend |= fired[i];
                return;
            }
            if (fired[i]) {
                resend = true; // a second pass: sent buckets are stale, gradientsReady sends all again
            }
            fired[i] = true;
            if (!resend) {
                while (started < buckets.length && finished(started)) {
                    startNext();
                    overlappedBuckets++;
                }
            }
            while (tested < started && requests[tested].test()) {
                tested++;
            }
        } finally {
            communicationNanos += System.nanoTime() - start;
        }
    }

    /**
     * Whether every parameter of bucket {@code b} has its gradient of the pass: its hook ran, or it needs
     * none (one that requires a gradient but has no hook holds the bucket back until gradientsReady).
     */
    private boolean finished(int b) {
        Bucket bucket = buckets[b];
        int i = cursor[b];
        while (i <= bucket.last && (fired[i] || !parameters.get(i).requiresGrad())) {
            i++;
        }
        cursor[b] = i;
        return i > bucket.last;
    }

    private void resetStep() {
        Arrays.fill(fired, false);
        for (int b = 0; b < buckets.length; b++) {
            cursor[b] = buckets[b].first;
        }
        Arrays.fill(requests, null);
        started = 0;
        tested = 0;
        resend = false;
    }

    /** A hook on every parameter that requires a gradient and has none yet. */
    private void registerHooks() {
        for (int i = 0; i < hooks.length; i++) {
            Tensor p = parameters.get(i);
            if (hooks[i] == null && p.requiresGrad() && p.gradFn() == null && p.isAlive()) {
                int index = i;
                hooks[i] = p.registerPostAccumulateGradHook(t -> gradientDone(index));
            }
        }
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
     * Removes the hooks from the parameters and frees the gradient buckets; the communicator stays open.
     * An allreduce still in flight (a step whose backward started some and that never reached
     * {@link #gradientsReady}) is not waited for: its bucket's memory is freed when it completes, or kept.
     * Idempotent.
     */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            for (int i = 0; i < hooks.length; i++) {
                if (hooks[i] != null) {
                    hooks[i].remove();
                    hooks[i] = null;
                }
            }
            memory.close();
        }
    }

    @Override
    public String toString() {
        return "DistributedDataParallel(rank " + comm.rank() + " of " + comm.size() + ", " + parameters.size()
                + " parameters in " + buckets.length + " buckets" + (overlap ? ", overlapped with backward" : "")
                + ")";
    }
}
