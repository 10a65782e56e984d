package dev.gatun.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.ChannelBlock;
import dev.gatun.backend.Threads;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class GatunTest {

    static CliRun run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Gatun.run(new PrintWriter(out), new PrintWriter(err), args);
        return new CliRun(code, out.toString(), err.toString());
    }

    @Test
    void infoNamesTheLibrariesAndThreads() {
        CliRun r = run("info");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("openblas         OpenBLAS 0.3"), r.out());
        assertTrue(r.out().contains("onednn           2."), r.out());
        assertTrue(r.out().contains("onednn cpu isa"), r.out());
        assertTrue(r.out().contains("channel block    " + ChannelBlock.describe()), r.out());
        assertTrue(r.out().contains("gatun.threads"), r.out());
        assertTrue(r.out().contains("matrix products  onednn"), r.out());
        assertTrue(r.out().contains("gatun kernels    /memfd:libgatun_kernels (in memory, from the engine jar)"),
                r.out());
        assertTrue(r.out().contains("memory           "), r.out());
        assertTrue(r.out().contains("java             " + Runtime.version().feature()), r.out());
    }

    @Test
    void gemmPrintsThroughput() {
        CliRun r = run("gemm", "--sizes", "8,16", "--seconds", "0.01");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(3, lines.length, r.out());
        assertTrue(lines[1].strip().startsWith("8 "), r.out());
    }

    @Test
    void gemmTimesTransposedShapesOnBothLibraries() {
        CliRun r = run("gemm", "--shapes", "3x5x7:NT,4x2x6", "--library", "onednn,openblas", "--seconds", "0.01");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(5, lines.length, r.out());
        assertTrue(lines[1].strip().startsWith("3x5x7:NT") && lines[1].endsWith("onednn"), r.out());
        assertTrue(lines[4].strip().startsWith("4x2x6:NN") && lines[4].endsWith("openblas"), r.out());
        CliRun bad = run("gemm", "--shapes", "3x5:TT");
        assertOneLine(bad, 2, "gatun: --shapes: '3x5:TT' is not MxNxK");
        CliRun badLibrary = run("gemm", "--sizes", "8", "--library", "onednn,mkl");
        assertOneLine(badLibrary, 2, "gatun: --library must be onednn or openblas, got 'mkl'");
        assertEquals("", badLibrary.out(), "checked before the first product");
    }

    /** One line on stderr, starting with {@code start}, the exit code {@code code}, and no stack trace. */
    static void assertOneLine(CliRun r, int code, String start) {
        assertEquals(code, r.code(), r.err());
        String[] lines = r.err().strip().split("\n");
        assertEquals(1, lines.length, "one line: " + r.err());
        assertTrue(lines[0].startsWith(start), r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception") || r.err().contains("Error"), r.err());
    }

    @Test
    void userMistakesAreMessagesNotStackTraces() {
        assertOneLine(run("gemm", "--sizes", "0"), 2, "gatun: --sizes must be positive, got 0");
        assertOneLine(run("frobnicate"), 2, "gatun: Unmatched argument at index 0: 'frobnicate' (see 'gatun --help')");
        assertOneLine(run("train", "mlp", "--hiden", "5"), 2, "gatun: Unknown options: '--hiden', '5'; did you mean"
                + " --hidden?");
        // No command, or train without a model: the usage on the error stream, as a usage error.
        for (String[] args : new String[][] {{}, {"train"}}) {
            CliRun r = run(args);
            assertEquals(2, r.code(), String.join(" ", args));
            assertTrue(r.out().isEmpty() && r.err().contains("Usage: gatun"), r.out() + r.err());
        }
        assertEquals(0, run("--help").code(), "--help is no error");
    }

    /** Every mistake is reported at once, one line each, before anything runs. */
    @Test
    void allProblemsAreReportedTogether() {
        CliRun r = run("gemm", "--sizes", "8,0", "--seconds", "-1", "--library", "mkl");
        assertEquals(2, r.code(), r.err());
        assertEquals(List.of("gatun: --seconds must be a number in (0, 3600], got -1.0",
                "gatun: --sizes must be positive, got 0", "gatun: --library must be onednn or openblas, got 'mkl'"),
                r.err().strip().lines().toList());
        assertEquals("", r.out());
    }

    @Test
    void gemmSecondsMustBeAFiniteNumberInRange() {
        for (String bad : new String[] {"NaN", "0", "-1", "Infinity", "1e9"}) {
            CliRun r = run("gemm", "--sizes", "8", "--seconds", bad);
            assertOneLine(r, 2, "gatun: --seconds must be a number in (0, 3600], got " + Double.parseDouble(bad));
            assertEquals("", r.out());
        }
    }

    /** Sizes whose matrices cannot exist here are refused before anything is allocated, not as an OutOfMemoryError. */
    @Test
    void gemmRefusesSizesTheMachineCannotHold() {
        CliRun r = run("gemm", "--sizes", "100000");
        assertOneLine(r, 2, "gatun: --sizes 100000 ");
        assertEquals("", r.out());
        CliRun shape = run("gemm", "--shapes", "8x8x8,300000x300000x2");
        assertOneLine(shape, 2, "gatun: --shapes 300000x300000x2:NN ");
    }

    @Test
    void threadsAboveTheCoresAreLoweredWithAWarning() {
        int before = Threads.get();
        int cores = Runtime.getRuntime().availableProcessors();
        try {
            CliRun r = run("gemm", "--sizes", "8", "--seconds", "0.01", "--threads", "1000");
            assertEquals(0, r.code(), r.err());
            assertEquals("gatun: warning: --threads 1000 is more than the " + cores + " available processors; using "
                    + cores + " (threads beyond the cores only wait for each other)", r.err().strip());
            assertEquals(cores, Threads.get());
            assertTrue(r.out().strip().split("\n").length == 2, r.out());
        } finally {
            Threads.set(before);
        }
        assertOneLine(run("gemm", "--sizes", "8", "--threads", "0"), 2, "gatun: --threads must be >= 1, got 0");
    }

    /** Every command's help, with picocli's format warnings (a bare '%' in a description) caught on System.err. */
    @Test
    void helpHasNoFormatWarnings() {
        List<String[]> commands = new ArrayList<>();
        collect(new CommandLine(new Gatun()), new ArrayList<>(), commands);
        assertTrue(commands.size() >= 7, "gatun, info, gemm, train, its three networks, help");
        PrintStream saved = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            for (String[] command : commands) {
                CliRun r = run(command);
                assertEquals(0, r.code(), String.join(" ", command) + ": " + r.err());
                assertTrue(r.out().contains("Usage: gatun"), r.out());
                assertEquals("", r.err());
            }
        } finally {
            System.setErr(saved);
        }
        assertEquals("", captured.toString(StandardCharsets.UTF_8));
        assertTrue(run("train", "mlp", "--help").out().contains("(95.7% test accuracy"));
    }

    private static void collect(CommandLine cl, List<String> path, List<String[]> into) {
        List<String> help = new ArrayList<>(path);
        help.add("--help");
        into.add(help.toArray(String[]::new));
        for (var sub : cl.getSubcommands().entrySet()) {
            if (!sub.getKey().equals("help")) {
                List<String> p = new ArrayList<>(path);
                p.add(sub.getKey());
                collect(sub.getValue(), p, into);
            }
        }
    }

    @Test
    void unexpectedErrorsAreOneLineWithADebugHint() {
        assertEquals("unexpected java.lang.NullPointerException: boom (rerun with --debug for the stack trace)",
                Gatun.describe(new NullPointerException("boom"), false));
        assertEquals("out of memory (Java heap space); use smaller sizes or batches, or give Java more heap with"
                + " -Xmx (rerun with --debug for the stack trace)",
                Gatun.describe(new OutOfMemoryError("Java heap space"), false));
        assertEquals("no such file or directory: /x/y", Gatun.describe(new NoSuchFileException("/x/y"), false));
        assertEquals("bad; value", Gatun.describe(new IllegalArgumentException("bad\n  value"), false));
    }

    @Test
    void debugPrintsTheStackTraceToo() {
        CliRun r = run("gemm", "--library", "mkl", "--debug");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("\tat ") && r.err().contains("GemmCommand.call("), r.err());
        assertTrue(r.err().strip().endsWith("gatun: --library must be onednn or openblas, got 'mkl'"), r.err());
    }

    /** Runs {@code gatun ARGS} in a fresh JVM (native libraries load once per process). */
    private static CliRun runInNewJvm(String property, String... args) throws IOException, InterruptedException {
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
        return new CliRun(p.waitFor(), output, output);
    }

    /** A missing library is reported by package name, never as a linkage error. */
    @Test
    void missingLibraryNamesTheDebianPackage() throws IOException, InterruptedException {
        CliRun r = runInNewJvm("-Dgatun.openblas=/nonexistent/libopenblas.so.0", "info");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("libopenblas.so.0 was not found. Install it with: sudo apt-get install libopenblas-dev"),
                r.out());
        assertFalse(r.out().contains("UnsatisfiedLinkError"), r.out());
        assertFalse(r.out().contains("\tat "), r.out());
    }

    @Test
    void badThreadSettingIsAMessage() throws IOException, InterruptedException {
        CliRun r = runInNewJvm("-Dgatun.threads=many", "info");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().contains("gatun: gatun.threads must be a positive integer, got 'many'"), r.out());
        assertFalse(r.out().contains("\tat "), r.out());
    }
}
