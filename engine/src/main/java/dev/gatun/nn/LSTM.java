package dev.gatun.nn;

import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;

/**
 * The LSTM ({@code torch.nn.LSTM}): gates i, f, g, o in that row order (G = 4); c' = f⊙c + i⊙g,
 * h' = o⊙tanh(c'). Parameters, shapes and initialisation as described in {@link RecurrentLayer}.
 */
public final class LSTM extends RecurrentLayer {

    /** One layer with biases, time-major input [T, N, I]. */
    public LSTM(long inputSize, long hiddenSize) {
        this(inputSize, hiddenSize, Options.defaults());
    }

    /** Layers, bias, batch-first, directions and dropout as {@code options} say. */
    public LSTM(long inputSize, long hiddenSize, Options options) {
        super(Rnn.Cell.LSTM, inputSize, hiddenSize, options);
    }

    /**
     * The output sequence and the final h and c [L·D, N, H] from the initial h0 and c0 [L·D, N, H]
     * (either null = zeros).
     */
    public Output forward(Tensor input, Tensor h0, Tensor c0) {
        return run(input, h0, c0);
    }
}
