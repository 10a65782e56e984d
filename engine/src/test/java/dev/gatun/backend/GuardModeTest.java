package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guard mode of {@link MemoryPool} ({@code -Dgatun.debug.guard=true}) catches what native code does
 * wrong with a buffer: in a child JVM, C's {@code memset} (a stand-in for a faulty native call) writes
 * past the end of one buffer, before the start of another, and into a third after it was freed.
 */
class GuardModeTest {

    @Test
    void nativeWritesOutsideABufferOrAfterItsFreeAreReportedWithTheirAllocation(@TempDir Path dir)
            throws IOException, InterruptedException {
        Path source = dir.resolve("GuardChild.java");
        Files.writeString(source, """
                import java.lang.foreign.*;
                import java.lang.invoke.MethodHandle;
                public class GuardChild {
                    public static void main(String[] args) throws Throwable {
                        Linker linker = Linker.nativeLinker();
                        MethodHandle memset = linker.downcallHandle(linker.defaultLookup().find("memset").get(),
                                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                                        ValueLayout.JAVA_LONG));
                        try (Arena a = Arena.ofConfined()) {
                            MemorySegment clean = dev.gatun.backend.MemoryPool.allocate(a, 300_000);
                            clean.fill((byte) 7);                    // inside: fine
                            MemorySegment m = dev.gatun.backend.MemoryPool.allocate(a, 100);
                            MemorySegment unbounded = m.reinterpret(200);
                            var ignored = (MemorySegment) memset.invokeExact(unbounded, 1, 104L);
                        }
                        try (Arena a = Arena.ofConfined()) {
                            MemorySegment m = dev.gatun.backend.MemoryPool.allocate(a, 64);
                            MemorySegment before = MemorySegment.ofAddress(m.address() - 8).reinterpret(8);
                            var ignored = (MemorySegment) memset.invokeExact(before, 2, 8L);
                        }
                        long freed;
                        try (Arena a = Arena.ofConfined()) {
                            freed = dev.gatun.backend.MemoryPool.allocate(a, 48).address();
                        }
                        var ignored = (MemorySegment) memset.invokeExact(MemorySegment.ofAddress(freed + 16)
                                .reinterpret(4), 3, 4L);
                        System.out.println("violations " + dev.gatun.backend.MemoryPool.checkGuards());
                    }
                }
                """);
        ChildJvm.Result r = ChildJvm.run(source, 120, "-Dgatun.debug.guard=true");
        String out = r.output();
        assertEquals(0, r.exitCode(), out);
        assertTrue(out.contains("gatun guard: a native write PAST the end of a buffer, at byte 100 of it (100 bytes)"),
                out);
        assertTrue(out.contains("gatun guard: a native write BEFORE the start of a buffer, at byte -8 of it (64 bytes)"),
                out);
        assertTrue(out.contains("gatun guard: a native write into a buffer AFTER it was freed, at byte 16 of it (48"
                + " bytes)"), out);
        assertTrue(out.contains("GuardChild.main"), "each report names where the buffer was allocated: " + out);
        assertTrue(out.contains("violations 3"), out);
        assertEquals(3, out.lines().filter(l -> l.startsWith("gatun guard:")).count(), out);
    }
}
