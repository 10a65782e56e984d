package dev.gatun.distributed;

import dev.gatun.backend.NativeLibraries;
import dev.gatun.backend.SharedMemory;
import dev.gatun.bindings.mpi.Mpi;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The processes of an MPI job ({@code MPI_COMM_WORLD}) and the collectives data-parallel training needs:
 * broadcast and allreduce of float32 data in place on off-heap memory (a tensor's storage or any native
 * {@link MemorySegment}), allreduce started now and waited for later, barrier, abort.
 *
 * <p>There is one per process: {@link #world} initialises MPI on first use ({@code MPI_Init_thread}) and
 * {@link #close} finalises it ({@code MPI_Finalize}); MPI cannot be initialised again after that. Every
 * size, offset, rank and tensor is checked in Java before MPI is called, so bad input is an exception
 * here, never a crash or a hang in the native library. Calls are serialised on this object, so any thread
 * may make them (the level {@link ThreadLevel#SERIALIZED} asks of MPI).
 *
 * <p>A process of the job that dies takes the job down: Open MPI's default error handler
 * ({@code MPI_ERRORS_ARE_FATAL}) and {@code mpirun} end every other process when one exits without
 * finalising, so a collective never waits for a dead peer forever (README, "Distributed training").
 */
public final class Communicator implements AutoCloseable {

    /** The thread support asked of MPI ({@code MPI_THREAD_*}), weakest first. */
    public enum ThreadLevel {
        /** Only one thread in the process. */
        SINGLE,
        /** Only the thread that initialised MPI calls it. */
        FUNNELED,
        /** Any thread calls MPI, one at a time. */
        SERIALIZED,
        /** Any thread calls MPI at any time. */
        MULTIPLE;

        int value() {
            return switch (this) {
                case SINGLE -> Mpi.MPI_THREAD_SINGLE();
                case FUNNELED -> Mpi.MPI_THREAD_FUNNELED();
                case SERIALIZED -> Mpi.MPI_THREAD_SERIALIZED();
                case MULTIPLE -> Mpi.MPI_THREAD_MULTIPLE();
            };
        }

        static ThreadLevel of(int value) {
            for (ThreadLevel l : values()) {
                if (l.value() == value) return l;
            }
            throw new IllegalStateException("MPI reported an unknown thread level " + value);
        }
    }

    /** A reduction ({@code MPI_SUM}, {@code MPI_MAX}, {@code MPI_MIN}). */
    public enum Op {
        /** The sum over the processes. */
        SUM("ompi_mpi_op_sum"),
        /** The largest value over the processes. */
        MAX("ompi_mpi_op_max"),
        /** The smallest value over the processes. */
        MIN("ompi_mpi_op_min");

        private final String symbol;

        Op(String symbol) {
            this.symbol = symbol;
        }
    }

    /** The largest element count of one MPI call: counts are C ints. */
    public static final long MAX_COUNT = Integer.MAX_VALUE;

    /** Environment variables that mpirun (Open MPI, PMIx) or Slurm's srun set in every process they start. */
    private static final String[] LAUNCHER_SIZE_VARIABLES = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE",
        "SLURM_NTASKS"};

    /** A thread that owns no arena, for {@link MemorySegment#isAccessibleBy}: never started. */
    private static final Thread NOT_AN_OWNER = Thread.ofPlatform().unstarted(() -> { });

    private static Communicator world;

    private final int rank;
    private final int size;
    private final ThreadLevel threadLevel;
    private final MemorySegment comm;
    private final MemorySegment floatType;
    private final MemorySegment doubleType;
    /** The handle of each {@link Op}, by ordinal. */
    private final MemorySegment[] ops;
    /**
     * The non-blocking allreduces started and not complete: kept here so that memory MPI still writes
     * into stays reachable (an automatic arena is freed only when unreachable) even if the caller drops
     * the request. Guarded by this.
     */
    private final Set<Request> pending = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;

    private Communicator(int rank, int size, ThreadLevel threadLevel, MemorySegment comm, MemorySegment floatType,
                         MemorySegment doubleType) {
        this.rank = rank;
        this.size = size;
        this.threadLevel = threadLevel;
        this.comm = comm;
        this.floatType = floatType;
        this.doubleType = doubleType;
        this.ops = new MemorySegment[Op.values().length];
        for (Op op : Op.values()) {
            ops[op.ordinal()] = handle(op.symbol);
        }
    }

    /**
     * Whether this process was started by an MPI launcher as one of several ({@code mpirun -np N} with
     * N &gt; 1, or Slurm's {@code srun} with more than one task), from the environment variables the
     * launchers set; nothing is loaded or initialised.
     *
     * @return true when a launcher says the job has more than one process
     */
    public static boolean launchedAsMany() {
        return launchedAsMany(System.getenv());
    }

    /** {@link #launchedAsMany()} for the given environment. */
    static boolean launchedAsMany(Map<String, String> env) {
        for (String name : LAUNCHER_SIZE_VARIABLES) {
            String v = env.get(name);
            if (v != null) {
                try {
                    return Integer.parseInt(v.trim()) > 1;
                } catch (NumberFormatException e) {
                    // not a launcher's value; try the next variable
                }
            }
        }
        return false;
    }

    /**
     * The processes of this job ({@code MPI_COMM_WORLD}), initialising MPI on the first call with at least
     * {@code required} thread support; later calls return the same communicator. A process started without
     * a launcher is a job of one (MPI's singleton start-up).
     *
     * @param required the thread support needed
     * @return the world communicator
     * @throws NullPointerException if {@code required} is null
     * @throws dev.gatun.backend.NativeLibraryException if Open MPI's library is not installed (naming the
     *     Debian package)
     * @throws IllegalStateException if MPI was finalised already, or offers less thread support than asked
     *     for (by the first call or this one)
     * @throws MpiException if MPI fails to initialise
     */
    public static synchronized Communicator world(ThreadLevel required) {
        Objects.requireNonNull(required, "required");
        if (world != null) {
            if (world.closed) {
                throw new IllegalStateException("MPI was finalised in this process; it cannot be initialised again");
            }
            if (world.threadLevel.compareTo(required) < 0) {
                throw new IllegalStateException("MPI was initialised with thread level " + world.threadLevel
                        + ", below the " + required + " asked for");
            }
            return world;
        }
        NativeLibraries.loadMpi();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment flag = a.allocate(ValueLayout.JAVA_INT);
            check(Mpi.MPI_Finalized(flag), "MPI_Finalized");
            if (flag.get(ValueLayout.JAVA_INT, 0) != 0) {
                throw new IllegalStateException("MPI was finalised in this process; it cannot be initialised again");
            }
            check(Mpi.MPI_Initialized(flag), "MPI_Initialized");
            MemorySegment provided = a.allocate(ValueLayout.JAVA_INT);
            if (flag.get(ValueLayout.JAVA_INT, 0) == 0) {
                // argc and argv may be NULL since MPI-2: the JVM's arguments are no business of MPI's.
                check(Mpi.MPI_Init_thread(MemorySegment.NULL, MemorySegment.NULL, required.value(), provided),
                        "MPI_Init_thread");
            } else {
                check(Mpi.MPI_Query_thread(provided), "MPI_Query_thread");
            }
            ThreadLevel level = ThreadLevel.of(provided.get(ValueLayout.JAVA_INT, 0));
            if (level.compareTo(required) < 0) {
                throw new IllegalStateException("this MPI offers thread level " + level + ", below the " + required
                        + " asked for");
            }
            MemorySegment comm = handle("ompi_mpi_comm_world");
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT);
            check(Mpi.MPI_Comm_rank(comm, out), "MPI_Comm_rank");
            int rank = out.get(ValueLayout.JAVA_INT, 0);
            check(Mpi.MPI_Comm_size(comm, out), "MPI_Comm_size");
            int size = out.get(ValueLayout.JAVA_INT, 0);
            world = new Communicator(rank, size, level, comm, handle("ompi_mpi_float"), handle("ompi_mpi_double"));
            return world;
        }
    }

    /**
     * An Open MPI predefined handle: the address of its global object, as the {@code MPI_COMM_WORLD},
     * {@code MPI_FLOAT}, {@code MPI_SUM} ... macros of {@code mpi.h} make it (native/mpi.symbols says why
     * the bindings do not hold these).
     */
    static MemorySegment handle(String symbol) {
        return SymbolLookup.loaderLookup().find(symbol).orElseThrow(() -> new IllegalStateException(
                "the loaded MPI library has no " + symbol + ": gatun needs Open MPI 4.x (libmpi.so.40)"));
    }

    /**
     * This process's number in the job.
     *
     * @return the rank, in [0, size)
     */
    public int rank() {
        return rank;
    }

    /**
     * The number of processes in the job.
     *
     * @return the size, at least 1
     */
    public int size() {
        return size;
    }

    /**
     * The thread support MPI provides.
     *
     * @return the level, at least the one asked for
     */
    public ThreadLevel threadLevel() {
        return threadLevel;
    }

    /**
     * Whether {@link #close} has finalised MPI.
     *
     * @return true once closed
     */
    public synchronized boolean isClosed() {
        return closed;
    }

    /**
     * Copies {@code root}'s contents of a float32 tensor into the same tensor of every other process
     * ({@code MPI_Bcast} on its storage).
     *
     * @param tensor a live, contiguous float32 tensor of the same shape in every process
     * @param root   the rank whose contents every process gets
     * @throws NullPointerException if {@code tensor} is null
     * @throws IllegalArgumentException if the tensor is not float32 or not contiguous, has more than
     *     {@link #MAX_COUNT} elements, or {@code root} is not a rank of the job
     * @throws IllegalStateException if the tensor is closed or this communicator is closed
     * @throws MpiException if MPI reports an error
     */
    public void broadcast(Tensor tensor, int root) {
        MemorySegment s = storage(tensor, "broadcast");
        broadcast(s, tensor.offset() * Float.BYTES, tensor.numel(), root);
    }

    /**
     * Copies {@code count} floats of {@code root}'s {@code segment} from byte {@code offset} into the same
     * place of every other process ({@code MPI_Bcast}).
     *
     * @param segment a native segment
     * @param offset  the byte offset of the first float, a multiple of 4
     * @param count   the number of floats, in [0, {@link #MAX_COUNT}]
     * @param root    the rank whose contents every process gets
     * @throws NullPointerException if {@code segment} is null
     * @throws IllegalArgumentException if the segment is on the Java heap, the range does not lie in it, or
     *     {@code root} is not a rank of the job
     * @throws IllegalStateException if the segment's memory was freed or this communicator is closed
     * @throws MpiException if MPI reports an error
     */
    public synchronized void broadcast(MemorySegment segment, long offset, long count, int root) {
        MemorySegment data = floats(segment, offset, count, "broadcast");
        checkRoot(root);
        checkOpen("broadcast");
        check(Mpi.MPI_Bcast(data, (int) count, floatType, root, comm), "MPI_Bcast");
    }

    /**
     * Replaces a float32 tensor, in every process, by its {@code op} over the processes
     * ({@code MPI_Allreduce} in place on its storage).
     *
     * @param tensor a live, contiguous float32 tensor of the same shape in every process
     * @param op     the reduction
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if the tensor is not float32 or not contiguous, or has more than
     *     {@link #MAX_COUNT} elements
     * @throws IllegalStateException if the tensor is closed or this communicator is closed
     * @throws MpiException if MPI reports an error
     */
    public void allreduce(Tensor tensor, Op op) {
        MemorySegment s = storage(tensor, "allreduce");
        allreduce(s, tensor.offset() * Float.BYTES, tensor.numel(), op);
    }

    /**
     * Replaces {@code count} floats of {@code segment} from byte {@code offset}, in every process, by their
     * {@code op} over the processes ({@code MPI_Allreduce} with {@code MPI_IN_PLACE}).
     *
     * @param segment a native segment
     * @param offset  the byte offset of the first float, a multiple of 4
     * @param count   the number of floats, in [0, {@link #MAX_COUNT}]
     * @param op      the reduction
     * @throws NullPointerException if {@code segment} or {@code op} is null
     * @throws IllegalArgumentException if the segment is on the Java heap or the range does not lie in it
     * @throws IllegalStateException if the segment's memory was freed or this communicator is closed
     * @throws MpiException if MPI reports an error
     */
    public synchronized void allreduce(MemorySegment segment, long offset, long count, Op op) {
        Objects.requireNonNull(op, "op");
        MemorySegment data = floats(segment, offset, count, "allreduce");
        checkOpen("allreduce");
        check(Mpi.MPI_Allreduce(Mpi.MPI_IN_PLACE(), data, (int) count, floatType, ops[op.ordinal()], comm),
                "MPI_Allreduce");
    }

    /**
     * The element-wise sums of {@code values} over the processes, for a few figures such as a loss sum and
     * counts (doubles, through a small native buffer).
     *
     * @param values the same number of values in every process, at most 4096
     * @return a new array of the sums
     * @throws NullPointerException if {@code values} is null
     * @throws IllegalArgumentException if there are more than 4096 values
     * @throws IllegalStateException if this communicator is closed
     * @throws MpiException if MPI reports an error
     */
    public synchronized double[] sum(double[] values) {
        Objects.requireNonNull(values, "values");
        if (values.length > 4096) {
            throw new IllegalArgumentException("sum(double[]) is for a few figures, at most 4096, got "
                    + values.length + "; reduce tensors with allreduce");
        }
        checkOpen("sum");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_DOUBLE, values);
            check(Mpi.MPI_Allreduce(Mpi.MPI_IN_PLACE(), buf, values.length, doubleType, ops[Op.SUM.ordinal()], comm),
                    "MPI_Allreduce");
            return buf.toArray(ValueLayout.JAVA_DOUBLE);
        }
    }

    /**
     * Starts replacing a float32 tensor, in every process, by its {@code op} over the processes
     * ({@code MPI_Iallreduce} in place on its storage), and returns at once: as
     * {@link #allreduceAsync(MemorySegment, long, long, Op)} on the tensor's elements. The tensor must not
     * be read or written until the request completes. Its memory is safe meanwhile if it lies in a detached
     * scope (a close is deferred until the request completes) or outside any scope (kept reachable); a
     * tensor of a thread's own {@link dev.gatun.tensor.Scope#open() scope} is refused.
     *
     * @param tensor a live, contiguous float32 tensor of the same shape in every process
     * @param op     the reduction
     * @return the request to wait for
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if the tensor is not float32 or not contiguous, has more than
     *     {@link #MAX_COUNT} elements, or lies in memory confined to a thread
     * @throws IllegalStateException if the tensor is closed or this communicator is closed
     * @throws MpiException if MPI reports an error
     */
    public Request allreduceAsync(Tensor tensor, Op op) {
        MemorySegment s = storage(tensor, "allreduceAsync");
        return allreduceAsync(s, tensor.offset() * Float.BYTES, tensor.numel(), op);
    }

    /**
     * Starts replacing {@code count} floats of {@code segment} from byte {@code offset}, in every process,
     * by their {@code op} over the processes ({@code MPI_Iallreduce} with {@code MPI_IN_PLACE}), and
     * returns at once. The memory must stay untouched until the request completes ({@link Request#waitFor}
     * or a {@link Request#test} that returns true). Every process must start the same allreduces in the
     * same order.
     *
     * <p>MPI writes into the memory after this call returns, so the request keeps it alive until it
     * completes: memory of gatun's {@link SharedMemory} (a detached scope's tensors, the buckets of
     * {@link DistributedDataParallel}) is held, a close meanwhile deferred until then; memory of an
     * automatic arena (a tensor made outside any scope) is kept reachable. A request never waited for
     * keeps its memory for good. Memory confined to a thread (a confined arena, a thread's
     * {@link dev.gatun.tensor.Scope#open() scope}) is refused, since its thread could free it under MPI;
     * the memory of a shared {@link Arena} of the caller's cannot be held, and is the caller's to keep
     * open until the request completes.
     *
     * @param segment a native segment, not confined to a thread
     * @param offset  the byte offset of the first float, a multiple of 4
     * @param count   the number of floats, in [0, {@link #MAX_COUNT}]
     * @param op      the reduction
     * @return the request to wait for
     * @throws NullPointerException if {@code segment} or {@code op} is null
     * @throws IllegalArgumentException if the segment is on the Java heap or confined to a thread, or the
     *     range does not lie in it
     * @throws IllegalStateException if the segment's memory was freed or closed, or this communicator is
     *     closed
     * @throws MpiException if MPI reports an error
     */
    public synchronized Request allreduceAsync(MemorySegment segment, long offset, long count, Op op) {
        Objects.requireNonNull(op, "op");
        MemorySegment data = floats(segment, offset, count, "allreduceAsync");
        if (!data.isAccessibleBy(NOT_AN_OWNER)) {
            throw new IllegalArgumentException("allreduceAsync: the segment's memory is confined to a thread (a"
                    + " confined arena or a thread's Scope), which could free it while MPI still writes into it;"
                    + " use a tensor of a detached scope or outside any scope, or a shared or automatic arena");
        }
        checkOpen("allreduceAsync");
        SharedMemory.Hold hold = SharedMemory.hold("allreduceAsync", data);
        boolean started = false;
        try {
            // The handle and the test flag live as long as their Request: freed by the collector after it.
            MemorySegment handles = Arena.ofAuto().allocate(2 * ValueLayout.ADDRESS.byteSize(),
                    ValueLayout.ADDRESS.byteAlignment());
            MemorySegment request = handles.asSlice(0, ValueLayout.ADDRESS.byteSize());
            MemorySegment flag = handles.asSlice(ValueLayout.ADDRESS.byteSize(), ValueLayout.JAVA_INT.byteSize());
            check(Mpi.MPI_Iallreduce(Mpi.MPI_IN_PLACE(), data, (int) count, floatType, ops[op.ordinal()], comm,
                    request), "MPI_Iallreduce");
            Request r = new Request(request, flag, data, hold);
            pending.add(r);
            started = true;
            return r;
        } finally {
            if (!started) {
                hold.close(); // MPI did not take the memory
            }
        }
    }

    /**
     * Waits until every process has called it ({@code MPI_Barrier}).
     *
     * @throws IllegalStateException if this communicator is closed
     * @throws MpiException if MPI reports an error
     */
    public synchronized void barrier() {
        checkOpen("barrier");
        check(Mpi.MPI_Barrier(comm), "MPI_Barrier");
    }

    /**
     * Ends every process of the job with {@code code} ({@code MPI_Abort}): for an error after which the
     * others would wait forever. Does not return when MPI does what it should.
     *
     * @param code the exit code the launcher reports
     * @throws IllegalStateException if this communicator is closed
     * @throws MpiException if MPI fails to abort
     */
    public synchronized void abort(int code) {
        checkOpen("abort");
        check(Mpi.MPI_Abort(comm, code), "MPI_Abort");
    }

    /**
     * Finalises MPI ({@code MPI_Finalize}); every process of the job must call it. Later calls do nothing,
     * and every other method then throws.
     *
     * @throws IllegalStateException if non-blocking allreduces are still pending (wait for them first)
     * @throws MpiException if MPI reports an error
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        if (!pending.isEmpty()) {
            throw new IllegalStateException(pending.size() + " non-blocking allreduce(s) not waited for: MPI cannot be"
                    + " finalised before they complete");
        }
        closed = true;
        check(Mpi.MPI_Finalize(), "MPI_Finalize");
    }

    @Override
    public String toString() {
        return "Communicator(rank " + rank + " of " + size + (closed ? ", closed" : "") + ")";
    }

    /**
     * A non-blocking allreduce in progress. It holds its memory (see
     * {@link #allreduceAsync(MemorySegment, long, long, Op)}) until it completes: a {@link #waitFor}, or a
     * {@link #test} that returns true. One that fails in MPI keeps holding it, since MPI may still use it.
     */
    public final class Request {
        private final MemorySegment request;
        /** MPI_Test's completion flag, allocated with the handle. */
        private final MemorySegment flag;
        /** Kept reachable while MPI writes into it. */
        private final MemorySegment data;
        /** The hold on the memory of {@link #data}, let go when the request completes. */
        private final SharedMemory.Hold hold;
        private boolean done;

        private Request(MemorySegment request, MemorySegment flag, MemorySegment data, SharedMemory.Hold hold) {
            this.request = request;
            this.flag = flag;
            this.data = data;
            this.hold = hold;
        }

        /**
         * Waits for the allreduce to complete ({@code MPI_Wait}); does nothing once it has. The memory is
         * then the caller's again (and freed now if it was closed meanwhile).
         *
         * @throws MpiException if MPI reports an error
         */
        public void waitFor() {
            synchronized (Communicator.this) {
                if (done) return;
                check(Mpi.MPI_Wait(request, MemorySegment.NULL), "MPI_Wait");
                finish();
            }
        }

        /**
         * Whether the allreduce has completed ({@code MPI_Test}), without waiting. Each call also lets MPI
         * progress its non-blocking operations (Open MPI has no progress thread of its own by default).
         *
         * @return true once the result is in the memory
         * @throws MpiException if MPI reports an error
         */
        public boolean test() {
            synchronized (Communicator.this) {
                if (done) return true;
                flag.set(ValueLayout.JAVA_INT, 0, 0);
                check(Mpi.MPI_Test(request, flag, MemorySegment.NULL), "MPI_Test");
                if (flag.get(ValueLayout.JAVA_INT, 0) != 0) {
                    finish();
                }
                return done;
            }
        }

        /**
         * Whether the allreduce is known to have completed.
         *
         * @return true after a {@link #waitFor} or a {@link #test} that returned true
         */
        public boolean isDone() {
            synchronized (Communicator.this) {
                return done;
            }
        }

        private void finish() {
            done = true;
            pending.remove(this);
            hold.close();
        }

        @Override
        public String toString() {
            return "Request(" + data.byteSize() / Float.BYTES + " floats" + (done ? ", done" : "") + ")";
        }
    }

    // ---------------------------------------------------------------- checks, all before any MPI call

    /** The storage of a tensor MPI may read and write in place, checked. */
    static MemorySegment storage(Tensor tensor, String what) {
        Objects.requireNonNull(tensor, "tensor");
        tensor.checkAlive();
        if (tensor.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException(what + " takes float32 tensors, got " + tensor.dtype()
                    + " of shape " + Arrays.toString(tensor.shape()));
        }
        if (!tensor.isContiguous()) {
            throw new IllegalArgumentException(what + " takes contiguous tensors, got a strided view of shape "
                    + Arrays.toString(tensor.shape()) + " (strides " + Arrays.toString(tensor.strides())
                    + "); use contiguous()");
        }
        return tensor.storage(); // the writable storage: a copy in a backend layout is dropped
    }

    /** {@code count} floats of {@code segment} from byte {@code offset}, checked, as a slice. */
    static MemorySegment floats(MemorySegment segment, long offset, long count, String what) {
        Objects.requireNonNull(segment, "segment");
        if (!segment.isNative()) {
            throw new IllegalArgumentException(what + " works on native memory, got a segment of the Java heap"
                    + " (" + segment + "); copy it into an Arena's segment or use a tensor");
        }
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(what + ": the segment's memory was freed");
        }
        if (count < 0 || count > MAX_COUNT) {
            throw new IllegalArgumentException(what + ": count must be in [0, " + MAX_COUNT + "] floats, got " + count);
        }
        if (offset < 0 || offset % Float.BYTES != 0) {
            throw new IllegalArgumentException(what + ": the byte offset must be a non-negative multiple of 4, got "
                    + offset);
        }
        if (offset > segment.byteSize() || count > (segment.byteSize() - offset) / Float.BYTES) {
            throw new IllegalArgumentException(what + ": " + count + " floats from byte " + offset + " run past the "
                    + segment.byteSize() + "-byte segment");
        }
        return segment.asSlice(offset, count * Float.BYTES);
    }

    private void checkRoot(int root) {
        if (root < 0 || root >= size) {
            throw new IllegalArgumentException("root must be a rank of the job, in [0, " + size + "), got " + root);
        }
    }

    private void checkOpen(String what) {
        if (closed) {
            throw new IllegalStateException(what + ": the communicator is closed (MPI was finalised)");
        }
    }

    /** Throws unless {@code rc} is {@code MPI_SUCCESS}, with MPI's own words for the error. */
    static void check(int rc, String call) {
        if (rc == Mpi.MPI_SUCCESS()) {
            return;
        }
        String text;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(Mpi.MPI_MAX_ERROR_STRING());
            MemorySegment len = a.allocate(ValueLayout.JAVA_INT);
            text = Mpi.MPI_Error_string(rc, s, len) == Mpi.MPI_SUCCESS() ? s.getString(0) : "unknown error";
        }
        throw new MpiException(call, rc, text);
    }
}
