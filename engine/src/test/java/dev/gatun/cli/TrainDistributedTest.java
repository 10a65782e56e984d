package dev.gatun.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.IdxFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mpirun -np 2 gatun train mlp}: the two processes train data-parallel (found from the launcher's
 * environment), only rank 0 prints and writes the log, and a batch size the processes cannot share is
 * refused by both.
 */
class TrainDistributedTest {

    @Test
    void twoProcessesTrainAndOnlyRankZeroReports(@TempDir Path dir) throws Exception {
        IdxFiles.writeDigits(dir, "train", 600, 1);
        IdxFiles.writeDigits(dir, "t10k", 200, 2);
        Path csv = dir.resolve("log.csv");
        Run r = gatun(dir, "train", "mlp", "--data", dir.toString(), "--hidden", "32", "--epochs", "3", "--batch-size",
                "32", "--optimizer", "adam", "--lr", "0.01", "--threads", "1", "--csv", csv.toString());
        assertEquals(0, r.code, r.out);
        assertEquals(1, count(r.out, "total parameters: 25,450"), "one summary, from rank 0: " + r.out);
        assertTrue(r.out.contains("data-parallel over 2 MPI processes: 16 samples of each batch per process"), r.out);
        assertEquals(1, count(r.out, "test accuracy"), r.out);
        Matcher m = Pattern.compile("test accuracy ([0-9.]+)%").matcher(r.out);
        assertTrue(m.find(), r.out);
        assertTrue(Double.parseDouble(m.group(1)) > 85, r.out);
        // Both processes' validation and test blocks are counted: the whole sets.
        assertTrue(r.out.contains("validating on 50, testing on 200"), r.out);
        List<String> log = Files.readAllLines(csv);
        assertEquals(4, log.size(), "header and three epochs: " + log);

        Run bad = gatun(dir, "train", "mlp", "--data", dir.toString(), "--batch-size", "33");
        assertFalse(bad.code == 0, bad.out);
        assertTrue(bad.out.contains("--batch-size 33 must be a multiple of the 2 processes"), bad.out);
    }

    record Run(int code, String out) {}

    /** {@code mpirun -np 2 gatun args...}, in two child JVMs with this test run's path. */
    private static Run gatun(Path dir, String... args) throws IOException, InterruptedException {
        Path source = dir.resolve("Main.java");
        Files.writeString(source, """
                public class Main {
                    public static void main(String[] args) {
                        dev.gatun.cli.Gatun.main(args);
                    }
                }
                """);
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of("mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to",
                "none", "-np", "2", java, "--enable-native-access=ALL-UNNAMED,dev.gatun.bindings,dev.gatun.engine"));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isEmpty()) {
            cmd.addAll(List.of("--module-path", modulePath, "--add-modules", "ALL-MODULE-PATH", "--add-exports",
                    "dev.gatun.engine/dev.gatun.cli=ALL-UNNAMED"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), source.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("OMPI_") || k.startsWith("PMIX_")
                || k.startsWith("PMI_") || k.startsWith("OPAL_"));
        Process child = pb.start();
        try {
            assertTrue(child.waitFor(240, TimeUnit.SECONDS), "mpirun finishes within 240 s");
            return new Run(child.exitValue(), new String(child.getInputStream().readAllBytes(),
                    StandardCharsets.UTF_8));
        } finally {
            child.descendants().forEach(ProcessHandle::destroyForcibly);
            child.destroyForcibly();
        }
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) n++;
        return n;
    }
}
