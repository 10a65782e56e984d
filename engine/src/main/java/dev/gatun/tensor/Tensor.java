package dev.gatun.tensor;

import dev.gatun.autograd.Autograd;
import dev.gatun.autograd.Node;
import dev.gatun.backend.Machine;
import dev.gatun.backend.SharedMemory;
import dev.gatun.ops.Kernels;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.LongFunction;

/**
 * An n-dimensional float32 array in off-heap memory: a shape, strides and an offset (both counted in
 * elements) over a {@link MemorySegment}. Views ({@link #view}, {@link #transpose}, {@link #slice},
 * {@link #expand}, ...) share storage and copy nothing.
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
    private static final int SUMMARY_THRESHOLD = 1000;
    private static final int EDGE_ITEMS = 3;

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
    private boolean closed;
    /** The contents in a backend layout, shared by every view of the storage; null for most tensors. */
    private final Laid laid;

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

    private Tensor(MemorySegment storage, SharedMemory memory, boolean ownsMemory, Scope scope, long[] shape,
                   long[] strides, long offset, Laid laid) {
        this.laid = laid;
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
     * A tensor of unspecified content in the current scope (or owning its memory when there is none),
     * for results whose every element is about to be written.
     */
    public static Tensor empty(long... shape) {
        return allocate(Scope.current(), shape, false);
    }

    /** A zero-filled tensor in the current scope (or owning its memory when there is none). */
    public static Tensor zeros(long... shape) {
        return allocate(Scope.current(), shape);
    }

    /** A zero-filled tensor in the given scope. */
    public static Tensor zeros(Scope scope, long... shape) {
        return allocate(requireScope(scope), shape);
    }

    /** A tensor of ones in the current scope. */
    public static Tensor ones(long... shape) {
        return full(1f, shape);
    }

    /** A tensor filled with {@code value} in the current scope. */
    public static Tensor full(float value, long... shape) {
        Tensor t = zeros(shape);
        t.fill(value);
        return t;
    }

    /** {@code [0, 1, ..., n-1]} as a 1-D tensor in the current scope. */
    public static Tensor arange(long n) {
        return arange(0, n, 1);
    }

    /** {@code start, start+step, ...} up to but excluding {@code end}, like {@code torch.arange}. */
    public static Tensor arange(double start, double end, double step) {
        if (step == 0 || !Double.isFinite(step) || !Double.isFinite(start) || !Double.isFinite(end)) {
            throw new IllegalArgumentException("arange needs finite start, end and a non-zero step, got start="
                    + start + " end=" + end + " step=" + step);
        }
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

    /** A tensor holding {@code data} (row-major) with the given shape, in the current scope. */
    public static Tensor fromArray(float[] data, long... shape) {
        long n = numel(checkShape(shape));
        if (n != data.length) {
            throw new IllegalArgumentException("fromArray: " + data.length + " values do not fill shape "
                    + Arrays.toString(shape) + " (" + n + " elements)");
        }
        Tensor t = allocate(Scope.current(), shape, false);
        MemorySegment.copy(data, 0, t.storage, F32, 0, data.length);
        return t;
    }

    /** A 1-D tensor holding {@code data}. */
    public static Tensor fromArray(float[] data) {
        return fromArray(data, data.length);
    }

    /** Uniform samples in [0, 1), reproducible from {@code seed}. */
    public static Tensor rand(long seed, long... shape) {
        Tensor t = zeros(shape);
        SplittableRandom rng = new SplittableRandom(seed);
        float[] v = new float[arraySize(t.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextDouble();
        }
        return t.copyFrom(v);
    }

    /** Standard normal samples, reproducible from {@code seed}. */
    public static Tensor randn(long seed, long... shape) {
        Tensor t = zeros(shape);
        SplittableRandom rng = new SplittableRandom(seed);
        float[] v = new float[arraySize(t.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return t.copyFrom(v);
    }

    private static int arraySize(long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + n + " elements does not fit a Java array");
        }
        return (int) n;
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

    private static Tensor allocate(Scope scope, long[] shape) {
        return allocate(scope, shape, true);
    }

    /** A new contiguous tensor, zero-filled when {@code zero}; without, the caller writes every element. */
    private static Tensor allocate(Scope scope, long[] shape, boolean zero) {
        long[] s = checkShape(shape);
        long bytes = storageBytes(s);
        if (scope != null) {
            return new Tensor(scope.allocate(bytes, zero), null, false, scope, s, contiguousStrides(s), 0, null);
        }
        SharedMemory m = SharedMemory.reclaimable("tensor " + Arrays.toString(s));
        return new Tensor(m.allocate(bytes, zero), m, true, null, s, contiguousStrides(s), 0, null);
    }

    /**
     * For backend ops that compute in another layout than row-major: a new contiguous tensor in the
     * current scope (or owning its memory) whose contents the op writes into {@link #layoutData} of
     * {@code layout} ({@code bytes} long, the layout's size with any padding). The row-major storage is
     * written from it by {@code converter} when first accessed; an op that reads the same layout takes
     * the data as it is. {@code layout} is compared with {@link Object#equals}.
     */
    public static Tensor emptyInLayout(long[] shape, Object layout, long bytes, LayoutConverter converter) {
        return emptyInLayout(Scope.current(), shape, layout, bytes, converter);
    }

    /** As {@link #emptyInLayout(long[], Object, long, LayoutConverter)}, in {@code scope} (null: owning its memory). */
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
        long plainBytes = storageBytes(s);
        // The row-major storage is allocated only if something reads or writes it row-major.
        if (scope != null) {
            Laid l = new Laid(layout, scope.allocate(bytes, false), s, converter, b -> scope.allocate(b, false),
                    plainBytes);
            return new Tensor(null, null, false, scope, s, contiguousStrides(s), 0, l);
        }
        SharedMemory m = SharedMemory.reclaimable("tensor " + Arrays.toString(s));
        Laid l = new Laid(layout, m.allocate(bytes, false), s, converter, b -> m.allocate(b, false), plainBytes);
        return new Tensor(null, m, true, null, s, contiguousStrides(s), 0, l);
    }

    /**
     * This tensor's contents in {@code layout}, for reading, if its storage holds a current copy in
     * exactly that layout and this tensor is the whole of it (not a slice or another shape); else null
     * and the caller uses {@link #storage()}.
     */
    public MemorySegment layoutData(Object layout) {
        Laid l = currentLaid();
        return l != null && l.layout.equals(layout) ? l.data : null;
    }

    /**
     * The backend layout this tensor's contents are currently held in besides row-major (see
     * {@link #layoutData}), or null when there is none for the whole of this tensor.
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
     */
    public Tensor toLayoutOf(Tensor like) {
        checkAlive();
        if (!Arrays.equals(shape, like.shape) || !isContiguous()) {
            throw new IllegalArgumentException("toLayoutOf: a contiguous tensor of shape " + Arrays.toString(like.shape)
                    + " is needed, got shape " + Arrays.toString(shape) + (isContiguous() ? "" : " (strided)"));
        }
        Tensor out = emptyInLayoutOf(like);
        Laid l = out.laid;
        l.converter.fromPlain(readable().asSlice(offset * Float.BYTES, numel() * Float.BYTES), l.data);
        return out;
    }

    /** The backend layout this tensor was made in, current or not; null for a tensor made row-major. */
    public Object madeLayout() {
        return laid == null ? null : laid.layout;
    }

    /**
     * Makes the backend-layout copy of a tensor made in a layout current again after its contents were
     * written row-major (which dropped it), by converting them into the layout.
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

    /** The plain storage, current, for writing: the backend-layout copy is no longer valid after. */
    private MemorySegment writable() {
        if (laid != null) {
            MemorySegment plain = laid.plain();
            laid.materialize(plain);
            laid.valid = false;
            return plain;
        }
        return storage;
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
     * Bytes of a float32 storage of {@code shape} (already checked), refused, naming the shape, when
     * more than this machine's memory: such a request can only end in an out-of-memory failure.
     */
    private static long storageBytes(long[] shape) {
        long n = numel(shape);
        if (n > Long.MAX_VALUE / Float.BYTES || n * Float.BYTES > Machine.physicalMemory()) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " needs "
                    + Machine.formatBytes(n * (double) Float.BYTES) + " of memory, more than this machine's "
                    + Machine.formatBytes(Machine.physicalMemory()));
        }
        return n * Float.BYTES;
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

    /** The sizes of each dimension (a copy). */
    public long[] shape() {
        return shape.clone();
    }

    /** The size of dimension {@code d}; negative {@code d} counts from the end. */
    public long size(int d) {
        return shape[dimIndex(d)];
    }

    /** The number of dimensions. */
    public int dim() {
        return shape.length;
    }

    /** The number of elements. */
    public long numel() {
        return numel(shape);
    }

    /** Element strides of each dimension (a copy). */
    public long[] strides() {
        return strides.clone();
    }

    /** The stride of dimension {@code d} in elements. */
    public long stride(int d) {
        return strides[dimIndex(d)];
    }

    /** Offset of the first element from the start of the storage, in elements. */
    public long offset() {
        return offset;
    }

    /**
     * The storage segment for a backend call that only reads it: as {@link #storage()}, but a copy kept in
     * a backend layout stays valid. Writing through it is a bug.
     */
    public MemorySegment storageForReading() {
        checkAlive();
        return readable();
    }

    /**
     * The storage segment, for the backend: elements are float32 at {@code offset + Σ idx·stride}. The
     * caller may write to it, so a copy kept in a backend layout ({@link #layoutData}) is dropped.
     */
    public MemorySegment storage() {
        checkAlive();
        return writable();
    }

    /** Whether elements are laid out row-major without gaps (size-1 dimensions may have any stride). */
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

    /** Whether this handle is usable: not closed and its storage not freed. */
    public boolean isAlive() {
        MemorySegment any = laid != null ? laid.data : storage;
        return !closed && any.scope().isAlive() && (memory == null || memory.isOpen())
                && (scope == null || scope.isOpen());
    }

    /** Throws {@link IllegalStateException} unless {@link #isAlive()}. */
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
    }

    /** The scope that owns this tensor's storage, or null when a tensor owns it. */
    public Scope scope() {
        return scope;
    }

    /** A zero-filled tensor of this shape with storage of the same owner: this scope, or its own. */
    public Tensor zerosLikeOwned() {
        return scope != null ? zeros(scope, shape) : allocate(null, shape);
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

    /** Whether gradients flow to or through this tensor. */
    public boolean requiresGrad() {
        return requiresGrad;
    }

    /**
     * Marks a leaf tensor (one not produced by a recorded op) as needing a gradient: {@link #backward()}
     * will accumulate into {@link #grad()}.
     */
    public Tensor requiresGrad(boolean value) {
        if (gradFn != null) {
            throw new IllegalStateException("requiresGrad can only be set on leaf tensors; this one was made by "
                    + gradFn.op() + " (use detach())");
        }
        requiresGrad = value;
        return this;
    }

    /** The accumulated gradient of a leaf after {@link #backward()}, or null if none yet. */
    public Tensor grad() {
        if (gradZeroPending) {
            gradZeroPending = false;
            if (grad.isAlive()) {
                grad.fill(0f);
            }
        }
        return grad;
    }

    /** Replaces the gradient (null clears it); its shape must match. */
    public void setGrad(Tensor g) {
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
     * a gradient for autograd to copy or add there: null unless this is a leaf that requires a gradient
     * and already has a live, contiguous gradient tensor. The op writes (overwriting when
     * {@link #gradOverwrites()}, adding otherwise) and then calls {@link #gradWritten()}.
     */
    public Tensor gradSink() {
        if (gradFn != null || !requiresGrad || grad == null || !grad.isAlive() || !grad.isContiguous()) {
            return null;
        }
        return grad;
    }

    /** Whether the next gradient written to {@link #gradSink()} replaces its contents (after zeroGrad). */
    public boolean gradOverwrites() {
        return gradZeroed;
    }

    /** Records that an op has written the gradient through {@link #gradSink()}: later writes add to it. */
    public void gradWritten() {
        gradZeroed = false;
        gradZeroPending = false;
    }

    /** Adds {@code g} to the gradient, allocating it with this tensor's owner the first time. */
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
    }

    /** The recorded op that produced this tensor, or null for a leaf. */
    public Node gradFn() {
        return gradFn;
    }

    /** Records that {@code node} produced this tensor; called by ops when autograd is recording. */
    public void setGradFn(Node node) {
        if (node == null) {
            throw new IllegalArgumentException("node is null");
        }
        gradFn = node;
        requiresGrad = true;
    }

    /**
     * Back-propagates from this scalar (a one-element tensor) through the recorded ops, accumulating
     * into the {@link #grad()} of every leaf that requires a gradient. The pass releases the graph it
     * ran through: a second backward over it throws (use {@link #backward(boolean)} to keep it).
     */
    public void backward() {
        Autograd.backward(this, null);
    }

    /**
     * As {@link #backward()}; with {@code retainGraph} the recorded graph is kept, so another backward
     * pass may run through it and accumulate into the leaves' gradients again (PyTorch's
     * {@code retain_graph=True}). Without it, the nodes the pass ran are released and a later pass
     * through them throws {@link IllegalStateException}.
     */
    public void backward(boolean retainGraph) {
        Autograd.backward(this, null, retainGraph);
    }

    /** A view of the same storage that autograd treats as a constant leaf. */
    public Tensor detach() {
        checkAlive();
        return new Tensor(storage, memory, false, scope, shape, strides, offset, laid);
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

    /** The element at {@code index} (one entry per dimension). */
    public float get(long... index) {
        checkAlive();
        float v = readable().getAtIndex(F32, elementOffset(index));
        Reference.reachabilityFence(this); // a forgotten detached scope is not closed during the access
        return v;
    }

    /** Sets the element at {@code index}. */
    public void set(float value, long... index) {
        checkAlive();
        writable().setAtIndex(F32, elementOffset(index), value);
        Reference.reachabilityFence(this);
    }

    /** The single value of a one-element tensor. */
    public float item() {
        checkAlive();
        if (numel() != 1) {
            throw new IllegalArgumentException("item() needs a one-element tensor, shape is " + Arrays.toString(shape));
        }
        float v = readable().getAtIndex(F32, offset);
        Reference.reachabilityFence(this);
        return v;
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

    /** Sets every element to {@code value}. */
    public Tensor fill(float value) {
        checkAlive();
        MemorySegment data = writable();
        if (isContiguous()) {
            MemorySegment region = data.asSlice(offset * Float.BYTES, numel() * Float.BYTES);
            if (value == 0f) {
                region.fill((byte) 0);
            } else if (region.byteSize() > 0) {
                // One element, then the filled prefix copied onto the rest, doubling: bulk copies only.
                region.set(F32, 0, value);
                for (long done = Float.BYTES; done < region.byteSize(); done *= 2) {
                    long len = Math.min(done, region.byteSize() - done);
                    MemorySegment.copy(region, 0, region, done, len);
                }
            }
        } else {
            forEachOffset((k, o) -> data.setAtIndex(F32, o, value));
        }
        return this;
    }

    /** The elements in row-major order. */
    public float[] toArray() {
        checkAlive();
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

    /** A contiguous copy in the current scope (or owning its memory). */
    public Tensor copy() {
        checkAlive();
        Tensor out = allocate(Scope.current(), shape, false);
        out.copyFrom(this);
        return Autograd.record(out, "copy", g -> new Tensor[] {g}, this);
    }

    /** This tensor if contiguous, otherwise a contiguous {@link #copy()}. */
    public Tensor contiguous() {
        checkAlive();
        return isContiguous() ? this : copy();
    }

    /** Copies {@code values} (row-major) into this tensor, which may be a strided view. */
    public Tensor copyFrom(float[] values) {
        checkAlive();
        if (values.length != numel()) {
            throw new IllegalArgumentException("copyFrom: " + values.length + " values for a tensor of shape "
                    + Arrays.toString(shape) + " (" + numel() + " elements)");
        }
        MemorySegment data = writable();
        if (isContiguous()) {
            MemorySegment.copy(values, 0, data, F32, offset * Float.BYTES, values.length);
        } else {
            forEachRun((k, o, len) -> MemorySegment.copy(values, (int) k, data, F32, o * Float.BYTES, len),
                    (k, o) -> data.setAtIndex(F32, o, values[(int) k]));
        }
        return this;
    }

    /** Copies {@code src}'s elements into this tensor; the shapes must be equal. */
    public Tensor copyFrom(Tensor src) {
        checkAlive();
        src.checkAlive();
        if (!Arrays.equals(shape, src.shape)) {
            throw new IllegalArgumentException("copyFrom: shape " + Arrays.toString(src.shape) + " into "
                    + Arrays.toString(shape));
        }
        long n = numel();
        if (isContiguous() && src.isContiguous()) {
            MemorySegment.copy(src.readable(), src.offset * Float.BYTES, writable(), offset * Float.BYTES,
                    n * Float.BYTES);
            Reference.reachabilityFence(src);
            return this;
        }
        if (sharesStorageWith(src)) {
            return copyFrom(src.toArray()); // the views may overlap: read everything before writing
        }
        copyStrided(src.readable(), src, writable());
        Reference.reachabilityFence(src);
        return this;
    }

    /**
     * Copies {@code src}'s elements into this tensor of the same shape, both strided, segment to segment
     * (no Java array in between): whole rows when both innermost strides are 1, else element by element.
     */
    private void copyStrided(MemorySegment from, Tensor src, MemorySegment to) {
        int r = shape.length;
        long n = numel();
        if (n == 0) {
            return;
        }
        if (r == 0) {
            to.setAtIndex(F32, offset, from.getAtIndex(F32, src.offset));
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
                MemorySegment.copy(from, s * Float.BYTES, to, d * Float.BYTES, inner * Float.BYTES);
            } else {
                for (long i = 0; i < inner; i++) {
                    to.setAtIndex(F32, d + i * dStep, from.getAtIndex(F32, s + i * sStep));
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

    // ---------------------------------------------------------------- views

    private Tensor view(long[] newShape, long[] newStrides, long newOffset) {
        return new Tensor(storage, memory, false, scope, newShape, newStrides, newOffset, laid);
    }

    /**
     * The same elements with another shape, without copying; one size may be -1 (inferred). Requires
     * the strides to allow it (always true for contiguous tensors), else use {@link #reshape}.
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
        return Autograd.record(out, "view", g -> new Tensor[] {g.reshape(original)}, this);
    }

    /** Like {@link #view} when the strides allow, otherwise a reshaped contiguous copy. */
    public Tensor reshape(long... newShape) {
        checkAlive();
        long[] s = inferShape(newShape);
        long[] st = viewStrides(s);
        return st != null ? recordReshape(view(s, st, offset)) : copy().view(s);
    }

    /** Dimensions {@code startDim..endDim} merged into one. */
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

    /** All dimensions merged into one. */
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
            } else {
                known = Math.multiplyExact(known, s[i]);
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

    /** Dimensions {@code d0} and {@code d1} swapped, as a view. */
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
        return Autograd.record(view(s, st, offset), "transpose", g -> new Tensor[] {g.transpose(a, b)}, this);
    }

    /** The transpose of a 2-D tensor (a view). */
    public Tensor t() {
        if (shape.length != 2) {
            throw new IllegalArgumentException("t() needs a 2-d tensor, shape is " + Arrays.toString(shape));
        }
        return transpose(0, 1);
    }

    /** Dimensions reordered: result dimension i is this tensor's dimension {@code order[i]} (a view). */
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
        return Autograd.record(view(s, st, offset), "permute", g -> new Tensor[] {g.permute(inverse)}, this);
    }

    /** Elements {@code start, start+step, ...} below {@code end} along {@code dim} (a view). */
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
        return Autograd.record(view(s, st, offset + start * strides[d]), "slice", g -> {
            Tensor full = zeros(original);
            full.slice(d, start, end, step).copyFrom(g);
            return new Tensor[] {full};
        }, this);
    }

    /** Elements {@code start..end-1} along {@code dim} (a view). */
    public Tensor slice(int dim, long start, long end) {
        return slice(dim, start, end, 1);
    }

    /** Index {@code i} of dimension {@code dim}, which is removed (a view). */
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
        return Autograd.record(view(s, st, offset + i * strides[d]), "select", g -> {
            Tensor full = zeros(original);
            full.select(d, i).copyFrom(g);
            return new Tensor[] {full};
        }, this);
    }

    /** A size-1 dimension inserted at {@code dim} (0..dim()), as a view. */
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
     * A broadcast view to {@code newShape} (numpy rules: align from the right, size-1 dims repeat with
     * stride 0, new leading dims are added). Writes through such a view alias; ops only read them.
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
        return Autograd.record(view(s, st, offset), "expand", g -> new Tensor[] {Kernels.sumToShape(g, original)}, this);
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

    // ---------------------------------------------------------------- end of arithmetic and math methods

    /** Whether the two tensors use the same storage (so writing one may change the other). */
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

    @Override
    public String toString() {
        if (!isAlive()) {
            return "tensor(<closed>, shape=" + Arrays.toString(shape) + ")";
        }
        StringBuilder sb = new StringBuilder("tensor(");
        boolean summarize = numel() > SUMMARY_THRESHOLD;
        float[] values = toArray();
        Format f = Format.of(values);
        if (shape.length == 0) {
            sb.append(f.format(values[0]).strip());
        } else {
            appendDim(sb, 0, 0, contiguousStrides(shape), values, f, summarize, "tensor(".length());
        }
        sb.append(", shape=").append(Arrays.toString(shape)).append(')');
        return sb.toString();
    }

    private void appendDim(StringBuilder sb, int d, long base, long[] cst, float[] v, Format f, boolean summarize,
                           int indent) {
        sb.append('[');
        long n = shape[d];
        boolean cut = summarize && n > 2 * EDGE_ITEMS;
        for (long i = 0; i < n; i++) {
            if (cut && i == EDGE_ITEMS) {
                sb.append(d == shape.length - 1 ? "..., " : "...,\n" + " ".repeat(indent + d + 1));
                i = n - EDGE_ITEMS;
            }
            if (d == shape.length - 1) {
                sb.append(f.format(v[(int) (base + i)]));
                if (i < n - 1) sb.append(", ");
            } else {
                appendDim(sb, d + 1, base + i * cst[d], cst, v, f, summarize, indent);
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
}
