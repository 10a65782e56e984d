package dev.gatun.bench;

import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
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
 * The oneDNN recurrent layers on the char-RNN workloads' shape: T=64 steps, N=32 sequences, input 64,
 * hidden 256, one layer with biases. {@code forwardInference}: the inference primitive;
 * {@code forwardBackward}: the training forward pass (filling the workspace) and backpropagation
 * through time to the input, the initial states, the weights and the biases, PyTorch layouts in and
 * out (the weight layout copies included).
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"})
public class RnnBenchmark {

    @Param({"LSTM", "GRU", "RNN_TANH"})
    public String cell;

    private Rnn.Shape s;
    private Tensor[] all;
    private Rnn.Weights weights;
    private Rnn.Weights grads;
    private Tensor x;
    private Tensor h0;
    private Tensor c0;
    private Tensor y;
    private Tensor hT;
    private Tensor cT;
    private Tensor workspace;
    private Tensor dx;
    private Tensor dh0;
    private Tensor dc0;

    @Setup
    public void setup() {
        s = new Rnn.Shape(Rnn.Cell.valueOf(cell), 64, 32, 64, 256);
        long gh = s.biasElements();
        // No scope is current here, so each tensor owns its memory until tearDown closes it.
        Tensor wi = scaled(Tensor.randn(new Generator(1), gh, s.inputSize()));
        Tensor wh = scaled(Tensor.randn(new Generator(2), gh, s.hiddenSize()));
        Tensor bi = scaled(Tensor.randn(new Generator(3), gh));
        Tensor bh = scaled(Tensor.randn(new Generator(4), gh));
        Tensor dwi = Tensor.zeros(gh, s.inputSize());
        Tensor dwh = Tensor.zeros(gh, s.hiddenSize());
        Tensor dbi = Tensor.zeros(gh);
        Tensor dbh = Tensor.zeros(gh);
        weights = new Rnn.Weights(wi.storage(), wh.storage(), bi.storage(), bh.storage());
        grads = new Rnn.Weights(dwi.storage(), dwh.storage(), dbi.storage(), dbh.storage());
        x = Tensor.randn(new Generator(5), s.steps(), s.batch(), s.inputSize());
        h0 = Tensor.zeros(s.batch(), s.hiddenSize());
        c0 = Tensor.zeros(s.batch(), s.hiddenSize());
        y = Tensor.zeros(s.steps(), s.batch(), s.hiddenSize());
        hT = Tensor.zeros(s.batch(), s.hiddenSize());
        cT = Tensor.zeros(s.batch(), s.hiddenSize());
        workspace = Tensor.zeros((Rnn.workspaceBytes(s) + 3) / 4);
        dx = Tensor.zeros(x.shape());
        dh0 = Tensor.zeros(h0.shape());
        dc0 = Tensor.zeros(c0.shape());
        all = new Tensor[] {wi, wh, bi, bh, dwi, dwh, dbi, dbh, x, h0, c0, y, hT, cT, workspace, dx, dh0, dc0};
    }

    /** Weights of PyTorch's initial size, U-like ±1/√H, so the gates do not saturate. */
    private Tensor scaled(Tensor t) {
        float[] v = t.toArray();
        float k = (float) (0.5 / Math.sqrt(s.hiddenSize()));
        for (int i = 0; i < v.length; i++) v[i] *= k;
        return t.copyFrom(v);
    }

    @TearDown
    public void tearDown() {
        for (Tensor t : all) {
            t.close();
        }
    }

    private MemorySegment cState(Tensor t) {
        return s.cell().hasCellState() ? t.storage() : null;
    }

    @Benchmark
    public Tensor forwardInference() {
        Rnn.forward(s, false, weights, x.storage(), h0.storage(), cState(c0), y.storage(), hT.storage(), cState(cT),
                null);
        return y;
    }

    @Benchmark
    public Tensor forwardBackward() {
        Rnn.forward(s, true, weights, x.storage(), h0.storage(), cState(c0), y.storage(), hT.storage(), cState(cT),
                workspace.storage());
        // The output itself serves as its gradient: any values of the right size do.
        Rnn.backward(s, weights, x.storage(), h0.storage(), cState(c0), y.storage(), hT.storage(), cState(cT),
                workspace.storage(), y.storage(), hT.storage(), cState(cT), dx.storage(), dh0.storage(), cState(dc0),
                grads);
        return dx;
    }
}
