package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Rnn;
import dev.gatun.ops.Recurrent;
import dev.gatun.ops.Regularization;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * What {@link RNN}, {@link LSTM} and {@link GRU} share: a stack of recurrent layers over a sequence,
 * each in one direction or both ({@link Recurrent#layer} or {@link Recurrent#bidirectional} per layer,
 * each layer's output sequence the next one's input), with PyTorch's parameters and names per layer k:
 * {@code weight_ih_lk} [G·H, in_k], {@code weight_hh_lk} [G·H, H], {@code bias_ih_lk} and
 * {@code bias_hh_lk} [G·H], and for a bidirectional layer the same again with {@code _reverse};
 * in_0 = input size and in_k = D·H above; all initialised U(−1/√H, 1/√H) as PyTorch does.
 *
 * <p>Shapes, as in PyTorch, with D = 2 for bidirectional layers, else 1: input [T, N, I] ([N, T, I]
 * with {@code batchFirst}), output [T, N, D·H] ([N, T, D·H]), initial and final states h and c
 * [L·D, N, H] (layer-major, forward direction first) whatever {@code batchFirst} says.
 */
public abstract class RecurrentLayer extends Module implements RandomModule {

    /**
     * A forward pass's results: the last layer's output sequence, and the final h (and for the LSTM c,
     * else null) of every layer and direction, [L·D, N, H].
     *
     * @param output the last layer's outputs, [T, N, D·H] ([N, T, D·H] batch first)
     * @param h      the final hidden states, [L·D, N, H]
     * @param c      the final cell states of an LSTM, [L·D, N, H]; null for RNN and GRU
     */
    public record Output(Tensor output, Tensor h, Tensor c) {
        /**
         * The final states as a {@link State}, to continue the sequence from with
         * {@link RecurrentLayer#forward(Tensor, State)}.
         *
         * @return h and c (null for RNN and GRU)
         */
        public State state() {
            return new State(h, c);
        }
    }

    /**
     * The state a recurrent module carries from one step of a sequence to the next: the hidden states h of
     * every layer and direction, and for an LSTM the cell states c, each [L·D, N, H]. A forward pass from a
     * state continues the sequence it was taken from: the layers over a sequence give the same outputs and
     * final state as over its first part and then, from the state that ended, the rest. So a model can be
     * fed one step at a time, keeping its state, as generating text does, and training with truncated
     * backpropagation through time carries the state of one batch into the next ({@link #detach()}).
     *
     * @param h the hidden states [L·D, N, H]
     * @param c the cell states [L·D, N, H] of an LSTM; null for RNN and GRU
     */
    public record State(Tensor h, Tensor c) {
        /**
         * Checks that there is a hidden state.
         *
         * @throws NullPointerException if {@code h} is null
         */
        public State {
            Objects.requireNonNull(h, "h");
        }

        /**
         * The same values cut off from the graph that computed them, as PyTorch's {@code h.detach()}: a
         * backward pass from outputs that follow from this state stops here. Truncated backpropagation
         * through time carries the state of one batch into the next this way.
         *
         * @return the state as constants, sharing the memory
         * @throws IllegalStateException if a tensor was closed
         */
        public State detach() {
            return new State(h.detach(), c == null ? null : c.detach());
        }
    }

    /**
     * PyTorch's options of a recurrent module: {@code numLayers} stacked layers, biases or none,
     * batch-first sequences, both directions, and dropout with probability {@code dropout} on every
     * layer's output but the last (training mode only). Validated on construction.
     *
     * @param numLayers     the number of stacked layers, at least 1
     * @param bias          whether the layers have the biases {@code bias_ih} and {@code bias_hh}
     * @param batchFirst    whether input and output are [N, T, ·] rather than [T, N, ·]
     * @param bidirectional whether each layer also runs backwards over the sequence
     * @param dropout       the dropout probability on each layer's output but the last, in [0, 1)
     */
    public record Options(int numLayers, boolean bias, boolean batchFirst, boolean bidirectional, float dropout) {

        /**
         * Checks the options.
         *
         * @throws IllegalArgumentException if {@code numLayers} is below 1 or {@code dropout} lies outside
         *     [0, 1), naming the value
         */
        public Options {
            if (numLayers < 1) {
                throw new IllegalArgumentException("recurrent layer: numLayers must be ≥ 1, got " + numLayers);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException("recurrent layer: dropout must be in [0, 1), got " + dropout);
            }
        }

        /**
         * PyTorch's defaults: one layer, biases, time-major, one direction, no dropout.
         *
         * @return the default options
         */
        public static Options defaults() {
            return new Options(1, true, false, false, 0f);
        }

        /**
         * These options with another number of layers.
         *
         * @param v the new value
         * @return new options
         * @throws IllegalArgumentException if {@code v} is below 1
         */
        public Options withLayers(int v) {
            return new Options(v, bias, batchFirst, bidirectional, dropout);
        }

        /**
         * These options with another bias setting.
         *
         * @param v the new value
         * @return new options
         */
        public Options withBias(boolean v) {
            return new Options(numLayers, v, batchFirst, bidirectional, dropout);
        }

        /**
         * These options with another batch-first setting.
         *
         * @param v the new value
         * @return new options
         */
        public Options withBatchFirst(boolean v) {
            return new Options(numLayers, bias, v, bidirectional, dropout);
        }

        /**
         * These options with another bidirectional setting.
         *
         * @param v the new value
         * @return new options
         */
        public Options withBidirectional(boolean v) {
            return new Options(numLayers, bias, batchFirst, v, dropout);
        }

        /**
         * These options with another dropout probability.
         *
         * @param v the new value
         * @return new options
         * @throws IllegalArgumentException if {@code v} lies outside [0, 1)
         */
        public Options withDropout(float v) {
            return new Options(numLayers, bias, batchFirst, bidirectional, v);
        }
    }

    private final Rnn.Cell cell;
    private final long inputSize;
    private final long hiddenSize;
    private final int numLayers;
    private final boolean batchFirst;
    private final int directions;
    private final float dropout;
    private final Generator dropoutRng;
    // per layer: weight_ih, weight_hh, bias_ih (or null), bias_hh (or null), then the reverse ones
    private final Tensor[][] weights;

    /**
     * Validates the sizes, registers the parameters and initialises them from {@link Init#generator()}.
     *
     * @param cell       the kind of recurrent cell
     * @param inputSize  the features of each input step, I
     * @param hiddenSize the features of the hidden state, H
     * @param options    the layers, biases, batch order, directions and dropout
     * @throws IllegalArgumentException if a size is below 1 or {@code options} is null
     */
    protected RecurrentLayer(Rnn.Cell cell, long inputSize, long hiddenSize, Options options) {
        String name = getClass().getSimpleName();
        if (inputSize < 1 || hiddenSize < 1) {
            throw new IllegalArgumentException(name + " needs positive sizes, got input=" + inputSize + " hidden="
                    + hiddenSize);
        }
        if (options == null) {
            throw new IllegalArgumentException(name + ": options are missing");
        }
        this.cell = cell;
        this.inputSize = inputSize;
        this.hiddenSize = hiddenSize;
        this.numLayers = options.numLayers();
        this.batchFirst = options.batchFirst();
        this.directions = options.bidirectional() ? 2 : 1;
        this.dropout = options.dropout();
        boolean bias = options.bias();
        long gh = cell.gates() * hiddenSize;
        weights = new Tensor[numLayers][4 * directions];
        for (int k = 0; k < numLayers; k++) {
            long in = k == 0 ? inputSize : directions * hiddenSize;
            for (int d = 0; d < directions; d++) {
                String suffix = "_l" + k + (d == 1 ? "_reverse" : "");
                weights[k][4 * d] = addParameter("weight_ih" + suffix, gh, in);
                weights[k][4 * d + 1] = addParameter("weight_hh" + suffix, gh, hiddenSize);
                weights[k][4 * d + 2] = bias ? addParameter("bias_ih" + suffix, gh) : null;
                weights[k][4 * d + 3] = bias ? addParameter("bias_hh" + suffix, gh) : null;
            }
        }
        resetParameters(Init.generator());
        // Masks come from a generator split off the default one, as nn.Dropout's do (only when needed, and
        // after the initial weights, which therefore do not depend on the dropout setting).
        this.dropoutRng = dropout > 0 ? new Generator(Init.generator().nextLong()) : null;
    }

    /**
     * Re-initialises every weight and bias U(−1/√H, 1/√H), drawing from {@code rng}.
     *
     * @param rng the random generator to draw from
     */
    public void resetParameters(RandomGenerator rng) {
        double bound = 1 / Math.sqrt(hiddenSize);
        for (Tensor[] layer : weights) {
            for (Tensor p : layer) {
                if (p != null) Init.uniform(p, -bound, bound, rng);
            }
        }
    }

    /**
     * The features of each input step, I.
     *
     * @return I
     */
    public long inputSize() {
        return inputSize;
    }

    /**
     * The features of the hidden state, H.
     *
     * @return H
     */
    public long hiddenSize() {
        return hiddenSize;
    }

    /**
     * The number of stacked layers, L.
     *
     * @return L
     */
    public int numLayers() {
        return numLayers;
    }

    /**
     * Whether input and output are [N, T, ·] rather than [T, N, ·].
     *
     * @return the batch-first setting
     */
    public boolean batchFirst() {
        return batchFirst;
    }

    /**
     * Whether each layer also runs backwards over the sequence (D = 2).
     *
     * @return the bidirectional setting
     */
    public boolean bidirectional() {
        return directions == 2;
    }

    /** The generator of the dropout between layers, or null when there is none (see {@link RandomModule}). */
    @Override
    public Generator generator() {
        return dropoutRng;
    }

    /** The output sequence for zero initial states. */
    @Override
    public Tensor forward(Tensor input) {
        return run(input, null, null).output();
    }

    /**
     * The output sequence and the final state from an initial state: the sequence continued from where
     * {@code state} left it. Fed one step at a time (T = 1), each call taking the state the call before
     * returned, a unidirectional module gives the same outputs and final state as over the whole sequence
     * at once (a bidirectional one does not: its reverse direction starts from the end of what it is
     * given).
     *
     * @param input the sequence, [T, N, I] ([N, T, I] batch first)
     * @param state the state to start from, h and c [L·D, N, H] (c for an LSTM only); null for zeros
     * @return the output sequence and the final state ({@link Output#state()})
     * @throws IllegalArgumentException if a shape is wrong, naming it and the expected one, or the state of an
     *     LSTM has no c or that of an RNN or GRU has one
     */
    public final Output forward(Tensor input, State state) {
        if (state == null) {
            return run(input, null, null);
        }
        String name = getClass().getSimpleName();
        if (cell.hasCellState() && state.c() == null) {
            throw new IllegalArgumentException(name + ": the state needs the cell states c as well as h");
        }
        if (!cell.hasCellState() && state.c() != null) {
            throw new IllegalArgumentException(name + " has no cell state, but the state has c of shape "
                    + Arrays.toString(state.c().shape()));
        }
        return run(input, state.h(), state.c());
    }

    /**
     * The layers over the sequence from initial states h0 and c0, for the subclasses' {@code forward}.
     *
     * @param input the sequence, [T, N, I] ([N, T, I] batch first)
     * @param h0    the initial hidden states [L·D, N, H], or null for zeros
     * @param c0    the initial cell states [L·D, N, H] of an LSTM, or null for zeros
     * @return the output sequence and final states
     * @throws IllegalArgumentException if a shape is wrong, naming it and the expected one
     */
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
            Recurrent.Result r;
            if (directions == 1) {
                r = Recurrent.layer(cell, x, h0 == null ? null : h0.select(0, k), c0 == null ? null : c0.select(0, k),
                        w[0], w[1], w[2], w[3]);
            } else {
                r = Recurrent.bidirectional(cell, x, h0 == null ? null : h0.slice(0, 2L * k, 2L * k + 2),
                        c0 == null ? null : c0.slice(0, 2L * k, 2L * k + 2), Arrays.copyOfRange(w, 0, 4),
                        Arrays.copyOfRange(w, 4, 8));
            }
            x = r.output();
            if (dropout > 0 && k < numLayers - 1) {
                x = Regularization.dropout(x, dropout, isTraining(), dropoutRng);
            }
            hs[k] = r.h();
            if (cs != null) cs[k] = r.c();
        }
        Tensor out = batchFirst ? x.transpose(0, 1) : x;
        return new Output(out, concat(hs), cs == null ? null : concat(cs));
    }

    private void checkState(String name, String what, Tensor s, long n) {
        if (s == null) return;
        s.checkAlive();
        long[] expected = {(long) numLayers * directions, n, hiddenSize};
        if (!Arrays.equals(s.shape(), expected)) {
            throw new IllegalArgumentException(name + ": " + what + " must be " + Arrays.toString(expected) + ", got "
                    + Arrays.toString(s.shape()));
        }
    }

    /** [L·D, N, H] from L states of [N, H] (D = 1) or [D, N, H]; the gradient goes back to each. */
    private static Tensor concat(Tensor[] parts) {
        Tensor[] blocks = new Tensor[parts.length];
        for (int k = 0; k < parts.length; k++) {
            blocks[k] = parts[k].dim() == 2 ? parts[k].unsqueeze(0) : parts[k];
        }
        if (blocks.length == 1) {
            return blocks[0];
        }
        long d = blocks[0].size(0);
        Tensor out = Tensor.zeros(blocks.length * d, blocks[0].size(1), blocks[0].size(2));
        for (int k = 0; k < blocks.length; k++) {
            out.slice(0, k * d, k * d + d).copyFrom(blocks[k]);
        }
        return Autograd.recordValueFree(out, "concat", g -> {
            Tensor[] grads = new Tensor[blocks.length];
            for (int k = 0; k < blocks.length; k++) grads[k] = g.slice(0, k * d, k * d + d);
            return grads;
        }, blocks);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code 10, 20, num_layers=2, batch_first=true}: as PyTorch, the sizes and the settings not
     *     at their defaults
     */
    @Override
    protected String extraRepr() {
        StringBuilder sb = new StringBuilder().append(inputSize).append(", ").append(hiddenSize);
        if (numLayers != 1) sb.append(", num_layers=").append(numLayers);
        if (cell == Rnn.Cell.RNN_RELU) sb.append(", nonlinearity=relu");
        if (weights[0][2] == null) sb.append(", bias=false");
        if (batchFirst) sb.append(", batch_first=true");
        if (dropout > 0) sb.append(", dropout=").append(dropout);
        if (directions == 2) sb.append(", bidirectional=true");
        return sb.toString();
    }

    /**
     * {@inheritDoc}
     *
     * @return the class name ({@code "RNN"}, {@code "LSTM"}, {@code "GRU"}) with the sizes and every option,
     *     and {@code nonlinearity} for a ReLU RNN
     */
    @Override
    public Map<String, Object> spec() {
        Map<String, Object> m = spec(getClass().getSimpleName(), "input", inputSize, "hidden", hiddenSize,
                "numLayers", numLayers, "bias", weights[0][2] != null, "batchFirst", batchFirst,
                "bidirectional", directions == 2, "dropout", dropout);
        if (cell == Rnn.Cell.RNN_RELU) {
            m.put("nonlinearity", "relu");
        }
        return m;
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code LSTM(64 → 256)}; settings at their defaults are left out
     */
    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append('(').append(inputSize).append(" → ")
                .append(hiddenSize);
        if (numLayers != 1) sb.append(", ").append(numLayers).append(" layers");
        if (cell == Rnn.Cell.RNN_RELU) sb.append(", relu");
        if (directions == 2) sb.append(", bidirectional");
        if (dropout > 0) sb.append(", dropout ").append(dropout);
        if (weights[0][2] == null) sb.append(", no bias");
        if (batchFirst) sb.append(", batch first");
        return sb.append(')').toString();
    }
}
