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
        this(inputSize, hiddenSize, 1, true, false);
    }

    /** {@code numLayers} stacked tanh layers; {@code batchFirst} takes and gives [N, T, ·] sequences. */
    public RNN(long inputSize, long hiddenSize, int numLayers, boolean bias, boolean batchFirst) {
        this(inputSize, hiddenSize, numLayers, bias, batchFirst, Nonlinearity.TANH);
    }

    /** Stacked one-direction layers with the given non-linearity. */
    public RNN(long inputSize, long hiddenSize, int numLayers, boolean bias, boolean batchFirst,
               Nonlinearity nonlinearity) {
        this(inputSize, hiddenSize, numLayers, bias, batchFirst, nonlinearity, false);
    }

    /** The general layer; {@code bidirectional} runs every layer in both directions. */
    public RNN(long inputSize, long hiddenSize, int numLayers, boolean bias, boolean batchFirst,
               Nonlinearity nonlinearity, boolean bidirectional) {
        super(nonlinearity == Nonlinearity.RELU ? Rnn.Cell.RNN_RELU : Rnn.Cell.RNN_TANH, inputSize, hiddenSize,
                numLayers, bias, batchFirst, bidirectional);
    }

    /** The output sequence and the final h [L·D, N, H] from the initial h0 [L·D, N, H] (null = zeros). */
    public Output forward(Tensor input, Tensor h0) {
        return run(input, h0, null);
    }
}
