package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.bindings.dnnl.Dnnl;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class BackendTest {

    @Test
    void librariesLoadOnceFromSystemPaths() {
        NativeLibraries.Loaded first = NativeLibraries.load();
        assertTrue(first.openblas().toString().contains("libopenblas.so.0"), first.toString());
        assertTrue(first.dnnl().toString().endsWith("libdnnl.so.2"), first.toString());
        assertTrue(first.gomp().toString().endsWith("libgomp.so.1"), first.toString());
        assertEquals(first, NativeLibraries.load());
    }

    @Test
    void reportsWhatItRunsOn() {
        assertTrue(Blas.config().startsWith("OpenBLAS 0.3"), Blas.config());
        assertTrue(!Blas.coreName().isEmpty());
        OneDnn.Version v = OneDnn.version();
        assertEquals(2, v.major(), "Debian 12 ships oneDNN 2.x: " + v);
        assertTrue(v.minor() >= 6, v.toString());
        assertTrue(!OneDnn.effectiveCpuIsa().startsWith("unknown"), OneDnn.effectiveCpuIsa());
        assertEquals(1, OneDnn.cpuEngineCount());
        assertNotEquals(MemorySegment.NULL, OneDnn.cpuEngine());
        assertEquals(OneDnn.cpuEngine(), OneDnn.cpuEngine(), "one engine per process");
    }

    @Test
    void dnnlStatusesBecomeExceptionsNamingTheCall() {
        // oneDNN itself refuses a CPU engine index that does not exist.
        DnnlException e;
        try (Arena arena = Arena.ofConfined()) {
            e = assertThrows(DnnlException.class, () -> OneDnn.createEngine(arena, Dnnl.dnnl_cpu(), 7));
        }
        assertEquals("dnnl_engine_create", e.call());
        assertEquals(Dnnl.dnnl_invalid_arguments(), e.status());
        assertTrue(e.getMessage().startsWith("dnnl_engine_create failed with dnnl_invalid_arguments"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> OneDnn.createEngine(Arena.global(), Dnnl.dnnl_cpu(), -1));
        DnnlException withDetail = assertThrows(DnnlException.class,
                () -> OneDnn.check(Dnnl.dnnl_unimplemented(), "dnnl_primitive_desc_create", "conv 3x3 on [1, 2]"));
        assertTrue(withDetail.getMessage().endsWith(": conv 3x3 on [1, 2]"), withDetail.getMessage());
        OneDnn.check(Dnnl.dnnl_success(), "anything");
    }

    @Test
    void statusNamesMatchTheHeader() {
        assertEquals("dnnl_success", OneDnn.statusName(Dnnl.dnnl_success()));
        assertEquals("dnnl_out_of_memory", OneDnn.statusName(Dnnl.dnnl_out_of_memory()));
        assertEquals("dnnl_invalid_arguments", OneDnn.statusName(Dnnl.dnnl_invalid_arguments()));
        assertEquals("dnnl_unimplemented", OneDnn.statusName(Dnnl.dnnl_unimplemented()));
        assertEquals("dnnl_iterator_ends", OneDnn.statusName(Dnnl.dnnl_iterator_ends()));
        assertEquals("dnnl_runtime_error", OneDnn.statusName(Dnnl.dnnl_runtime_error()));
        assertEquals("dnnl_not_required", OneDnn.statusName(Dnnl.dnnl_not_required()));
    }

    @Test
    void oneThreadSettingDrivesBothLibraries() {
        int before = Threads.get();
        try {
            Threads.set(1);
            assertEquals(1, Threads.openblasThreads());
            assertEquals(1, Threads.ompMaxThreads());
            Threads.set(2);
            assertEquals(2, Threads.openblasThreads());
            assertEquals(2, Threads.ompMaxThreads());
            assertThrows(IllegalArgumentException.class, () -> Threads.set(0));
        } finally {
            Threads.set(before);
        }
    }

    @Test
    void otherThreadsPickUpTheSetting() throws Exception {
        int before = Threads.get();
        try {
            Threads.set(1);
            int[] seen = new int[1];
            Thread t = Thread.ofPlatform().start(() -> {
                Threads.applyToCurrentThread();
                seen[0] = Threads.ompMaxThreads();
            });
            t.join();
            assertEquals(1, seen[0]);
        } finally {
            Threads.set(before);
        }
    }
}
