package dev.gatun.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.ChannelBlock;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GatunTest {

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Gatun.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void infoNamesTheLibrariesAndThreads() {
        Run r = run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("openblas         OpenBLAS 0.3"), r.out());
        assertTrue(r.out().contains("onednn           2."), r.out());
        assertTrue(r.out().contains("onednn cpu isa"), r.out());
        assertTrue(r.out().contains("channel block    " + ChannelBlock.describe()), r.out());
        assertTrue(r.out().contains("gatun.threads"), r.out());
        assertTrue(r.out().contains("matrix products  onednn"), r.out());
        assertTrue(r.out().contains("gatun kernels    /"), r.out());
        assertTrue(r.out().contains("java             " + Runtime.version().feature()), r.out());
    }

    @Test
    void gemmPrintsThroughput() {
        Run r = run("gemm", "--sizes", "8,16", "--seconds", "0.01");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(3, lines.length, r.out());
        assertTrue(lines[1].strip().startsWith("8 "), r.out());
    }

    @Test
    void gemmTimesTransposedShapesOnBothLibraries() {
        Run r = run("gemm", "--shapes", "3x5x7:NT,4x2x6", "--library", "onednn,openblas", "--seconds", "0.01");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(5, lines.length, r.out());
        assertTrue(lines[1].strip().startsWith("3x5x7:NT") && lines[1].endsWith("onednn"), r.out());
        assertTrue(lines[4].strip().startsWith("4x2x6:NN") && lines[4].endsWith("openblas"), r.out());
        Run bad = run("gemm", "--shapes", "3x5:TT");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("'3x5:TT' is not MxNxK"), bad.err());
        Run badLibrary = run("gemm", "--sizes", "8", "--library", "mkl");
        assertEquals(1, badLibrary.code());
        assertTrue(badLibrary.err().contains("onednn or openblas"), badLibrary.err());
    }

    @Test
    void userMistakesAreMessagesNotStackTraces() {
        Run r = run("gemm", "--sizes", "0");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("gatun: --sizes must be positive"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
        Run unknown = run("frobnicate");
        assertEquals(2, unknown.code());
    }

    /** Runs {@code gatun ARGS} in a fresh JVM (native libraries load once per process). */
    private static Run runInNewJvm(String property, String... args) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java,
                "--enable-native-access=ALL-UNNAMED,dev.gatun.bindings,dev.gatun.engine", property));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isEmpty()) {
            cmd.addAll(List.of("--module-path", modulePath, "--add-modules", "ALL-MODULE-PATH"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.gatun.cli.Gatun"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), output, output);
    }

    /** A missing library is reported by package name, never as a linkage error. */
    @Test
    void missingLibraryNamesTheDebianPackage() throws IOException, InterruptedException {
        Run r = runInNewJvm("-Dgatun.openblas=/nonexistent/libopenblas.so.0", "info");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("libopenblas.so.0 was not found. Install it with: sudo apt-get install libopenblas-dev"),
                r.out());
        assertFalse(r.out().contains("UnsatisfiedLinkError"), r.out());
        assertFalse(r.out().contains("\tat "), r.out());
    }

    @Test
    void badThreadSettingIsAMessage() throws IOException, InterruptedException {
        Run r = runInNewJvm("-Dgatun.threads=many", "info");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("gatun: gatun.threads must be a positive integer, got 'many'"), r.out());
        assertFalse(r.out().contains("\tat "), r.out());
    }
}
