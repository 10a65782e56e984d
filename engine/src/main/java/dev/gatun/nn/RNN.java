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
    public enum Nonlinearity { TANH, RELU }

    /** One tanh layer with biases, time-major input [T, N, I]. */
    public RNN(long inputSize, long hiddenSize) {
        this(inputSize, hiddenSize, Nonlinearity.TANH, Options.defaults());
    }

    /** tanh layers as {@code options} say. */
    public RNN(long inputSize, long hiddenSize, Options options) {
        this(inputSize, hiddenSize, Nonlinearity.TANH, options);
    }

    /** Layers with the given non-linearity, as {@code options} say. */
    public RNN(long inputSize, long hiddenSize, Nonlinearity nonlinearity, Options options) {
        super(nonlinearity == Nonlinearity.RELU ? Rnn.Cell.RNN_RELU : Rnn.Cell.RNN_TANH, inputSize, hiddenSize,
                options);
    }

    /** The output sequence and the final h [L·D, N, H] from the initial h0 [L·D, N, H] (null = zeros). */
    public Output forward(Tensor input, Tensor h0) {
        return run(input, h0, null);
    }
}
