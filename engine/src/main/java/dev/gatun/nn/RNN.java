package dev.gatun.nn;

import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;

/**
 * The Elman RNN ({@code torch.nn.RNN}): h' = tanh(W_ih x + b_ih + W_hh h + b_hh), or with
 * {@link Nonlinearity#RELU} h' = max(0, ·); one gate block (G = 1). Parameters, shapes and
 * initialisation as described in {@link RecurrentLayer}.
 */
public final class RNN extends RecurrentLayer {

    /** PyTorch's {@code nonlinearity}: tanh (the default) or ReLU. */
    public enum Nonlinearity {
        /** h' = tanh(·). */
        TANH,
        /** h' = max(0, ·). */
        RELU
    }

    /**
     * One tanh layer with biases, time-major input [T, N, I].
     *
     * @param inputSize  the features of each input step, I
     * @param hiddenSize the features of the hidden state, H
     * @throws IllegalArgumentException if a size is below 1
     */
    public RNN(long inputSize, long hiddenSize) {
        this(inputSize, hiddenSize, Nonlinearity.TANH, Options.defaults());
    }

    /**
     * tanh layers as {@code options} say.
     *
     * @param inputSize  the features of each input step, I
     * @param hiddenSize the features of the hidden state, H
     * @param options    the layers, biases, batch order, directions and dropout
     * @throws IllegalArgumentException if a size is below 1 or {@code options} is null
     */
    public RNN(long inputSize, long hiddenSize, Options options) {
        this(inputSize, hiddenSize, Nonlinearity.TANH, options);
    }

    /**
     * Layers with the given non-linearity, as {@code options} say.
     *
     * @param inputSize    the features of each input step, I
     * @param hiddenSize   the features of the hidden state, H
     * @param nonlinearity tanh or ReLU
     * @param options      the layers, biases, batch order, directions and dropout
     * @throws IllegalArgumentException if a size is below 1 or {@code options} is null
     */
    public RNN(long inputSize, long hiddenSize, Nonlinearity nonlinearity, Options options) {
        super(nonlinearity == Nonlinearity.RELU ? Rnn.Cell.RNN_RELU : Rnn.Cell.RNN_TANH, inputSize, hiddenSize,
                options);
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
