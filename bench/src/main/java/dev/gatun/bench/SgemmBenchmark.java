package dev.gatun.bench;

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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code C = A·B} for square float32 matrices through {@link MatMul} (shape checks, guards and the
 * {@code cblas_sgemm} downcall), with preallocated operands so only the product is timed. GFLOP/s =
 * 2n³ / time. {@code scripts/bench-sgemm} runs this beside numpy's {@code A @ B} on the same OpenBLAS.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class SgemmBenchmark {

    @Param({"64", "256", "1024", "2048"})
    public int n;

    private Tensor a;
    private Tensor b;
    private Tensor c;

    @Setup
    public void setup() {
        // No scope is current here, so each tensor owns its memory until tearDown closes it.
        a = Tensor.randn(new Generator(1), n, n);
        b = Tensor.randn(new Generator(2), n, n);
        c = Tensor.zeros(n, n);
    }

    @TearDown
    public void tearDown() {
        a.close();
        b.close();
        c.close();
    }

    @Benchmark
    public Tensor sgemm() {
        return MatMul.matmul(a, b, c);
    }
}
