package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * oneDNN CPU streams, pooled. A stream is used by one execution at a time: it is taken from the pool
 * for one {@code dnnl_primitive_execute} + {@code dnnl_stream_wait} and put back. The pool grows to
 * the largest number of concurrent executions and its streams live as long as the process, so no
 * stream is tied to a thread (virtual threads move between carriers).
 */
final class Streams {

    private static final ConcurrentLinkedQueue<MemorySegment> POOL = new ConcurrentLinkedQueue<>();

    private Streams() {}

    /**
     * Executes a primitive with the given {@code dnnl_exec_arg_t} array and waits for it to finish; with
     * {@code holdSignals}, the thread's asynchronous signals wait meanwhile ({@link Signals}).
     */
    static void execute(MemorySegment primitive, int nargs, MemorySegment args, boolean holdSignals, String what) {
        MemorySegment stream = POOL.poll();
        if (stream == null) {
            stream = create();
        }
        long signals = holdSignals ? Signals.block() : 0; // oneDNN's GEMM kernels must not take one
        try {
            OneDnn.check(Dnnl.dnnl_primitive_execute(primitive, stream, nargs, args), "dnnl_primitive_execute", what);
            OneDnn.check(Dnnl.dnnl_stream_wait(stream), "dnnl_stream_wait", what);
        } finally {
            Signals.restore(signals);
            POOL.offer(stream);
        }
    }

    private static MemorySegment create() {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment out = tmp.allocate(ValueLayout.ADDRESS);
            OneDnn.check(Dnnl.dnnl_stream_create(out, OneDnn.cpuEngine(), Dnnl.dnnl_stream_default_flags()),
                    "dnnl_stream_create");
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }
}
