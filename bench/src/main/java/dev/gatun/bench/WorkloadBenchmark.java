package dev.gatun.bench;

import dev.gatun.backend.Threads;
import dev.gatun.bench.workloads.Workload;
import dev.gatun.bench.workloads.Workloads;
import java.io.IOException;
import java.nio.file.Path;
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
 * The rows of shared/WORKLOADS.md that gatun implements, one training or inference step per
 * invocation, under JMH. The initial weights and batch come from {@code bench/python/workloads.py
 * --write-init DIR}, passed as {@code -Dgatun.bench.init=DIR}; {@code scripts/bench-workloads} does
 * both. {@code scripts/compare-pytorch} times the same steps beside PyTorch.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class WorkloadBenchmark {

    @Param({"mlp13k_train_b32", "mlp_train_b128_adam", "lenet5_train_b64", "resnet_train_b32",
        "charlstm_train_b32_t64", "chargru_train_b32_t64", "charrnn_train_b32_t64", "transformer_train_b16_t64",
        "mlp_infer_b1", "lenet5_infer_b1", "resnet_infer_b1", "charlstm_infer_b1_t64",
        "chargpt_train_b16_t128", "chargpt_generate_t256", "vae_train_b128", "dcgan_train_b64"})
    public String workload;

    @Param({"1", "2"})
    public int threads;

    private Workload w;

    @Setup
    public void setup() throws IOException {
        String dir = System.getProperty("gatun.bench.init");
        if (dir == null) {
            throw new IllegalStateException("set -Dgatun.bench.init=DIR (bench/python/workloads.py --write-init DIR)");
        }
        Threads.set(threads);
        w = Workloads.create(workload, Path.of(dir));
    }

    @TearDown
    public void tearDown() {
        w.close();
    }

    @Benchmark
    public float step() {
        return w.step();
    }
}
