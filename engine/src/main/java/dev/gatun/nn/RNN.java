package dev.gatun.nn;

import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;

/**
 * The Elman RNN with tanh ({@code torch.nn.RNN}, nonlinearity='tanh'): h' = tanh(W_ih x + b_ih +
 * W_hh h + b_hh), one gate block (G = 1).
 * Parameters, shapes and initialisation as described in {@link RecurrentLayer}.
 */
public final class RNN extends RecurrentLayer {

    /** One layer with biases, time-major input [T, N, I]. */
    public RNN(long inputSize, long hiddenSize) {
        this(inputSize, hiddenSize, 1, true, false);
    }

    /** {@code numLayers} stacked layers; {@code batchFirst} takes and gives [N, T, ·] sequences. */
    public RNN(long inputSize, long hiddenSize, int numLayers, boolean bias, boolean batchFirst) {
        super(Rnn.Cell.RNN_TANH, inputSize, hiddenSize, numLayers, bias, batchFirst);
    }

    /** The output sequence and the final h [L, N, H] from the initial h0 [L, N, H] (null = zeros). */
    public Output forward(Tensor input, Tensor h0) {
        return run(input, h0, null);
    }
}
