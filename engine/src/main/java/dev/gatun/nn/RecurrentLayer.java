package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Rnn;
import dev.gatun.ops.Recurrent;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * What {@link RNN}, {@link LSTM} and {@link GRU} share: a stack of one-direction recurrent layers over
 * a sequence ({@link Recurrent#layer} per layer, each layer's output sequence the next one's input),
 * with PyTorch's parameters and names per layer k: {@code weight_ih_lk} [G·H, in_k],
 * {@code weight_hh_lk} [G·H, H], {@code bias_ih_lk} and {@code bias_hh_lk} [G·H], in_0 = input size and
 * in_k = H above, all initialised U(−1/√H, 1/√H) as PyTorch does.
 *
 * <p>Shapes, as in PyTorch: input [T, N, I] ([N, T, I] with {@code batchFirst}), output [T, N, H]
 * ([N, T, H]), initial and final states h and c [L, N, H] whatever {@code batchFirst} says.
 */
public abstract class RecurrentLayer extends Module {

    /**
     * A forward pass's results: the last layer's output sequence, and the final h (and for the LSTM c,
     * else null) of every layer, [L, N, H].
     */
    public record Output(Tensor output, Tensor h, Tensor c) {}

    private final Rnn.Cell cell;
    private final long inputSize;
    private final long hiddenSize;
    private final int numLayers;
    private final boolean batchFirst;
    private final Tensor[][] weights; // per layer: weight_ih, weight_hh, bias_ih (or null), bias_hh (or null)

    /** Validates the sizes, registers the parameters and initialises them from {@link Init#generator()}. */
    protected RecurrentLayer(Rnn.Cell cell, long inputSize, long hiddenSize, int numLayers, boolean bias,
                             boolean batchFirst) {
        String name = getClass().getSimpleName();
        if (inputSize < 1 || hiddenSize < 1) {
            throw new IllegalArgumentException(name + " needs positive sizes, got input=" + inputSize + " hidden="
                    + hiddenSize);
        }
        if (numLayers < 1) {
            throw new IllegalArgumentException(name + ": numLayers must be ≥ 1, got " + numLayers);
        }
        this.cell = cell;
        this.inputSize = inputSize;
        this.hiddenSize = hiddenSize;
        this.numLayers = numLayers;
        this.batchFirst = batchFirst;
        long gh = cell.gates() * hiddenSize;
        weights = new Tensor[numLayers][];
        for (int k = 0; k < numLayers; k++) {
            long in = k == 0 ? inputSize : hiddenSize;
            weights[k] = new Tensor[] {
                addParameter("weight_ih_l" + k, gh, in),
                addParameter("weight_hh_l" + k, gh, hiddenSize),
                bias ? addParameter("bias_ih_l" + k, gh) : null,
                bias ? addParameter("bias_hh_l" + k, gh) : null};
        }
        resetParameters(Init.generator());
    }

    /** Re-initialises every weight and bias U(−1/√H, 1/√H), drawing from {@code rng}. */
    public void resetParameters(RandomGenerator rng) {
        double bound = 1 / Math.sqrt(hiddenSize);
        for (Tensor[] layer : weights) {
            for (Tensor p : layer) {
                if (p != null) Init.uniform(p, -bound, bound, rng);
            }
        }
    }

    public long inputSize() {
        return inputSize;
    }

    public long hiddenSize() {
        return hiddenSize;
    }

    public int numLayers() {
        return numLayers;
    }

    public boolean batchFirst() {
        return batchFirst;
    }

    /** The output sequence for zero initial states. */
    @Override
    public Tensor forward(Tensor input) {
        return run(input, null, null).output();
    }

    /** The layers over the sequence from initial states h0 and c0 ([L, N, H], null = zeros). */
    protected final Output run(Tensor input, Tensor h0, Tensor c0) {
        input.checkAlive();
        String name = getClass().getSimpleName();
        if (input.dim() != 3) {
            throw new IllegalArgumentException(name + ": input must be " + (batchFirst ? "[N, T, I]" : "[T, N, I]")
                    + ", got shape " + Arrays.toString(input.shape()));
        }
        Tensor x = batchFirst ? input.transpose(0, 1) : input;
        long n = x.size(1);
        checkState(name, "h0", h0, n);
        checkState(name, "c0", c0, n);
        Tensor[] hs = new Tensor[numLayers];
        Tensor[] cs = cell.hasCellState() ? new Tensor[numLayers] : null;
        for (int k = 0; k < numLayers; k++) {
            Tensor[] w = weights[k];
            Recurrent.Result r = Recurrent.layer(cell, x, h0 == null ? null : h0.select(0, k),
                    c0 == null ? null : c0.select(0, k), w[0], w[1], w[2], w[3]);
            x = r.output();
            hs[k] = r.h();
            if (cs != null) cs[k] = r.c();
        }
        Tensor out = batchFirst ? x.transpose(0, 1) : x;
        return new Output(out, stack(hs), cs == null ? null : stack(cs));
    }

    private void checkState(String name, String what, Tensor s, long n) {
        if (s == null) return;
        s.checkAlive();
        long[] expected = {numLayers, n, hiddenSize};
        if (!Arrays.equals(s.shape(), expected)) {
            throw new IllegalArgumentException(name + ": " + what + " must be " + Arrays.toString(expected) + ", got "
                    + Arrays.toString(s.shape()));
        }
    }

    /** [L, N, H] from L tensors [N, H]; the gradient goes back to each. */
    private static Tensor stack(Tensor[] parts) {
        if (parts.length == 1) {
            return parts[0].unsqueeze(0);
        }
        long[] shape = parts[0].shape();
        Tensor out = Tensor.zeros(parts.length, shape[0], shape[1]);
        for (int k = 0; k < parts.length; k++) {
            out.select(0, k).copyFrom(parts[k]);
        }
        return Autograd.record(out, "stack", g -> {
            Tensor[] grads = new Tensor[parts.length];
            for (int k = 0; k < parts.length; k++) grads[k] = g.select(0, k);
            return grads;
        }, parts);
    }

    /** E.g. {@code LSTM(64 → 256)}; settings at their defaults are left out. */
    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append('(').append(inputSize).append(" → ")
                .append(hiddenSize);
        if (numLayers != 1) sb.append(", ").append(numLayers).append(" layers");
        if (cell == Rnn.Cell.RNN_RELU) sb.append(", relu");
        if (weights[0][2] == null) sb.append(", no bias");
        if (batchFirst) sb.append(", batch first");
        return sb.append(')').toString();
    }
}
