package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A single-file Java program run in a child JVM with the engine on its path (class path or module path,
 * as this test run has it) and the backend opened to it: for tests whose failure could take the JVM down.
 */
final class ChildJvm {

    /** What the child printed (standard output and error together) and its exit code. */
    record Result(int exitCode, String output) {}

    private ChildJvm() {}

    /** Runs {@code source} with the extra JVM options, waiting at most {@code seconds}. */
    static Result run(Path source, long seconds, String... jvmOptions) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java,
                "--enable-native-access=ALL-UNNAMED,dev.gatun.bindings,dev.gatun.engine"));
        cmd.addAll(List.of(jvmOptions));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isEmpty()) {
            cmd.addAll(List.of("--module-path", modulePath, "--add-modules", "ALL-MODULE-PATH",
                    "--add-exports", "dev.gatun.engine/dev.gatun.backend=ALL-UNNAMED"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), source.toString()));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            assertTrue(child.waitFor(seconds, TimeUnit.SECONDS), "the child finishes within " + seconds + " s");
            return new Result(child.exitValue(), new String(child.getInputStream().readAllBytes(),
                    StandardCharsets.UTF_8));
        } finally {
            child.destroyForcibly();
        }
    }
}
