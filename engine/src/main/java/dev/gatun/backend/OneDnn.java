package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_version_t;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;

/**
 * oneDNN (2.x C API): version, CPU ISA, the CPU engine, and the mapping of every {@code dnnl_status_t}
 * to a {@link DnnlException} that names the call. Every oneDNN call in gatun goes through
 * {@link #check(int, String)}.
 */
public final class OneDnn {

    /** oneDNN's version triple and the commit it was built from. */
    public record Version(int major, int minor, int patch, String hash) {
        @Override
        public String toString() {
            return major + "." + minor + "." + patch + (hash.isEmpty() ? "" : " (" + hash + ")");
        }
    }

    private static volatile MemorySegment cpuEngine;

    private OneDnn() {}

    /**
     * The primitive cache's state: entries, their estimated bytes, the budget ({@code gatun.cache.bytes}),
     * entries evicted so far, and evicted primitives still awaiting destruction.
     */
    public record CacheStatus(int entries, long bytes, long budget, long evictions, int retired) {}

    /** The state of the cache of oneDNN primitives (see {@code gatun info}). */
    public static CacheStatus primitiveCache() {
        return new CacheStatus(PrimitiveCache.size(), PrimitiveCache.bytesInUse(), PrimitiveCache.budget(),
                PrimitiveCache.evictions(), PrimitiveCache.retiredCount());
    }

    /** The version of the loaded libdnnl. */
    public static Version version() {
        NativeLibraries.load();
        MemorySegment v = Dnnl.dnnl_version().reinterpret(dnnl_version_t.layout().byteSize());
        return new Version(dnnl_version_t.major(v), dnnl_version_t.minor(v), dnnl_version_t.patch(v),
                Blas.cString(dnnl_version_t.hash(v)));
    }

    /** The instruction set oneDNN's CPU kernels use on this machine, e.g. {@code avx2}. */
    public static String effectiveCpuIsa() {
        NativeLibraries.load();
        int isa = Dnnl.dnnl_get_effective_cpu_isa();
        String name = isaNames().get(isa);
        return name != null ? name : "unknown (0x" + Integer.toHexString(isa) + ")";
    }

    private static Map<Integer, String> isaNames() {
        return Map.ofEntries(
                Map.entry(Dnnl.dnnl_cpu_isa_all(), "all"),
                Map.entry(Dnnl.dnnl_cpu_isa_sse41(), "sse41"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx(), "avx"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx2(), "avx2"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx512_mic(), "avx512_mic"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx512_mic_4ops(), "avx512_mic_4ops"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx512_core(), "avx512_core"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx512_core_vnni(), "avx512_core_vnni"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx512_core_bf16(), "avx512_core_bf16"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx512_core_amx(), "avx512_core_amx"),
                Map.entry(Dnnl.dnnl_cpu_isa_avx2_vnni(), "avx2_vnni"));
    }

    /** The process-wide CPU engine ({@code dnnl_engine_t}), created on first use and never destroyed. */
    public static MemorySegment cpuEngine() {
        MemorySegment e = cpuEngine;
        if (e == null) {
            synchronized (OneDnn.class) {
                if (cpuEngine == null) {
                    cpuEngine = createEngine(Arena.global(), Dnnl.dnnl_cpu(), 0);
                }
                e = cpuEngine;
            }
        }
        return e;
    }

    /** Number of CPU engines oneDNN offers (1 on a CPU build). */
    public static long cpuEngineCount() {
        NativeLibraries.load();
        return Dnnl.dnnl_engine_get_count(Dnnl.dnnl_cpu());
    }

    /** Creates an engine whose handle lives as long as {@code arena}; destroy it with {@link #destroyEngine}. */
    static MemorySegment createEngine(Arena arena, int kind, long index) {
        NativeLibraries.load();
        if (index < 0) {
            throw new IllegalArgumentException("engine index must be >= 0, got " + index);
        }
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        check(Dnnl.dnnl_engine_create(out, kind, index), "dnnl_engine_create");
        return out.get(ValueLayout.ADDRESS, 0);
    }

    static void destroyEngine(MemorySegment engine) {
        check(Dnnl.dnnl_engine_destroy(engine), "dnnl_engine_destroy");
    }

    /** Throws {@link DnnlException} naming {@code call} unless {@code status} is {@code dnnl_success}. */
    public static void check(int status, String call) {
        if (status != 0) {
            throw new DnnlException(call, status, null);
        }
    }

    /** Like {@link #check(int, String)}, adding what was asked (shapes, attributes) to the message. */
    public static void check(int status, String call, String detail) {
        if (status != 0) {
            throw new DnnlException(call, status, detail);
        }
    }

    /** The {@code dnnl_status_t} name of a status value. */
    public static String statusName(int status) {
        return switch (status) {
            case 0 -> "dnnl_success";
            case 1 -> "dnnl_out_of_memory";
            case 2 -> "dnnl_invalid_arguments";
            case 3 -> "dnnl_unimplemented";
            case 4 -> "dnnl_iterator_ends";
            case 5 -> "dnnl_runtime_error";
            case 6 -> "dnnl_not_required";
            default -> "unknown dnnl status";
        };
    }
}
