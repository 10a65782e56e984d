package dev.gatun.nn;

import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;

/**
 * The LSTM ({@code torch.nn.LSTM}): gates i, f, g, o in that row order (G = 4); c' = f⊙c + i⊙g,
 * h' = o⊙tanh(c'). Parameters, shapes and initialisation as described in {@link RecurrentLayer}.
 */
public final class LSTM extends RecurrentLayer {

    /**
     * One layer with biases, time-major input [T, N, I].
     *
     * @param inputSize  the features of each input step, I
     * @param hiddenSize the features of the hidden state, H
     * @throws IllegalArgumentException if a size is below 1
     */
    public LSTM(long inputSize, long hiddenSize) {
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
    public LSTM(long inputSize, long hiddenSize, Options options) {
        super(Rnn.Cell.LSTM, inputSize, hiddenSize, options);
    }

    /**
     * The output sequence and the final h and c [L·D, N, H] from the initial h0 and c0 [L·D, N, H]
     * (either null = zeros).
     *
     * @param input the sequence, [T, N, I] ([N, T, I] batch first)
     * @param h0    the initial hidden states [L·D, N, H], or null for zeros
     * @param c0    the initial cell states [L·D, N, H], or null for zeros
     * @return the output sequence and the final h and c [L·D, N, H]
     * @throws IllegalArgumentException if a shape is wrong, naming it and the expected one
     */
    public Output forward(Tensor input, Tensor h0, Tensor c0) {
        return run(input, h0, c0);
    }
}
