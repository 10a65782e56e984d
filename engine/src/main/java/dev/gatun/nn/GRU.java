package dev.gatun.nn;

import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;

/**
 * The GRU ({@code torch.nn.GRU}): gates r, z, n in that row order (G = 3);
 * n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h' = (1 − z)⊙n + z⊙h.
 * Parameters, shapes and initialisation as described in {@link RecurrentLayer}.
 */
public final class GRU extends RecurrentLayer {

    /**
     * One layer with biases, time-major input [T, N, I].
     *
     * @param inputSize  the features of each input step, I
     * @param hiddenSize the features of the hidden state, H
     * @throws IllegalArgumentException if a size is below 1
     */
    public GRU(long inputSize, long hiddenSize) {
        this(inputSize, hiddenSize, Options.defaults());
    }

    /**
     * Layers, bias, batch-first, directions and dropout as {@code options} say.
     *
     * @param inputSize  the features of each input step, I
     * @param hiddenSize the features of the hidden state, H
     * @param options    the layers, biases, batch order, directions and dropout
     * @throws IllegalArgumentException if a size is below 1 or {@code options} is null
     */
    public GRU(long inputSize, long hiddenSize, Options options) {
        super(Rnn.Cell.GRU, inputSize, hiddenSize, options);
    }

    /**
     * The output sequence and the final h from an initial h.
     *
     * @param input the sequence, [T, N, I] ([N, T, I] batch first)
     * @param h0    the initial hidden states [L·D, N, H], or null for zeros
     * @return the output sequence and the final h [L·D, N, H] (c is null)
     * @throws IllegalArgumentException if a shape is wrong, naming it and the expected one
     */
    public Output forward(Tensor input, Tensor h0) {
        return run(input, h0, null);
    }
}
