package dev.gatun.bench.workloads;

import dev.gatun.backend.MemoryPool;
import dev.gatun.backend.OneDnn;
import dev.gatun.backend.SharedMemory;
import dev.gatun.backend.Threads;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * Times one workload in this process and prints one JSON line, the same fields as
 * {@code bench/python/workloads.py} prints for PyTorch:
 * {@code {"system":"gatun","workload":..,"threads":..,"ms":[per-step times],"rss_peak_mb":..,"flops":..}};
 * with {@code --check}, dropout off, the losses of the first two steps instead of times (a generation row:
 * its tokens and logits, {@link Workload#check()}); a generation row adds {@code "new_tokens"}, the tokens
 * of one step.
 *
 * <pre>
 *   java -cp benchmarks.jar dev.gatun.bench.workloads.Runner WORKLOAD --init DIR [--threads N]
 *        [--warmup-seconds S] [--warmup-steps N --warmup-max-seconds M] [--steps N] [--check]
 *   java -cp benchmarks.jar dev.gatun.bench.workloads.Runner --list | --implemented
 * </pre>
 */
public final class Runner {

    private Runner() {}

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: Runner WORKLOAD --init DIR [--threads N] [--warmup-seconds S] [--warmup-steps N --warmup-max-seconds M] [--steps N] [--check]");
            System.exit(2);
        }
        if (args[0].equals("--list") || args[0].equals("--implemented")) {
            boolean all = args[0].equals("--list");
            System.out.println(String.join(" ", Workloads.ALL.stream().filter(w -> all || Workloads.implemented(w)).toList()));
            return;
        }
        String name = args[0];
        Path init = null;
        int threads = Threads.get();
        double warmupSeconds = 2;
        int warmupSteps = 5;
        double warmupMaxSeconds = Double.POSITIVE_INFINITY;
        int steps = 30;
        boolean check = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--init" -> init = Path.of(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--warmup-seconds" -> warmupSeconds = Double.parseDouble(args[++i]);
                case "--warmup-steps" -> warmupSteps = Integer.parseInt(args[++i]);
                case "--warmup-max-seconds" -> warmupMaxSeconds = Double.parseDouble(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--check" -> check = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (init == null) {
            throw new IllegalArgumentException("--init DIR is required (written by bench/python/workloads.py --write-init)");
        }
        Threads.set(threads);
        try (Workload w = Workloads.create(name, init)) {
            StringJoiner json = new StringJoiner(",", "{", "}");
            json.add("\"system\":\"gatun\"").add("\"workload\":\"" + name + "\"").add("\"threads\":" + threads);
            if (w.tokensPerStep() > 0) {
                json.add("\"new_tokens\":" + w.tokensPerStep());
            }
            if (check) {
                json.add(w.check());
            } else {
                // At least warmupSeconds, and at least warmupSteps steps unless warmupMaxSeconds pass first:
                // the JIT compiles by invocation counts, so a slow step needs more time to reach them.
                long start = System.nanoTime();
                int warm = 0;
                while (warm < 5 || System.nanoTime() - start < warmupSeconds * 1e9
                        || warm < warmupSteps && System.nanoTime() - start < warmupMaxSeconds * 1e9) {
                    w.step();
                    warm++;
                }
                double[] ms = new double[steps];
                for (int i = 0; i < steps; i++) {
                    long t0 = System.nanoTime();
                    w.step();
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                StringJoiner times = new StringJoiner(",", "[", "]");
                Arrays.stream(ms).forEach(v -> times.add(String.format(Locale.ROOT, "%.5f", v)));
                json.add("\"ms\":" + times).add("\"warmup_steps\":" + warm);
            }
            json.add(String.format(Locale.ROOT, "\"flops\":%.6g", w.flops()));
            json.add(String.format(Locale.ROOT, "\"rss_peak_mb\":%.1f", peakRssMb()));
            // Where native memory goes: free blocks the pool keeps, memory not owned by a scope, the
            // primitive cache's estimate; and the Java heap committed.
            json.add(String.format(Locale.ROOT, "\"pool_free_mb\":%.1f", MemoryPool.freeBytes() / 1048576.0));
            json.add(String.format(Locale.ROOT, "\"shared_open_mb\":%.1f", SharedMemory.unfreedBytes() / 1048576.0));
            json.add(String.format(Locale.ROOT, "\"primitive_cache_mb\":%.1f",
                    OneDnn.primitiveCache().bytes() / 1048576.0));
            json.add(String.format(Locale.ROOT, "\"heap_committed_mb\":%.1f",
                    Runtime.getRuntime().totalMemory() / 1048576.0));
            System.out.println(json);
        }
    }

    /** Peak resident memory of this process (VmHWM), in MiB. */
    static double peakRssMb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        }
        return Double.NaN;
    }
}
