package dev.gatun.bench;

import dev.gatun.backend.Eltwise;
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
 * OpenBLAS GEMM and oneDNN (OpenMP) primitives back to back, as in an MLP forward pass: [128×784]·[784×512],
 * ReLU, [128×512]·[512×256], ReLU. Run once with {@code -Dgatun.openblas=openmp} and once with
 * {@code pthread} to see whether two thread pools on the same cores get in each other's way.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class MixedBenchmark {

    private Tensor x;
    private Tensor w1;
    private Tensor h1;
    private Tensor w2;
    private Tensor h2;

    @Setup
    public void setup() {
        x = Tensor.randn(new Generator(1), 128, 784);
        w1 = Tensor.randn(new Generator(2), 784, 512);
        h1 = Tensor.zeros(128, 512);
        w2 = Tensor.randn(new Generator(3), 512, 256);
        h2 = Tensor.zeros(128, 256);
    }

    @TearDown
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, w1, h1, w2, h2}) {
            t.close();
        }
    }

    @Benchmark
    public Tensor gemmReluGemmRelu() {
        MatMul.matmul(x, w1, h1);
        Eltwise.forward(Eltwise.Algorithm.RELU, h1.storage(), 0, h1.storage(), 0, h1.numel());
        MatMul.matmul(h1, w2, h2);
        Eltwise.forward(Eltwise.Algorithm.RELU, h2.storage(), 0, h2.storage(), 0, h2.numel());
        return h2;
    }

    @Benchmark
    public Tensor gemmOnly() {
        MatMul.matmul(x, w1, h1);
        MatMul.matmul(h1, w2, h2);
        return h2;
    }
}
