package dev.gatun.bench;

import dev.gatun.backend.Threads;
import dev.gatun.ops.MatMul;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What crossing into native code costs: a bare downcall ({@code openblas_get_num_threads}, which
 * only reads a variable), and the whole {@link MatMul} path (checks, guards, downcall) for a 1×1
 * product, where the arithmetic is negligible.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class DowncallBenchmark {

    private Tensor a;
    private Tensor b;
    private Tensor c;

    @Setup
    public void setup() {
        a = Tensor.randn(new Generator(1), 1, 1);
        b = Tensor.randn(new Generator(2), 1, 1);
        c = Tensor.zeros(1, 1);
    }

    @TearDown
    public void tearDown() {
        a.close();
        b.close();
        c.close();
    }

    @Benchmark
    public int bareDowncall() {
        return Threads.openblasThreads();
    }

    @Benchmark
    public Tensor matmul1x1() {
        return MatMul.matmul(a, b, c);
    }
}
