package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** gatun's kernels library is loaded without a file per process, so a killed JVM leaves nothing behind. */
class NativeLibrariesTest {

    /** One SGD step through the kernels: p ← p − lr·g. */
    private static float[] sgdStep() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f, 2f, 3f);
            MemorySegment g = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0.5f, 1f, -2f);
            Updates.sgd(p, 0, g, 0, null, 3, 0.5f, 0f, 0f, 1f, true, false);
            return p.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static List<String> kernelsFilesIn(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("libgatun_kernels")).toList();
        }
    }

    @Test
    void kernelsAreMappedFromMemoryNotFromAFile() throws IOException {
        assertArrayEquals(new float[] {0.75f, 1.5f, 4f}, sgdStep());
        assertEquals(Path.of("/memfd:libgatun_kernels"), NativeLibraries.load().kernels());
        List<String> mappings = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(l -> l.contains("libgatun_kernels")).toList();
        assertTrue(!mappings.isEmpty(), "the kernels are mapped");
        for (String m : mappings) {
            assertTrue(m.contains("/memfd:libgatun_kernels"), "mapped from memory, not a file: " + m);
        }
    }

    /**
     * A JVM that loaded and ran the kernels and is then killed (no shutdown hooks, no delete-on-exit)
     * leaves no {@code libgatun_kernels*} file in its temporary directory, nor has one while it runs.
     */
    @Test
    void aKilledJvmLeavesNoFile(@TempDir Path dir) throws IOException, InterruptedException {
        Path tmp = Files.createDirectory(dir.resolve("tmp"));
        Path source = dir.resolve("KernelsChild.java");
        Files.writeString(source, """
                import java.lang.foreign.Arena;
                import java.lang.foreign.MemorySegment;
                import java.lang.foreign.ValueLayout;
                public class KernelsChild {
                    public static void main(String[] args) throws Exception {
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment p = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f, 2f);
                            MemorySegment g = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 0.5f, 0.5f);
                            dev.gatun.backend.Updates.sgd(p, 0, g, 0, null, 2, 1f, 0f, 0f, 1f, true, false);
                            System.out.println("ready " + p.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
                        }
                        Thread.sleep(120_000);
                    }
                }
                """);
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java,
                "--enable-native-access=ALL-UNNAMED,dev.gatun.bindings,dev.gatun.engine",
                "-Djava.io.tmpdir=" + tmp));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isEmpty()) {
            // The backend is internal to the engine module: the child (a class-path program) is let in.
            cmd.addAll(List.of("--module-path", modulePath, "--add-modules", "ALL-MODULE-PATH",
                    "--add-exports", "dev.gatun.engine/dev.gatun.backend=ALL-UNNAMED"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), source.toString()));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            String first = out.readLine();
            if (first == null || !first.startsWith("ready")) {
                child.waitFor(30, TimeUnit.SECONDS);
                StringBuilder rest = new StringBuilder(String.valueOf(first));
                for (String l; (l = out.readLine()) != null; ) rest.append('\n').append(l);
                throw new AssertionError("the child did not run the kernels:\n" + rest);
            }
            assertEquals("ready 0.5", first);
            assertEquals(List.of(), kernelsFilesIn(tmp), "no file while it runs");
        } finally {
            child.destroyForcibly();
        }
        assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        assertEquals(List.of(), kernelsFilesIn(tmp), "no file after it was killed");
    }

    /**
     * The fallback: one file per build named by the SHA-256 of its bytes, reused as it is while its
     * contents match, rewritten when they do not, and no temporary file left beside it.
     */
    @Test
    void cacheFileIsNamedByItsHashReusedAndRepaired(@TempDir Path dir) throws Exception {
        byte[] bytes = "not really a library, but bytes to cache".getBytes(StandardCharsets.UTF_8);
        String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        Path cache = dir.resolve("cache/gatun");
        Path file = NativeLibraries.cachedCopy(bytes, cache);
        assertEquals(cache.resolve("libgatun_kernels-" + hash + ".so"), file);
        assertArrayEquals(bytes, Files.readAllBytes(file));

        FileTime old = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(file, old);
        assertEquals(file, NativeLibraries.cachedCopy(bytes, cache));
        assertEquals(old, Files.getLastModifiedTime(file), "an intact copy is reused, not rewritten");

        Files.write(file, new byte[] {1, 2, 3});
        assertEquals(file, NativeLibraries.cachedCopy(bytes, cache));
        assertArrayEquals(bytes, Files.readAllBytes(file), "a changed copy is replaced");

        try (Stream<Path> files = Files.list(cache)) {
            assertEquals(List.of(file), files.toList(), "nothing else in the cache directory");
        }
    }
}
