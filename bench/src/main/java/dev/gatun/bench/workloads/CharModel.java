package dev.gatun.bench.workloads;

import dev.gatun.nn.Embedding;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Module;
import dev.gatun.nn.RecurrentLayer;
import dev.gatun.tensor.Tensor;

/**
 * The character model of the char-RNN rows: embedding 65 → 64, one recurrent layer 64 → 256 (LSTM,
 * GRU or tanh RNN), linear 256 → 65 at every step. Takes the tokens [T, N] as a float tensor (the
 * exchange holds floats) and gives the logits [T·N, 65], so that cross-entropy against the [T·N] next
 * tokens covers every step. Children are named as in {@code bench/python/workloads.py}'s
 * {@code CharModel}: {@code embed}, {@code rnn}, {@code head}.
 */
final class CharModel extends Module {

    static final int VOCAB = 65;
    static final int EMBEDDING = 64;
    static final int HIDDEN = 256;

    private final Embedding embed;
    private final RecurrentLayer rnn;
    private final Linear head;

    CharModel(RecurrentLayer rnn) {
        this.embed = addModule("embed", new Embedding(VOCAB, EMBEDDING));
        this.rnn = addModule("rnn", rnn);
        this.head = addModule("head", new Linear(HIDDEN, VOCAB));
    }

    @Override
    public Tensor forward(Tensor tokens) {
        Tensor out = rnn.forward(embed.forward(tokens)); // [T, N, H]
        return head.forward(out.reshape(-1, HIDDEN));
    }

    /**
     * Forward FLOPs of the weighted layers over T steps of N sequences, in order: the embedding (a lookup, no
     * multiply-adds), the recurrent layer with G gates, the head. The embedding comes first, so that a
     * training step counts the recurrent layer's whole input gradient: the embedding's gradient needs it, and
     * backpropagation through time needs the gradient of every step's hidden state.
     */
    static double[] flops(double steps, double batch, int gates) {
        double recurrent = 2 * steps * batch * (EMBEDDING + HIDDEN) * gates * HIDDEN;
        return new double[] {0, recurrent, 2 * steps * batch * HIDDEN * VOCAB};
    }
}
