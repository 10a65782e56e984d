package dev.gatun.cli;

import dev.gatun.backend.Threads;
import dev.gatun.ops.MatMul;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gatun gemm}: a quick look at matrix-multiply throughput. For numbers to compare and publish
 * use the JMH benchmark in {@code bench/}.
 */
@Command(name = "gemm", mixinStandardHelpOptions = true,
        description = "Time C = A·B for square float32 matrices and print GFLOP/s (median of the runs).")
final class GemmCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--sizes", split = ",", defaultValue = "64,256,1024,2048",
            description = "Matrix sizes n (default: ${DEFAULT-VALUE}).")
    List<Integer> sizes;

    @Option(names = "--seconds", defaultValue = "1.0",
            description = "Approximate time spent per size after warm-up (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads).")
    Integer threads;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (threads != null) {
            Threads.set(threads);
        }
        if (seconds <= 0) {
            throw new IllegalArgumentException("--seconds must be positive, got " + seconds);
        }
        out.printf("%6s %12s %10s%n", "n", "median ms", "GFLOP/s");
        for (int n : sizes) {
            if (n < 1) {
                throw new IllegalArgumentException("--sizes must be positive, got " + n);
            }
            try (Scope scope = Scope.open()) {
                Tensor a = Tensor.randn(1, n, n);
                Tensor b = Tensor.randn(2, n, n);
                Tensor c = Tensor.zeros(n, n);
                double flops = 2.0 * n * n * n;
                // Warm-up: at least 3 calls and a quarter of the time budget.
                long warmEnd = System.nanoTime() + (long) (seconds * 0.25e9);
                for (int i = 0; i < 3 || System.nanoTime() < warmEnd; i++) {
                    MatMul.matmul(a, b, c);
                }
                int reps = 0;
                double[] times = new double[1 << 16];
                long end = System.nanoTime() + (long) (seconds * 1e9);
                while ((reps < 5 || System.nanoTime() < end) && reps < times.length) {
                    long t0 = System.nanoTime();
                    MatMul.matmul(a, b, c);
                    times[reps++] = (System.nanoTime() - t0) / 1e6;
                }
                double[] sorted = Arrays.copyOf(times, reps);
                Arrays.sort(sorted);
                double median = sorted[reps / 2];
                out.printf("%6d %12.4f %10.1f%n", n, median, flops / (median * 1e6));
                out.flush();
            }
        }
        return 0;
    }
}
