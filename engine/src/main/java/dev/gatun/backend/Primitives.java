package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_exec_arg_t;
import dev.gatun.bindings.dnnl.dnnl_memory_desc_t;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The plumbing every oneDNN primitive shares: memory descriptors, primitive creation with a
 * user-provided scratchpad ({@code dnnl_scratchpad_mode_user}, so executions on several threads never
 * share one), and execution with per-call memory objects. Primitives are created once per
 * configuration by their family's cache and live for the process, like the engine.
 */
final class Primitives {

    /** Room for any 2.x op descriptor (the largest, convolution's, is 5976 bytes on x86-64). */
    static final long OP_DESC_BYTES = 8192;

    private Primitives() {}

    /**
     * A created primitive, its primitive descriptor (kept when later primitives need it as a hint),
     * and its scratchpad and workspace descriptors with their sizes (null and 0 when unused).
     */
    record Primitive(MemorySegment handle, MemorySegment descriptor, MemorySegment scratchpadDesc,
                     long scratchpadBytes, MemorySegment workspaceDesc, long workspaceBytes) {}

    /** A plain f32 memory descriptor of the given dims and format tag, allocated for the process. */
    static MemorySegment f32Desc(long[] dims, int tag, String what) {
        NativeLibraries.load(); // a binding used before its library is loaded fails for good
        Arena global = Arena.global();
        MemorySegment md = global.allocate(dnnl_memory_desc_t.layout());
        MemorySegment d = global.allocateFrom(ValueLayout.JAVA_LONG, dims);
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
        NativeLibraries.load();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment attrOut = tmp.allocate(ValueLayout.ADDRESS);
            OneDnn.check(Dnnl.dnnl_primitive_attr_create(attrOut), "dnnl_primitive_attr_create");
            MemorySegment attr = attrOut.get(ValueLayout.ADDRESS, 0);
            MemorySegment pd;
            try {
                OneDnn.check(Dnnl.dnnl_primitive_attr_set_scratchpad_mode(attr, Dnnl.dnnl_scratchpad_mode_user()),
                        "dnnl_primitive_attr_set_scratchpad_mode");
                MemorySegment pdOut = tmp.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_primitive_desc_create(pdOut, opDesc, attr, OneDnn.cpuEngine(), hint),
                        "dnnl_primitive_desc_create", what);
                pd = pdOut.get(ValueLayout.ADDRESS, 0);
            } finally {
                Dnnl.dnnl_primitive_attr_destroy(attr);
            }
            try {
                MemorySegment scratch = copyQueried(pd, Dnnl.dnnl_query_scratchpad_md());
                MemorySegment workspace = copyQueried(pd, Dnnl.dnnl_query_workspace_md());
                MemorySegment primOut = tmp.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_primitive_create(primOut, pd), "dnnl_primitive_create", what);
                return new Primitive(primOut.get(ValueLayout.ADDRESS, 0), keepDescriptor ? pd : null, scratch,
                        size(scratch), workspace, size(workspace));
            } finally {
                if (!keepDescriptor) {
                    Dnnl.dnnl_primitive_desc_destroy(pd);
                }
            }
        }
    }

    /** A process-lifetime copy of a queried memory descriptor, or null when it is empty or absent. */
    private static MemorySegment copyQueried(MemorySegment pd, int query) {
        MemorySegment md = Dnnl.dnnl_primitive_desc_query_md(pd, query, 0);
        if (md.equals(MemorySegment.NULL)) {
            return null;
        }
        long bytes = dnnl_memory_desc_t.layout().byteSize();
        md = md.reinterpret(bytes);
        if (Dnnl.dnnl_memory_desc_get_size(md) == 0) {
            return null;
        }
        MemorySegment copy = Arena.global().allocate(dnnl_memory_desc_t.layout());
        copy.copyFrom(md);
        return copy;
    }

    private static long size(MemorySegment md) {
        return md == null ? 0 : Dnnl.dnnl_memory_desc_get_size(md);
    }

    /**
     * Executes {@code p} with the given arguments ({@code DNNL_ARG_*} kinds, their memory descriptors
     * and data), adding a scratchpad of its own when the primitive needs one; waits for the result.
     * The caller has checked that every data segment is as large as its descriptor says.
     */
    static void execute(Primitive p, int[] kinds, MemorySegment[] descs, MemorySegment[] data, String what) {
        Threads.applyToCurrentThread();
        try (Arena call = Arena.ofConfined()) {
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
                    memories[n - 1] = memory(call, p.scratchpadDesc(), engine, call.allocate(p.scratchpadBytes(), 64));
                    setArg(args, n - 1, Dnnl.DNNL_ARG_SCRATCHPAD(), memories[n - 1]);
                }
                Streams.execute(p.handle(), n, args, what);
            } finally {
                for (MemorySegment m : memories) {
                    if (m != null) {
                        OneDnn.check(Dnnl.dnnl_memory_destroy(m), "dnnl_memory_destroy");
                    }
                }
            }
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
