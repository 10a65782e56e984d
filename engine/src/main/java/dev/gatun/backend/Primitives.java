package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_exec_arg_t;
import dev.gatun.bindings.dnnl.dnnl_memory_desc_t;
import dev.gatun.bindings.omp.Omp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The plumbing every oneDNN primitive shares: memory descriptors, primitive creation with a
 * user-provided scratchpad ({@code dnnl_scratchpad_mode_user}, so executions on several threads never
 * share one), and execution with per-call memory objects. Primitives are created once per
 * configuration by their family's cache and live for the process, like the engine.
 */
final class Primitives {

    /**
     * Room for the 2.x op descriptors passed through {@link #opDesc} (convolution's, the largest of them,
     * is 5976 bytes on x86-64). The RNN descriptor is larger; {@link Rnn} allocates it by its own layout.
     */
    static final long OP_DESC_BYTES = 8192;

    private Primitives() {}

    /**
     * A created primitive, its primitive descriptor (kept when later primitives need it as a hint),
     * its scratchpad and workspace descriptors with their sizes (null and 0 when unused), and whether its
     * implementation may run oneDNN's GEMM kernels, so that it runs with signals held back
     * ({@link Signals}).
     */
    record Primitive(MemorySegment handle, MemorySegment descriptor, MemorySegment scratchpadDesc,
                     long scratchpadBytes, MemorySegment workspaceDesc, long workspaceBytes, MemorySegment[] queried,
                     PrimitiveCache.Life life, boolean holdsSignals) {

        /** The memory descriptor of the i-th query given to {@link #create}. */
        MemorySegment queried(int i) {
            return queried[i];
        }
    }

    /** Reorder primitives between two process-lifetime memory descriptors, by their addresses. */
    private record ReorderKey(long from, long to) {}

    /** Estimated resident bytes of one reorder primitive (see {@link PrimitiveCache}). */
    private static final long REORDER_BYTES = 16 * 1024;

    /** A plain f32 memory descriptor of the given dims and format tag, allocated for the process. */
    static MemorySegment f32Desc(long[] dims, int tag, String what) {
        return f32Desc(Arena.global(), dims, tag, what);
    }

    /**
     * As {@link #f32Desc(long[], int, String)}, allocated in {@code arena}: an automatic arena frees the
     * descriptor with the cache entry that holds it.
     */
    static MemorySegment f32Desc(Arena arena, long[] dims, int tag, String what) {
        NativeLibraries.load(); // a binding used before its library is loaded fails for good
        MemorySegment md = arena.allocate(dnnl_memory_desc_t.layout());
        MemorySegment d = arena.allocateFrom(ValueLayout.JAVA_LONG, dims);
        OneDnn.check(Dnnl.dnnl_memory_desc_init_by_tag(md, dims.length, d, Dnnl.dnnl_f32(), tag),
                "dnnl_memory_desc_init_by_tag", what);
        return md;
    }

    /** A zeroed op-descriptor buffer for a {@code dnnl_*_desc_init} call. */
    static MemorySegment opDesc(Arena arena) {
        return arena.allocate(OP_DESC_BYTES, 64);
    }

    /** A {@code dnnl_dims_t} (int64[12]) holding {@code values}. */
    static MemorySegment dims(Arena arena, long... values) {
        MemorySegment d = arena.allocate(ValueLayout.JAVA_LONG, 12);
        MemorySegment.copy(values, 0, d, ValueLayout.JAVA_LONG, 0, values.length);
        return d;
    }

    /**
     * Creates the primitive for an initialised op descriptor; {@code hint} is the forward primitive
     * descriptor for backward primitives, else NULL. The primitive descriptor is destroyed unless
     * {@code keepDescriptor}.
     */
    static Primitive create(MemorySegment opDesc, MemorySegment hint, boolean keepDescriptor, String what) {
        return create(opDesc, hint, keepDescriptor, what, new int[0]);
    }

    /**
     * As {@link #create(MemorySegment, MemorySegment, boolean, String)}, also keeping process-lifetime
     * copies of the memory descriptors the primitive chose for the given queries
     * ({@code dnnl_query_src_md} etc.), which differ from the caller's when it passed
     * {@code dnnl_format_tag_any}.
     */
    static Primitive create(MemorySegment opDesc, MemorySegment hint, boolean keepDescriptor, String what,
                            int... mdQueries) {
        return create(opDesc, hint, keepDescriptor, what, null, mdQueries);
    }

    /** Sets further primitive attributes (post-ops) on an attribute object before the descriptor is made. */
    @FunctionalInterface
    interface Attributes {
        void apply(Arena tmp, MemorySegment attr);
    }

    /**
     * As {@link #create(MemorySegment, MemorySegment, boolean, String, Attributes, int...)}, with a cached
     * primitive ({@code hint}, null for none) whose descriptor is the hint: it is held for the creation,
     * so that the cache cannot destroy it meanwhile.
     */
    static Primitive createWithHint(MemorySegment opDesc, Primitive hint, boolean keepDescriptor, String what,
                                    Attributes attributes, int... mdQueries) {
        if (hint == null) {
            return create(opDesc, MemorySegment.NULL, keepDescriptor, what, attributes, mdQueries);
        }
        hint.life().acquire(what);
        try {
            return create(opDesc, hint.descriptor(), keepDescriptor, what, attributes, mdQueries);
        } finally {
            hint.life().release();
        }
    }

    /**
     * As {@link #create(MemorySegment, MemorySegment, boolean, String, int...)}, with {@code attributes}
     * (null for none) applied to the primitive's attributes.
     */
    static Primitive create(MemorySegment opDesc, MemorySegment hint, boolean keepDescriptor, String what,
                            Attributes attributes, int... mdQueries) {
        return create(Arena.global(), opDesc, hint, keepDescriptor, what, attributes, mdQueries);
    }

    /**
     * As {@link #create(MemorySegment, MemorySegment, boolean, String, Attributes, int...)}, with the
     * copies of the queried, scratchpad and workspace descriptors allocated in {@code copies}: a primitive
     * owned by something shorter-lived than the process (a {@link Program}) frees them with it.
     */
    static Primitive create(Arena copies, MemorySegment opDesc, MemorySegment hint, boolean keepDescriptor,
                            String what, Attributes attributes, int... mdQueries) {
        NativeLibraries.load();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment pd = primitiveDesc(tmp, (pdOut, attr) -> {
                if (attributes != null) {
                    attributes.apply(tmp, attr);
                }
                return Dnnl.dnnl_primitive_desc_create(pdOut, opDesc, attr, OneDnn.cpuEngine(), hint);
            }, "dnnl_primitive_desc_create", what);
            try {
                MemorySegment scratch = copyQueried(copies, pd, Dnnl.dnnl_query_scratchpad_md());
                MemorySegment workspace = copyQueried(copies, pd, Dnnl.dnnl_query_workspace_md());
                MemorySegment primOut = tmp.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_primitive_create(primOut, pd), "dnnl_primitive_create", what);
                MemorySegment[] queried = new MemorySegment[mdQueries.length];
                for (int i = 0; i < mdQueries.length; i++) {
                    queried[i] = copyQueried(copies, pd, mdQueries[i]);
                }
                return new Primitive(primOut.get(ValueLayout.ADDRESS, 0), keepDescriptor ? pd : null, scratch,
                        size(scratch), workspace, size(workspace), queried, new PrimitiveCache.Life(),
                        mayRunGemmKernels(tmp, pd));
            } finally {
                if (!keepDescriptor) {
                    Dnnl.dnnl_primitive_desc_destroy(pd);
                }
            }
        }
    }

    /**
     * Whether the implementation oneDNN chose may run its generated GEMM kernels: a gemm-based one
     * ({@code gemm:jit}, {@code x64:gemm:jit}, ...) or a reference one (the RNNs' {@code ref:any} multiplies
     * with them); also when the name cannot be read.
     */
    private static boolean mayRunGemmKernels(Arena tmp, MemorySegment pd) {
        MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
        if (Dnnl.dnnl_primitive_desc_query(pd, Dnnl.dnnl_query_impl_info_str(), 0, out) != Dnnl.dnnl_success()) {
            return true;
        }
        MemorySegment name = out.get(ValueLayout.ADDRESS, 0);
        if (name.equals(MemorySegment.NULL)) {
            return true;
        }
        String impl = name.reinterpret(Long.MAX_VALUE).getString(0);
        return impl.contains("gemm") || impl.startsWith("ref");
    }

    /** A {@code dnnl_*primitive_desc_create} call, given the out-pointer and the attributes. */
    @FunctionalInterface
    private interface DescCreate {
        int create(MemorySegment pdOut, MemorySegment attr);
    }

    /** Creates a primitive descriptor whose attributes ask for a user-provided scratchpad. */
    private static MemorySegment primitiveDesc(Arena tmp, DescCreate call, String name, String what) {
        MemorySegment attrOut = tmp.allocate(ValueLayout.ADDRESS);
        OneDnn.check(Dnnl.dnnl_primitive_attr_create(attrOut), "dnnl_primitive_attr_create");
        MemorySegment attr = attrOut.get(ValueLayout.ADDRESS, 0);
        try {
            OneDnn.check(Dnnl.dnnl_primitive_attr_set_scratchpad_mode(attr, Dnnl.dnnl_scratchpad_mode_user()),
                    "dnnl_primitive_attr_set_scratchpad_mode");
            MemorySegment pdOut = tmp.allocate(ValueLayout.ADDRESS);
            // oneDNN plans for the calling thread's OpenMP setting, which PrimitiveCache keys by.
            Threads.applyToCurrentThread();
            OneDnn.check(call.create(pdOut, attr), name, what);
            return pdOut.get(ValueLayout.ADDRESS, 0);
        } finally {
            Dnnl.dnnl_primitive_attr_destroy(attr);
        }
    }

    /** Whether two memory descriptors describe the same layout. */
    static boolean sameLayout(MemorySegment a, MemorySegment b) {
        return Dnnl.dnnl_memory_desc_equal(a, b) != 0;
    }

    /** Bytes a buffer of this memory descriptor occupies (blocked layouts pad their blocked dimension). */
    static long bytes(MemorySegment md) {
        return Dnnl.dnnl_memory_desc_get_size(md);
    }

    /** The cached reorder primitive from one layout to another (process-lifetime descriptors). */
    static Primitive reorder(MemorySegment from, MemorySegment to) {
        return PrimitiveCache.get(new ReorderKey(from.address(), to.address()), k -> createReorder(Arena.global(), from, to),
                p -> new Primitive[] {p}, REORDER_BYTES);
    }

    /**
     * A new reorder primitive from layout {@code from} to {@code to}, not cached: its owner destroys it;
     * its scratchpad descriptor is allocated in {@code copies}.
     */
    static Primitive createReorder(Arena copies, MemorySegment from, MemorySegment to) {
        NativeLibraries.load();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment engine = OneDnn.cpuEngine();
            MemorySegment pd = primitiveDesc(tmp, (pdOut, attr) -> Dnnl.dnnl_reorder_primitive_desc_create(pdOut, from,
                    engine, to, engine, attr), "dnnl_reorder_primitive_desc_create", "reorder");
            try {
                MemorySegment scratch = copyQueried(copies, pd, Dnnl.dnnl_query_scratchpad_md());
                MemorySegment primOut = tmp.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_primitive_create(primOut, pd), "dnnl_primitive_create", "reorder");
                return new Primitive(primOut.get(ValueLayout.ADDRESS, 0), null, scratch, size(scratch), null, 0,
                        new MemorySegment[0], new PrimitiveCache.Life(), false);
            } finally {
                Dnnl.dnnl_primitive_desc_destroy(pd);
            }
        }
    }

    /** Copies {@code src} (laid out as {@code from}) into {@code dst} (laid out as {@code to}). */
    static void reorder(MemorySegment from, MemorySegment src, MemorySegment to, MemorySegment dst) {
        execute(reorder(from, to), new int[] {Dnnl.DNNL_ARG_FROM(), Dnnl.DNNL_ARG_TO()},
                new MemorySegment[] {from, to}, new MemorySegment[] {src, dst}, "reorder");
    }

    /** Distinct layouts seen so far, one segment each, so that equal layouts are the same object. */
    private static final List<MemorySegment> INTERNED = new CopyOnWriteArrayList<>();

    /**
     * The one process-lifetime descriptor equal to {@code md} (null stays null): layouts that different
     * primitives chose compare equal as objects once interned, which is how tensors recognise a copy
     * of their contents in a layout an op wants.
     */
    static MemorySegment intern(MemorySegment md) {
        if (md == null) {
            return null;
        }
        for (MemorySegment m : INTERNED) {
            if (sameLayout(m, md)) {
                return m;
            }
        }
        synchronized (INTERNED) {
            for (MemorySegment m : INTERNED) {
                if (sameLayout(m, md)) {
                    return m;
                }
            }
            INTERNED.add(md);
            return md;
        }
    }

    /**
     * Executes {@code p} like {@link #execute}, where the primitive may compute in other layouts than the
     * caller's buffers have: argument i is given in {@code userDescs[i]} but the primitive wants
     * {@code primDescs[i]} (null or equal: no reorder). Inputs are reordered into temporary buffers
     * before, outputs ({@code outputs[i]}) out of them after. Temporaries live for this call.
     * {@code alsoRead[i]} (null array: none) marks an output whose previous contents the primitive reads
     * (a sum post-op accumulates into its destination), so it is reordered in too. {@code laid[i]} (null
     * array or entry: none) is a buffer already in the primitive's layout {@code primDescs[i]}, at least
     * as large as it, used as it is: an input is read from it without a reorder, an output is left in it
     * without one ({@code data[i]} is then ignored).
     */
    static void executeReordered(Primitive p, int[] kinds, MemorySegment[] userDescs, MemorySegment[] primDescs,
                                 MemorySegment[] data, boolean[] outputs, boolean[] alsoRead, MemorySegment[] laid,
                                 String what) {
        int n = kinds.length;
        if (laid != null) {
            userDescs = userDescs.clone();
            primDescs = primDescs.clone();
            data = data.clone();
            outputs = outputs.clone();
            for (int i = 0; i < n; i++) {
                if (laid[i] != null) {
                    if (primDescs[i] == null || laid[i].byteSize() < bytes(primDescs[i])) {
                        throw new IllegalArgumentException(what + ": argument " + i + " given in a layout the"
                                + " primitive does not use, or in too small a buffer");
                    }
                    userDescs[i] = primDescs[i];
                    data[i] = laid[i];
                    primDescs[i] = null;
                    outputs[i] = false;
                }
            }
        }
        MemorySegment[] descs = userDescs.clone();
        MemorySegment[] buffers = data.clone();
        boolean any = false;
        for (int i = 0; i < n; i++) {
            if (primDescs[i] != null && primDescs[i] != userDescs[i]) {
                any = true;
                break;
            }
        }
        if (!any) {
            execute(p, kinds, descs, buffers, what);
            return;
        }
        try (Arena call = Arena.ofConfined()) {
            for (int i = 0; i < n; i++) {
                MemorySegment want = primDescs[i];
                if (want == null || want == userDescs[i]) {
                    continue;
                }
                MemorySegment tmp = MemoryPool.allocate(call, bytes(want));
                if (!outputs[i] || alsoRead != null && alsoRead[i]) {
                    reorder(userDescs[i], data[i], want, tmp);
                }
                descs[i] = want;
                buffers[i] = tmp;
            }
            execute(p, kinds, descs, buffers, what);
            for (int i = 0; i < n; i++) {
                if (outputs[i] && buffers[i] != data[i]) {
                    reorder(descs[i], buffers[i], userDescs[i], data[i]);
                }
            }
        }
    }

    /** A copy in {@code arena} of a queried memory descriptor, or null when it is empty or absent. */
    private static MemorySegment copyQueried(Arena arena, MemorySegment pd, int query) {
        MemorySegment md = Dnnl.dnnl_primitive_desc_query_md(pd, query, 0);
        if (md.equals(MemorySegment.NULL)) {
            return null;
        }
        long bytes = dnnl_memory_desc_t.layout().byteSize();
        md = md.reinterpret(bytes);
        if (Dnnl.dnnl_memory_desc_get_size(md) == 0) {
            return null;
        }
        MemorySegment copy = arena.allocate(dnnl_memory_desc_t.layout());
        copy.copyFrom(md);
        return copy;
    }

    private static long size(MemorySegment md) {
        return md == null ? 0 : Dnnl.dnnl_memory_desc_get_size(md);
    }

    /**
     * Operand bytes below which a primitive that takes its threads from the caller's OpenMP setting (reorders,
     * pooling, eltwise, softmax and the like; a convolution fixes its own when planned) runs on the calling
     * thread alone. Starting and joining a team of two costs 3.2 µs on the 2-core machine of
     * {@code bench/results} (an empty {@code omp parallel} region, in C): more than such a primitive gains
     * from the second thread. {@code gatun.serialBytes} sets it (0: always the configured threads).
     */
    static final long SERIAL_BYTES = Long.getLong("gatun.serialBytes", 256 << 10);

    /**
     * Executes {@code p} with the given arguments ({@code DNNL_ARG_*} kinds, their memory descriptors
     * and data), adding a scratchpad of its own when the primitive needs one; waits for the result.
     * Every operand's memory is held until the call returns ({@link SharedMemory#hold}). Callers check
     * their operands' sizes with messages of their own; this checks again, last, that every data segment
     * holds at least the bytes its descriptor spans, so that no slip in a caller lets oneDNN read or write
     * past a buffer.
     *
     * @throws IllegalStateException if an operand lacks its layout or data, or a data segment is smaller
     *     than its layout
     */
    static void execute(Primitive p, int[] kinds, MemorySegment[] descs, MemorySegment[] data, String what) {
        long traffic = 0;
        for (int i = 0; i < kinds.length; i++) {
            if (descs[i] == null || descs[i].equals(MemorySegment.NULL) || data[i] == null) {
                throw new IllegalStateException(what + ": operand " + i + " (argument kind " + kinds[i]
                        + ") has no " + (data[i] == null ? "data" : "layout"));
            }
            long need = bytes(descs[i]);
            if (data[i].byteSize() < need) {
                throw new IllegalStateException(what + ": operand " + i + " (argument kind " + kinds[i] + ") has "
                        + data[i].byteSize() + " bytes, its layout spans " + need);
            }
            traffic += need;
        }
        boolean alone = traffic < SERIAL_BYTES && Threads.get() > 1;
        Threads.applyToCurrentThread();
        // oneDNN reads the operands through raw pointers, out of the FFM runtime's sight: hold their
        // memory for the whole call, so that a close on another thread waits instead of freeing it.
        p.life().acquire(what); // the cache destroys no primitive that an execution holds
        try (SharedMemory.Hold held = SharedMemory.hold(what, data); Arena call = Arena.ofConfined()) {
            MemorySegment engine = OneDnn.cpuEngine();
            int n = kinds.length + (p.scratchpadBytes() > 0 ? 1 : 0);
            MemorySegment[] memories = new MemorySegment[n];
            MemorySegment args = call.allocate(dnnl_exec_arg_t.layout(), n);
            try {
                for (int i = 0; i < kinds.length; i++) {
                    memories[i] = memory(call, descs[i], engine, data[i]);
                    setArg(args, i, kinds[i], memories[i]);
                }
                if (p.scratchpadBytes() > 0) {
                    // oneDNN needs no zeros in its scratchpad: a pooled block saves zeroing megabytes
                    // (Winograd convolutions keep their transformed tensors there) on every call.
                    memories[n - 1] = memory(call, p.scratchpadDesc(), engine,
                            MemoryPool.allocate(call, p.scratchpadBytes()));
                    setArg(args, n - 1, Dnnl.DNNL_ARG_SCRATCHPAD(), memories[n - 1]);
                }
                if (alone) {
                    Omp.omp_set_num_threads(1);
                    try {
                        Streams.execute(p.handle(), n, args, p.holdsSignals(), what);
                    } finally {
                        Omp.omp_set_num_threads(Threads.get());
                    }
                } else {
                    Streams.execute(p.handle(), n, args, p.holdsSignals(), what);
                }
            } finally {
                for (MemorySegment m : memories) {
                    if (m != null) {
                        OneDnn.check(Dnnl.dnnl_memory_destroy(m), "dnnl_memory_destroy");
                    }
                }
            }
        } finally {
            p.life().release();
            // Reclaimable memory lives while its segments are reachable: keep them so until here.
            Reference.reachabilityFence(data);
        }
    }

    private static MemorySegment memory(Arena arena, MemorySegment md, MemorySegment engine, MemorySegment data) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        OneDnn.check(Dnnl.dnnl_memory_create(out, md, engine, data), "dnnl_memory_create");
        return out.get(ValueLayout.ADDRESS, 0);
    }

    private static void setArg(MemorySegment args, int i, int kind, MemorySegment memory) {
        MemorySegment slot = dnnl_exec_arg_t.asSlice(args, i);
        dnnl_exec_arg_t.arg(slot, kind);
        dnnl_exec_arg_t.memory(slot, memory);
    }

    /**
     * An operand as a buffer in {@code laidDesc}'s layout for a native kernel: its own buffer when laid
     * (checked to hold the layout's bytes), else a temporary from {@code call}, filled from the plain
     * region ({@code elements} floats, laid out as {@code plainDesc}) when {@code read}. The padding
     * lanes of a blocked layout are zeros.
     */
    static MemorySegment laidOrCopy(Arena call, Operand o, long elements, MemorySegment plainDesc,
                                    MemorySegment laidDesc, boolean read, String what) {
        long bytes = bytes(laidDesc);
        if (o.laid() != null) {
            if (o.laid().byteSize() < bytes) {
                throw new IllegalArgumentException(what + ": blocked buffer of " + o.laid().byteSize()
                        + " bytes, the layout needs " + bytes);
            }
            return o.laid().asSlice(0, bytes);
        }
        MemorySegment plain = region(what, o.plain(), o.offset(), elements);
        MemorySegment tmp = MemoryPool.allocate(call, bytes);
        if (read) {
            tmp.fill((byte) 0);
            reorder(plainDesc, plain, laidDesc, tmp);
        }
        return tmp;
    }

    /** Whether two regions share any byte. */
    static boolean overlap(MemorySegment a, MemorySegment b) {
        return a.address() < b.address() + b.byteSize() && b.address() < a.address() + a.byteSize();
    }

    /**
     * Checks that no output region shares a byte with an input (null inputs skipped) or another output.
     *
     * @throws IllegalArgumentException naming {@code what} and the output that overlaps
     */
    static void requireDisjoint(String what, MemorySegment[] in, MemorySegment[] out, String[] outNames) {
        for (int i = 0; i < out.length; i++) {
            for (MemorySegment m : in) {
                if (m != null && overlap(out[i], m)) {
                    throw new IllegalArgumentException(what + ": " + outNames[i] + " overlaps an input");
                }
            }
            for (int j = i + 1; j < out.length; j++) {
                if (overlap(out[i], out[j])) {
                    throw new IllegalArgumentException(what + ": " + outNames[i] + " overlaps " + outNames[j]);
                }
            }
        }
    }

    /**
     * The first {@code count} int32 values of a segment (four bytes each, as floats are), checked, as a
     * slice, after checking every one is an index in [0, bound): else an exception saying
     * "{what}: {value} {v} at {position} {p} {outside} [0, {bound})".
     */
    static MemorySegment indices(String what, MemorySegment seg, long count, long bound, String value,
                                 String position, String outside) {
        MemorySegment r = region(what + ": " + value + "s", seg, 0, count);
        for (long p = 0; p < count; p++) {
            int v = r.getAtIndex(ValueLayout.JAVA_INT, p);
            if (v < 0 || v >= bound) {
                throw new IllegalArgumentException(what + ": " + value + " " + v + " at " + position + " " + p + " "
                        + outside + " [0, " + bound + ")");
            }
        }
        return r;
    }

    /** The float region [offset, offset + length) of a segment, checked, as a slice. */
    static MemorySegment region(String what, MemorySegment seg, long offsetFloats, long lengthFloats) {
        long cap = seg.byteSize() / Float.BYTES;
        if (offsetFloats < 0 || lengthFloats < 0 || lengthFloats > cap - offsetFloats) {
            throw new IllegalArgumentException(what + " needs floats [" + offsetFloats + ", "
                    + (offsetFloats + lengthFloats) + ") but its segment holds " + cap);
        }
        return seg.asSlice(offsetFloats * Float.BYTES, lengthFloats * Float.BYTES);
    }
}
