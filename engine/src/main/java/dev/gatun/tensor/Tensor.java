package dev.gatun.tensor;

import dev.gatun.autograd.Autograd;
import dev.gatun.autograd.Node;
import dev.gatun.backend.Machine;
import dev.gatun.backend.SharedMemory;
import dev.gatun.ops.Kernels;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.function.LongFunction;

/**
 * An n-dimensional array in off-heap memory: a shape, strides and an offset (both counted in elements)
 * over a {@link MemorySegment}. Views ({@link #view}, {@link #transpose}, {@link #slice},
 * {@link #expand}, ...) share storage and copy nothing.
 *
 * <p>Element types. A tensor is {@link DType#FLOAT32} unless made otherwise; {@link DType#INT64}
 * (indices, labels: {@link #fromLongs}, {@link #arange(long, DType)}, {@link #argmax()}) and
 * {@link DType#BOOL} (masks: {@link #fromBooleans}, comparisons such as {@link #gt(Tensor)}) tensors are
 * made, viewed, copied, converted ({@link #to(DType)}) and printed like float32 ones, and read with
 * {@link #toLongArray()}, {@link #getLong}, {@link #toBooleanArray()}, {@link #getBoolean}. Autograd and
 * most ops compute in float32 only: each float accessor ({@link #storage()}, {@link #toArray()},
 * {@link #get}, {@link #fill(float)}, {@link #requiresGrad(boolean) requiresGrad(true)}, ...) checks the
 * dtype, so an op given another dtype throws {@link IllegalArgumentException} ("... expects float32, got
 * int64 ...") instead of reading the bytes as floats.
 *
 * <p>Lifetime. A tensor created inside a {@link Scope} lives until that scope closes, and its memory
 * is freed then. One created when no scope is current owns its memory ({@link SharedMemory#reclaimable}),
 * which the garbage collector frees once neither the tensor, nor any view of it, nor a native call
 * using it can reach it; {@link #close()} retires it at once (every later use fails) and leaves the
 * memory to the next collection. Closing a view or a scoped tensor only retires that handle. Any use
 * of a closed tensor, or of a view whose storage was freed, throws {@link IllegalStateException}, in
 * Java, before any native call.
 *
 * <p>Allocations are 64-byte aligned ({@link Scope#ALIGNMENT}) and zero-filled.
 */
public final class Tensor implements AutoCloseable {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;
    private static final int SUMMARY_THRESHOLD = 1000;
    private static final int EDGE_ITEMS = 3;
    /** The largest float below 1, the top of {@link #rand}'s range. */
    private static final float ONE_BELOW = Math.nextDown(1f);

    /** The row-major storage; null for a tensor made in a backend layout, whose {@link Laid} holds it. */
    private final MemorySegment storage;
    /**
     * The memory of a storage no scope owns, shared by the tensor that owns it and its views (which keeps
     * it from the garbage collector while any of them is reachable); null when a scope owns the storage.
     */
    private final SharedMemory memory;
    /** Whether this tensor owns {@link #memory} ({@link #close()} retires it), not a view of it. */
    private final boolean ownsMemory;
    /** The scope that owns the storage, or null when a tensor owns it (this one or the view's base). */
    private final Scope scope;
    private final long[] shape;
    private final long[] strides;
    private final long offset;
    /** The element type; a backend layout ({@link #laid}) only ever holds float32. */
    private final DType dtype;
    private boolean closed;
    /** The contents in a backend layout, shared by every view of the storage; null for most tensors. */
    private final Laid laid;
    /**
     * How many times the storage was written through this tensor or a view of it ({@link #version}); one
     * counter shared by every tensor over the same storage.
     */
    private final AtomicLong version;

    /**
     * A copy of a storage's contents in a backend layout, made by an op that computes in that layout,
     * so that the next such op reads it without converting again. While {@code plainStale}, it is the
     * only copy: the plain storage is written from it on first access. Writing through the plain storage
     * (any mutator, or handing out {@link #storage()}) makes it invalid for good.
     */
    private static final class Laid {
        final Object layout;
        final MemorySegment data;
        final long[] shape;
        final LayoutConverter converter;
        boolean plainStale = true;
        boolean valid = true;
        /**
         * The row-major storage, allocated by {@link #allocatePlain} on first use: most tensors made in
         * a backend layout go from op to op in that layout and never need it.
         */
        private MemorySegment plain;
        private final LongFunction<MemorySegment> allocatePlain;
        private final long plainBytes;

        Laid(Object layout, MemorySegment data, long[] shape, LayoutConverter converter,
             LongFunction<MemorySegment> allocatePlain, long plainBytes) {
            this.layout = layout;
            this.data = data;
            this.shape = shape;
            this.converter = converter;
            this.allocatePlain = allocatePlain;
            this.plainBytes = plainBytes;
        }

        synchronized MemorySegment plain() {
            if (plain == null) {
                plain = allocatePlain.apply(plainBytes);
            }
            return plain;
        }

        synchronized boolean hasPlain() {
            return plain != null;
        }

        void materialize(MemorySegment plain) {
            if (plainStale) {
                converter.toPlain(data, plain);
                plainStale = false;
            }
        }
    }

    // Autograd state (see dev.gatun.autograd.Autograd).
    private boolean requiresGrad;
    private Tensor grad;
    private boolean gradZeroed;
    /** {@link #zeroGrad()} was called and the zeros are not written yet: the next read or write does it. */
    private boolean gradZeroPending;
    private Node gradFn;
    /**
     * The hooks {@link #registerPostAccumulateGradHook} registered, oldest first: an array replaced whole
     * under {@link #HOOK_LOCK} (copy on write), so that backward reads it on its thread without a lock.
     */
    private volatile HookHandle[] postAccumulateGradHooks = NO_HOOKS;
    /** How many gradients have reached this leaf: each {@link #accumulateGrad} and {@link #gradWritten}. */
    private long gradArrivals;

    private static final HookHandle[] NO_HOOKS = {};
    /** Guards the replacement of every tensor's hook array: registration is rare, one lock will do. */
    private static final Object HOOK_LOCK = new Object();

    private Tensor(MemorySegment storage, SharedMemory memory, boolean ownsMemory, Scope scope, long[] shape,
                   long[] strides, long offset, Laid laid, DType dtype) {
        this(storage, memory, ownsMemory, scope, shape, strides, offset, laid, dtype, new AtomicLong());
    }

    /** A tensor over {@code version}'s storage: a view shares the counter of the tensor it views. */
    private Tensor(MemorySegment storage, SharedMemory memory, boolean ownsMemory, Scope scope, long[] shape,
                   long[] strides, long offset, Laid laid, DType dtype, AtomicLong version) {
        this.version = version;
        this.laid = laid;
        this.dtype = dtype;
        this.storage = storage;
        this.memory = memory;
        this.ownsMemory = ownsMemory;
        this.scope = scope;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
    }

    // ---------------------------------------------------------------- creation

    /**
     * A float32 tensor of unspecified content in the current scope (or owning its memory when there is
     * none), for results whose every element is about to be written ({@code torch.empty}).
     *
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if a size is negative or the tensor would not fit in memory
     */
    public static Tensor empty(long... shape) {
        return allocate(Scope.current(), DType.FLOAT32, shape, false);
    }

    /**
     * A tensor of {@code dtype} of unspecified content in the current scope (or owning its memory when
     * there is none) ({@code torch.empty(shape, dtype=...)}).
     *
     * @param dtype the element type
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if dtype is null, a size is negative or the tensor would not fit in memory
     */
    public static Tensor empty(DType dtype, long... shape) {
        return allocate(Scope.current(), requireDType(dtype), shape, false);
    }

    /**
     * A zero-filled float32 tensor in the current scope (or owning its memory when there is none)
     * ({@code torch.zeros}).
     *
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if a size is negative or the tensor would not fit in memory
     */
    public static Tensor zeros(long... shape) {
        return allocate(Scope.current(), DType.FLOAT32, shape, true);
    }

    /**
     * A zero-filled tensor of {@code dtype} (0, or false) in the current scope (or owning its memory when
     * there is none) ({@code torch.zeros(shape, dtype=...)}).
     *
     * @param dtype the element type
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if dtype is null, a size is negative or the tensor would not fit in memory
     */
    public static Tensor zeros(DType dtype, long... shape) {
        return allocate(Scope.current(), requireDType(dtype), shape, true);
    }

    /**
     * A float32 tensor of unspecified content in the current scope (or owning its memory when there is
     * none) whose elements lie in memory in another order of its dimensions ({@code torch.empty_permuted}):
     * dimension {@code physicalLayout[0]} outermost, {@code physicalLayout[r − 1]} innermost. Its shape is
     * {@code shape}; it is dense, but contiguous only for the order 0, 1, ..., r − 1. An op whose result a
     * later view reads in another order writes it this way, so that the view needs no copy.
     *
     * @param shape          the size of each dimension
     * @param physicalLayout a permutation of 0 .. r − 1, outermost dimension first
     * @return the new tensor
     * @throws IllegalArgumentException if a size is negative, the tensor would not fit in memory, or the
     *                                  layout is not a permutation of the dimensions
     */
    public static Tensor emptyPermuted(long[] shape, int... physicalLayout) {
        int r = shape.length;
        boolean[] seen = new boolean[r];
        boolean valid = physicalLayout.length == r;
        for (int i = 0; valid && i < r; i++) {
            int d = physicalLayout[i];
            valid = d >= 0 && d < r && !seen[d];
            if (valid) seen[d] = true;
        }
        if (!valid) {
            throw new IllegalArgumentException("emptyPermuted: " + Arrays.toString(physicalLayout)
                    + " is not a permutation of the " + r + " dimensions of " + Arrays.toString(shape));
        }
        long[] laidShape = new long[r];
        for (int i = 0; i < r; i++) laidShape[i] = shape[physicalLayout[i]];
        Tensor dense = allocate(Scope.current(), DType.FLOAT32, laidShape, false);
        long[] st = new long[r];
        for (int i = 0; i < r; i++) st[physicalLayout[i]] = dense.strides[i];
        return new Tensor(dense.storage, dense.memory, dense.ownsMemory, dense.scope, shape.clone(), st, 0, null,
                DType.FLOAT32, dense.version);
    }

    /**
     * A float32 tensor of unspecified content in the given scope, for results whose every element is about
     * to be written.
     *
     * @param scope the scope that owns the tensor's memory
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if scope is null, a size is negative or the tensor would not fit in memory
     * @throws IllegalStateException    if the scope is closed
     */
    public static Tensor empty(Scope scope, long... shape) {
        return allocate(requireScope(scope), DType.FLOAT32, shape, false);
    }

    /**
     * A zero-filled float32 tensor in the given scope.
     *
     * @param scope the scope that owns the tensor's memory
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if scope is null, a size is negative or the tensor would not fit in memory
     * @throws IllegalStateException    if the scope is closed
     */
    public static Tensor zeros(Scope scope, long... shape) {
        return allocate(requireScope(scope), DType.FLOAT32, shape, true);
    }

    /**
     * A float32 tensor of ones in the current scope ({@code torch.ones}).
     *
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if a size is negative or the tensor would not fit in memory
     */
    public static Tensor ones(long... shape) {
        return full(1f, shape);
    }

    /**
     * A tensor of {@code dtype} filled with ones (1, or true) in the current scope
     * ({@code torch.ones(shape, dtype=...)}).
     *
     * @param dtype the element type
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if dtype is null, a size is negative or the tensor would not fit in memory
     */
    public static Tensor ones(DType dtype, long... shape) {
        Tensor t = allocate(Scope.current(), requireDType(dtype), shape, false);
        t.fillRaw(1);
        return t;
    }

    /**
     * A float32 tensor filled with {@code value} in the current scope ({@code torch.full}).
     *
     * @param value the value of every element
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if a size is negative or the tensor would not fit in memory
     */
    public static Tensor full(float value, long... shape) {
        Tensor t = zeros(shape);
        t.fill(value);
        return t;
    }

    /**
     * {@code [0, 1, ..., n-1]} as a 1-D float32 tensor in the current scope (unlike {@code torch.arange(n)},
     * which is int64: use {@link #arange(long, DType)} for that).
     *
     * @param n the number of elements
     * @return the new tensor
     * @throws IllegalArgumentException if n is negative or too large for a Java array
     */
    public static Tensor arange(long n) {
        return arange(0, n, 1);
    }

    /**
     * {@code start, start+step, ...} up to but excluding {@code end} as a 1-D float32 tensor, like
     * {@code torch.arange}.
     *
     * @param start the first value
     * @param end   the bound the values stop before
     * @param step  the difference between consecutive values, non-zero (negative counts down)
     * @return the new tensor
     * @throws IllegalArgumentException if a bound is not finite, step is zero or points away from end, or
     *                                  there are too many elements
     */
    public static Tensor arange(double start, double end, double step) {
        if (step == 0 || !Double.isFinite(step) || !Double.isFinite(start) || !Double.isFinite(end)) {
            throw new IllegalArgumentException("arange needs finite start, end and a non-zero step, got start="
                    + start + " end=" + end + " step=" + step);
        }
        requireTowardsEnd(step > 0 ? end < start : start < end, start, end, step);
        long n = (long) Math.max(0, Math.ceil((end - start) / step));
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("arange of " + n + " elements is too large");
        }
        float[] v = new float[(int) n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (start + i * step);
        }
        return fromArray(v, n);
    }

    /** As torch.arange: a step must lead from start towards end (or start must be end: no values). */
    private static void requireTowardsEnd(boolean away, Object start, Object end, Object step) {
        if (away) {
            throw new IllegalArgumentException("arange: a step of " + step + " never goes from " + start + " to "
                    + end + " (upper bound and lower bound inconsistent with the step's sign)");
        }
    }

    /**
     * {@code [0, 1, ..., end-1]} as a 1-D tensor of {@code dtype} ({@code torch.arange(end, dtype=...)};
     * {@code arange(n, DType.INT64)} is PyTorch's {@code torch.arange(n)}).
     *
     * @param end   the number of elements
     * @param dtype {@link DType#INT64} or {@link DType#FLOAT32}
     * @return the new tensor
     * @throws IllegalArgumentException if end is negative or too large, or dtype is bool or null
     */
    public static Tensor arange(long end, DType dtype) {
        return arange(0, end, 1, dtype);
    }

    /**
     * {@code start, start+step, ...} up to but excluding {@code end} as a 1-D tensor of {@code dtype}
     * ({@code torch.arange(start, end, step, dtype=...)}).
     *
     * @param start the first value
     * @param end   the bound the values stop before
     * @param step  the difference between consecutive values, non-zero (negative counts down)
     * @param dtype {@link DType#INT64} or {@link DType#FLOAT32}
     * @return the new tensor
     * @throws IllegalArgumentException if step is zero or points away from end, there are too many elements,
     *                                  or dtype is bool or null
     */
    public static Tensor arange(long start, long end, long step, DType dtype) {
        if (requireDType(dtype) == DType.BOOL) {
            throw new IllegalArgumentException("arange: no values of dtype bool, use int64 or float32");
        }
        if (step == 0) {
            throw new IllegalArgumentException("arange needs a non-zero step, got start=" + start + " end=" + end
                    + " step=0");
        }
        requireTowardsEnd(step > 0 ? end < start : start < end, start, end, step);
        // Counted exactly: end − start may overflow a long, and a double rounds it.
        BigInteger span = BigInteger.valueOf(end).subtract(BigInteger.valueOf(start)).abs();
        BigInteger stride = BigInteger.valueOf(step).abs();
        BigInteger count = span.add(stride).subtract(BigInteger.ONE).divide(stride);
        if (count.compareTo(BigInteger.valueOf(Integer.MAX_VALUE - 8)) > 0) {
            throw new IllegalArgumentException("arange of " + count + " elements is too large");
        }
        long n = count.longValueExact();
        long[] v = new long[(int) n];
        for (int i = 0; i < n; i++) {
            v[i] = start + i * step;
        }
        return dtype == DType.INT64 ? fromLongs(v) : fromLongs(v).to(DType.FLOAT32);
    }

    /**
     * A float32 tensor holding {@code data} (row-major) with the given shape, in the current scope.
     *
     * @param data  the elements, row-major; copied
     * @param shape the size of each dimension (none: a 0-d tensor of one element)
     * @return the new tensor
     * @throws IllegalArgumentException if the number of values is not the shape's number of elements
     */
    public static Tensor fromArray(float[] data, long... shape) {
        Tensor t = allocate(Scope.current(), DType.FLOAT32, checkFill("fromArray", data.length, shape), false);
        MemorySegment.copy(data, 0, t.storage, F32, 0, data.length);
        return t;
    }

    /**
     * A 1-D float32 tensor holding {@code data}.
     *
     * @param data the elements; copied
     * @return the new tensor
     */
    public static Tensor fromArray(float[] data) {
        return fromArray(data, data.length);
    }

    /**
     * An int64 tensor holding {@code data} (row-major) with the given shape, in the current scope
     * ({@code torch.tensor(data, dtype=torch.int64).reshape(shape)}).
     *
     * @param data  the elements, row-major; copied
     * @param shape the size of each dimension (none: a 0-d tensor of one element)
     * @return the new tensor
     * @throws IllegalArgumentException if the number of values is not the shape's number of elements
     */
    public static Tensor fromLongs(long[] data, long... shape) {
        Tensor t = allocate(Scope.current(), DType.INT64, checkFill("fromLongs", data.length, shape), false);
        MemorySegment.copy(data, 0, t.storage, I64, 0, data.length);
        return t;
    }

    /**
     * A 1-D int64 tensor holding {@code data}.
     *
     * @param data the elements; copied
     * @return the new tensor
     */
    public static Tensor fromLongs(long[] data) {
        return fromLongs(data, data.length);
    }

    /**
     * A bool tensor holding {@code data} (row-major) with the given shape, in the current scope.
     *
     * @param data  the elements, row-major; copied
     * @param shape the size of each dimension (none: a 0-d tensor of one element)
     * @return the new tensor
     * @throws IllegalArgumentException if the number of values is not the shape's number of elements
     */
    public static Tensor fromBooleans(boolean[] data, long... shape) {
        Tensor t = allocate(Scope.current(), DType.BOOL, checkFill("fromBooleans", data.length, shape), false);
        byte[] bytes = new byte[data.length];
        for (int i = 0; i < data.length; i++) {
            bytes[i] = data[i] ? (byte) 1 : 0;
        }
        MemorySegment.copy(bytes, 0, t.storage, I8, 0, bytes.length);
        return t;
    }

    /**
     * A 1-D bool tensor holding {@code data}.
     *
     * @param data the elements; copied
     * @return the new tensor
     */
    public static Tensor fromBooleans(boolean[] data) {
        return fromBooleans(data, data.length);
    }

    /**
     * A float32 tensor of {@code values} in {@code shape}: {@code torch.tensor}, whose dtype follows the
     * Java array's element type (see the {@code long[]} and {@code boolean[]} overloads).
     *
     * @param values the elements, row-major; copied
     * @param shape  the size of each dimension (none: a 0-d tensor of one element)
     * @return the new tensor
     * @throws IllegalArgumentException if the number of values is not the shape's number of elements
     */
    public static Tensor of(float[] values, long... shape) {
        return fromArray(values, shape);
    }

    /**
     * A 1-D float32 tensor of {@code values} ({@code torch.tensor([...])}).
     *
     * @param values the elements; copied
     * @return the new tensor
     */
    public static Tensor of(float[] values) {
        return fromArray(values);
    }

    /**
     * An int64 tensor of {@code values} in {@code shape}, as {@link #fromLongs(long[], long...)}.
     *
     * @param values the elements, row-major; copied
     * @param shape  the size of each dimension (none: a 0-d tensor of one element)
     * @return the new tensor
     * @throws IllegalArgumentException if the number of values is not the shape's number of elements
     */
    public static Tensor of(long[] values, long... shape) {
        return fromLongs(values, shape);
    }

    /**
     * A 1-D int64 tensor of {@code values} ({@code torch.tensor([1, 2, 3])}).
     *
     * @param values the elements; copied
     * @return the new tensor
     */
    public static Tensor of(long[] values) {
        return fromLongs(values);
    }

    /**
     * A bool tensor of {@code values} in {@code shape}, as {@link #fromBooleans(boolean[], long...)}.
     *
     * @param values the elements, row-major; copied
     * @param shape  the size of each dimension (none: a 0-d tensor of one element)
     * @return the new tensor
     * @throws IllegalArgumentException if the number of values is not the shape's number of elements
     */
    public static Tensor of(boolean[] values, long... shape) {
        return fromBooleans(values, shape);
    }

    /**
     * A 1-D bool tensor of {@code values} ({@code torch.tensor([True, False])}).
     *
     * @param values the elements; copied
     * @return the new tensor
     */
    public static Tensor of(boolean[] values) {
        return fromBooleans(values);
    }

    /** The checked shape, which {@code count} values must fill exactly. */
    private static long[] checkFill(String factory, int count, long[] shape) {
        long n = numel(checkShape(shape));
        if (n != count) {
            throw new IllegalArgumentException(factory + ": " + count + " values do not fill shape "
                    + Arrays.toString(shape) + " (" + n + " elements)");
        }
        return shape;
    }

    /**
     * Uniform samples in [0, 1) as a float32 tensor, drawn from the {@link Generator#defaultGenerator()
     * default generator} ({@code torch.rand}; {@link Generator#manualSeed} makes them reproducible).
     *
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if a size is negative
     */
    public static Tensor rand(long... shape) {
        Generator g = Generator.defaultGenerator();
        synchronized (g) {
            return rand(g, shape);
        }
    }

    /**
     * Uniform samples in [0, 1) as a float32 tensor, drawn from {@code generator}
     * ({@code torch.rand(shape, generator=g)}).
     *
     * @param generator the generator to draw from; its state advances
     * @param shape     the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if generator is null or a size is negative
     */
    public static Tensor rand(Generator generator, long... shape) {
        requireGenerator(generator);
        Tensor t = empty(shape);
        float[] v = new float[arraySize(t.numel())];
        for (int i = 0; i < v.length; i++) {
            // A double just below 1 rounds to 1f: keep the interval half-open.
            v[i] = Math.min((float) generator.nextDouble(), ONE_BELOW);
        }
        return t.copyFrom(v);
    }

    /**
     * Standard normal samples as a float32 tensor, drawn from the {@link Generator#defaultGenerator()
     * default generator} ({@code torch.randn}: {@code randn(3, 4)} has shape [3, 4]).
     *
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if a size is negative
     */
    public static Tensor randn(long... shape) {
        Generator g = Generator.defaultGenerator();
        synchronized (g) {
            return randn(g, shape);
        }
    }

    /**
     * Standard normal samples as a float32 tensor, drawn from {@code generator}
     * ({@code torch.randn(shape, generator=g)}); {@code randn(new Generator(seed), shape)} gives the same
     * numbers for the same seed.
     *
     * @param generator the generator to draw from; its state advances
     * @param shape     the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if generator is null or a size is negative
     */
    public static Tensor randn(Generator generator, long... shape) {
        requireGenerator(generator);
        Tensor t = empty(shape);
        float[] v = new float[arraySize(t.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) generator.nextGaussian();
        }
        return t.copyFrom(v);
    }

    /**
     * Integers drawn uniformly from [low, high) as an int64 tensor, from the
     * {@link Generator#defaultGenerator() default generator} ({@code torch.randint(low, high, shape)}).
     *
     * @param low   the smallest value
     * @param high  the bound above the largest value
     * @param shape the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if low is not below high, or a size is negative
     */
    public static Tensor randint(long low, long high, long... shape) {
        Generator g = Generator.defaultGenerator();
        synchronized (g) {
            return randint(g, low, high, shape);
        }
    }

    /**
     * Integers drawn uniformly from [low, high) as an int64 tensor, from {@code generator}
     * ({@code torch.randint(low, high, shape, generator=g)}).
     *
     * @param generator the generator to draw from; its state advances
     * @param low       the smallest value
     * @param high      the bound above the largest value
     * @param shape     the size of each dimension
     * @return the new tensor
     * @throws IllegalArgumentException if generator is null, low is not below high, or a size is negative
     */
    public static Tensor randint(Generator generator, long low, long high, long... shape) {
        requireGenerator(generator);
        if (low >= high) {
            throw new IllegalArgumentException("randint needs low < high, got low=" + low + " high=" + high);
        }
        Tensor t = empty(DType.INT64, shape);
        long[] v = new long[arraySize(t.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = generator.nextLong(low, high);
        }
        return t.copyFrom(v);
    }

    /**
     * A random permutation of {@code 0 .. n-1} as a 1-D int64 tensor, from the
     * {@link Generator#defaultGenerator() default generator} ({@code torch.randperm}).
     *
     * @param n the number of elements
     * @return the new tensor
     * @throws IllegalArgumentException if n is negative or too large for a Java array
     */
    public static Tensor randperm(long n) {
        Generator g = Generator.defaultGenerator();
        synchronized (g) {
            return randperm(g, n);
        }
    }

    /**
     * A random permutation of {@code 0 .. n-1} as a 1-D int64 tensor, from {@code generator}
     * (Fisher-Yates; {@code torch.randperm(n, generator=g)}).
     *
     * @param generator the generator to draw from; its state advances
     * @param n         the number of elements
     * @return the new tensor
     * @throws IllegalArgumentException if generator is null, n is negative or too large for a Java array
     */
    public static Tensor randperm(Generator generator, long n) {
        requireGenerator(generator);
        if (n < 0 || n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("randperm needs 0 <= n < 2^31 - 8, got " + n);
        }
        long[] v = new long[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        for (int i = v.length - 1; i > 0; i--) {
            int j = generator.nextInt(i + 1);
            long swap = v[i];
            v[i] = v[j];
            v[j] = swap;
        }
        return fromLongs(v);
    }

    private static void requireGenerator(Generator generator) {
        if (generator == null) {
            throw new IllegalArgumentException("generator is null");
        }
    }

    private static int arraySize(long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + n + " elements does not fit a Java array");
        }
        return (int) n;
    }

    private static DType requireDType(DType dtype) {
        if (dtype == null) {
            throw new IllegalArgumentException("dtype is null");
        }
        return dtype;
    }

    private static Scope requireScope(Scope scope) {
        if (scope == null) {
            throw new IllegalArgumentException("scope is null");
        }
        if (!scope.isOpen()) {
            throw new IllegalStateException("cannot allocate in a closed " + scope.describe());
        }
        return scope;
    }

    /**
     * A new contiguous tensor of {@code dtype}, zero-filled when {@code zero}; without, the caller writes
     * every element.
     */
    private static Tensor allocate(Scope scope, DType dtype, long[] shape, boolean zero) {
        long[] s = checkShape(shape);
        long bytes = storageBytes(s, dtype);
        if (scope != null) {
            return new Tensor(scope.allocate(bytes, zero), null, false, scope, s, contiguousStrides(s), 0, null, dtype);
        }
        SharedMemory m = SharedMemory.reclaimable("tensor " + Arrays.toString(s));
        return new Tensor(m.allocate(bytes, zero), m, true, null, s, contiguousStrides(s), 0, null, dtype);
    }

    /**
     * For backend ops that compute in another layout than row-major: a new contiguous float32 tensor in
     * the current scope (or owning its memory) whose contents the op writes into {@link #layoutData} of
     * {@code layout} ({@code bytes} long, the layout's size with any padding). The row-major storage is
     * written from it by {@code converter} when first accessed; an op that reads the same layout takes
     * the data as it is. {@code layout} is compared with {@link Object#equals}.
     *
     * @param shape     the size of each dimension
     * @param layout    the backend layout's description, compared with equals
     * @param bytes     the size of the buffer in that layout
     * @param converter converts between the layout and row-major
     * @return the new tensor, its contents to be written in the layout
     * @throws IllegalArgumentException if layout or converter is null, bytes is negative, or a size is negative
     * @throws IllegalStateException    if the current scope is closed
     */
    public static Tensor emptyInLayout(long[] shape, Object layout, long bytes, LayoutConverter converter) {
        return emptyInLayout(Scope.current(), shape, layout, bytes, converter);
    }

    /**
     * As {@link #emptyInLayout(long[], Object, long, LayoutConverter)}, in {@code scope}.
     *
     * @param scope     the scope that owns the memory, or null for a tensor that owns its memory
     * @param shape     the size of each dimension
     * @param layout    the backend layout's description, compared with equals
     * @param bytes     the size of the buffer in that layout
     * @param converter converts between the layout and row-major
     * @return the new tensor, its contents to be written in the layout
     * @throws IllegalArgumentException if layout or converter is null, bytes is negative, or a size is negative
     * @throws IllegalStateException    if the scope is closed
     */
    public static Tensor emptyInLayout(Scope scope, long[] shape, Object layout, long bytes, LayoutConverter converter) {
        if (layout == null || converter == null) {
            throw new IllegalArgumentException("emptyInLayout needs a layout and a converter");
        }
        if (bytes < 0) {
            throw new IllegalArgumentException("emptyInLayout: negative size " + bytes);
        }
        if (scope != null && !scope.isOpen()) {
            throw new IllegalStateException("cannot allocate in a closed " + scope.describe());
        }
        long[] s = checkShape(shape);
        long plainBytes = storageBytes(s, DType.FLOAT32);
        // The row-major storage is allocated only if something reads or writes it row-major.
        if (scope != null) {
            Laid l = new Laid(layout, scope.allocate(bytes, false), s, converter, b -> scope.allocate(b, false),
                    plainBytes);
            return new Tensor(null, null, false, scope, s, contiguousStrides(s), 0, l, DType.FLOAT32);
        }
        SharedMemory m = SharedMemory.reclaimable("tensor " + Arrays.toString(s));
        Laid l = new Laid(layout, m.allocate(bytes, false), s, converter, b -> m.allocate(b, false), plainBytes);
        return new Tensor(null, m, true, null, s, contiguousStrides(s), 0, l, DType.FLOAT32);
    }

    /**
     * This tensor's contents in {@code layout}, for reading, if its storage holds a current copy in
     * exactly that layout and this tensor is the whole of it (not a slice or another shape); else null
     * and the caller uses {@link #storage()}.
     *
     * @param layout the backend layout wanted
     * @return the buffer in that layout, or null
     * @throws IllegalStateException if the tensor is closed
     */
    public MemorySegment layoutData(Object layout) {
        Laid l = currentLaid();
        return l != null && l.layout.equals(layout) ? l.data : null;
    }

    /**
     * The backend layout this tensor's contents are currently held in besides row-major (see
     * {@link #layoutData}).
     *
     * @return the layout, or null when there is none for the whole of this tensor
     * @throws IllegalStateException if the tensor is closed
     */
    public Object layout() {
        Laid l = currentLaid();
        return l == null ? null : l.layout;
    }

    /** The backend-layout copy if it is current and this tensor is the whole of it, else null. */
    private Laid currentLaid() {
        checkAlive();
        Laid l = laid;
        if (l == null || !l.valid || offset != 0 || !Arrays.equals(shape, l.shape) || !isContiguous()) {
            return null;
        }
        return l;
    }

    /**
     * A new tensor of {@code like}'s shape in {@code like}'s backend layout (same buffer size, same
     * conversion to row-major), for element-wise ops that compute on that layout directly.
     *
     * @param like a tensor held in a backend layout
     * @return the new tensor, its contents to be written in the layout
     * @throws IllegalArgumentException if like holds no backend layout
     */
    public static Tensor emptyInLayoutOf(Tensor like) {
        Object layout = like.layout();
        if (layout == null) {
            throw new IllegalArgumentException("emptyInLayoutOf: the tensor holds no backend layout");
        }
        return emptyInLayout(like.shape, layout, like.laid.data.byteSize(), like.laid.converter);
    }

    /**
     * This tensor's contents in {@code like}'s backend layout: a new tensor of the same shape holding
     * them there (converted from row-major), for an op that computes in that layout. This tensor must be
     * contiguous and of {@code like}'s shape; nothing is recorded.
     *
     * @param like a tensor held in the backend layout wanted
     * @return the new tensor in that layout
     * @throws IllegalArgumentException if this tensor is strided, of another shape, not float32, or like holds
     *                                  no backend layout
     * @throws IllegalStateException    if this tensor is closed
     */
    public Tensor toLayoutOf(Tensor like) {
        checkAlive();
        requireFloat("toLayoutOf");
        if (!Arrays.equals(shape, like.shape) || !isContiguous()) {
            throw new IllegalArgumentException("toLayoutOf: a contiguous tensor of shape " + Arrays.toString(like.shape)
                    + " is needed, got shape " + Arrays.toString(shape) + (isContiguous() ? "" : " (strided)"));
        }
        Tensor out = emptyInLayoutOf(like);
        Laid l = out.laid;
        l.converter.fromPlain(readable().asSlice(offset * Float.BYTES, numel() * Float.BYTES), l.data);
        return out;
    }

    /**
     * The backend layout this tensor was made in, current or not.
     *
     * @return the layout, or null for a tensor made row-major
     */
    public Object madeLayout() {
        return laid == null ? null : laid.layout;
    }

    /**
     * Makes the backend-layout copy of a tensor made in a layout current again after its contents were
     * written row-major (which dropped it), by converting them into the layout.
     *
     * @throws IllegalStateException if the tensor is closed or was not made in a backend layout
     */
    public void refreshLayout() {
        checkAlive();
        if (laid == null) {
            throw new IllegalStateException("refreshLayout: the tensor was not made in a backend layout");
        }
        if (!laid.valid) {
            laid.converter.fromPlain(laid.plain(), laid.data);
            laid.plainStale = false;
            laid.valid = true;
        }
    }

    /** The plain storage, current, for reading: converted from the backend layout first if needed. */
    private MemorySegment readable() {
        if (laid != null) {
            MemorySegment plain = laid.plain();
            laid.materialize(plain);
            return plain;
        }
        return storage;
    }

    /**
     * The plain storage, current, for writing: the backend-layout copy is no longer valid after, and the
     * {@link #version} counts one more write.
     */
    private MemorySegment writable() {
        requireNoSharedElements();
        version.incrementAndGet();
        if (laid != null) {
            MemorySegment plain = laid.plain();
            laid.materialize(plain);
            laid.valid = false;
            return plain;
        }
        return storage;
    }

    /**
     * Refuses a write into a tensor several of whose elements are one memory location (an expanded view,
     * stride 0 along a dimension of size 2 or more): which of the values written would stay is not
     * defined. As PyTorch's in-place ops refuse it.
     */
    private void requireNoSharedElements() {
        for (int d = 0; d < shape.length; d++) {
            if (strides[d] == 0 && shape[d] > 1) {
                throw new IllegalArgumentException("cannot write into a tensor of shape " + Arrays.toString(shape)
                        + " whose dimension " + d + " repeats one element (stride 0, an expanded view): more than"
                        + " one element refers to a single memory location; write into contiguous() or the"
                        + " tensor it was expanded from");
            }
        }
    }

    private static long[] checkShape(long[] shape) {
        if (shape == null) {
            throw new IllegalArgumentException("shape is null");
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalArgumentException("negative size " + shape[i] + " at dimension " + i + " of shape "
                        + Arrays.toString(shape));
            }
        }
        try {
            numel(shape);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                    + " has more elements than a tensor can hold (2^63 - 1)");
        }
        return shape.clone();
    }

    /**
     * Bytes of a storage of {@code shape} (already checked) and {@code dtype}, refused, naming the shape,
     * when more than this machine's memory: such a request can only end in an out-of-memory failure.
     */
    private static long storageBytes(long[] shape, DType dtype) {
        long n = numel(shape);
        int size = dtype.elementSize();
        if (n > Long.MAX_VALUE / size || n * size > Machine.physicalMemory()) {
            String what = dtype == DType.FLOAT32 ? "" : " (" + dtype + ")";
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + what + " needs "
                    + Machine.formatBytes(n * (double) size) + " of memory, more than this machine's "
                    + Machine.formatBytes(Machine.physicalMemory()));
        }
        return n * size;
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    static long[] contiguousStrides(long[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= Math.max(1, shape[i]);
        }
        return st;
    }

    // ---------------------------------------------------------------- metadata

    /**
     * The element type ({@code Tensor.dtype} in PyTorch).
     *
     * @return the dtype, {@link DType#FLOAT32} unless made otherwise
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * Whether the elements are floating point ({@code Tensor.is_floating_point()}), the kind most ops and
     * autograd accept.
     *
     * @return true for a float32 tensor
     */
    public boolean isFloatingPoint() {
        return dtype.isFloatingPoint();
    }

    /**
     * Throws unless this tensor is float32: the check every float-only path makes before reading or
     * writing elements as floats, so that an int64 or bool tensor given to such an op fails in Java with
     * a message instead of being read as garbage.
     */
    private void requireFloat(String what) {
        if (dtype != DType.FLOAT32) {
            throw new IllegalArgumentException(what + " expects float32, got " + dtype + " (a tensor of shape "
                    + Arrays.toString(shape) + "); convert it with to(DType.FLOAT32) if that is meant");
        }
    }

    /** Throws unless this tensor is of {@code expected}, for the typed readers and writers. */
    private void checkDType(DType expected, String what) {
        if (dtype != expected) {
            throw new IllegalArgumentException(what + " expects " + expected + ", got " + dtype + " (a tensor of shape "
                    + Arrays.toString(shape) + "); convert it with to(DType." + expected.name() + ") if that is meant");
        }
    }

    /**
     * The size of each dimension ({@code Tensor.shape}).
     *
     * @return a copy of the sizes; empty for a 0-d tensor
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The size of one dimension ({@code Tensor.size(d)}).
     *
     * @param d the dimension; negative counts from the end
     * @return its size
     * @throws IllegalArgumentException if d is out of range
     */
    public long size(int d) {
        return shape[dimIndex(d)];
    }

    /**
     * The number of dimensions ({@code Tensor.dim()}).
     *
     * @return 0 for a scalar, 1 for a vector, ...
     */
    public int dim() {
        return shape.length;
    }

    /**
     * The number of elements ({@code Tensor.numel()}).
     *
     * @return the product of the sizes (1 for a 0-d tensor)
     */
    public long numel() {
        return numel(shape);
    }

    /**
     * The stride of each dimension, in elements ({@code Tensor.stride()}).
     *
     * @return a copy of the strides
     */
    public long[] strides() {
        return strides.clone();
    }

    /**
     * The stride of one dimension, in elements.
     *
     * @param d the dimension; negative counts from the end
     * @return its stride
     * @throws IllegalArgumentException if d is out of range
     */
    public long stride(int d) {
        return strides[dimIndex(d)];
    }

    /**
     * The offset of the first element from the start of the storage, in elements
     * ({@code Tensor.storage_offset()}).
     *
     * @return the offset
     */
    public long offset() {
        return offset;
    }

    /**
     * The storage segment for a backend call that only reads it: as {@link #storage()}, but a copy kept in
     * a backend layout stays valid. Writing through it is a bug.
     *
     * @return the whole storage; elements are float32 at {@code offset + Σ idx·stride}
     * @throws IllegalArgumentException if the tensor is not float32
     * @throws IllegalStateException    if the tensor is closed
     */
    public MemorySegment storageForReading() {
        checkAlive();
        requireFloat("storageForReading()");
        return readable();
    }

    /**
     * The storage segment, for the backend: elements are float32 at {@code offset + Σ idx·stride}. The
     * caller may write to it, so a copy kept in a backend layout ({@link #layoutData}) is dropped and the
     * call counts as a write ({@link #version}); a call that only reads takes {@link #storageForReading}.
     * Only the call is counted, not the writes through the segment: write right after the call, never
     * through a segment kept from before an op that read this tensor (its backward pass could not see the
     * write, and its gradients would be computed from the new values).
     *
     * @return the whole storage
     * @throws IllegalArgumentException if the tensor is not float32
     * @throws IllegalStateException    if the tensor is closed
     */
    public MemorySegment storage() {
        checkAlive();
        requireFloat("storage()");
        return writable();
    }

    /**
     * How many times this tensor's storage has been written in place since it was made, through this
     * tensor or any view of it ({@link #set}, {@link #fill}, {@code copyFrom}, {@link #storage()}, an
     * optimizer's step): PyTorch's {@code Tensor._version}, one counter shared by every view of the
     * storage. Autograd notes the versions of the tensors a recorded op read and wrote, and a backward
     * pass that finds one of them written since fails instead of computing gradients from changed values.
     *
     * @return the count of writes so far; it only grows
     */
    public long version() {
        return version.get();
    }

    /**
     * Whether elements are laid out row-major without gaps (size-1 dimensions may have any stride)
     * ({@code Tensor.is_contiguous()}).
     *
     * @return true if contiguous
     */
    public boolean isContiguous() {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 1) {
                continue;
            }
            if (shape[i] == 0) {
                return true;
            }
            if (strides[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    /**
     * Whether this handle is usable: not closed and its storage not freed.
     *
     * @return true if usable
     */
    public boolean isAlive() {
        MemorySegment any = laid != null ? laid.data : storage;
        return !closed && any.scope().isAlive() && (memory == null || memory.isOpen())
                && (scope == null || scope.isOpen());
    }

    /**
     * Throws unless {@link #isAlive()}, saying why; and when the tensor belongs to a scope confined to
     * another thread.
     *
     * @throws IllegalStateException if the tensor was closed or its storage freed
     * @throws WrongThreadException  if its scope was opened or made local on another thread
     */
    public void checkAlive() {
        if (closed) {
            throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is closed");
        }
        if (!isAlive()) {
            String owner = memory != null ? (ownsMemory ? "its memory" : "the " + memory.description() + " it views")
                    : scope != null ? "the " + scope.describe() + " that owned it" : "its storage";
            throw new IllegalStateException("tensor " + Arrays.toString(shape) + " is unusable: " + owner
                    + " was closed");
        }
        if (scope != null) {
            scope.checkThread("tensor " + Arrays.toString(shape));
        }
    }

    /**
     * The scope that owns this tensor's storage.
     *
     * @return the scope, or null when a tensor owns the storage
     */
    public Scope scope() {
        return scope;
    }

    /**
     * A zero-filled tensor of this shape and dtype whose storage has the same owner: this tensor's scope,
     * or its own memory.
     *
     * @return the new tensor
     * @throws IllegalStateException if the owning scope is closed
     */
    public Tensor zerosLikeOwned() {
        return allocate(scope, dtype, shape, true);
    }

    /**
     * Retires this tensor: every later use of it, and of its views when it owns its storage, fails.
     * Storage it owns (and its gradient's, if owned too) is left to the garbage collector; a scope's
     * storage is freed when the scope closes. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        gradFn = null;
        if (ownsMemory) {
            memory.close();
            if (grad != null) {
                grad.close();
            }
        }
    }

    // ---------------------------------------------------------------- autograd

    /**
     * Whether gradients flow to or through this tensor ({@code Tensor.requires_grad}).
     *
     * @return true for a leaf marked by {@link #requiresGrad(boolean)} or the output of a recorded op
     */
    public boolean requiresGrad() {
        return requiresGrad;
    }

    /**
     * Marks a leaf tensor (one not produced by a recorded op) as needing a gradient: {@link #backward()}
     * will accumulate into {@link #grad()} ({@code Tensor.requires_grad_}).
     *
     * @param value whether the tensor needs a gradient
     * @return this tensor
     * @throws IllegalArgumentException if value is true and the tensor is not float32
     * @throws IllegalStateException    if the tensor is not a leaf
     */
    public Tensor requiresGrad(boolean value) {
        if (value && dtype != DType.FLOAT32) {
            throw new IllegalArgumentException("requiresGrad(true) expects float32, got " + dtype
                    + " (a tensor of shape " + Arrays.toString(shape) + "): only floating-point tensors can require"
                    + " gradients");
        }
        if (gradFn != null) {
            throw new IllegalStateException("requiresGrad can only be set on leaf tensors; this one was made by "
                    + gradFn.op() + " (use detach())");
        }
        requiresGrad = value;
        return this;
    }

    /**
     * The accumulated gradient of a leaf after {@link #backward()} ({@code Tensor.grad}).
     *
     * @return the gradient, of this shape, or null if none yet
     */
    public Tensor grad() {
        if (gradZeroPending) {
            gradZeroPending = false;
            if (grad.isAlive()) {
                grad.fill(0f);
            }
        }
        return grad;
    }

    /**
     * Replaces the gradient.
     *
     * @param g the new gradient, float32 of this shape, or null to clear it
     * @throws IllegalArgumentException if g is not float32 or of another shape
     */
    public void setGrad(Tensor g) {
        if (g != null && g.dtype != DType.FLOAT32) {
            throw new IllegalArgumentException("setGrad expects a float32 gradient, got " + g.dtype);
        }
        if (g != null && !Arrays.equals(g.shape, shape)) {
            throw new IllegalArgumentException("gradient of shape " + Arrays.toString(g.shape) + " for a tensor of shape "
                    + Arrays.toString(shape));
        }
        grad = g;
        gradZeroed = false;
        gradZeroPending = false;
    }

    /**
     * Sets the gradient to zero, keeping its memory. The next {@link #backward()} then writes the
     * gradient instead of adding to it, so write to {@link #grad()} in between only through
     * {@link #setGrad}. The zeros are written only if the gradient is read before backward writes it
     * (the common training step never reads it, and skips the pass over memory).
     */
    public void zeroGrad() {
        if (grad != null && grad.isAlive()) {
            gradZeroed = true;
            gradZeroPending = true;
        }
    }

    /**
     * The gradient buffer of a leaf that an op's backward may write into directly, instead of returning
     * a gradient for autograd to copy or add there. The op writes (overwriting when
     * {@link #gradOverwrites()}, adding otherwise) and then calls {@link #gradWritten()}.
     *
     * @return the gradient tensor, or null unless this is a leaf that requires a gradient and already has a
     *         live, contiguous gradient tensor
     */
    public Tensor gradSink() {
        if (gradFn != null || !requiresGrad || grad == null || !grad.isAlive() || !grad.isContiguous()) {
            return null;
        }
        return grad;
    }

    /**
     * Whether the next gradient written to {@link #gradSink()} replaces its contents (after zeroGrad).
     *
     * @return true if it replaces them, false if it adds to them
     */
    public boolean gradOverwrites() {
        return gradZeroed;
    }

    /**
     * Records that an op has written the gradient through {@link #gradSink()}: later writes add to it.
     */
    public void gradWritten() {
        gradZeroed = false;
        gradZeroPending = false;
        gradArrivals++;
    }

    /**
     * Adds {@code g} to the gradient, allocating it with this tensor's owner the first time.
     *
     * @param g a gradient of this shape
     * @throws IllegalArgumentException if g has another shape
     */
    public void accumulateGrad(Tensor g) {
        if (!Arrays.equals(g.shape, shape)) {
            throw new IllegalArgumentException("gradient of shape " + Arrays.toString(g.shape) + " for a tensor of shape "
                    + Arrays.toString(shape));
        }
        if (grad == null || !grad.isAlive()) {
            grad = zerosLikeOwned().copyFrom(g);
        } else if (gradZeroed) {
            grad.copyFrom(g);
        } else {
            Kernels.addInPlace(grad, g);
        }
        gradZeroed = false;
        gradZeroPending = false;
        gradArrivals++;
    }

    /**
     * How many gradients have reached this leaf: each {@link #accumulateGrad} and each write an op reports
     * with {@link #gradWritten}. {@link Autograd#backward} compares it before and after a pass to tell the
     * leaves that received a gradient in the pass, whose post-accumulate-grad hooks it then runs.
     *
     * @return the count, from 0
     */
    public long gradArrivals() {
        return gradArrivals;
    }

    /**
     * Registers a hook that {@link Autograd#backward} calls with this leaf once the leaf's gradient of the
     * pass is complete: after every gradient of the pass has been accumulated into {@link #grad()}, in
     * every pass that gives the leaf a gradient ({@code Tensor.register_post_accumulate_grad_hook}). In
     * reverse topological order that is as soon as every op that used the leaf has run its backward, so
     * the leaves of the last layers come first; data-parallel training starts averaging their gradients
     * there while backward goes on through the first layers.
     *
     * <p>Hooks run on the thread that runs backward, in a {@linkplain Autograd#noGrad() no-grad region},
     * in the order they were registered; an exception a hook throws ends the pass and propagates out of
     * backward. A leaf that receives no gradient in a pass (not on the graph, or reached by none) gets no
     * call. Registration and removal may happen on any thread; a pass already running may or may not see
     * them.
     *
     * @param hook called with this tensor; it may read the gradient, not replace it
     * @return the handle whose {@link HookHandle#remove()} (or {@code close()}) unregisters the hook
     * @throws NullPointerException  if {@code hook} is null
     * @throws IllegalStateException if this tensor is closed, is not a leaf (an op made it), or does not
     *                               require a gradient
     */
    public HookHandle registerPostAccumulateGradHook(Consumer<Tensor> hook) {
        Objects.requireNonNull(hook, "hook");
        checkAlive();
        if (gradFn != null) {
            throw new IllegalStateException("post-accumulate-grad hooks are for leaves, and this tensor of shape "
                    + Arrays.toString(shape) + " was made by " + gradFn.op() + ": its gradient is never accumulated");
        }
        if (!requiresGrad) {
            throw new IllegalStateException("a post-accumulate-grad hook on a leaf of shape " + Arrays.toString(shape)
                    + " that does not require grad would never run: call requiresGrad(true) first");
        }
        HookHandle h = new HookHandle(this, hook);
        synchronized (HOOK_LOCK) {
            HookHandle[] old = postAccumulateGradHooks;
            HookHandle[] hooks = Arrays.copyOf(old, old.length + 1);
            hooks[old.length] = h;
            postAccumulateGradHooks = hooks;
        }
        return h;
    }

    /**
     * The post-accumulate-grad hooks registered now, oldest first; {@link Autograd#backward} runs them.
     *
     * @return an unmodifiable snapshot, empty when there are none
     */
    public List<Consumer<Tensor>> postAccumulateGradHooks() {
        HookHandle[] hooks = postAccumulateGradHooks;
        if (hooks.length == 0) {
            return List.of();
        }
        @SuppressWarnings("unchecked")
        Consumer<Tensor>[] out = new Consumer[hooks.length];
        for (int i = 0; i < hooks.length; i++) {
            out[i] = hooks[i].hook;
        }
        return List.of(out);
    }

    /**
     * A hook registered with {@link #registerPostAccumulateGradHook}
     * ({@code torch.utils.hooks.RemovableHandle}): {@link #remove()} or {@link #close()} unregisters it.
     */
    public static final class HookHandle implements AutoCloseable {
        private final Tensor tensor;
        private final Consumer<Tensor> hook;

        private HookHandle(Tensor tensor, Consumer<Tensor> hook) {
            this.tensor = tensor;
            this.hook = hook;
        }

        /**
         * Unregisters the hook: no pass that starts later calls it. Idempotent; any thread.
         */
        public void remove() {
            synchronized (HOOK_LOCK) {
                HookHandle[] old = tensor.postAccumulateGradHooks;
                for (int i = 0; i < old.length; i++) {
                    if (old[i] == this) {
                        HookHandle[] hooks = new HookHandle[old.length - 1];
                        System.arraycopy(old, 0, hooks, 0, i);
                        System.arraycopy(old, i + 1, hooks, i, old.length - i - 1);
                        tensor.postAccumulateGradHooks = hooks;
                        return;
                    }
                }
            }
        }

        /**
         * Whether the hook is still registered.
         *
         * @return false once {@link #remove()} has run
         */
        public boolean isRegistered() {
            for (HookHandle h : tensor.postAccumulateGradHooks) {
                if (h == this) {
                    return true;
                }
            }
            return false;
        }

        /** {@link #remove()}, for try-with-resources. */
        @Override
        public void close() {
            remove();
        }
    }

    /**
     * The recorded op that produced this tensor ({@code Tensor.grad_fn}).
     *
     * @return the node, or null for a leaf
     */
    public Node gradFn() {
        return gradFn;
    }

    /**
     * Records that {@code node} produced this tensor; called by ops when autograd is recording.
     *
     * @param node the op's node
     * @throws IllegalArgumentException if node is null or the tensor is not float32
     */
    public void setGradFn(Node node) {
        if (node == null) {
            throw new IllegalArgumentException("node is null");
        }
        requireFloat("setGradFn (a recorded op's output)");
        gradFn = node;
        requiresGrad = true;
    }

    /**
     * Back-propagates from this scalar (a one-element tensor) through the recorded ops, accumulating
     * into the {@link #grad()} of every leaf that requires a gradient. The pass releases the graph it
     * ran through: a second backward over it throws (use {@link #backward(boolean)} to keep it).
     *
     * @throws IllegalStateException    if the tensor requires no gradient, a tensor on the graph was closed,
     *                                  or an earlier pass released the graph
     * @throws IllegalArgumentException if the tensor has more than one element
     */
    public void backward() {
        Autograd.backward(this, null);
    }

    /**
     * As {@link #backward()}; with {@code retainGraph} the recorded graph is kept, so another backward
     * pass may run through it and accumulate into the leaves' gradients again (PyTorch's
     * {@code retain_graph=True}). Without it, the nodes the pass ran are released and a later pass
     * through them throws {@link IllegalStateException}.
     *
     * @param retainGraph whether to keep the graph for another pass
     * @throws IllegalStateException    if the tensor requires no gradient, a tensor on the graph was closed,
     *                                  or an earlier pass released the graph
     * @throws IllegalArgumentException if the tensor has more than one element
     */
    public void backward(boolean retainGraph) {
        Autograd.backward(this, null, retainGraph);
    }

    /**
     * A view of the same storage that autograd treats as a constant leaf ({@code Tensor.detach()}).
     *
     * @return the view, requiring no gradient
     * @throws IllegalStateException if the tensor is closed
     */
    public Tensor detach() {
        checkAlive();
        return new Tensor(storage, memory, false, scope, shape, strides, offset, laid, dtype, version);
    }

    private int dimIndex(int d) {
        int r = shape.length;
        int i = d < 0 ? d + r : d;
        if (i < 0 || i >= r) {
            throw new IllegalArgumentException("dimension " + d + " out of range for a " + r + "-d tensor");
        }
        return i;
    }

    // ---------------------------------------------------------------- element access

    /**
     * The element at {@code index} of a float32 tensor.
     *
     * @param index one entry per dimension, each in [0, size)
     * @return the element
     * @throws IllegalArgumentException  if the index has the wrong number of entries, or the tensor is not float32
     * @throws IndexOutOfBoundsException if an entry is out of range
     * @throws IllegalStateException     if the tensor is closed
     */
    public float get(long... index) {
        checkAlive();
        requireFloat("get");
        float v = readable().getAtIndex(F32, elementOffset(index));
        Reference.reachabilityFence(this); // a forgotten detached scope is not closed during the access
        return v;
    }

    /**
     * The element at {@code index} of an int64 tensor.
     *
     * @param index one entry per dimension, each in [0, size)
     * @return the element
     * @throws IllegalArgumentException  if the index has the wrong number of entries, or the tensor is not int64
     * @throws IndexOutOfBoundsException if an entry is out of range
     * @throws IllegalStateException     if the tensor is closed
     */
    public long getLong(long... index) {
        checkAlive();
        checkDType(DType.INT64, "getLong");
        long v = readable().getAtIndex(I64, elementOffset(index));
        Reference.reachabilityFence(this);
        return v;
    }

    /**
     * The element at {@code index} of a bool tensor.
     *
     * @param index one entry per dimension, each in [0, size)
     * @return the element
     * @throws IllegalArgumentException  if the index has the wrong number of entries, or the tensor is not bool
     * @throws IndexOutOfBoundsException if an entry is out of range
     * @throws IllegalStateException     if the tensor is closed
     */
    public boolean getBoolean(long... index) {
        checkAlive();
        checkDType(DType.BOOL, "getBoolean");
        byte v = readable().getAtIndex(I8, elementOffset(index));
        Reference.reachabilityFence(this);
        return v != 0;
    }

    /**
     * Sets the element at {@code index} of a float32 tensor.
     *
     * @param value the new value
     * @param index one entry per dimension, each in [0, size)
     * @throws IllegalArgumentException  if the index has the wrong number of entries, or the tensor is not float32
     * @throws IndexOutOfBoundsException if an entry is out of range
     * @throws IllegalStateException     if the tensor is closed
     */
    public void set(float value, long... index) {
        checkAlive();
        requireFloat("set");
        writable().setAtIndex(F32, elementOffset(index), value);
        Reference.reachabilityFence(this);
    }

    /**
     * Sets the element at {@code index} of an int64 tensor.
     *
     * @param value the new value
     * @param index one entry per dimension, each in [0, size)
     * @throws IllegalArgumentException  if the index has the wrong number of entries, or the tensor is not int64
     * @throws IndexOutOfBoundsException if an entry is out of range
     * @throws IllegalStateException     if the tensor is closed
     */
    public void setLong(long value, long... index) {
        checkAlive();
        checkDType(DType.INT64, "setLong");
        writable().setAtIndex(I64, elementOffset(index), value);
        Reference.reachabilityFence(this);
    }

    /**
     * Sets the element at {@code index} of a bool tensor.
     *
     * @param value the new value
     * @param index one entry per dimension, each in [0, size)
     * @throws IllegalArgumentException  if the index has the wrong number of entries, or the tensor is not bool
     * @throws IndexOutOfBoundsException if an entry is out of range
     * @throws IllegalStateException     if the tensor is closed
     */
    public void setBoolean(boolean value, long... index) {
        checkAlive();
        checkDType(DType.BOOL, "setBoolean");
        writable().setAtIndex(I8, elementOffset(index), value ? (byte) 1 : 0);
        Reference.reachabilityFence(this);
    }

    /**
     * The single value of a one-element float32 tensor ({@code Tensor.item()}); for int64 and bool
     * tensors use {@link #itemLong()} and {@link #itemBoolean()}.
     *
     * @return the value
     * @throws IllegalArgumentException if the tensor has not exactly one element or is not float32
     * @throws IllegalStateException    if the tensor is closed
     */
    public float item() {
        checkAlive();
        if (dtype != DType.FLOAT32) {
            throw new IllegalArgumentException("item() expects float32, got " + dtype + ": use "
                    + (dtype == DType.INT64 ? "itemLong()" : "itemBoolean()") + " for a " + dtype + " tensor");
        }
        float v = readable().getAtIndex(F32, singleOffset("item()"));
        Reference.reachabilityFence(this);
        return v;
    }

    /**
     * The single value of a one-element int64 tensor, such as {@link #argmax()} gives.
     *
     * @return the value
     * @throws IllegalArgumentException if the tensor has not exactly one element or is not int64
     * @throws IllegalStateException    if the tensor is closed
     */
    public long itemLong() {
        checkAlive();
        checkDType(DType.INT64, "itemLong()");
        long v = readable().getAtIndex(I64, singleOffset("itemLong()"));
        Reference.reachabilityFence(this);
        return v;
    }

    /**
     * The single value of a one-element bool tensor.
     *
     * @return the value
     * @throws IllegalArgumentException if the tensor has not exactly one element or is not bool
     * @throws IllegalStateException    if the tensor is closed
     */
    public boolean itemBoolean() {
        checkAlive();
        checkDType(DType.BOOL, "itemBoolean()");
        byte v = readable().getAtIndex(I8, singleOffset("itemBoolean()"));
        Reference.reachabilityFence(this);
        return v != 0;
    }

    /** The storage offset of the only element, or an exception naming {@code what} if there is not one. */
    private long singleOffset(String what) {
        if (numel() != 1) {
            throw new IllegalArgumentException(what + " needs a one-element tensor, shape is "
                    + Arrays.toString(shape));
        }
        return offset;
    }

    private long elementOffset(long[] index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index has " + index.length + " entries for a " + shape.length
                    + "-d tensor");
        }
        long o = offset;
        for (int i = 0; i < index.length; i++) {
            if (index[i] < 0 || index[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("index " + index[i] + " out of range [0, " + shape[i]
                        + ") at dimension " + i);
            }
            o += index[i] * strides[i];
        }
        return o;
    }

    /**
     * Sets every element of a float32 tensor to {@code value} ({@code Tensor.fill_}).
     *
     * @param value the new value of every element
     * @return this tensor
     * @throws IllegalArgumentException if the tensor is not float32
     * @throws IllegalStateException    if the tensor is closed
     */
    public Tensor fill(float value) {
        checkAlive();
        requireFloat("fill(float)");
        MemorySegment data = writable();
        if (isContiguous()) {
            MemorySegment region = data.asSlice(offset * Float.BYTES, numel() * Float.BYTES);
            if (value == 0f) {
                region.fill((byte) 0);
            } else if (region.byteSize() > 0) {
                region.set(F32, 0, value);
                spreadFirstElement(region, Float.BYTES);
            }
        } else {
            forEachOffset((k, o) -> data.setAtIndex(F32, o, value));
        }
        return this;
    }

    /** Fills a fresh contiguous tensor of any dtype with {@code value} (as a float, an int64 or non-zero). */
    private void fillRaw(long value) {
        int es = dtype.elementSize();
        MemorySegment region = storage.asSlice(offset * es, numel() * es);
        if (region.byteSize() == 0) {
            return;
        }
        switch (dtype) {
            case FLOAT32 -> region.set(F32, 0, (float) value);
            case INT64 -> region.set(I64, 0, value);
            case BOOL -> region.set(I8, 0, value != 0 ? (byte) 1 : 0);
        }
        spreadFirstElement(region, es);
    }

    /** Copies the first element of {@code region} onto the rest, doubling the filled prefix: bulk copies only. */
    private static void spreadFirstElement(MemorySegment region, int elementSize) {
        for (long done = elementSize; done < region.byteSize(); done *= 2) {
            long len = Math.min(done, region.byteSize() - done);
            MemorySegment.copy(region, 0, region, done, len);
        }
    }

    /**
     * The elements of a float32 tensor in row-major order, as a new Java array.
     *
     * @return the elements
     * @throws IllegalArgumentException if the tensor is not float32
     * @throws IllegalStateException    if the tensor is closed or has too many elements for a Java array
     */
    public float[] toArray() {
        checkAlive();
        requireFloat("toArray()");
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + n + " elements does not fit a Java array");
        }
        float[] out = new float[(int) n];
        MemorySegment data = readable();
        int r = shape.length;
        if (isContiguous()) {
            MemorySegment.copy(data, F32, offset * Float.BYTES, out, 0, (int) n);
        } else if (r > 0 && strides[r - 1] == 0 && shape[r - 1] > 1) {
            // A broadcast innermost dimension (e.g. the gradient of a mean over H and W): each run is
            // one value repeated.
            forEachRowStart((k, o, len) -> Arrays.fill(out, (int) k, (int) k + len, data.getAtIndex(F32, o)));
        } else {
            forEachRun((k, o, len) -> MemorySegment.copy(data, F32, o * Float.BYTES, out, (int) k, len),
                    (k, o) -> out[(int) k] = data.getAtIndex(F32, o));
        }
        Reference.reachabilityFence(this); // a forgotten detached scope is not closed during the copy
        return out;
    }

    /**
     * The elements of an int64 tensor in row-major order, as a new Java array ({@code Tensor.tolist()}).
     *
     * @return the elements
     * @throws IllegalArgumentException if the tensor is not int64
     * @throws IllegalStateException    if the tensor is closed or has too many elements for a Java array
     */
    public long[] toLongArray() {
        checkAlive();
        checkDType(DType.INT64, "toLongArray()");
        long[] out = new long[arraySize(numel())];
        MemorySegment data = readable();
        if (isContiguous()) {
            MemorySegment.copy(data, I64, offset * Long.BYTES, out, 0, out.length);
        } else {
            forEachOffset((k, o) -> out[(int) k] = data.getAtIndex(I64, o));
        }
        Reference.reachabilityFence(this);
        return out;
    }

    /**
     * The elements of a bool tensor in row-major order, as a new Java array.
     *
     * @return the elements
     * @throws IllegalArgumentException if the tensor is not bool
     * @throws IllegalStateException    if the tensor is closed or has too many elements for a Java array
     */
    public boolean[] toBooleanArray() {
        checkAlive();
        checkDType(DType.BOOL, "toBooleanArray()");
        byte[] bytes = new byte[arraySize(numel())];
        MemorySegment data = readable();
        if (isContiguous()) {
            MemorySegment.copy(data, I8, offset, bytes, 0, bytes.length);
        } else {
            forEachOffset((k, o) -> bytes[(int) k] = data.getAtIndex(I8, o));
        }
        Reference.reachabilityFence(this);
        boolean[] out = new boolean[bytes.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = bytes[i] != 0;
        }
        return out;
    }

    @FunctionalInterface
    private interface OffsetVisitor {
        void visit(long linearIndex, long storageOffset);
    }

    @FunctionalInterface
    private interface RunVisitor {
        void visit(long linearIndex, long storageOffset, int length);
    }

    /**
     * Visits the elements in row-major order: whole runs of the innermost dimension when it has unit
     * stride (so they move as bulk copies), else one element at a time.
     */
    private void forEachRun(RunVisitor runs, OffsetVisitor single) {
        int r = shape.length;
        if (r == 0 || strides[r - 1] != 1 || shape[r - 1] < 2) {
            forEachOffset(single);
            return;
        }
        forEachRowStart(runs);
    }

    /**
     * Visits each run of the innermost dimension in row-major order, giving the storage offset of its
     * first element and its length, whatever the innermost stride (the visitor applies it).
     */
    private void forEachRowStart(RunVisitor runs) {
        int r = shape.length;
        long n = numel();
        if (n == 0) {
            return;
        }
        int inner = (int) shape[r - 1];
        long[] idx = new long[r];
        long o = offset;
        for (long k = 0; k < n; k += inner) {
            runs.visit(k, o, inner);
            for (int d = r - 2; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    o += strides[d];
                    break;
                }
                o -= (shape[d] - 1) * strides[d];
                idx[d] = 0;
            }
        }
    }

    /** Visits every element in row-major order with its storage offset. */
    private void forEachOffset(OffsetVisitor v) {
        long n = numel();
        if (n == 0) {
            return;
        }
        int r = shape.length;
        long[] idx = new long[r];
        long o = offset;
        for (long k = 0; k < n; k++) {
            v.visit(k, o);
            for (int d = r - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) {
                    o += strides[d];
                    break;
                }
                o -= (shape[d] - 1) * strides[d];
                idx[d] = 0;
            }
        }
    }

    /**
     * A contiguous copy in the current scope (or owning its memory), of the same dtype
     * ({@code Tensor.clone()}); the gradient flows through it unchanged.
     *
     * @return the copy
     * @throws IllegalStateException if the tensor is closed
     */
    public Tensor copy() {
        checkAlive();
        Tensor out = allocate(Scope.current(), dtype, shape, false);
        out.copyFrom(this);
        return Autograd.recordValueFree(out, "copy", g -> new Tensor[] {g}, this);
    }

    /**
     * This tensor if contiguous, otherwise a contiguous {@link #copy()}.
     *
     * @return a contiguous tensor of the same elements
     * @throws IllegalStateException if the tensor is closed
     */
    public Tensor contiguous() {
        checkAlive();
        return isContiguous() ? this : copy();
    }

    /**
     * Copies {@code values} (row-major) into this float32 tensor, which may be a strided view.
     *
     * @param values one value per element
     * @return this tensor
     * @throws IllegalArgumentException if the number of values is not the number of elements, or the tensor
     *                                  is not float32
     * @throws IllegalStateException    if the tensor is closed
     */
    public Tensor copyFrom(float[] values) {
        checkAlive();
        requireFloat("copyFrom(float[])");
        checkCount("copyFrom(float[])", values.length);
        MemorySegment data = writable();
        if (isContiguous()) {
            MemorySegment.copy(values, 0, data, F32, offset * Float.BYTES, values.length);
        } else {
            forEachRun((k, o, len) -> MemorySegment.copy(values, (int) k, data, F32, o * Float.BYTES, len),
                    (k, o) -> data.setAtIndex(F32, o, values[(int) k]));
        }
        return this;
    }

    /**
     * Copies {@code values} (row-major) into this int64 tensor, which may be a strided view.
     *
     * @param values one value per element
     * @return this tensor
     * @throws IllegalArgumentException if the number of values is not the number of elements, or the tensor
     *                                  is not int64
     * @throws IllegalStateException    if the tensor is closed
     */
    public Tensor copyFrom(long[] values) {
        checkAlive();
        checkDType(DType.INT64, "copyFrom(long[])");
        checkCount("copyFrom(long[])", values.length);
        MemorySegment data = writable();
        if (isContiguous()) {
            MemorySegment.copy(values, 0, data, I64, offset * Long.BYTES, values.length);
        } else {
            forEachOffset((k, o) -> data.setAtIndex(I64, o, values[(int) k]));
        }
        Reference.reachabilityFence(this);
        return this;
    }

    /**
     * Copies {@code values} (row-major) into this bool tensor, which may be a strided view.
     *
     * @param values one value per element
     * @return this tensor
     * @throws IllegalArgumentException if the number of values is not the number of elements, or the tensor
     *                                  is not bool
     * @throws IllegalStateException    if the tensor is closed
     */
    public Tensor copyFrom(boolean[] values) {
        checkAlive();
        checkDType(DType.BOOL, "copyFrom(boolean[])");
        checkCount("copyFrom(boolean[])", values.length);
        MemorySegment data = writable();
        forEachOffset((k, o) -> data.setAtIndex(I8, o, values[(int) k] ? (byte) 1 : 0));
        Reference.reachabilityFence(this);
        return this;
    }

    private void checkCount(String what, int count) {
        if (count != numel()) {
            throw new IllegalArgumentException(what + ": " + count + " values for a tensor of shape "
                    + Arrays.toString(shape) + " (" + numel() + " elements)");
        }
    }

    /**
     * Copies {@code src}'s elements into this tensor ({@code Tensor.copy_}); the shapes must be equal. A
     * source of another dtype is converted as {@link #to(DType)} converts. Nothing is recorded for autograd.
     *
     * @param src the tensor to copy from
     * @return this tensor
     * @throws IllegalArgumentException if the shapes differ, or a conversion fails (see {@link #to(DType)})
     * @throws IllegalStateException    if either tensor is closed
     */
    public Tensor copyFrom(Tensor src) {
        checkAlive();
        src.checkAlive();
        if (!Arrays.equals(shape, src.shape)) {
            throw new IllegalArgumentException("copyFrom: shape " + Arrays.toString(src.shape) + " into "
                    + Arrays.toString(shape));
        }
        if (src.dtype != dtype) {
            try (var ignored = Autograd.noGrad()) {
                return copyFrom(src.to(dtype));
            }
        }
        long n = numel();
        int es = dtype.elementSize();
        if (isContiguous() && src.isContiguous()) {
            MemorySegment.copy(src.readable(), src.offset * es, writable(), offset * es, n * es);
            Reference.reachabilityFence(src);
            return this;
        }
        if (sharesStorageWith(src)) {
            // The views may overlap: read everything before writing.
            return switch (dtype) {
                case FLOAT32 -> copyFrom(src.toArray());
                case INT64 -> copyFrom(src.toLongArray());
                case BOOL -> copyFrom(src.toBooleanArray());
            };
        }
        copyStrided(src.readable(), src, writable());
        Reference.reachabilityFence(src);
        return this;
    }

    /**
     * Copies {@code src}'s elements into this tensor of the same shape and dtype, both strided, segment to
     * segment (no Java array in between): whole rows when both innermost strides are 1, else element by
     * element.
     */
    private void copyStrided(MemorySegment from, Tensor src, MemorySegment to) {
        int r = shape.length;
        long n = numel();
        if (n == 0) {
            return;
        }
        int es = dtype.elementSize();
        if (r == 0) {
            MemorySegment.copy(from, src.offset * es, to, offset * es, es);
            return;
        }
        long inner = shape[r - 1];
        long dStep = strides[r - 1];
        long sStep = src.strides[r - 1];
        long[] idx = new long[r];
        long d = offset;
        long s = src.offset;
        for (long k = 0; k < n; k += inner) {
            if (dStep == 1 && sStep == 1) {
                MemorySegment.copy(from, s * es, to, d * es, inner * es);
            } else if (es == Float.BYTES) {
                // Bits as ints: a copy, whatever the values.
                for (long i = 0; i < inner; i++) {
                    to.setAtIndex(I32, d + i * dStep, from.getAtIndex(I32, s + i * sStep));
                }
            } else if (es == Long.BYTES) {
                for (long i = 0; i < inner; i++) {
                    to.setAtIndex(I64, d + i * dStep, from.getAtIndex(I64, s + i * sStep));
                }
            } else {
                for (long i = 0; i < inner; i++) {
                    to.setAtIndex(I8, d + i * dStep, from.getAtIndex(I8, s + i * sStep));
                }
            }
            for (int dim = r - 2; dim >= 0; dim--) {
                if (++idx[dim] < shape[dim]) {
                    d += strides[dim];
                    s += src.strides[dim];
                    break;
                }
                d -= (shape[dim] - 1) * strides[dim];
                s -= (shape[dim] - 1) * src.strides[dim];
                idx[dim] = 0;
            }
        }
    }

    /**
     * This tensor's elements as {@code target} ({@code Tensor.to(dtype)}): this tensor itself when it is
     * of that dtype already, else a new contiguous tensor. As in PyTorch, float32 to int64 truncates toward
     * zero, anything to bool is "not zero" (NaN is true), and bool becomes 0 or 1. The result of a
     * conversion to another dtype is not differentiable (nothing is recorded).
     *
     * @param target the dtype of the result
     * @return a tensor of {@code target}
     * @throws IllegalArgumentException if target is null, or a float32 element (NaN, infinite, or beyond
     *                                  ±2⁶³) has no int64 value; the message names it and its position
     * @throws IllegalStateException    if the tensor is closed
     */
    public Tensor to(DType target) {
        checkAlive();
        if (requireDType(target) == dtype) {
            return this;
        }
        long[] s = shape.clone();
        return switch (dtype) {
            case FLOAT32 -> {
                float[] v = toArray();
                if (target == DType.BOOL) {
                    boolean[] out = new boolean[v.length];
                    for (int i = 0; i < v.length; i++) out[i] = v[i] != 0; // NaN != 0: true, as in PyTorch
                    yield fromBooleans(out, s);
                }
                long[] out = new long[v.length];
                for (int i = 0; i < v.length; i++) {
                    // Beyond these (and NaN) a cast saturates in Java and is undefined in C: refuse instead.
                    if (!(v[i] >= -0x1p63f && v[i] < 0x1p63f)) {
                        throw new IllegalArgumentException("to(int64): element " + v[i] + " at position "
                                + Arrays.toString(unravel(i)) + " has no int64 value");
                    }
                    out[i] = (long) v[i];
                }
                yield fromLongs(out, s);
            }
            case INT64 -> {
                long[] v = toLongArray();
                if (target == DType.BOOL) {
                    boolean[] out = new boolean[v.length];
                    for (int i = 0; i < v.length; i++) out[i] = v[i] != 0;
                    yield fromBooleans(out, s);
                }
                float[] out = new float[v.length];
                for (int i = 0; i < v.length; i++) out[i] = v[i];
                yield fromArray(out, s);
            }
            case BOOL -> {
                boolean[] v = toBooleanArray();
                if (target == DType.INT64) {
                    long[] out = new long[v.length];
                    for (int i = 0; i < v.length; i++) out[i] = v[i] ? 1 : 0;
                    yield fromLongs(out, s);
                }
                float[] out = new float[v.length];
                for (int i = 0; i < v.length; i++) out[i] = v[i] ? 1 : 0;
                yield fromArray(out, s);
            }
        };
    }

    /** The index (one entry per dimension) of the row-major position {@code k}, for messages. */
    private long[] unravel(long k) {
        long[] idx = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] > 0) {
                idx[d] = k % shape[d];
                k /= shape[d];
            }
        }
        return idx;
    }

    // ---------------------------------------------------------------- views

    private Tensor view(long[] newShape, long[] newStrides, long newOffset) {
        return new Tensor(storage, memory, false, scope, newShape, newStrides, newOffset, laid, dtype, version);
    }

    /**
     * The same elements with another shape, without copying ({@code Tensor.view}); one size may be -1
     * (inferred). Requires the strides to allow it (always true for contiguous tensors), else use
     * {@link #reshape}.
     *
     * @param newShape the new sizes, one of them possibly -1
     * @return a view of this tensor
     * @throws IllegalArgumentException if the sizes do not hold this many elements, or the strides do not allow
     *                                  a view
     * @throws IllegalStateException    if the tensor is closed
     */
    public Tensor view(long... newShape) {
        checkAlive();
        long[] s = inferShape(newShape);
        long[] st = viewStrides(s);
        if (st == null) {
            throw new IllegalArgumentException("view " + Arrays.toString(newShape) + " is incompatible with the strides "
                    + Arrays.toString(strides) + " of shape " + Arrays.toString(shape) + "; use reshape (copies)");
        }
        return recordReshape(view(s, st, offset));
    }

    /** Records a shape change: the gradient flows back reshaped to this tensor's shape. */
    private Tensor recordReshape(Tensor out) {
        long[] original = shape;
        return Autograd.recordValueFree(out, "view", g -> new Tensor[] {g.reshape(original)}, this);
    }

    /**
     * Like {@link #view} when the strides allow, otherwise a reshaped contiguous copy ({@code Tensor.reshape}).
     *
     * @param newShape the new sizes, one of them possibly -1
     * @return a view or a copy with the new shape
     * @throws IllegalArgumentException if the sizes do not hold this many elements
     * @throws IllegalStateException    if the tensor is closed
     */
    public Tensor reshape(long... newShape) {
        checkAlive();
        long[] s = inferShape(newShape);
        long[] st = viewStrides(s);
        return st != null ? recordReshape(view(s, st, offset)) : copy().view(s);
    }

    /**
     * Dimensions {@code startDim..endDim} merged into one ({@code Tensor.flatten(start_dim, end_dim)}).
     *
     * @param startDim the first dimension to merge; negative counts from the end
     * @param endDim   the last dimension to merge; negative counts from the end
     * @return a view, or a copy when the strides need one
     * @throws IllegalArgumentException if a dimension is out of range or startDim comes after endDim
     */
    public Tensor flatten(int startDim, int endDim) {
        checkAlive();
        if (shape.length == 0) {
            return reshape(1);
        }
        int a = dimIndex(startDim);
        int b = dimIndex(endDim);
        if (a > b) {
            throw new IllegalArgumentException("flatten: start dimension " + startDim + " after end dimension " + endDim);
        }
        long[] s = new long[shape.length - (b - a)];
        int j = 0;
        for (int i = 0; i < a; i++) s[j++] = shape[i];
        long m = 1;
        for (int i = a; i <= b; i++) m *= shape[i];
        s[j++] = m;
        for (int i = b + 1; i < shape.length; i++) s[j++] = shape[i];
        return reshape(s);
    }

    /**
     * All dimensions merged into one ({@code Tensor.flatten()}).
     *
     * @return a 1-d view, or a copy when the strides need one
     */
    public Tensor flatten() {
        return flatten(0, -1);
    }

    private long[] inferShape(long[] newShape) {
        long known = 1;
        int infer = -1;
        long[] s = newShape.clone();
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("only one size may be -1 in " + Arrays.toString(newShape));
                }
                infer = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException("negative size in " + Arrays.toString(newShape));
            } else if (known != 0 && s[i] > Long.MAX_VALUE / known) {
                throw new IllegalArgumentException("shape " + Arrays.toString(newShape) + " has more elements than"
                        + " a long counts; this tensor has " + numel() + " (shape " + Arrays.toString(shape) + ")");
            } else {
                known *= s[i];
            }
        }
        long n = numel();
        if (infer >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(newShape) + " is invalid for "
                        + n + " elements");
            }
            s[infer] = n / known;
        } else if (known != n) {
            throw new IllegalArgumentException("shape " + Arrays.toString(newShape) + " is invalid for " + n
                    + " elements (shape " + Arrays.toString(shape) + ")");
        }
        return s;
    }

    /**
     * Strides for viewing this tensor with {@code newShape}, or null if that needs a copy. Walks the old
     * dimensions from the right in chunks that are contiguous with each other; each chunk may be split
     * into new dimensions freely, but no new dimension may straddle two chunks.
     */
    private long[] viewStrides(long[] newShape) {
        if (numel() == 0 || shape.length == 0) {
            return contiguousStrides(newShape);
        }
        long[] out = new long[newShape.length];
        int viewD = newShape.length - 1;
        long chunkBaseStride = strides[shape.length - 1];
        long tensorNumel = 1;
        long viewNumel = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            tensorNumel *= shape[d];
            boolean chunkEnds = d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensorNumel * chunkBaseStride);
            if (chunkEnds) {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
                    out[viewD] = viewNumel * chunkBaseStride;
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) {
                    return null;
                }
                if (d > 0) {
                    chunkBaseStride = strides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? out : null;
    }

    /**
     * Dimensions {@code d0} and {@code d1} swapped, as a view ({@code Tensor.transpose}).
     *
     * @param d0 a dimension; negative counts from the end
     * @param d1 another dimension; negative counts from the end
     * @return the view
     * @throws IllegalArgumentException if a dimension is out of range
     */
    public Tensor transpose(int d0, int d1) {
        checkAlive();
        int a = dimIndex(d0);
        int b = dimIndex(d1);
        long[] s = shape.clone();
        long[] st = strides.clone();
        s[a] = shape[b];
        s[b] = shape[a];
        st[a] = strides[b];
        st[b] = strides[a];
        return Autograd.recordValueFree(view(s, st, offset), "transpose", g -> new Tensor[] {g.transpose(a, b)},
                this);
    }

    /**
     * The transpose of a 2-D tensor, as a view ({@code Tensor.t()}).
     *
     * @return the view
     * @throws IllegalArgumentException if the tensor is not 2-d
     */
    public Tensor t() {
        if (shape.length != 2) {
            throw new IllegalArgumentException("t() needs a 2-d tensor, shape is " + Arrays.toString(shape));
        }
        return transpose(0, 1);
    }

    /**
     * Dimensions reordered, as a view ({@code Tensor.permute}): result dimension i is this tensor's
     * dimension {@code order[i]}.
     *
     * @param order every dimension once; negative counts from the end
     * @return the view
     * @throws IllegalArgumentException if order does not name every dimension exactly once
     */
    public Tensor permute(int... order) {
        checkAlive();
        if (order.length != shape.length) {
            throw new IllegalArgumentException("permute needs " + shape.length + " dimensions, got "
                    + Arrays.toString(order));
        }
        boolean[] seen = new boolean[shape.length];
        long[] s = new long[shape.length];
        long[] st = new long[shape.length];
        for (int i = 0; i < order.length; i++) {
            int d = dimIndex(order[i]);
            if (seen[d]) {
                throw new IllegalArgumentException("permute repeats dimension " + order[i] + " in "
                        + Arrays.toString(order));
            }
            seen[d] = true;
            s[i] = shape[d];
            st[i] = strides[d];
        }
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            inverse[dimIndex(order[i])] = i;
        }
        return Autograd.recordValueFree(view(s, st, offset), "permute", g -> new Tensor[] {g.permute(inverse)},
                this);
    }

    /**
     * Elements {@code start, start+step, ...} below {@code end} along {@code dim}, as a view
     * ({@code t[..., start:end:step, ...]}).
     *
     * @param dim   the dimension; negative counts from the end
     * @param start the first index, in [0, end]
     * @param end   the bound the indices stop before, at most the size
     * @param step  the distance between indices, positive
     * @return the view
     * @throws IllegalArgumentException  if dim is out of range or step is not positive
     * @throws IndexOutOfBoundsException if the bounds are outside the dimension
     */
    public Tensor slice(int dim, long start, long end, long step) {
        checkAlive();
        int d = dimIndex(dim);
        if (step <= 0) {
            throw new IllegalArgumentException("slice step must be positive, got " + step);
        }
        if (start < 0 || end > shape[d] || start > end) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") out of range for dimension " + dim
                    + " of size " + shape[d]);
        }
        long[] s = shape.clone();
        long[] st = strides.clone();
        s[d] = end == start ? 0 : (end - start - 1) / step + 1; // (end - start + step - 1) / step can overflow
        st[d] = strides[d] * step;
        long[] original = shape;
        return Autograd.recordSlice(view(s, st, offset + start * strides[d]), "slice", g -> {
            Tensor full = zeros(original);
            full.slice(d, start, end, step).copyFrom(g);
            return new Tensor[] {full};
        }, this, new Node.Slice(d, start, end, step));
    }

    /**
     * Elements {@code start..end-1} along {@code dim}, as a view ({@code t[..., start:end, ...]}).
     *
     * @param dim   the dimension; negative counts from the end
     * @param start the first index, in [0, end]
     * @param end   the bound the indices stop before, at most the size
     * @return the view
     * @throws IllegalArgumentException  if dim is out of range
     * @throws IndexOutOfBoundsException if the bounds are outside the dimension
     */
    public Tensor slice(int dim, long start, long end) {
        return slice(dim, start, end, 1);
    }

    /**
     * Index {@code i} of dimension {@code dim}, which is removed, as a view ({@code Tensor.select}).
     *
     * @param dim the dimension; negative counts from the end
     * @param i   the index, in [0, size)
     * @return the view, with one dimension fewer
     * @throws IllegalArgumentException  if dim is out of range
     * @throws IndexOutOfBoundsException if i is out of range
     */
    public Tensor select(int dim, long i) {
        checkAlive();
        int d = dimIndex(dim);
        if (i < 0 || i >= shape[d]) {
            throw new IndexOutOfBoundsException("index " + i + " out of range [0, " + shape[d] + ") at dimension " + dim);
        }
        long[] s = new long[shape.length - 1];
        long[] st = new long[shape.length - 1];
        for (int k = 0, j = 0; k < shape.length; k++) {
            if (k != d) {
                s[j] = shape[k];
                st[j++] = strides[k];
            }
        }
        long[] original = shape;
        return Autograd.recordValueFree(view(s, st, offset + i * strides[d]), "select", g -> {
            Tensor full = zeros(original);
            full.select(d, i).copyFrom(g);
            return new Tensor[] {full};
        }, this);
    }

    /**
     * A size-1 dimension inserted at {@code dim}, as a view ({@code Tensor.unsqueeze}).
     *
     * @param dim the position of the new dimension, in [-dim()-1, dim()]
     * @return the view, with one dimension more
     * @throws IllegalArgumentException if dim is out of range
     */
    public Tensor unsqueeze(int dim) {
        checkAlive();
        int r = shape.length;
        int d = dim < 0 ? dim + r + 1 : dim;
        if (d < 0 || d > r) {
            throw new IllegalArgumentException("unsqueeze dimension " + dim + " out of range for a " + r + "-d tensor");
        }
        long[] s = new long[r + 1];
        long[] st = new long[r + 1];
        for (int k = 0, j = 0; k <= r; k++) {
            if (k == d) {
                s[k] = 1;
                st[k] = d < r ? strides[d] * shape[d] : 1;
            } else {
                s[k] = shape[j];
                st[k] = strides[j++];
            }
        }
        return recordReshape(view(s, st, offset));
    }

    /**
     * A broadcast view to {@code newShape} ({@code Tensor.expand}; numpy rules: align from the right,
     * size-1 dims repeat with stride 0, new leading dims are added). Writes through such a view alias;
     * ops only read them.
     *
     * @param newShape the sizes to broadcast to
     * @return the view
     * @throws IllegalArgumentException if the shape does not broadcast to newShape
     */
    public Tensor expand(long... newShape) {
        checkAlive();
        int r = newShape.length;
        if (r < shape.length) {
            throw new IllegalArgumentException("cannot expand shape " + Arrays.toString(shape) + " to fewer dimensions "
                    + Arrays.toString(newShape));
        }
        long[] s = newShape.clone();
        long[] st = new long[r];
        for (int i = r - 1, j = shape.length - 1; i >= 0; i--, j--) {
            if (j >= 0) {
                if (shape[j] == newShape[i]) {
                    st[i] = strides[j];
                } else if (shape[j] == 1 && newShape[i] >= 0) {
                    st[i] = 0;
                } else {
                    throw new IllegalArgumentException("cannot expand shape " + Arrays.toString(shape) + " to "
                            + Arrays.toString(newShape) + " (dimension " + i + ")");
                }
            } else {
                if (newShape[i] < 0) {
                    throw new IllegalArgumentException("negative size in " + Arrays.toString(newShape));
                }
                st[i] = 0;
            }
        }
        long[] original = shape;
        return Autograd.recordValueFree(view(s, st, offset), "expand",
                g -> new Tensor[] {Kernels.sumToShape(g, original)}, this);
    }

    // ---------------------------------------------------------------- arithmetic and math methods
    //
    // The ops of dev.gatun.ops as methods, so that expressions read left to right as in PyTorch
    // (x.matmul(w).add(b).relu()). Each calls its op, so autograd records it as the static call does. The
    // ops are named in full here so that this block needs no imports of its own.

    /**
     * {@code this + other} elementwise, broadcasting (numpy rules); see
     * {@link dev.gatun.ops.Arithmetic#add}.
     *
     * @param other the tensor added
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor add(Tensor other) {
        return dev.gatun.ops.Arithmetic.add(this, other);
    }

    /**
     * {@code this + value} elementwise; see {@link dev.gatun.ops.Arithmetic#addScalar}.
     *
     * @param value the constant added
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor add(float value) {
        return dev.gatun.ops.Arithmetic.addScalar(this, value);
    }

    /**
     * {@code this − other} elementwise, broadcasting; see {@link dev.gatun.ops.Arithmetic#sub}.
     *
     * @param other the tensor subtracted
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor sub(Tensor other) {
        return dev.gatun.ops.Arithmetic.sub(this, other);
    }

    /**
     * {@code this − value} elementwise (computed as {@code this + (−value)}, which rounds the same).
     *
     * @param value the constant subtracted
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sub(float value) {
        return dev.gatun.ops.Arithmetic.addScalar(this, -value);
    }

    /**
     * {@code this · other} elementwise, broadcasting; see {@link dev.gatun.ops.Arithmetic#mul}. For the
     * matrix product use {@link #matmul}.
     *
     * @param other the other factor
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor mul(Tensor other) {
        return dev.gatun.ops.Arithmetic.mul(this, other);
    }

    /**
     * {@code this · value} elementwise; see {@link dev.gatun.ops.Arithmetic#scale}.
     *
     * @param value the factor
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor mul(float value) {
        return dev.gatun.ops.Arithmetic.scale(this, value);
    }

    /**
     * {@code this / other} elementwise, broadcasting (true division); see
     * {@link dev.gatun.ops.Arithmetic#div}.
     *
     * @param other the divisor
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor div(Tensor other) {
        return dev.gatun.ops.Arithmetic.div(this, other);
    }

    /**
     * {@code this / value} elementwise; see {@link dev.gatun.ops.Arithmetic#divScalar}.
     *
     * @param value the divisor (0 gives ±∞ or NaN, as in PyTorch)
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor div(float value) {
        return dev.gatun.ops.Arithmetic.divScalar(this, value);
    }

    /**
     * The matrix product {@code this · other} with {@code torch.matmul}'s rules (1-d operands, batch
     * broadcasting); see {@link dev.gatun.ops.MatMul#matmul(Tensor, Tensor)}.
     *
     * @param other the right operand
     * @return a new tensor holding the product
     * @throws IllegalArgumentException if the shapes do not multiply (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor matmul(Tensor other) {
        return dev.gatun.ops.MatMul.matmul(this, other);
    }

    /**
     * The product of two 2-d matrices ({@code torch.mm}); see {@link dev.gatun.ops.MatMul#mm}.
     *
     * @param other the right matrix
     * @return a new 2-d tensor
     * @throws IllegalArgumentException if either tensor is not 2-d or the inner sizes differ
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor mm(Tensor other) {
        return dev.gatun.ops.MatMul.mm(this, other);
    }

    /**
     * Batched matrix products of two 3-d tensors of one batch size ({@code torch.bmm}); see
     * {@link dev.gatun.ops.MatMul#bmm}.
     *
     * @param other the right matrices
     * @return a new 3-d tensor
     * @throws IllegalArgumentException if either tensor is not 3-d or the batch or inner sizes differ
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor bmm(Tensor other) {
        return dev.gatun.ops.MatMul.bmm(this, other);
    }

    /**
     * max(0, x) elementwise; see {@link dev.gatun.ops.Activation#relu}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor relu() {
        return dev.gatun.ops.Activation.relu(this);
    }

    /**
     * The leaky ReLU elementwise: x for x &gt; 0, else {@code negativeSlope}·x; see
     * {@link dev.gatun.ops.Activation#leakyRelu}.
     *
     * @param negativeSlope the slope for negative inputs (PyTorch's default is 0.01)
     * @return a new tensor of this shape
     * @throws IllegalArgumentException if {@code negativeSlope} is not finite
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor leakyRelu(float negativeSlope) {
        return dev.gatun.ops.Activation.leakyRelu(this, negativeSlope);
    }

    /**
     * The logistic sigmoid elementwise; see {@link dev.gatun.ops.Activation#sigmoid}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sigmoid() {
        return dev.gatun.ops.Activation.sigmoid(this);
    }

    /**
     * The hyperbolic tangent elementwise; see {@link dev.gatun.ops.Activation#tanh}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor tanh() {
        return dev.gatun.ops.Activation.tanh(this);
    }

    /**
     * The exact GELU x·Φ(x) elementwise; see {@link dev.gatun.ops.Activation#gelu}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor gelu() {
        return dev.gatun.ops.Activation.gelu(this);
    }

    /**
     * Softmax along {@code dim}; see {@link dev.gatun.ops.Activation#softmax}.
     *
     * @param dim the dimension normalized over; negative counts from the end
     * @return a new tensor of this shape
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor softmax(int dim) {
        return dev.gatun.ops.Activation.softmax(this, dim);
    }

    /**
     * log(softmax) along {@code dim}, computed stably; see {@link dev.gatun.ops.Activation#logSoftmax}.
     *
     * @param dim the dimension normalized over; negative counts from the end
     * @return a new tensor of this shape
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor logSoftmax(int dim) {
        return dev.gatun.ops.Activation.logSoftmax(this, dim);
    }

    /**
     * The sum of all elements; see {@link dev.gatun.ops.Reduce#sum(Tensor)}.
     *
     * @return a 0-d tensor
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sum() {
        return dev.gatun.ops.Reduce.sum(this);
    }

    /**
     * The sums along one dimension, which is removed.
     *
     * @param dim the dimension summed over; negative counts from the end
     * @return a new tensor with one dimension fewer
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sum(int dim) {
        return sum(new int[] {dim}, false);
    }

    /**
     * The sums along one dimension, kept as size 1 when {@code keepdim}.
     *
     * @param dim the dimension summed over; negative counts from the end
     * @param keepdim whether the summed dimension stays, as size 1 (PyTorch's {@code keepdim})
     * @return a new tensor
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sum(int dim, boolean keepdim) {
        return sum(new int[] {dim}, keepdim);
    }

    /**
     * The sums over several dimensions, kept as size 1 when {@code keepdim}; see
     * {@link dev.gatun.ops.Reduce#sum(Tensor, int[], boolean)}. An empty {@code dims} sums over none (a
     * copy).
     *
     * @param dims the dimensions summed over, each once; negative ones count from the end
     * @param keepdim whether the summed dimensions stay, as size 1
     * @return a new tensor
     * @throws IllegalArgumentException if {@code dims} is null, or a dimension is out of range or repeated
     *     (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sum(int[] dims, boolean keepdim) {
        return dev.gatun.ops.Reduce.sum(this, reductionDims("sum", dims), keepdim);
    }

    /**
     * The mean of all elements (NaN for an empty tensor); see {@link dev.gatun.ops.Reduce#mean(Tensor)}.
     *
     * @return a 0-d tensor
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor mean() {
        return dev.gatun.ops.Reduce.mean(this);
    }

    /**
     * The means along one dimension, which is removed.
     *
     * @param dim the dimension averaged over; negative counts from the end
     * @return a new tensor with one dimension fewer
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor mean(int dim) {
        return mean(new int[] {dim}, false);
    }

    /**
     * The means along one dimension, kept as size 1 when {@code keepdim}.
     *
     * @param dim the dimension averaged over; negative counts from the end
     * @param keepdim whether the averaged dimension stays, as size 1 (PyTorch's {@code keepdim})
     * @return a new tensor
     * @throws IllegalArgumentException if {@code dim} is out of range (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor mean(int dim, boolean keepdim) {
        return mean(new int[] {dim}, keepdim);
    }

    /**
     * The means over several dimensions, kept as size 1 when {@code keepdim}; see
     * {@link dev.gatun.ops.Reduce#mean(Tensor, int[], boolean)}.
     *
     * @param dims the dimensions averaged over, each once; negative ones count from the end
     * @param keepdim whether the averaged dimensions stay, as size 1
     * @return a new tensor
     * @throws IllegalArgumentException if {@code dims} is null, or a dimension is out of range or repeated
     *     (the message names it)
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor mean(int[] dims, boolean keepdim) {
        return dev.gatun.ops.Reduce.mean(this, reductionDims("mean", dims), keepdim);
    }

    /** {@code dims} with negative ones counted from the end, each checked in range and not repeated. */
    private int[] reductionDims(String op, int[] dims) {
        checkAlive();
        if (dims == null) {
            throw new IllegalArgumentException(op + ": dims is null");
        }
        int r = shape.length;
        int[] out = new int[dims.length];
        boolean[] seen = new boolean[r];
        for (int k = 0; k < dims.length; k++) {
            int d = dims[k] < 0 ? dims[k] + r : dims[k];
            if (d < 0 || d >= r) {
                throw new IllegalArgumentException(op + ": dimension " + dims[k] + " out of range for a " + r
                        + "-d tensor (expected " + -r + " to " + (r - 1) + ")");
            }
            if (seen[d]) {
                throw new IllegalArgumentException(op + ": dimension " + dims[k] + " repeated in "
                        + Arrays.toString(dims));
            }
            seen[d] = true;
            out[k] = d;
        }
        return out;
    }

    /**
     * eˣ elementwise; see {@link dev.gatun.ops.Pointwise#exp}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor exp() {
        return dev.gatun.ops.Pointwise.exp(this);
    }

    /**
     * The natural logarithm elementwise (−∞ at 0, NaN below); see {@link dev.gatun.ops.Pointwise#log}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor log() {
        return dev.gatun.ops.Pointwise.log(this);
    }

    /**
     * The square root elementwise (NaN for negative numbers); see {@link dev.gatun.ops.Pointwise#sqrt}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sqrt() {
        return dev.gatun.ops.Pointwise.sqrt(this);
    }

    /**
     * 1/√x elementwise; see {@link dev.gatun.ops.Pointwise#rsqrt}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor rsqrt() {
        return dev.gatun.ops.Pointwise.rsqrt(this);
    }

    /**
     * xᵖ elementwise for a constant exponent; see {@link dev.gatun.ops.Pointwise#pow(Tensor, float)}.
     *
     * @param exponent the exponent p
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor pow(float exponent) {
        return dev.gatun.ops.Pointwise.pow(this, exponent);
    }

    /**
     * {@code this}<sup>{@code exponent}</sup> elementwise, broadcasting; see
     * {@link dev.gatun.ops.Pointwise#pow(Tensor, Tensor)}.
     *
     * @param exponent the exponents
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast (the message names both)
     * @throws IllegalStateException if either tensor is closed
     */
    public Tensor pow(Tensor exponent) {
        return dev.gatun.ops.Pointwise.pow(this, exponent);
    }

    /**
     * x² elementwise; see {@link dev.gatun.ops.Pointwise#square}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor square() {
        return dev.gatun.ops.Pointwise.square(this);
    }

    /**
     * |x| elementwise (gradient 0 at 0); see {@link dev.gatun.ops.Pointwise#abs}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor abs() {
        return dev.gatun.ops.Pointwise.abs(this);
    }

    /**
     * −x elementwise; see {@link dev.gatun.ops.Pointwise#neg}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor neg() {
        return dev.gatun.ops.Pointwise.neg(this);
    }

    /**
     * −1, 0 or 1 elementwise (0 for NaN); see {@link dev.gatun.ops.Pointwise#sign}.
     *
     * @return a new tensor of this shape
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor sign() {
        return dev.gatun.ops.Pointwise.sign(this);
    }

    /**
     * Each element limited to [min, max]; see {@link dev.gatun.ops.Pointwise#clamp}. For one bound only
     * use {@link #clampMin} or {@link #clampMax} (PyTorch's {@code clamp(min=...)} and
     * {@code clamp(max=...)}).
     *
     * @param min the lower bound
     * @param max the upper bound
     * @return a new tensor of this shape
     * @throws IllegalArgumentException if a bound is NaN
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor clamp(float min, float max) {
        return dev.gatun.ops.Pointwise.clamp(this, min, max);
    }

    /**
     * Each element limited from below, {@code max(x, min)}; see {@link dev.gatun.ops.Pointwise#clampMin}.
     *
     * @param min the lower bound
     * @return a new tensor of this shape
     * @throws IllegalArgumentException if {@code min} is NaN
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor clampMin(float min) {
        return dev.gatun.ops.Pointwise.clampMin(this, min);
    }

    /**
     * Each element limited from above, {@code min(x, max)}; see {@link dev.gatun.ops.Pointwise#clampMax}.
     *
     * @param max the upper bound
     * @return a new tensor of this shape
     * @throws IllegalArgumentException if {@code max} is NaN
     * @throws IllegalStateException if this tensor is closed
     */
    public Tensor clampMax(float max) {
        return dev.gatun.ops.Pointwise.clampMax(this, max);
    }

    /**
     * Tensors joined along an existing dimension, {@code torch.cat}: {@code Tensor.cat(1, a, b)} is
     * {@code torch.cat([a, b], 1)} (Java puts the varargs last; {@link #cat(java.util.List, int)} takes
     * PyTorch's order). See {@link dev.gatun.ops.Shapes#cat(int, Tensor...)}.
     *
     * @param dim the dimension to join along; negative counts from the end
     * @param tensors the tensors, at least one, of equal sizes except along {@code dim}
     * @return a new tensor
     * @throws IllegalArgumentException if there is no tensor, a tensor is 0-d, the shapes do not fit, or
     *     {@code dim} is out of range (the message names the value)
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor cat(int dim, Tensor... tensors) {
        return dev.gatun.ops.Shapes.cat(dim, tensors);
    }

    /**
     * Tensors joined along an existing dimension, in PyTorch's argument order:
     * {@code Tensor.cat(List.of(a, b), 1)}. See {@link #cat(int, Tensor...)}.
     *
     * @param tensors the tensors, at least one, of equal sizes except along {@code dim}
     * @param dim the dimension to join along; negative counts from the end
     * @return a new tensor
     * @throws IllegalArgumentException as {@link #cat(int, Tensor...)}, or if the list is null
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor cat(java.util.List<Tensor> tensors, int dim) {
        return dev.gatun.ops.Shapes.cat(tensors, dim);
    }

    /**
     * Tensors of one shape stacked along a new dimension, {@code torch.stack}: {@code Tensor.stack(0, a, b)}
     * is {@code torch.stack([a, b], 0)}. See {@link dev.gatun.ops.Shapes#stack(int, Tensor...)}.
     *
     * @param dim where the new dimension goes, 0 to the inputs' rank; negative counts from the end of the
     *     result
     * @param tensors the tensors, at least one, all of the same shape
     * @return a new tensor with one more dimension
     * @throws IllegalArgumentException if there is no tensor, the shapes differ, or {@code dim} is out of
     *     range (the message names the value)
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor stack(int dim, Tensor... tensors) {
        return dev.gatun.ops.Shapes.stack(dim, tensors);
    }

    /**
     * Tensors of one shape stacked along a new dimension, in PyTorch's argument order:
     * {@code Tensor.stack(List.of(a, b), 0)}. See {@link #stack(int, Tensor...)}.
     *
     * @param tensors the tensors, at least one, all of the same shape
     * @param dim where the new dimension goes; negative counts from the end of the result
     * @return a new tensor with one more dimension
     * @throws IllegalArgumentException as {@link #stack(int, Tensor...)}, or if the list is null
     * @throws IllegalStateException if a tensor is closed
     */
    public static Tensor stack(java.util.List<Tensor> tensors, int dim) {
        return dev.gatun.ops.Shapes.stack(tensors, dim);
    }

    /**
     * This tensor cut along {@code dim} into views of {@code splitSize} elements (the last smaller when
     * the size does not divide), {@code Tensor.split(split_size, dim)}; see
     * {@link dev.gatun.ops.Shapes#split(Tensor, long, int)}.
     *
     * @param splitSize the size of each piece, positive
     * @param dim the dimension to cut; negative counts from the end
     * @return the pieces in order (views)
     * @throws IllegalArgumentException if {@code splitSize} is not positive (0 is allowed for an empty
     *     dimension) or {@code dim} is out of range
     * @throws IllegalStateException if this tensor is closed
     */
    public java.util.List<Tensor> split(long splitSize, int dim) {
        return dev.gatun.ops.Shapes.split(this, splitSize, dim);
    }

    /**
     * This tensor cut along {@code dim} into views of the given sizes, {@code Tensor.split([sizes], dim)};
     * see {@link dev.gatun.ops.Shapes#split(Tensor, long[], int)}.
     *
     * @param sizes the size of each piece, summing to the size of dimension {@code dim}
     * @param dim the dimension to cut; negative counts from the end
     * @return the pieces in order (views)
     * @throws IllegalArgumentException if the sizes are empty, negative or do not sum to the dimension's
     *     size, or {@code dim} is out of range
     * @throws IllegalStateException if this tensor is closed
     */
    public java.util.List<Tensor> split(long[] sizes, int dim) {
        return dev.gatun.ops.Shapes.split(this, sizes, dim);
    }

    /**
     * This tensor cut along {@code dim} into at most {@code chunks} views of equal size, rounded up,
     * {@code Tensor.chunk(chunks, dim)}; see {@link dev.gatun.ops.Shapes#chunk}.
     *
     * @param chunks the number of pieces wanted, positive
     * @param dim the dimension to cut; negative counts from the end
     * @return the pieces in order (views)
     * @throws IllegalArgumentException if {@code chunks} is not positive or {@code dim} is out of range
     * @throws IllegalStateException if this tensor is closed
     */
    public java.util.List<Tensor> chunk(int chunks, int dim) {
        return dev.gatun.ops.Shapes.chunk(this, chunks, dim);
    }

    // Overloads taking double, so that PyTorch-style literals such as x.mul(0.5) compile; the value is
    // rounded to float32 first, the precision of the tensor (PyTorch does the same for float32 tensors).

    /**
     * {@code this + value}; {@code value} is rounded to float32 first. See {@link #add(float)}.
     *
     * @param value the constant added
     * @return a new tensor of this shape
     */
    public Tensor add(double value) {
        return add((float) value);
    }

    /**
     * {@code this − value}; {@code value} is rounded to float32 first. See {@link #sub(float)}.
     *
     * @param value the constant subtracted
     * @return a new tensor of this shape
     */
    public Tensor sub(double value) {
        return sub((float) value);
    }

    /**
     * {@code this · value}; {@code value} is rounded to float32 first. See {@link #mul(float)}.
     *
     * @param value the factor
     * @return a new tensor of this shape
     */
    public Tensor mul(double value) {
        return mul((float) value);
    }

    /**
     * {@code this / value}; {@code value} is rounded to float32 first. See {@link #div(float)}.
     *
     * @param value the divisor
     * @return a new tensor of this shape
     */
    public Tensor div(double value) {
        return div((float) value);
    }

    /**
     * {@code this ^ exponent}; the exponent is rounded to float32 first. See {@link #pow(float)}.
     *
     * @param exponent the exponent
     * @return a new tensor of this shape
     */
    public Tensor pow(double exponent) {
        return pow((float) exponent);
    }

    /**
     * Clamps to {@code [min, max]}, the bounds rounded to float32 first. See {@link #clamp(float, float)}.
     *
     * @param min the lower bound
     * @param max the upper bound
     * @return a new tensor of this shape
     */
    public Tensor clamp(double min, double max) {
        return clamp((float) min, (float) max);
    }

    // ---------------------------------------------------------------- end of arithmetic and math methods

    /**
     * Whether the two tensors use the same storage (so writing one may change the other).
     *
     * @param other another tensor
     * @return true if their storages overlap
     */
    public boolean sharesStorageWith(Tensor other) {
        if (laid != null && laid == other.laid) {
            return true;
        }
        if (laid != null && !laid.hasPlain() || other.laid != null && !other.laid.hasPlain()) {
            return false; // a row-major storage not allocated yet shares nothing
        }
        MemorySegment a = laid != null ? laid.plain() : storage;
        MemorySegment b = other.laid != null ? other.laid.plain() : other.storage;
        return a.address() < b.address() + b.byteSize() && b.address() < a.address() + a.byteSize();
    }

    // ---------------------------------------------------------------- printing

    /**
     * The elements as PyTorch prints them, with the shape, e.g. {@code tensor([[1., 2.], [3., 4.]],
     * shape=[2, 2])}: float32 in one number format for the whole tensor, int64 without decimals and bool as
     * {@code true}/{@code false}, those two followed by the dtype ({@code tensor([1, 2], dtype=int64,
     * shape=[2])}). Tensors of more than 1000 elements show the first and last three of each dimension.
     *
     * @return the description; a closed tensor says so instead of failing
     */
    @Override
    public String toString() {
        String type = dtype == DType.FLOAT32 ? "" : ", dtype=" + dtype;
        if (!isAlive()) {
            return "tensor(<closed>" + type + ", shape=" + Arrays.toString(shape) + ")";
        }
        StringBuilder sb = new StringBuilder("tensor(");
        boolean summarize = numel() > SUMMARY_THRESHOLD;
        IntFunction<String> element = elementFormat();
        if (shape.length == 0) {
            sb.append(element.apply(0).strip());
        } else {
            appendDim(sb, 0, 0, contiguousStrides(shape), element, summarize, "tensor(".length());
        }
        sb.append(type).append(", shape=").append(Arrays.toString(shape)).append(')');
        return sb.toString();
    }

    /** The text of each element by row-major position, all padded to one width as PyTorch aligns them. */
    private IntFunction<String> elementFormat() {
        switch (dtype) {
            case INT64 -> {
                long[] v = toLongArray();
                int width = 0;
                for (long x : v) width = Math.max(width, Long.toString(x).length());
                int w = width;
                return i -> pad(Long.toString(v[i]), w);
            }
            case BOOL -> {
                boolean[] v = toBooleanArray();
                int width = 4;
                for (boolean x : v) if (!x) width = 5;
                int w = width;
                return i -> pad(Boolean.toString(v[i]), w);
            }
            default -> {
                float[] v = toArray();
                Format f = Format.of(v);
                return i -> f.format(v[i]);
            }
        }
    }

    private static String pad(String s, int width) {
        return " ".repeat(Math.max(0, width - s.length())) + s;
    }

    private void appendDim(StringBuilder sb, int d, long base, long[] cst, IntFunction<String> element,
                           boolean summarize, int indent) {
        sb.append('[');
        long n = shape[d];
        boolean cut = summarize && n > 2 * EDGE_ITEMS;
        for (long i = 0; i < n; i++) {
            if (cut && i == EDGE_ITEMS) {
                sb.append(d == shape.length - 1 ? "..., " : "...,\n" + " ".repeat(indent + d + 1));
                i = n - EDGE_ITEMS;
            }
            if (d == shape.length - 1) {
                sb.append(element.apply((int) (base + i)));
                if (i < n - 1) sb.append(", ");
            } else {
                appendDim(sb, d + 1, base + i * cst[d], cst, element, summarize, indent);
                if (i < n - 1) {
                    sb.append(',').append("\n".repeat(shape.length - 1 - d)).append(" ".repeat(indent + d + 1));
                }
            }
        }
        sb.append(']');
    }

    /** One number format for a whole tensor, as PyTorch picks it: integers, fixed, or scientific. */
    private record Format(String pattern, int width, boolean integral) {
        static Format of(float[] v) {
            boolean integral = true;
            double maxAbs = 0;
            double minAbs = Double.POSITIVE_INFINITY;
            for (float x : v) {
                if (!Float.isFinite(x)) continue;
                double a = Math.abs(x);
                if (x != Math.rint(x)) integral = false;
                maxAbs = Math.max(maxAbs, a);
                if (a > 0) minAbs = Math.min(minAbs, a);
            }
            String pattern;
            if (integral && maxAbs < 1e8) {
                pattern = "%.0f.";
            } else if (maxAbs >= 1e8 || (minAbs < 1e-4 && minAbs != Double.POSITIVE_INFINITY)
                    || maxAbs / Math.max(minAbs, Double.MIN_VALUE) > 1000 && minAbs < 1) {
                pattern = "%.4e";
            } else {
                pattern = "%.4f";
            }
            int width = 0;
            for (float x : v) {
                width = Math.max(width, raw(pattern, x).length());
            }
            return new Format(pattern, width, integral);
        }

        private static String raw(String pattern, float x) {
            if (Float.isNaN(x)) return "nan";
            if (Float.isInfinite(x)) return x > 0 ? "inf" : "-inf";
            return String.format(java.util.Locale.ROOT, pattern, x);
        }

        String format(float x) {
            String s = raw(pattern, x);
            return " ".repeat(Math.max(0, width - s.length())) + s;
        }
    }

    // ---------------------------------------------------------------- indexing, comparison, arg-reductions
    // Instance forms of dev.gatun.ops.Reduce, Compare and Indexing, named as PyTorch's Tensor methods.

    /**
     * The position of the largest element in the flattened tensor ({@code Tensor.argmax()}); see
     * {@link dev.gatun.ops.Reduce#argmax(Tensor)}.
     *
     * @return a 0-d int64 tensor ({@link #itemLong()} reads it)
     * @throws IllegalArgumentException if the tensor is empty or bool
     */
    public Tensor argmax() {
        return dev.gatun.ops.Reduce.argmax(this);
    }

    /**
     * The positions of the largest elements along {@code dim} ({@code Tensor.argmax(dim, keepdim)}); see
     * {@link dev.gatun.ops.Reduce#argmax(Tensor, int, boolean)}.
     *
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return an int64 tensor of indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or the tensor is bool
     */
    public Tensor argmax(int dim, boolean keepdim) {
        return dev.gatun.ops.Reduce.argmax(this, dim, keepdim);
    }

    /**
     * The positions of the largest elements along {@code dim}, which is removed ({@code Tensor.argmax(dim)}).
     *
     * @param dim the dimension to reduce, negative counting from the end
     * @return an int64 tensor of indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or the tensor is bool
     */
    public Tensor argmax(int dim) {
        return argmax(dim, false);
    }

    /**
     * The position of the smallest element in the flattened tensor ({@code Tensor.argmin()}).
     *
     * @return a 0-d int64 tensor
     * @throws IllegalArgumentException if the tensor is empty or bool
     */
    public Tensor argmin() {
        return dev.gatun.ops.Reduce.argmin(this);
    }

    /**
     * The positions of the smallest elements along {@code dim} ({@code Tensor.argmin(dim, keepdim)}).
     *
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return an int64 tensor of indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or the tensor is bool
     */
    public Tensor argmin(int dim, boolean keepdim) {
        return dev.gatun.ops.Reduce.argmin(this, dim, keepdim);
    }

    /**
     * The positions of the smallest elements along {@code dim}, which is removed ({@code Tensor.argmin(dim)}).
     *
     * @param dim the dimension to reduce, negative counting from the end
     * @return an int64 tensor of indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or the tensor is bool
     */
    public Tensor argmin(int dim) {
        return argmin(dim, false);
    }

    /**
     * The largest elements along {@code dim} and their int64 positions ({@code Tensor.max(dim, keepdim)});
     * the values are differentiable. See {@link dev.gatun.ops.Reduce#max(Tensor, int, boolean)}.
     *
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return the values and the indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or the tensor is bool
     */
    public dev.gatun.ops.Reduce.ValuesIndices max(int dim, boolean keepdim) {
        return dev.gatun.ops.Reduce.max(this, dim, keepdim);
    }

    /**
     * The largest element ({@code Tensor.max()}), differentiable. See
     * {@link dev.gatun.ops.Reduce#max(Tensor)}.
     *
     * @return a 0-d tensor of this tensor's dtype
     * @throws IllegalArgumentException if the tensor is empty or bool
     */
    public Tensor max() {
        return dev.gatun.ops.Reduce.max(this);
    }

    /**
     * The smallest elements along {@code dim} and their int64 positions ({@code Tensor.min(dim, keepdim)});
     * the values are differentiable.
     *
     * @param dim     the dimension to reduce, negative counting from the end
     * @param keepdim whether the reduced dimension stays, as size 1
     * @return the values and the indices
     * @throws IllegalArgumentException if dim is out of range, that dimension is empty, or the tensor is bool
     */
    public dev.gatun.ops.Reduce.ValuesIndices min(int dim, boolean keepdim) {
        return dev.gatun.ops.Reduce.min(this, dim, keepdim);
    }

    /**
     * The smallest element ({@code Tensor.min()}), differentiable.
     *
     * @return a 0-d tensor of this tensor's dtype
     * @throws IllegalArgumentException if the tensor is empty or bool
     */
    public Tensor min() {
        return dev.gatun.ops.Reduce.min(this);
    }

    /**
     * {@code this == other} elementwise, broadcasting ({@code Tensor.eq}); see {@link dev.gatun.ops.Compare}.
     *
     * @param other the right operand
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor eq(Tensor other) {
        return dev.gatun.ops.Compare.eq(this, other);
    }

    /**
     * {@code this == value} elementwise ({@code Tensor.eq(scalar)}).
     *
     * @param value the scalar, compared in this tensor's dtype
     * @return a bool tensor of this shape
     */
    public Tensor eq(double value) {
        return dev.gatun.ops.Compare.eq(this, value);
    }

    /**
     * {@code this != other} elementwise, broadcasting ({@code Tensor.ne}).
     *
     * @param other the right operand
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor ne(Tensor other) {
        return dev.gatun.ops.Compare.ne(this, other);
    }

    /**
     * {@code this != value} elementwise ({@code Tensor.ne(scalar)}).
     *
     * @param value the scalar, compared in this tensor's dtype
     * @return a bool tensor of this shape
     */
    public Tensor ne(double value) {
        return dev.gatun.ops.Compare.ne(this, value);
    }

    /**
     * {@code this < other} elementwise, broadcasting ({@code Tensor.lt}).
     *
     * @param other the right operand
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor lt(Tensor other) {
        return dev.gatun.ops.Compare.lt(this, other);
    }

    /**
     * {@code this < value} elementwise ({@code Tensor.lt(scalar)}).
     *
     * @param value the scalar, compared in this tensor's dtype
     * @return a bool tensor of this shape
     */
    public Tensor lt(double value) {
        return dev.gatun.ops.Compare.lt(this, value);
    }

    /**
     * {@code this <= other} elementwise, broadcasting ({@code Tensor.le}).
     *
     * @param other the right operand
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor le(Tensor other) {
        return dev.gatun.ops.Compare.le(this, other);
    }

    /**
     * {@code this <= value} elementwise ({@code Tensor.le(scalar)}).
     *
     * @param value the scalar, compared in this tensor's dtype
     * @return a bool tensor of this shape
     */
    public Tensor le(double value) {
        return dev.gatun.ops.Compare.le(this, value);
    }

    /**
     * {@code this > other} elementwise, broadcasting ({@code Tensor.gt}).
     *
     * @param other the right operand
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor gt(Tensor other) {
        return dev.gatun.ops.Compare.gt(this, other);
    }

    /**
     * {@code this > value} elementwise ({@code Tensor.gt(scalar)}).
     *
     * @param value the scalar, compared in this tensor's dtype
     * @return a bool tensor of this shape
     */
    public Tensor gt(double value) {
        return dev.gatun.ops.Compare.gt(this, value);
    }

    /**
     * {@code this >= other} elementwise, broadcasting ({@code Tensor.ge}).
     *
     * @param other the right operand
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor ge(Tensor other) {
        return dev.gatun.ops.Compare.ge(this, other);
    }

    /**
     * {@code this >= value} elementwise ({@code Tensor.ge(scalar)}).
     *
     * @param value the scalar, compared in this tensor's dtype
     * @return a bool tensor of this shape
     */
    public Tensor ge(double value) {
        return dev.gatun.ops.Compare.ge(this, value);
    }

    /**
     * {@code this && other} elementwise, non-zero being true ({@code Tensor.logical_and}).
     *
     * @param other the right operand, of any dtype
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor logicalAnd(Tensor other) {
        return dev.gatun.ops.Compare.logicalAnd(this, other);
    }

    /**
     * {@code this || other} elementwise, non-zero being true ({@code Tensor.logical_or}).
     *
     * @param other the right operand, of any dtype
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor logicalOr(Tensor other) {
        return dev.gatun.ops.Compare.logicalOr(this, other);
    }

    /**
     * Exclusive or of the truth values, elementwise ({@code Tensor.logical_xor}).
     *
     * @param other the right operand, of any dtype
     * @return a bool tensor of the broadcast shape
     * @throws IllegalArgumentException if the shapes do not broadcast
     */
    public Tensor logicalXor(Tensor other) {
        return dev.gatun.ops.Compare.logicalXor(this, other);
    }

    /**
     * {@code !this} elementwise, non-zero being true ({@code Tensor.logical_not}).
     *
     * @return a bool tensor of this shape
     */
    public Tensor logicalNot() {
        return dev.gatun.ops.Compare.logicalNot(this);
    }

    /**
     * This tensor where {@code condition} holds, {@code other} elsewhere ({@code Tensor.where(condition,
     * other)}, i.e. {@code torch.where(condition, this, other)}); differentiable in both. See
     * {@link dev.gatun.ops.Indexing#where}.
     *
     * @param condition a bool tensor
     * @param other     the values where the condition does not hold
     * @return a tensor of the broadcast shape
     * @throws IllegalArgumentException if condition is not bool, or the shapes do not broadcast
     */
    public Tensor where(Tensor condition, Tensor other) {
        return dev.gatun.ops.Indexing.where(condition, this, other);
    }

    /**
     * This tensor with {@code value} where {@code mask} is true ({@code Tensor.masked_fill}), differentiable.
     * See {@link dev.gatun.ops.Indexing#maskedFill}.
     *
     * @param mask  a bool tensor broadcasting with this one
     * @param value the fill value (a whole number for an int64 tensor)
     * @return a new tensor of the broadcast shape
     * @throws IllegalArgumentException if mask is not bool, the shapes do not broadcast, or value does not fit
     *                                  the dtype
     */
    public Tensor maskedFill(Tensor mask, double value) {
        return dev.gatun.ops.Indexing.maskedFill(this, mask, value);
    }

    /**
     * The elements picked along {@code dim} by {@code index} ({@code Tensor.gather}), differentiable. See
     * {@link dev.gatun.ops.Indexing#gather}.
     *
     * @param dim   the dimension the index selects along
     * @param index an int64 tensor of this tensor's rank
     * @return a tensor of index's shape
     * @throws IllegalArgumentException  if index is not int64 or its shape does not fit
     * @throws IndexOutOfBoundsException if an index is outside [0, size(dim))
     */
    public Tensor gather(int dim, Tensor index) {
        return dev.gatun.ops.Indexing.gather(this, dim, index);
    }

    /**
     * The slices at {@code index} along {@code dim} ({@code Tensor.index_select}), differentiable. See
     * {@link dev.gatun.ops.Indexing#indexSelect}.
     *
     * @param dim   the dimension the index selects along
     * @param index a 1-d int64 tensor
     * @return a tensor of this shape with dimension dim of size index.numel()
     * @throws IllegalArgumentException  if index is not a 1-d int64 tensor, or dim is out of range
     * @throws IndexOutOfBoundsException if an index is outside [0, size(dim))
     */
    public Tensor indexSelect(int dim, Tensor index) {
        return dev.gatun.ops.Indexing.indexSelect(this, dim, index);
    }
}
