package dev.gatun.serve;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.DnnlException;
import dev.gatun.backend.Program;
import dev.gatun.backend.Threads;
import dev.gatun.nn.InferencePlan;
import dev.gatun.nn.Module;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A model in evaluation mode answering inference calls from any number of threads, platform or virtual.
 *
 * <p><b>Threads.</b> At most {@link Config#concurrency()} batches run at once. A call is queued and run by
 * one of that many platform worker threads owned by the session, unless it can run on its caller's
 * thread at once: the session idle (no call running or waiting), a run slot free, and a caller that
 * brings no OpenMP team of its own (a virtual thread, whose carrier threads are as many as the cores,
 * or any thread when {@link Threads#get()} is 1). Each OpenMP master thread brings its own team of
 * {@link Threads#get()} threads, so 64 platform callers running the model directly would put 64 teams on
 * the same cores (measured 50 times slower than 64 virtual threads for LeNet-5); the slots and the fixed
 * set of workers keep at most {@code concurrency × Threads.get()} native threads busy. Running on the
 * caller saves the two hand-offs between threads, which cost more than a small model's run. The default
 * concurrency is {@code max(1, cores / Threads.get())}, so that the product stays within the cores;
 * {@code gatun serve} sets {@code Threads} to {@code cores / concurrency}.
 *
 * <p><b>Memory.</b> The model's parameters live in its detached scope, shared by the workers; each call's
 * activations live in a confined {@link Scope} opened on the thread that runs it, closed once the output
 * has been copied to the Java heap. Nothing is recorded for autograd.
 *
 * <p><b>Shared state.</b> In evaluation mode the gatun layers read their parameters and buffers only,
 * except the convolution/batch-norm fusion, which caches folded weights in the convolution (under the
 * convolution's lock; the fold is recomputed only if a source value changed). The constructor runs the
 * model once, which makes those caches and tells the output shape, before any concurrent call.
 *
 * <p><b>Batching.</b> With {@link Config#maxBatch()} above 1, a worker that takes a call while others
 * are queued behind it waits up to {@link Config#maxDelayMicros()} for more and runs them as one batch
 * (rows concatenated) as long as the rows fit in {@code maxBatch}; a call that finds nothing queued runs
 * at once (on its caller's thread where it may), so that batching costs a lone caller no delay. Results
 * may then differ from unbatched ones in the last bits, as the native kernels may choose another
 * algorithm for another batch size.
 *
 * <p><b>Plans.</b> Where the model compiles into an {@link InferencePlan} (convolutional and fully
 * connected networks, see there), a call of one row runs a plan instead of the layers one by one: its
 * primitives in one parallel region, with no tensor or scope work between them (the ResNet of
 * {@code bench/results/inference.md} at batch 1, 2 threads, took 0.19-0.22 ms so against 0.31-0.36 layer by layer).
 * Each of at most {@link Config#concurrency()} callers at once takes a plan of its own, so the session holds
 * at most that many, made as needed and kept for the next call. Plans compute with the parameters the model
 * had when the session was made (as an exported model would): make a new session after changing them.
 * Batches of more than one row run layer by layer. A plan's results equal the layers' to within float
 * rounding, and are the same on every call: every plan of a session is compiled in the layout the first
 * one chose. {@code -Dgatun.plans=false} turns plans off.
 *
 * <p>{@link #close()} refuses new calls, finishes the queued ones, stops the workers and closes the model
 * and the plans.
 */
public final class InferenceSession implements AutoCloseable {

    /**
     * A tensor's description, as the Open Inference Protocol's model metadata gives it.
     *
     * @param name     the tensor's name in requests and responses
     * @param datatype the element type as the protocol names it ({@code "FP32"})
     * @param shape    the dimensions, batch first; -1 for a dimension of any size (the batch)
     */
    public record TensorSpec(String name, String datatype, long[] shape) {
        /**
         * Copies the shape, so that the record cannot change behind its holder's back.
         *
         * @throws NullPointerException if {@code shape} is null
         */
        public TensorSpec {
            shape = shape.clone();
        }

        /**
         * The dimensions, batch first.
         *
         * @return a copy of the shape; -1 for a dimension of any size
         */
        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    /**
     * An output of {@link #run(float[], long...)}.
     *
     * @param data  the values, row-major; a new array owned by the caller
     * @param shape their shape, batch first (the input's row count)
     */
    public record Result(float[] data, long[] shape) {}

    /**
     * Session settings.
     *
     * @param concurrency worker threads running the model at once (each with an OpenMP team of
     *     {@link Threads#get()})
     * @param maxBatch most rows per batch a worker assembles from queued calls; 1 turns batching off
     * @param maxDelayMicros how long a worker waits for more calls to fill a batch
     * @param queueCapacity most calls waiting for a worker; more are refused with {@link QueueFullException}
     * @param closeTimeoutMillis how long {@link #close()} waits for queued and running calls
     */
    public record Config(int concurrency, int maxBatch, long maxDelayMicros, int queueCapacity,
            long closeTimeoutMillis) {
        /**
         * Checks the settings.
         *
         * @throws IllegalArgumentException if {@code concurrency}, {@code maxBatch} or {@code queueCapacity}
         *                                  is below 1, or a duration is negative; the message names it
         */
        public Config {
            if (concurrency < 1) throw new IllegalArgumentException("concurrency must be >= 1, got " + concurrency);
            if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
            if (maxDelayMicros < 0) {
                throw new IllegalArgumentException("maxDelayMicros must be >= 0, got " + maxDelayMicros);
            }
            if (queueCapacity < 1) {
                throw new IllegalArgumentException("queueCapacity must be >= 1, got " + queueCapacity);
            }
            if (closeTimeoutMillis < 0) {
                throw new IllegalArgumentException("closeTimeoutMillis must be >= 0, got " + closeTimeoutMillis);
            }
        }

        /**
         * The default settings: concurrency {@code max(1, cores / Threads.get())}, no batching, a queue of
         * 1024 calls, 30 s to close. Read the core and thread counts when called.
         *
         * @return the defaults
         */
        public static Config defaults() {
            return new Config(Math.max(1, Runtime.getRuntime().availableProcessors() / Threads.get()), 1, 0, 1024,
                    30_000);
        }

        /**
         * This configuration with another concurrency.
         *
         * @param n the number of worker threads, {@code >= 1}
         * @return a new configuration; this one is unchanged
         * @throws IllegalArgumentException if {@code n < 1}
         */
        public Config withConcurrency(int n) {
            return new Config(n, maxBatch, maxDelayMicros, queueCapacity, closeTimeoutMillis);
        }

        /**
         * This configuration with batching.
         *
         * @param rows        the most rows per batch, {@code >= 1}; 1 turns batching off
         * @param delayMicros how long a worker waits for more calls to fill a batch, in microseconds, {@code >= 0}
         * @return a new configuration; this one is unchanged
         * @throws IllegalArgumentException if {@code rows < 1} or {@code delayMicros < 0}
         */
        public Config withBatching(int rows, long delayMicros) {
            return new Config(concurrency, rows, delayMicros, queueCapacity, closeTimeoutMillis);
        }

        /**
         * This configuration with another queue capacity.
         *
         * @param n the most calls waiting for a worker, {@code >= 1}
         * @return a new configuration; this one is unchanged
         * @throws IllegalArgumentException if {@code n < 1}
         */
        public Config withQueueCapacity(int n) {
            return new Config(concurrency, maxBatch, maxDelayMicros, n, closeTimeoutMillis);
        }
    }

    /**
     * Thrown when a call finds the session's queue full: the session is overloaded and the caller should
     * retry later ({@link InferenceServer} answers HTTP 503).
     */
    public static final class QueueFullException extends RuntimeException {
        QueueFullException(String message) {
            super(message);
        }
    }

    /** One call waiting for a worker. */
    private record Call(float[] input, int rows, CompletableFuture<float[]> result) {}

    private static final Call STOP = new Call(null, 0, null);

    private final Module model;
    private final long[] sampleShape;
    private final long[] outputSampleShape;
    private final int sampleSize;
    private final int outputSampleSize;
    private final Config config;
    private final TensorSpec input;
    private final TensorSpec output;
    private final LinkedBlockingQueue<Call> queue = new LinkedBlockingQueue<>();
    private final AtomicInteger waiting = new AtomicInteger();
    private final AtomicInteger running = new AtomicInteger();
    /** Batches that may run at once, on workers or callers: {@link Config#concurrency()}. */
    private final Semaphore slots;
    private final Histogram batchSizes = new Histogram(new double[] {1, 2, 4, 8, 16, 32, 64, 128, 256});
    private final Thread[] workers;
    private final Plans plans;
    private volatile boolean closed;

    /** Whether sessions run one-row calls on plans where the model compiles ({@code gatun.plans}, default true). */
    private static final boolean PLANS = !"false".equalsIgnoreCase(System.getProperty("gatun.plans", "true"));

    /**
     * The plans of one-row calls not in use, most recently used first; null when the model does not compile.
     * At most {@link Config#concurrency()} exist at once (one per running call); a plan made for another
     * thread setting than the current one is closed instead of reused.
     */
    private final class Plans {
        private final ArrayDeque<InferencePlan> idle = new ArrayDeque<>();
        private final Program.Layout layout;
        private boolean closed;

        Plans(InferencePlan first) {
            idle.push(first);
            layout = first.layout();
        }

        /** A plan for one row: an idle one, or a new one; null if a new one cannot be made. */
        InferencePlan take() {
            synchronized (this) {
                while (!idle.isEmpty()) {
                    InferencePlan p = idle.pop();
                    if (p.threads() == Threads.get()) return p;
                    p.close();
                }
                if (closed) return null;
            }
            try {
                // The first plan's layout, so that every call computes the same values.
                return InferencePlan.compile(model, layout, withBatch(1));
            } catch (InferencePlan.UnsupportedModelException | DnnlException | IllegalArgumentException e) {
                return null; // the layers serve this call; the next one tries again
            }
        }

        /** Gives back a plan taken from {@link #take}. */
        void give(InferencePlan p) {
            synchronized (this) {
                if (!closed && p.threads() == Threads.get() && idle.size() < config.concurrency()) {
                    idle.push(p);
                    return;
                }
            }
            p.close();
        }

        /** Closes the idle plans; those in use close when given back. */
        void close() {
            synchronized (this) {
                closed = true;
                while (!idle.isEmpty()) idle.pop().close();
            }
        }
    }

    /**
     * A session with {@link Config#defaults()} and tensors named {@code input} and {@code output}.
     *
     * @param model       the model, which the session owns from now on (and closes with itself)
     * @param sampleShape the shape of one input sample, without the batch dimension
     * @throws IllegalArgumentException as {@link #InferenceSession(Module, long[], Config, String, String)}
     */
    public InferenceSession(Module model, long... sampleShape) {
        this(model, sampleShape, Config.defaults(), "input", "output");
    }

    /**
     * A session over {@code model}, which it owns from now on (and closes with itself). Puts the model in
     * evaluation mode, runs it once on a batch of one zero sample (on the calling thread) to learn the
     * output shape, then starts the workers.
     *
     * @param model       the model; it must map {@code [rows, sample...]} to {@code [rows, ...]}
     * @param sampleShape the shape of one input sample, without the batch dimension
     * @param config      the session's settings
     * @param inputName   the input tensor's name, for {@link #input()}
     * @param outputName  the output tensor's name, for {@link #output()}
     * @throws IllegalArgumentException if an argument is null, the shape is empty, not positive or too large
     *                                  for a Java array, the model refuses an input of it, or the model's
     *                                  output does not keep the batch dimension first
     */
    public InferenceSession(Module model, long[] sampleShape, Config config, String inputName, String outputName) {
        if (model == null || config == null || inputName == null || outputName == null) {
            throw new IllegalArgumentException("model, config and tensor names must not be null");
        }
        if (sampleShape == null || sampleShape.length == 0) {
            throw new IllegalArgumentException("the sample shape must have at least one dimension, got "
                    + Arrays.toString(sampleShape));
        }
        long n = 1;
        for (long d : sampleShape) {
            if (d < 1 || d > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("sample dimensions must be in [1, 2^31), got "
                        + Arrays.toString(sampleShape));
            }
            n *= d;
            if (n > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("a sample of shape " + Arrays.toString(sampleShape)
                        + " does not fit a Java array");
            }
        }
        this.model = model;
        this.sampleShape = sampleShape.clone();
        this.sampleSize = (int) n;
        this.config = config;
        this.slots = new Semaphore(config.concurrency());
        model.eval();
        // One run before any concurrent call: fills the layers' inference caches and gives the output shape.
        long[] outShape;
        try (Scope s = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor y = model.forward(Tensor.zeros(s, withBatch(1)));
            outShape = y.shape();
        }
        if (outShape.length == 0 || outShape[0] != 1) {
            throw new IllegalArgumentException("the model must keep the batch dimension first, but maps "
                    + Arrays.toString(withBatch(1)) + " to " + Arrays.toString(outShape));
        }
        this.outputSampleShape = Arrays.copyOfRange(outShape, 1, outShape.length);
        long m = 1;
        for (long d : outputSampleShape) m *= d;
        this.outputSampleSize = (int) m;
        long[] in = withBatch(-1);
        long[] out = outShape.clone();
        out[0] = -1;
        this.input = new TensorSpec(inputName, "FP32", in);
        this.output = new TensorSpec(outputName, "FP32", out);
        InferencePlan first = null;
        try {
            if (!PLANS) throw new InferencePlan.UnsupportedModelException("plans are off (gatun.plans=false)");
            first = InferencePlan.compile(model, withBatch(1));
            if (!Arrays.equals(first.outputShape(), outShape)) {
                first.close(); // cannot happen for the modules a plan takes; the layers stay the reference
                first = null;
            }
        } catch (InferencePlan.UnsupportedModelException | DnnlException | IllegalArgumentException e) {
            // Layer by layer.
        }
        this.plans = first == null ? null : new Plans(first);
        workers = new Thread[config.concurrency()];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = Thread.ofPlatform().daemon().name("gatun-inference-" + i).start(this::work);
        }
    }

    private long[] withBatch(long rows) {
        long[] s = new long[sampleShape.length + 1];
        s[0] = rows;
        System.arraycopy(sampleShape, 0, s, 1, sampleShape.length);
        return s;
    }

    /**
     * Whether one-row calls run a compiled {@link InferencePlan} (the model compiles into one).
     *
     * @return true where they do; false where every call runs the layers one by one
     */
    public boolean runsPlans() {
        return plans != null;
    }

    /**
     * The input's description.
     *
     * @return its name, datatype ({@code "FP32"}) and shape ({@code -1} for the batch dimension)
     */
    public TensorSpec input() {
        return input;
    }

    /**
     * The output's description.
     *
     * @return its name, datatype ({@code "FP32"}) and shape ({@code -1} for the batch dimension)
     */
    public TensorSpec output() {
        return output;
    }

    /**
     * The settings.
     *
     * @return the configuration the session was made with
     */
    public Config config() {
        return config;
    }

    /**
     * Whether the session takes calls.
     *
     * @return false once {@link #close()} has begun
     */
    public boolean isReady() {
        return !closed;
    }

    /**
     * The calls waiting for a worker now, for metrics.
     *
     * @return a snapshot; it may change at once
     */
    public int queueDepth() {
        return waiting.get();
    }

    /**
     * The batches being run now, for metrics.
     *
     * @return a snapshot, at most {@link Config#concurrency()}
     */
    public int running() {
        return running.get();
    }

    /** The number of rows of every batch run so far. */
    Histogram batchSizes() {
        return batchSizes;
    }

    /**
     * Checks an input shape against the model's ({@code [rows, sample...]}) and the number of values,
     * without running anything: what {@link #run(float[], long...)} checks first.
     *
     * @param shape  the input's shape, batch first
     * @param values the number of input values given
     * @return the number of rows, {@code shape[0]}
     * @throws IllegalArgumentException naming the shapes when they do not match
     */
    public int checkInput(long[] shape, long values) {
        if (shape == null || shape.length != sampleShape.length + 1) {
            throw new IllegalArgumentException("input shape " + Arrays.toString(shape) + " does not match the model's "
                    + Arrays.toString(input.shape));
        }
        for (int i = 1; i < shape.length; i++) {
            if (shape[i] != sampleShape[i - 1]) {
                throw new IllegalArgumentException("input shape " + Arrays.toString(shape)
                        + " does not match the model's " + Arrays.toString(input.shape));
            }
        }
        if (shape[0] < 1 || shape[0] > (Integer.MAX_VALUE - 8) / Math.max(sampleSize, outputSampleSize)) {
            throw new IllegalArgumentException("input shape " + Arrays.toString(shape) + ": the batch dimension must"
                    + " be in [1, " + (Integer.MAX_VALUE - 8) / Math.max(sampleSize, outputSampleSize) + "]");
        }
        if (values != shape[0] * sampleSize) {
            throw new IllegalArgumentException(values + " input values do not fill shape " + Arrays.toString(shape)
                    + " (" + shape[0] * sampleSize + " elements)");
        }
        return (int) shape[0];
    }

    /**
     * The output shape for a batch.
     *
     * @param rows the batch's row count
     * @return a new array: {@code rows}, then the shape of one output sample
     */
    public long[] outputShape(int rows) {
        long[] s = output.shape();
        s[0] = rows;
        return s;
    }

    /**
     * Runs the model on {@code input} (row-major, of the given shape, batch first). Blocks the calling
     * thread (a virtual thread is fine) until the call has run, on a worker or on this thread (see the
     * class's notes on threads); safe to call from any number of threads at once.
     *
     * @param input the input values, row-major; not modified, and not to be modified until the call returns
     * @param shape the input's shape, {@code [rows, sample...]}
     * @return the output values and shape
     * @throws IllegalArgumentException if the shape or the number of values is wrong (before any native call)
     * @throws QueueFullException if {@link Config#queueCapacity()} calls are already waiting
     * @throws IllegalStateException if the session is closed, or the model's output for the batch has
     *                               another shape than for one row
     * @throws RuntimeException      whatever the model threw while running the call's batch
     */
    public Result run(float[] input, long... shape) {
        if (input == null) throw new IllegalArgumentException("input must not be null");
        int rows = checkInput(shape, input.length);
        return new Result(submit(input, rows), outputShape(rows));
    }

    /**
     * Runs the model and writes the output to {@code out}, as {@link #run(float[], long...)} does.
     *
     * @param input the input values, row-major
     * @param shape the input's shape, {@code [rows, sample...]}
     * @param out   the array to fill, of exactly the output's number of values
     * @return the output shape
     * @throws IllegalArgumentException if an array is null, or a shape or length does not match (before
     *                                  any native call)
     * @throws QueueFullException       if {@link Config#queueCapacity()} calls are already waiting
     * @throws IllegalStateException    if the session is closed
     */
    public long[] run(float[] input, long[] shape, float[] out) {
        if (input == null || out == null) throw new IllegalArgumentException("input and out must not be null");
        int rows = checkInput(shape, input.length);
        if (out.length != (long) rows * outputSampleSize) {
            throw new IllegalArgumentException("the output buffer holds " + out.length + " values, the output of shape "
                    + Arrays.toString(outputShape(rows)) + " has " + (long) rows * outputSampleSize);
        }
        float[] r = submit(input, rows);
        System.arraycopy(r, 0, out, 0, r.length);
        return outputShape(rows);
    }

    private float[] submit(float[] input, int rows) {
        if (inlineAllowed()) {
            float[] out = runInline(input, rows);
            if (out != null) return out;
        }
        Call c = new Call(input, rows, new CompletableFuture<>());
        synchronized (queue) { // against close(): no call may be queued behind the workers' STOPs
            if (closed) {
                throw new IllegalStateException("the inference session is closed");
            }
            if (waiting.incrementAndGet() > config.queueCapacity()) {
                waiting.decrementAndGet();
                throw new QueueFullException("the inference queue is full (" + config.queueCapacity()
                        + " calls waiting)");
            }
            queue.add(c);
        }
        try {
            return c.result().join();
        } catch (CompletionException e) {
            Throwable t = e.getCause();
            if (t instanceof RuntimeException r) throw r;
            if (t instanceof Error err) throw err;
            throw e;
        }
    }

    /**
     * Whether a call may run on its caller's thread: when the session is idle (no call running or waiting:
     * none is overtaken, there is nothing to batch it with, and under load the calls go to the workers,
     * which batch them and leave the callers' carrier threads to the HTTP work: with callers running
     * their own calls under load, LeNet-5 at 64 connections served 3,100 requests/s in batches of 2
     * against 6,400 in batches of 8), and where the caller brings no OpenMP team of its own beyond
     * what the workers would (a virtual thread, whose carriers are as many as the cores, or one native
     * thread per call). The hand-offs to a worker and back cost more than a small model's run: 80 µs of
     * the 110 µs median of the 784-512-256-10 MLP's call (27 µs of computing).
     */
    private boolean inlineAllowed() {
        return running.get() == 0 && waiting.get() == 0
                && (Thread.currentThread().isVirtual() || Threads.get() == 1);
    }

    /** The call run on the calling thread if a slot is free now; null if none is (then it is queued). */
    private float[] runInline(float[] input, int rows) {
        if (!slots.tryAcquire()) return null;
        try {
            synchronized (queue) { // against close(): counted before it can wait for the running calls
                if (closed) throw new IllegalStateException("the inference session is closed");
                running.incrementAndGet();
            }
            try {
                return compute(input, rows);
            } finally {
                running.decrementAndGet();
            }
        } finally {
            slots.release();
        }
    }

    private void work() {
        Call pending = null; // taken from the queue but too large for the last batch: first in the next one
        List<Call> batch = new ArrayList<>();
        boolean stop = false;
        while (!stop || pending != null) {
            Call first = pending;
            pending = null;
            if (first == null) {
                first = take();
                if (first == STOP) return;
                // A call counts as waiting until a run slot is free for it (callers' threads may hold them).
                slots.acquireUninterruptibly();
                waiting.decrementAndGet();
            } else {
                slots.acquireUninterruptibly();
            }
            batch.clear();
            batch.add(first);
            int rows = first.rows();
            long deadline = System.nanoTime() + config.maxDelayMicros() * 1000;
            // A lone call runs at once: the delay is spent only when others are queued behind it.
            boolean fill = !queue.isEmpty();
            while (fill && !stop && rows < config.maxBatch()) {
                Call next;
                try {
                    next = queue.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    break;
                }
                if (next == null) break;
                if (next == STOP) {
                    stop = true; // every call queued before the stop is taken by now or by another worker
                    break;
                }
                waiting.decrementAndGet();
                if (rows + next.rows() > config.maxBatch()) {
                    pending = next;
                    break;
                }
                batch.add(next);
                rows += next.rows();
            }
            try {
                execute(batch, rows);
            } finally {
                slots.release();
            }
        }
    }

    private Call take() {
        while (true) {
            try {
                return queue.take();
            } catch (InterruptedException e) {
                // workers are stopped by STOP only, so that no queued call is left unanswered
            }
        }
    }

    private void execute(List<Call> batch, int rows) {
        running.incrementAndGet();
        try {
            float[] in;
            if (batch.size() == 1) {
                in = batch.get(0).input();
            } else {
                in = new float[rows * sampleSize];
                int at = 0;
                for (Call c : batch) {
                    System.arraycopy(c.input(), 0, in, at, c.input().length);
                    at += c.input().length;
                }
            }
            float[] out = compute(in, rows);
            if (batch.size() == 1) {
                batch.get(0).result().complete(out);
            } else {
                int at = 0;
                for (Call c : batch) {
                    int len = c.rows() * outputSampleSize;
                    c.result().complete(Arrays.copyOfRange(out, at, at + len));
                    at += len;
                }
            }
        } catch (Throwable t) {
            for (Call c : batch) c.result().completeExceptionally(t);
        } finally {
            running.decrementAndGet();
        }
    }

    /** The model on one batch, in a scope of its own, without a tape; the output copied to the heap. */
    private float[] compute(float[] in, int rows) {
        if (rows == 1 && plans != null) {
            InferencePlan p = plans.take();
            if (p != null) {
                try {
                    float[] out = p.run(in);
                    batchSizes.observe(rows);
                    return out;
                } finally {
                    plans.give(p);
                }
            }
        }
        float[] out;
        try (Scope s = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor y = model.forward(Tensor.fromArray(in, withBatch(rows)));
            if (y.shape().length == 0 || y.shape()[0] != rows || y.numel() != (long) rows * outputSampleSize) {
                throw new IllegalStateException("the model mapped " + Arrays.toString(withBatch(rows)) + " to "
                        + Arrays.toString(y.shape()) + ", expected " + Arrays.toString(outputShape(rows)));
            }
            out = y.toArray();
        }
        batchSizes.observe(rows);
        return out;
    }

    /**
     * Refuses new calls, lets the queued and running ones finish (up to {@link Config#closeTimeoutMillis()}),
     * stops the workers and closes the model. Idempotent. Calls that arrive meanwhile fail with
     * {@link IllegalStateException}. An interrupt cuts the wait short; the interrupt status is kept.
     */
    @Override
    public void close() {
        synchronized (queue) {
            if (closed) return;
            closed = true;
            for (int i = 0; i < workers.length; i++) {
                queue.add(STOP);
            }
        }
        long deadline = System.nanoTime() + config.closeTimeoutMillis() * 1_000_000;
        boolean interrupted = false;
        for (Thread w : workers) {
            try {
                long left = deadline - System.nanoTime();
                if (left > 0) w.join(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        // With the workers done, what still runs runs on its caller's thread (none starts once closed is set).
        while (running.get() > 0 && deadline - System.nanoTime() > 0 && !interrupted) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        // A call still running when the wait ends keeps its memory: no close frees memory under a native call
        // (a plan in use is closed when its call gives it back).
        if (plans != null) plans.close();
        model.close();
        if (interrupted) Thread.currentThread().interrupt();
    }
}
