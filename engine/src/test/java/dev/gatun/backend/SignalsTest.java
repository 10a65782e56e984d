package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Signals during native compute: oneDNN 2.x's GEMM kernels point the stack pointer into the heap, so a
 * signal taken inside one writes its frame over the heap (see {@link Signals}). In a child JVM (a crash
 * must not take the test run with it), one thread multiplies matrices through {@code dnnl_sgemm} while
 * another sends it {@code SIGPIPE} (which the JVM handles) every 100 µs; without the signals held back,
 * such a run aborted in glibc 11 times of 12.
 */
class SignalsTest {

    @Test
    void matrixProductsSurviveASignalStormAndStayExact(@TempDir Path dir) throws IOException, InterruptedException {
        Path source = dir.resolve("SignalChild.java");
        Files.writeString(source, """
                import java.lang.foreign.*;
                import java.lang.invoke.MethodHandle;
                public class SignalChild {
                    static volatile long target;
                    public static void main(String[] args) throws Throwable {
                        Linker linker = Linker.nativeLinker();
                        MethodHandle syscall = linker.downcallHandle(linker.defaultLookup().find("syscall").get(),
                                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
                        long pid = ProcessHandle.current().pid();
                        target = (long) syscall.invokeExact(186L, 0L, 0L, 0L);           // gettid
                        Thread pester = Thread.ofPlatform().daemon().start(() -> {
                            try {
                                while (true) {
                                    long ignored = (long) syscall.invokeExact(234L, pid, target, 13L); // tgkill SIGPIPE
                                    Thread.sleep(0, 100_000);
                                }
                            } catch (Throwable t) {
                                throw new RuntimeException(t);
                            }
                        });
                        int m = 96, n = 200, k = 300;
                        float[] a = new float[m * k], b = new float[k * n];
                        for (int i = 0; i < a.length; i++) a[i] = (i % 13) - 6;
                        for (int i = 0; i < b.length; i++) b[i] = (i % 7) - 3;
                        double checksum = 0;
                        for (int r = 0; r < 3000; r++) {
                            try (Arena arena = Arena.ofConfined()) {
                                MemorySegment as = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a);
                                MemorySegment bs = arena.allocateFrom(ValueLayout.JAVA_FLOAT, b);
                                MemorySegment cs = arena.allocate((long) m * n * 4);
                                dev.gatun.backend.Blas.sgemm(false, false, m, n, k, 1f, as, 0, k, bs, 0, n, 0f, cs, 0, n);
                                float c = cs.getAtIndex(ValueLayout.JAVA_FLOAT, (long) 37 * n + 111);
                                if (r == 0) checksum = c;
                                if (c != checksum) throw new AssertionError("product changed at round " + r);
                            }
                        }
                        double expected = 0;
                        for (int t = 0; t < k; t++) expected += (double) a[37 * k + t] * b[t * n + 111];
                        System.out.println("done " + dev.gatun.backend.Blas.gemmLibrary() + " " + checksum + " "
                                + expected);
                    }
                }
                """);
        ChildJvm.Result r = ChildJvm.run(source, 180, "-Dgatun.gemm=onednn", "-Dgatun.threads=1");
        String out = r.output();
        assertEquals(0, r.exitCode(), out);
        String[] done = out.strip().lines().filter(l -> l.startsWith("done ")).findFirst().orElse("").split(" ");
        assertEquals(4, done.length, out);
        assertEquals("onednn", done[1]);
        assertEquals(Double.parseDouble(done[3]), Double.parseDouble(done[2]), 0.0, "exact: integers");
    }
}
