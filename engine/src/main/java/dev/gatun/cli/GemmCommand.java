package dev.gatun.cli;

import dev.gatun.backend.Blas;
import dev.gatun.backend.Threads;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
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
            description = "Square sizes n, timed as n×n·n×n (default: ${DEFAULT-VALUE}). Sizes whose matrices do not"
                    + " fit in this machine's memory are refused before anything runs.")
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
            description = "Approximate time spent per size after warm-up, in (0, 3600] (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads). More than"
            + " the available processors is lowered to their number with a warning: extra threads only wait for"
            + " each other and make every product many times slower.")
    Integer threads;

    /** The longest --seconds: an hour per product is already more than any comparison needs. */
    private static final double MAX_SECONDS = 3600;

    /** One product to time. */
    private record Shape(String name, int m, int n, int k, boolean transA, boolean transB) {

        /** The shape {@code spec} describes, or null after recording why it is not one in {@code checks}. */
        static Shape parse(String spec, Checks checks) {
            String[] parts = spec.trim().split(":", -1);
            String[] dims = parts[0].split("x", -1);
            if (dims.length != 3 || parts.length > 2 || (parts.length == 2 && !parts[1].matches("[NT]{2}"))) {
                checks.add("--shapes: '" + spec + "' is not MxNxK or MxNxK:XY with X, Y in {N, T}");
                return null;
            }
            int[] d = new int[3];
            for (int i = 0; i < 3; i++) {
                try {
                    d[i] = Integer.parseInt(dims[i]);
                } catch (NumberFormatException e) {
                    checks.add("--shapes: '" + dims[i] + "' in '" + spec + "' is not a number from 1 to "
                            + Integer.MAX_VALUE);
                    return null;
                }
                if (d[i] < 1) {
                    checks.add("--shapes: sizes must be positive, got '" + spec + "'");
                    return null;
                }
            }
            String t = parts.length == 2 ? parts[1] : "NN";
            return new Shape(d[0] + "x" + d[1] + "x" + d[2] + ":" + t, d[0], d[1], d[2], t.charAt(0) == 'T',
                    t.charAt(1) == 'T');
        }

        /**
         * Why the machine cannot hold this product, or null: A, B and C are tensors outside the heap, and
         * A and B are filled from a Java array each (one at a time).
         */
        String tooLarge(String option) {
            double a = (double) m * k;
            double b = (double) k * n;
            double c = (double) m * n;
            double bytes = Float.BYTES * (a + b + c);
            long physical = Memory.physical();
            if (bytes > physical) {
                return option + " " + name + " needs " + Memory.format(bytes) + " for its three matrices, more than"
                        + " the " + Memory.format(physical) + " of memory this machine has";
            }
            double array = Math.max(a, b);
            if (array > Memory.MAX_ARRAY) {
                return option + " " + name + " has a matrix of " + String.format(Locale.ROOT, "%,.0f", array)
                        + " elements; its random values are made in a Java array, which holds at most "
                        + String.format(Locale.ROOT, "%,d", Memory.MAX_ARRAY);
            }
            long heap = Memory.heapAvailable();
            if (Float.BYTES * array > heap) {
                return option + " " + name + " needs a " + Memory.format(Float.BYTES * array) + " Java array for its"
                        + " random values, more than the " + Memory.format(heap) + " of Java heap available"
                        + " (raise it with -Xmx)";
            }
            return null;
        }
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        // Everything is checked before the first product, and every problem reported at once.
        Checks checks = new Checks(spec.commandLine());
        checks.positiveUpTo("--seconds", seconds, MAX_SECONDS);
        List<Shape> todo = new ArrayList<>();
        if (shapes != null) {
            for (String s : shapes) {
                Shape shape = Shape.parse(s, checks);
                if (shape != null) {
                    todo.add(shape);
                    checks.add(shape.tooLarge("--shapes"));
                }
            }
        } else {
            for (int n : sizes) {
                if (n < 1) {
                    checks.add("--sizes must be positive, got " + n);
                    continue;
                }
                Shape shape = new Shape(Integer.toString(n), n, n, n, false, false);
                todo.add(shape);
                checks.add(shape.tooLarge("--sizes"));
            }
        }
        List<String> libs = new ArrayList<>();
        for (String lib : libraries == null ? List.<String>of() : libraries) {
            String l = lib.strip().toLowerCase(Locale.ROOT);
            checks.require(l.equals("onednn") || l.equals("openblas"),
                    "--library must be onednn or openblas, got '" + lib + "'");
            libs.add(l);
        }
        Integer useThreads = checks.threads("--threads", threads);
        checks.throwIfAny();

        if (useThreads != null) {
            Threads.set(useThreads);
        }
        String before = Blas.gemmLibrary();
        if (libs.isEmpty()) {
            libs.add(before);
        }
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
            Tensor a = Tensor.randn(new Generator(1), s.transA() ? s.k() : s.m(), s.transA() ? s.m() : s.k());
            Tensor b = Tensor.randn(new Generator(2), s.transB() ? s.n() : s.k(), s.transB() ? s.k() : s.n());
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
