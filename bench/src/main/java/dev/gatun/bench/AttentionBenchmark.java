package dev.gatun.bench;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.MultiheadAttention;
import dev.gatun.nn.TransformerEncoderLayer;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
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
 * Multi-head self-attention and the Transformer encoder layer on the shape of
 * {@code transformer_train_b16_t64}: B = 16 sequences of T = 64 tokens, E = 128, 4 heads, batch first;
 * the encoder layer with FFN 512 and dropout 0.1 in training mode. Forward alone runs without recording;
 * forward+backward back-propagates a fixed upstream gradient into the parameters and the input. Each
 * invocation allocates its activations in its own scope.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class AttentionBenchmark {

    private static final long B = 16;
    private static final long T = 64;
    private static final long E = 128;
    private static final long HEADS = 4;
    private static final long FFN = 512;

    private MultiheadAttention attention;
    private TransformerEncoderLayer encoder;
    private Tensor x;
    private Tensor upstream;

    @Setup
    public void setup() {
        attention = new MultiheadAttention(E, HEADS, 0f, true, true);
        encoder = new TransformerEncoderLayer(E, HEADS, TransformerEncoderLayer.Options.defaults()
                .withDimFeedforward(FFN).withDropout(0.1f).withBatchFirst(true));
        // No scope is current here, so each tensor owns its memory until tearDown closes it.
        x = Tensor.randn(new Generator(1), B, T, E).requiresGrad(true);
        upstream = Tensor.randn(new Generator(2), B, T, E);
    }

    @TearDown
    public void tearDown() {
        attention.close();
        encoder.close();
        x.close();
        upstream.close();
    }

    @Benchmark
    public float attentionForward() {
        try (Scope step = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
            return attention.forward(x).get(0, 0, 0);
        }
    }

    @Benchmark
    public float attentionForwardBackward() {
        try (Scope step = Scope.open()) {
            attention.zeroGrad();
            x.zeroGrad();
            Autograd.backward(attention.forward(x), upstream);
            return x.grad().get(0, 0, 0);
        }
    }

    @Benchmark
    public float encoderLayerForwardBackward() {
        try (Scope step = Scope.open()) {
            encoder.zeroGrad();
            x.zeroGrad();
            Autograd.backward(encoder.forward(x), upstream);
            return x.grad().get(0, 0, 0);
        }
    }
}
