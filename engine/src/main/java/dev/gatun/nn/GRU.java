package dev.gatun.nn;

import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;

/**
 * The GRU ({@code torch.nn.GRU}): gates r, z, n in that row order (G = 3);
 * n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h' = (1 − z)⊙n + z⊙h.
 * Parameters, shapes and initialisation as described in {@link RecurrentLayer}.
 */
public final class GRU extends RecurrentLayer {

    /** One layer with biases, time-major input [T, N, I]. */
    public GRU(long inputSize, long hiddenSize) {
        this(inputSize, hiddenSize, Options.defaults());
    }

    /** Layers, bias, batch-first, directions and dropout as {@code options} say. */
    public GRU(long inputSize, long hiddenSize, Options options) {
        super(Rnn.Cell.GRU, inputSize, hiddenSize, options);
    }

    /** The output sequence and the final h [L·D, N, H] from the initial h0 [L·D, N, H] (null = zeros). */
    public Output forward(Tensor input, Tensor h0) {
        return run(input, h0, null);
    }
}
