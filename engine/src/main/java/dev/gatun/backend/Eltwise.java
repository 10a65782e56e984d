package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_eltwise_desc_t;
import dev.gatun.bindings.dnnl.dnnl_exec_arg_t;
import dev.gatun.bindings.dnnl.dnnl_memory_desc_t;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;

/**
 * oneDNN elementwise primitives (forward inference) over contiguous float32 buffers.
 *
 * <p>A primitive is created once per (algorithm, length) and cached for the life of the process; it
 * runs with a user-provided scratchpad ({@code dnnl_scratchpad_mode_user}) so that several threads may
 * execute it at once, each with its own memory objects and stream.
 */
public final class Eltwise {

    /** The elementwise functions offered; the oneDNN algorithm of each. */
    public enum Algorithm {
        RELU, TANH, LOGISTIC;

        int dnnlKind() {
            return switch (this) {
                case RELU -> Dnnl.dnnl_eltwise_relu();
                case TANH -> Dnnl.dnnl_eltwise_tanh();
                case LOGISTIC -> Dnnl.dnnl_eltwise_logistic();
            };
        }
    }

    private record Key(Algorithm algorithm, long length) {}

    /**
     * A created primitive with the memory descriptor it was made for, and its scratchpad's descriptor
     * and size (null and 0 when it needs none).
     */
    private record Primitive(MemorySegment handle, MemorySegment memoryDesc, MemorySegment scratchpadDesc,
                             long scratchpadBytes) {}

    private static final ConcurrentHashMap<Key, Primitive> CACHE = new ConcurrentHashMap<>();

    private Eltwise() {}

    /**
     * {@code dst[i] = f(src[i])} for {@code length} floats starting at the given float offsets. src and dst
     * may be the same region (in place) but must not otherwise overlap.
     */
    public static void forward(Algorithm algorithm, MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset,
                               long length) {
        if (length < 1) {
            if (length == 0) return;
            throw new IllegalArgumentException("eltwise: negative length " + length);
        }
        MemorySegment s = region("src", src, srcOffset, length);
        MemorySegment d = region("dst", dst, dstOffset, length);
        if (s.address() != d.address() && s.address() < d.address() + d.byteSize()
                && d.address() < s.address() + s.byteSize()) {
            throw new IllegalArgumentException("eltwise: dst partially overlaps src");
        }
        Primitive p = CACHE.computeIfAbsent(new Key(algorithm, length), Eltwise::create);
        Threads.applyToCurrentThread();
        try (Arena call = Arena.ofConfined()) {
            MemorySegment engine = OneDnn.cpuEngine();
            MemorySegment srcMem = memory(call, p.memoryDesc(), engine, s);
            MemorySegment dstMem = memory(call, p.memoryDesc(), engine, d);
            MemorySegment scratchMem = p.scratchpadBytes() > 0
                    ? memory(call, p.scratchpadDesc(), engine, call.allocate(p.scratchpadBytes(), 64))
                    : null;
            int nargs = scratchMem == null ? 2 : 3;
            MemorySegment args = call.allocate(dnnl_exec_arg_t.layout(), nargs);
            setArg(args, 0, Dnnl.DNNL_ARG_SRC(), srcMem);
            setArg(args, 1, Dnnl.DNNL_ARG_DST(), dstMem);
            if (scratchMem != null) {
                setArg(args, 2, Dnnl.DNNL_ARG_SCRATCHPAD(), scratchMem);
            }
            try {
                Streams.execute(p.handle(), nargs, args, "eltwise " + algorithm + " over " + length + " floats");
            } finally {
                destroy(srcMem);
                destroy(dstMem);
                if (scratchMem != null) destroy(scratchMem);
            }
        }
    }

    private static MemorySegment region(String name, MemorySegment seg, long offset, long length) {
        long cap = seg.byteSize() / Float.BYTES;
        if (offset < 0 || length > cap - offset) {
            throw new IllegalArgumentException("eltwise: " + name + " needs floats [" + offset + ", " + (offset + length)
                    + ") but its segment holds " + cap);
        }
        return seg.asSlice(offset * Float.BYTES, length * Float.BYTES);
    }

    private static Primitive create(Key key) {
        Arena global = Arena.global(); // cached for the process's life, like the engine
        MemorySegment md = global.allocate(dnnl_memory_desc_t.layout());
        MemorySegment dims = global.allocateFrom(ValueLayout.JAVA_LONG, key.length());
        OneDnn.check(Dnnl.dnnl_memory_desc_init_by_tag(md, 1, dims, Dnnl.dnnl_f32(), Dnnl.dnnl_a()),
                "dnnl_memory_desc_init_by_tag", "[" + key.length() + "] f32");
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment desc = tmp.allocate(dnnl_eltwise_desc_t.layout());
            OneDnn.check(Dnnl.dnnl_eltwise_forward_desc_init(desc, Dnnl.dnnl_forward_inference(),
                    key.algorithm().dnnlKind(), md, 0f, 0f), "dnnl_eltwise_forward_desc_init", key.toString());
            MemorySegment attrOut = tmp.allocate(ValueLayout.ADDRESS);
            OneDnn.check(Dnnl.dnnl_primitive_attr_create(attrOut), "dnnl_primitive_attr_create");
            MemorySegment attr = attrOut.get(ValueLayout.ADDRESS, 0);
            MemorySegment pd;
            try {
                OneDnn.check(Dnnl.dnnl_primitive_attr_set_scratchpad_mode(attr, Dnnl.dnnl_scratchpad_mode_user()),
                        "dnnl_primitive_attr_set_scratchpad_mode");
                MemorySegment pdOut = tmp.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_primitive_desc_create(pdOut, desc, attr, OneDnn.cpuEngine(), MemorySegment.NULL),
                        "dnnl_primitive_desc_create", key.toString());
                pd = pdOut.get(ValueLayout.ADDRESS, 0);
            } finally {
                Dnnl.dnnl_primitive_attr_destroy(attr);
            }
            try {
                // The queried descriptor belongs to pd, which is destroyed below: keep a copy.
                MemorySegment scratch = Dnnl.dnnl_primitive_desc_query_md(pd, Dnnl.dnnl_query_scratchpad_md(), 0);
                long scratchBytes = scratch.equals(MemorySegment.NULL) ? 0 : Dnnl.dnnl_memory_desc_get_size(scratch);
                MemorySegment scratchDesc = null;
                if (scratchBytes > 0) {
                    scratchDesc = global.allocate(dnnl_memory_desc_t.layout());
                    scratchDesc.copyFrom(scratch.reinterpret(dnnl_memory_desc_t.layout().byteSize()));
                }
                MemorySegment primOut = tmp.allocate(ValueLayout.ADDRESS);
                OneDnn.check(Dnnl.dnnl_primitive_create(primOut, pd), "dnnl_primitive_create", key.toString());
                return new Primitive(primOut.get(ValueLayout.ADDRESS, 0), md, scratchDesc, scratchBytes);
            } finally {
                Dnnl.dnnl_primitive_desc_destroy(pd);
            }
        }
    }

    private static MemorySegment memory(Arena arena, MemorySegment md, MemorySegment engine, MemorySegment data) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        OneDnn.check(Dnnl.dnnl_memory_create(out, md, engine, data), "dnnl_memory_create");
        return out.get(ValueLayout.ADDRESS, 0);
    }

    private static void destroy(MemorySegment memory) {
        OneDnn.check(Dnnl.dnnl_memory_destroy(memory), "dnnl_memory_destroy");
    }

    private static void setArg(MemorySegment args, int i, int arg, MemorySegment memory) {
        MemorySegment slot = dnnl_exec_arg_t.asSlice(args, i);
        dnnl_exec_arg_t.arg(slot, arg);
        dnnl_exec_arg_t.memory(slot, memory);
    }
}
