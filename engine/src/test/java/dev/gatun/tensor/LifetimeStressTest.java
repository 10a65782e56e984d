package dev.gatun.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.testing.ChildJvm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs {@link LifetimeStress} in a JVM of its own, so that a crash fails this test instead of the
 * suite: the memory pool off ({@code gatun.pool.bytes=0}) and glibc told to map every buffer from 128
 * KiB up on its own ({@code MALLOC_MMAP_THRESHOLD_}), so a buffer freed under a running native call is
 * unmapped and touching it faults; and a primitive cache small enough that primitives are evicted
 * while other threads execute them.
 */
class LifetimeStressTest {

    @Test
    void closesRacingNativeCallsNeverCrashOrCorrupt() throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ChildJvm.java());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Dgatun.pool.bytes=0");
        cmd.add("-Dgatun.threads=1");
        // A primitive cache of 2 MiB: primitives are evicted all the time while others run them.
        cmd.add("-Dgatun.cache.bytes=2097152");
        cmd.add("-Xmx512m");
        cmd.add("-XX:ErrorFile=target/hs_err_stress_%p.log");
        cmd.add("-cp");
        cmd.add(ChildJvm.classPath());
        cmd.add(LifetimeStress.class.getName());
        cmd.add(System.getProperty("gatun.stress.seconds", "20"));
        cmd.add("3");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("MALLOC_MMAP_THRESHOLD_", "131072");
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "stress run did not end");
        String text = new String(out, StandardCharsets.UTF_8);
        System.out.println(text.lines().filter(l -> l.startsWith("generations")).findFirst().orElse(""));
        assertEquals(0, p.exitValue(), "stress run failed (exit " + p.exitValue() + "):\n" + tail(text));
    }

    private static String tail(String s) {
        return s.length() <= 6000 ? s : s.substring(s.length() - 6000);
    }
}
