package dev.gatun.backend;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What this machine can hold, for refusing sizes up front instead of failing with an
 * {@link OutOfMemoryError} (or being killed by the kernel) half-way through an allocation.
 */
public final class Machine {

    private static final long PHYSICAL = readPhysical();

    private Machine() {}

    /**
     * The physical memory: {@code MemTotal} of {@code /proc/meminfo}, lowered to the control group's
     * limit when the process runs under one (a container); {@link Long#MAX_VALUE} when unknown.
     */
    public static long physicalMemory() {
        return PHYSICAL;
    }

    private static long readPhysical() {
        long total = Long.MAX_VALUE;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    total = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                    break;
                }
            }
        } catch (IOException | RuntimeException unknown) {
            // not Linux, or no /proc: no limit known
        }
        for (String limit : List.of("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
            try {
                String v = Files.readString(Path.of(limit)).strip();
                if (v.matches("[0-9]+")) {
                    total = Math.min(total, Long.parseLong(v));
                }
            } catch (IOException | RuntimeException unknown) {
                // no such control group version, or "max"
            }
        }
        return total;
    }

    /** {@code bytes} in binary units with one decimal, e.g. {@code 23.4 GiB}. */
    public static String formatBytes(double bytes) {
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = 0;
        while (bytes >= 1024 && u < units.length - 1) {
            bytes /= 1024;
            u++;
        }
        return u == 0 ? String.format(Locale.ROOT, "%.0f bytes", bytes)
                : String.format(Locale.ROOT, "%.1f %s", bytes, units[u]);
    }
}
