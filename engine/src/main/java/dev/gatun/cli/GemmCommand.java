package dev.gatun.cli;

import dev.gatun.backend.Blas;
import dev.gatun.backend.Threads;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.PrintWriter;
import java.util.ArrayList;
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
        description = "Time C = op(A)·op(B) for float32 matrices and print GFLOP/s (median of the runs).")
final class GemmCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--sizes", split = ",", defaultValue = "64,256,1024,2048",
            description = "Square sizes n, timed as n×n·n×n (default: ${DEFAULT-VALUE}).")
    List<Integer> sizes;

    @Option(names = "--shapes", split = ",",
            description = "Products MxNxK[:XY] instead of --sizes: C is M×N, the inner dimension K; X and Y are"
                    + " N or T, whether A and B are used transposed (default NN). E.g. 128x512x784:NT.")
    List<String> shapes;

    @Option(names = "--library", split = ",",
            description = "Which library runs the products: onednn, openblas, or both as onednn,openblas"
                    + " (default: gatun's setting, ${sys:gatun.gemm:-onednn}).")
    List<String> libraries;

    @Option(names = "--seconds", defaultValue = "1.0",
            description = "Approximate time spent per size after warm-up (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads).")
    Integer threads;

    /** One product to time. */
    private record Shape(String name, int m, int n, int k, boolean transA, boolean transB) {

        static Shape parse(String spec) {
            String[] parts = spec.trim().split(":", -1);
            String[] dims = parts[0].split("x", -1);
            if (dims.length != 3 || parts.length > 2 || (parts.length == 2 && !parts[1].matches("[NT]{2}"))) {
                throw new IllegalArgumentException(
                        "--shapes: '" + spec + "' is not MxNxK or MxNxK:XY with X, Y in {N, T}");
            }
            int[] d = new int[3];
            for (int i = 0; i < 3; i++) {
                try {
                    d[i] = Integer.parseInt(dims[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--shapes: '" + dims[i] + "' in '" + spec + "' is not a number");
                }
                if (d[i] < 1) {
                    throw new IllegalArgumentException("--shapes: sizes must be positive, got '" + spec + "'");
                }
            }
            String t = parts.length == 2 ? parts[1] : "NN";
            return new Shape(d[0] + "x" + d[1] + "x" + d[2] + ":" + t, d[0], d[1], d[2], t.charAt(0) == 'T',
                    t.charAt(1) == 'T');
        }
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (threads != null) {
            Threads.set(threads);
        }
        if (seconds <= 0) {
            throw new IllegalArgumentException("--seconds must be positive, got " + seconds);
        }
        List<Shape> todo = new ArrayList<>();
        if (shapes != null) {
            for (String spec : shapes) todo.add(Shape.parse(spec));
        } else {
            for (int n : sizes) {
                if (n < 1) {
                    throw new IllegalArgumentException("--sizes must be positive, got " + n);
                }
                todo.add(new Shape(Integer.toString(n), n, n, n, false, false));
            }
        }
        String before = Blas.gemmLibrary();
        List<String> libs = libraries == null ? List.of(before) : libraries;
        out.printf("%6s %12s %10s%s%n", shapes == null ? "n" : "shape", "median ms", "GFLOP/s",
                libraries == null ? "" : "  library");
        try {
            for (Shape shape : todo) {
                for (String lib : libs) {
                    Blas.setGemmLibrary(lib);
                    double median = time(shape);
                    double flops = 2.0 * shape.m() * shape.n() * shape.k();
                    out.printf("%6s %12.4f %10.1f%s%n", shape.name(), median, flops / (median * 1e6),
                            libraries == null ? "" : "  " + lib);
                    out.flush();
                }
            }
        } finally {
            Blas.setGemmLibrary(before);
        }
        return 0;
    }

    /** The median milliseconds of one product, after warm-up. */
    private double time(Shape s) {
        try (Scope scope = Scope.open()) {
            Tensor a = Tensor.randn(1, s.transA() ? s.k() : s.m(), s.transA() ? s.m() : s.k());
            Tensor b = Tensor.randn(2, s.transB() ? s.n() : s.k(), s.transB() ? s.k() : s.n());
            Tensor c = Tensor.zeros(s.m(), s.n());
            Runnable product = () -> Blas.sgemm(s.transA(), s.transB(), s.m(), s.n(), s.k(), 1f,
                    a.storageForReading(), a.offset(), (int) a.shape()[1],
                    b.storageForReading(), b.offset(), (int) b.shape()[1], 0f, c.storage(), c.offset(), s.n());
            // Warm-up: at least 3 calls and a quarter of the time budget.
            long warmEnd = System.nanoTime() + (long) (seconds * 0.25e9);
            for (int i = 0; i < 3 || System.nanoTime() < warmEnd; i++) {
                product.run();
            }
            int reps = 0;
            double[] times = new double[1 << 16];
            long end = System.nanoTime() + (long) (seconds * 1e9);
            while ((reps < 5 || System.nanoTime() < end) && reps < times.length) {
                long t0 = System.nanoTime();
                product.run();
                times[reps++] = (System.nanoTime() - t0) / 1e6;
            }
            double[] sorted = Arrays.copyOf(times, reps);
            Arrays.sort(sorted);
            return sorted[reps / 2];
        }
    }
}
