package dev.gatun.bench;

import dev.gatun.backend.Convolution;
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
 * The oneDNN convolution kernels on the shapes of the workloads: forward, backward-data and
 * backward-weights (with bias), from and to plain NCHW buffers, computing either in plain NCHW or in the
 * blocked layouts oneDNN picks (reorders included). {@code lenet5_conv1}: [64, 1, 28, 28] → 20 channels,
 * 5×5, padding 2; {@code lenet5_conv2}: [64, 20, 14, 14] → 50 channels, 5×5, padding 2;
 * {@code resnet_stem}: [32, 3, 32, 32] → 32 channels, 3×3, padding 1, no bias; {@code resnet_conv}:
 * [32, 32, 32, 32] → 32 channels, 3×3, padding 1.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class ConvBenchmark {

    @Param({"lenet5_conv1", "lenet5_conv2", "resnet_stem", "resnet_conv"})
    public String shape;

    @Param({"PLAIN", "BLOCKED"})
    public Convolution.Layout layout;

    private Convolution.Geometry g;
    private Tensor src;
    private Tensor weights;
    private Tensor bias;
    private Tensor dst;
    private Tensor diffSrc;
    private Tensor diffWeights;
    private Tensor diffBias;

    @Setup
    public void setup() {
        g = switch (shape) {
            case "lenet5_conv1" -> new Convolution.Geometry(64, 1, 28, 28, 20, 5, 5, 1, 1, 2, 2, 1, 1, 1, true);
            case "lenet5_conv2" -> new Convolution.Geometry(64, 20, 14, 14, 50, 5, 5, 1, 1, 2, 2, 1, 1, 1, true);
            case "resnet_stem" -> new Convolution.Geometry(32, 3, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, false);
            case "resnet_conv" -> new Convolution.Geometry(32, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true);
            default -> throw new IllegalArgumentException(shape);
        };
        Convolution.setLayout(layout);
        // No scope is current here, so each tensor owns its memory until tearDown closes it.
        src = Tensor.randn(new Generator(1), g.inputShape());
        weights = Tensor.randn(new Generator(2), g.weightShape());
        bias = Tensor.randn(new Generator(3), g.outChannels());
        dst = Tensor.zeros(g.outputShape());
        diffSrc = Tensor.zeros(g.inputShape());
        diffWeights = Tensor.zeros(g.weightShape());
        diffBias = Tensor.zeros(g.outChannels());
    }

    @TearDown
    public void tearDown() {
        for (Tensor t : new Tensor[] {src, weights, bias, dst, diffSrc, diffWeights, diffBias}) {
            t.close();
        }
    }

    @Benchmark
    public Tensor forward() {
        Convolution.forward(g, src.storage(), 0, weights.storage(), 0, bias.storage(), 0, dst.storage(), 0);
        return dst;
    }

    @Benchmark
    public Tensor backwardData() {
        Convolution.backwardData(g, dst.storage(), 0, weights.storage(), 0, diffSrc.storage(), 0);
        return diffSrc;
    }

    @Benchmark
    public Tensor backwardWeights() {
        Convolution.backwardWeights(g, src.storage(), 0, dst.storage(), 0, diffWeights.storage(), 0,
                diffBias.storage(), 0);
        return diffWeights;
    }
}
