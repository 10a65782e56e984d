package dev.gatun.ops;

import static dev.gatun.ops.BackendTensors.segment;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Blas;
import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One recurrent layer over a whole sequence, with PyTorch's semantics ({@code torch.nn.RNN} with tanh
 * or ReLU, {@code LSTM}, {@code GRU}; one layer, time-major, one direction or both with
 * {@link #bidirectional}), on oneDNN's RNN primitives or, for the LSTM in one direction, gatun's own
 * kernels:
 *
 * <pre>
 *   x [T, N, I], h0 and c0 [N, H] (null = zeros), weight_ih [G·H, I], weight_hh [G·H, H],
 *   bias_ih and bias_hh [G·H] (null = none)  →  output [T, N, H] (h at every step), h [N, H], c [N, H]
 *
 *   RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)  (or max(0, ·))                       G = 1
 *   LSTM  i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh), rows in that order  G = 4
 *         c' = f⊙c + i⊙g,  h' = o⊙tanh(c')
 *   GRU   r, z = σ(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})                         G = 3
 *         n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)),  h' = (1 − z)⊙n + z⊙h
 * </pre>
 *
 * <p>Backward is backpropagation through time over the full sequence in one call, from the gradients of
 * the output and of the final states together, to x, h0, c0, the weights and the biases. The forward pass
 * records one node on a packed tensor [output | h | c]; the three results are views of it, so gradients
 * reaching any of them meet there.
 *
 * <p>A one-direction LSTM runs on gatun's kernels: in inference for up to four sequences
 * ({@link Rnn#lstmKernel}), and in training on CPUs with AVX-512 ({@link Rnn#lstmTrainKernel}). The
 * training kernels split the batch between the threads, fuse the gates' update into the recurrent
 * product and write the gates' gradients, from which matrix products give the weights', biases' and
 * input's. When x is the output of an embedding lookup (still holding the table's rows) over more
 * positions than the table has rows, the input's share of the gates is computed for the table's rows
 * instead and read by index, and the table gets its gradient from the layer directly.
 */
public final class Recurrent {

    private Recurrent() {}

    /**
     * A layer's results. They are views of one packed tensor in the scope that was current when the layer
     * ran, so gradients reaching any of them meet in the layer's single backward node.
     *
     * @param output the output sequence, h at every step: [T, N, H], or [T, N, 2·H] for a bidirectional
     *               layer (forward direction's H values first at each step)
     * @param h      the final hidden state: [N, H], or [2, N, H] for a bidirectional layer (forward,
     *               reverse), the reverse direction's being its state after reading step 0
     * @param c      the LSTM's final cell state, shaped as {@code h}; null for the RNN and the GRU
     */
    public record Result(Tensor output, Tensor h, Tensor c) {}

    /**
     * The Elman RNN with tanh, {@code torch.nn.RNN(nonlinearity='tanh')} for one layer and one direction:
     * h' = tanh(W_ih x + b_ih + W_hh h + b_hh).
     *
     * @param x        the input sequence [T, N, I] (time-major, PyTorch's {@code batch_first=False})
     * @param h0       the initial hidden state [N, H], or null for zeros
     * @param weightIh W_ih [H, I] ({@code weight_ih_l0})
     * @param weightHh W_hh [H, H] ({@code weight_hh_l0})
     * @param biasIh   b_ih [H], or null for no biases (then biasHh must be null too)
     * @param biasHh   b_hh [H], or null with biasIh
     * @return the output [T, N, H] and final state h [N, H]; c is null
     * @throws IllegalArgumentException if a shape does not fit (see
     *         {@link #layer(Rnn.Cell, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Result rnnTanh(Tensor x, Tensor h0, Tensor weightIh, Tensor weightHh, Tensor biasIh, Tensor biasHh) {
        return layer(Rnn.Cell.RNN_TANH, x, h0, null, weightIh, weightHh, biasIh, biasHh);
    }

    /**
     * The Elman RNN with ReLU, {@code torch.nn.RNN(nonlinearity='relu')} for one layer and one direction:
     * h' = max(0, W_ih x + b_ih + W_hh h + b_hh).
     *
     * @param x        the input sequence [T, N, I]
     * @param h0       the initial hidden state [N, H], or null for zeros
     * @param weightIh W_ih [H, I]
     * @param weightHh W_hh [H, H]
     * @param biasIh   b_ih [H], or null for no biases (then biasHh must be null too)
     * @param biasHh   b_hh [H], or null with biasIh
     * @return the output [T, N, H] and final state h [N, H]; c is null
     * @throws IllegalArgumentException if a shape does not fit (see
     *         {@link #layer(Rnn.Cell, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Result rnnRelu(Tensor x, Tensor h0, Tensor weightIh, Tensor weightHh, Tensor biasIh, Tensor biasHh) {
        return layer(Rnn.Cell.RNN_RELU, x, h0, null, weightIh, weightHh, biasIh, biasHh);
    }

    /**
     * The LSTM, {@code torch.nn.LSTM} for one layer and one direction, with PyTorch's gate order i, f, g,
     * o in the rows of the weights and biases (so PyTorch's parameters can be used as they are).
     *
     * @param x        the input sequence [T, N, I]
     * @param h0       the initial hidden state [N, H], or null for zeros
     * @param c0       the initial cell state [N, H], or null for zeros
     * @param weightIh W_ih [4·H, I]
     * @param weightHh W_hh [4·H, H]
     * @param biasIh   b_ih [4·H], or null for no biases (then biasHh must be null too)
     * @param biasHh   b_hh [4·H], or null with biasIh
     * @return the output [T, N, H] and the final states h and c [N, H]
     * @throws IllegalArgumentException if a shape does not fit (see
     *         {@link #layer(Rnn.Cell, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Result lstm(Tensor x, Tensor h0, Tensor c0, Tensor weightIh, Tensor weightHh, Tensor biasIh,
                              Tensor biasHh) {
        return layer(Rnn.Cell.LSTM, x, h0, c0, weightIh, weightHh, biasIh, biasHh);
    }

    /**
     * The GRU, {@code torch.nn.GRU} for one layer and one direction, with PyTorch's gate order r, z, n in
     * the rows of the weights and biases (b_hn applied inside r⊙(·), as PyTorch does).
     *
     * @param x        the input sequence [T, N, I]
     * @param h0       the initial hidden state [N, H], or null for zeros
     * @param weightIh W_ih [3·H, I]
     * @param weightHh W_hh [3·H, H]
     * @param biasIh   b_ih [3·H], or null for no biases (then biasHh must be null too)
     * @param biasHh   b_hh [3·H], or null with biasIh
     * @return the output [T, N, H] and final state h [N, H]; c is null
     * @throws IllegalArgumentException if a shape does not fit (see
     *         {@link #layer(Rnn.Cell, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)})
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Result gru(Tensor x, Tensor h0, Tensor weightIh, Tensor weightHh, Tensor biasIh, Tensor biasHh) {
        return layer(Rnn.Cell.GRU, x, h0, null, weightIh, weightHh, biasIh, biasHh);
    }

    /**
     * One direction of a layer of the given cell (the formulas on this class, G gates per cell: 1 for the
     * RNNs, 4 for the LSTM, 3 for the GRU). Shapes are checked here, before any native call; inputs that
     * are not contiguous are copied first. When recording is on and an input requires a gradient, the
     * backward pass (backpropagation through time) is recorded, giving gradients of x, h0, c0, the
     * weights and the biases.
     *
     * @param cell     the recurrent cell (the backend's {@code Rnn.Cell}, internal to the engine); not null
     * @param x        the input sequence [T, N, I], all sizes at least 1
     * @param h0       the initial hidden state [N, H], or null for zeros
     * @param c0       the LSTM's initial cell state [N, H], or null for zeros; must be null for other cells
     * @param weightIh W_ih [G·H, I], with H at least 1
     * @param weightHh W_hh [G·H, H]
     * @param biasIh   b_ih [G·H], or null for no biases (then biasHh must be null too)
     * @param biasHh   b_hh [G·H], or null with biasIh
     * @return the output [T, N, H], the final h [N, H] and, for the LSTM, the final c [N, H], in the current
     *         scope
     * @throws IllegalArgumentException if x, weightIh or weightHh is null; if c0 is given for a cell
     *         other than the LSTM; if x is not 3-d or has a size below 1; if weightIh is not [G·H, I]
     *         (H ≥ 1) for x's I, or weightHh, a bias, h0 or c0 does not have the shape above; if only one
     *         bias is given; or if the sizes are too large for the backend (T·N·max(I, H) or
     *         G·H·max(I, H) above 2^31 − 1, each doubled for a bidirectional layer)
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Result layer(Rnn.Cell cell, Tensor x, Tensor h0, Tensor c0, Tensor weightIh, Tensor weightHh,
                               Tensor biasIh, Tensor biasHh) {
        Tensor[] params = {weightIh, weightHh, biasIh, biasHh};
        return run(shape(cell, x, h0, c0, params, null), x, h0, c0, params);
    }

    /**
     * A bidirectional layer ({@code bidirectional=True} in PyTorch): the forward parameters run over the
     * sequence from step 0 to T − 1, the reverse ones ({@code _reverse} in PyTorch) from T − 1 to 0, each
     * from its own initial state. The output at each step holds both directions' h, forward first; the
     * initial and final states stack the directions, forward then reverse. Gradients are recorded as for
     * {@link #layer(Rnn.Cell, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) layer}, one per
     * direction's parameter.
     *
     * @param cell    the recurrent cell (the backend's {@code Rnn.Cell}); not null
     * @param x       the input sequence [T, N, I]
     * @param h0      the initial hidden states [2, N, H] (forward, reverse), or null for zeros
     * @param c0      the LSTM's initial cell states [2, N, H], or null for zeros; must be null for other cells
     * @param forward the forward direction's {weight_ih, weight_hh, bias_ih, bias_hh}, shaped as for
     *                {@link #layer(Rnn.Cell, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) layer};
     *                the biases may both be null
     * @param reverse the reverse direction's four tensors, each of its forward counterpart's shape and
     *                null exactly where it is
     * @return the output [T, N, 2·H], the final h [2, N, H] and, for the LSTM, the final c [2, N, H], in the
     *         current scope
     * @throws IllegalArgumentException if forward or reverse is null or does not have four entries, if a
     *         reverse tensor is null where its forward one is not or the other way round, or has another
     *         shape, or for any other shape {@code layer} rejects (h0 and c0 being [2, N, H] here)
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Result bidirectional(Rnn.Cell cell, Tensor x, Tensor h0, Tensor c0, Tensor[] forward,
                                       Tensor[] reverse) {
        if (forward == null || reverse == null || forward.length != 4 || reverse.length != 4) {
            throw new IllegalArgumentException(cell.opName() + ": each direction needs {weight_ih, weight_hh, bias_ih,"
                    + " bias_hh}");
        }
        Tensor[] params = {forward[0], forward[1], forward[2], forward[3], reverse[0], reverse[1], reverse[2],
            reverse[3]};
        return run(shape(cell, x, h0, c0, forward, reverse), x, h0, c0, params);
    }

    /** Runs a checked layer; params are {weight_ih, weight_hh, bias_ih, bias_hh} per direction. */
    private static Result run(Rnn.Shape s, Tensor x, Tensor h0, Tensor c0, Tensor[] params) {
        Rnn.Cell cell = s.cell();
        Tensor[] inputs = new Tensor[3 + params.length];
        inputs[0] = x.contiguous();
        inputs[1] = h0 == null ? null : h0.contiguous();
        inputs[2] = c0 == null ? null : c0.contiguous();
        for (int k = 0; k < params.length; k++) {
            inputs[3 + k] = params[k] == null ? null : params[k].contiguous();
        }
        boolean training = Autograd.needsGrad(inputs);
        if (!training && Rnn.lstmKernel(s)) {
            return lstmKernel(s, inputs);
        }
        if (training && Rnn.lstmTrainKernel(s)) {
            // An embedding's rows as they are (x itself, contiguous) may be read from its table instead.
            Lookups.Lookup lookup = x == inputs[0] ? Lookups.matching(x, s.steps() * s.batch(), s.inputSize()) : null;
            return lstmTraining(s, inputs, lookup);
        }
        Rnn.Weights w = weights(s, inputs);

        long ny = s.outputElements();
        long ns = s.stateElements();
        int states = cell.hasCellState() ? 2 : 1;
        // The primitive writes every element of both: no zero fill.
        Tensor packed = Tensor.empty(ny + states * ns); // [output | h | c]
        Tensor workspace = training ? Tensor.empty((Rnn.workspaceBytes(s) + Float.BYTES - 1) / Float.BYTES) : null;
        MemorySegment p = segment(packed);
        MemorySegment y = p.asSlice(0, ny * Float.BYTES);
        MemorySegment hT = p.asSlice(ny * Float.BYTES, ns * Float.BYTES);
        MemorySegment cT = states == 2 ? p.asSlice((ny + ns) * Float.BYTES, ns * Float.BYTES) : null;
        Rnn.forward(s, training, w, segment(inputs[0]), segment(inputs[1]), segment(inputs[2]), y, hT, cT,
                workspace == null ? null : segment(workspace));
        if (training) {
            Autograd.record(packed, s.directions() == 2 ? cell.opName() + " bidirectional" : cell.opName(),
                    g -> backward(s, inputs, w, y, hT, cT, workspace, g), inputs);
        }
        long[] state = s.directions() == 1 ? new long[] {s.batch(), s.hiddenSize()}
                : new long[] {s.directions(), s.batch(), s.hiddenSize()};
        Tensor output = packed.slice(0, 0, ny).view(s.steps(), s.batch(), s.directions() * s.hiddenSize());
        Tensor h = packed.slice(0, ny, ny + ns).view(state);
        Tensor c = states == 2 ? packed.slice(0, ny + ns, ny + 2 * ns).view(state) : null;
        return new Result(output, h, c);
    }

    /**
     * A one-direction LSTM's inference pass on gatun's kernel: the input's share of every step's gates in
     * one matrix product, x·w_ihᵀ + b_ih, then the recurrence ({@link Rnn#lstmInference}).
     */
    private static Result lstmKernel(Rnn.Shape s, Tensor[] in) {
        long ny = s.outputElements();
        long ns = s.stateElements();
        Tensor gx = MatMul.linear(in[0].view(s.steps() * s.batch(), s.inputSize()), in[3], in[5]).contiguous();
        Tensor packed = Tensor.empty(ny + 2 * ns); // [output | h | c], every element written
        MemorySegment p = segment(packed);
        MemorySegment y = p.asSlice(0, ny * Float.BYTES);
        MemorySegment hT = p.asSlice(ny * Float.BYTES, ns * Float.BYTES);
        MemorySegment cT = p.asSlice((ny + ns) * Float.BYTES, ns * Float.BYTES);
        Rnn.lstmInference(s, segment(gx), segment(in[4]), segment(in[6]), segment(in[1]), segment(in[2]), y, hT, cT);
        gx.close();
        long[] state = {s.batch(), s.hiddenSize()};
        return new Result(packed.slice(0, 0, ny).view(s.steps(), s.batch(), s.hiddenSize()),
                packed.slice(0, ny, ny + ns).view(state), packed.slice(0, ny + ns, ny + 2 * ns).view(state));
    }

    /**
     * A one-direction LSTM's training pass on gatun's kernels ({@link Rnn#lstmTrainForward}): the input's
     * share of every step's gates in one matrix product, then the recurrence, keeping the activated gates
     * and cell states for the backward pass ({@link #lstmTrainingBackward}).
     *
     * <p>When x is an embedding's rows (a {@code lookup} whose rows x still holds) and the table has fewer
     * rows than x, the product is the table's instead, table·w_ihᵀ + b_ih, whose rows the recurrence reads
     * by index; the layer's node then takes the table in x's place, so that its gradient goes to the table
     * directly (the rows' gradients summed per table row first, then one small product each for the table,
     * w_ih and the biases). The same values up to float rounding, with a product over V rows rather than T·N.
     */
    private static Result lstmTraining(Rnn.Shape s, Tensor[] in, Lookups.Lookup lookup) {
        long t = s.steps();
        long n = s.batch();
        long h = s.hiddenSize();
        long ny = s.outputElements();
        long ns = s.stateElements();
        Tensor packed = Tensor.empty(ny + 2 * ns); // [output | h | c], every element written
        Tensor acts = Tensor.empty(t * n * 4 * h);
        Tensor cs = Tensor.empty(ny);
        Tensor table = null; // a copy of the embedding's table as the forward pass read it
        Tensor rows = null;
        try (var ignored = Autograd.noGrad();
             Tensor wf = Tensor.empty(Rnn.lstmForwardPackElements(h))) {
            Tensor gx;
            if (lookup != null) {
                table = lookup.table().copy();
                rows = BackendTensors.int32(lookup.rows());
                gx = MatMul.linear(table, in[3], in[5]).contiguous();
            } else {
                gx = MatMul.linear(in[0].view(t * n, s.inputSize()), in[3], in[5]).contiguous();
            }
            try (gx) {
                MemorySegment p = segment(packed);
                Rnn.lstmTrainForward(s, segment(gx), rows == null ? null : segment(rows),
                        lookup == null ? 0 : table.size(0), segment(in[4]), segment(in[6]), segment(in[1]),
                        segment(in[2]), segment(wf), p.asSlice(0, ny * Float.BYTES),
                        p.asSlice(ny * Float.BYTES, ns * Float.BYTES),
                        p.asSlice((ny + ns) * Float.BYTES, ns * Float.BYTES), segment(acts), segment(cs));
            }
        }
        Tensor[] recorded = in;
        if (lookup != null) {
            recorded = in.clone();
            recorded[0] = lookup.table();
        }
        Tensor tableCopy = table;
        Tensor rowTensor = rows;
        Autograd.record(packed, s.cell().opName(),
                g -> lstmTrainingBackward(s, in, packed, acts, cs, lookup, tableCopy, rowTensor, g), recorded);
        long[] state = {n, h};
        return new Result(packed.slice(0, 0, ny).view(t, n, h), packed.slice(0, ny, ny + ns).view(state),
                packed.slice(0, ny + ns, ny + 2 * ns).view(state));
    }

    /**
     * Gradients of {x (or the embedding's table), h0, c0, weight_ih, weight_hh, bias_ih, bias_hh} of
     * {@link #lstmTraining}: the kernel gives the gates' gradients dG [T·N, 4H] and dh0, dc0; then dx =
     * dG·w_ih, ∂w_ih = dGᵀ·x, ∂w_hh = dGᵀ·[h0; y without its last step], ∂b_ih = ∂b_hh = Σ dG over the
     * rows. With a lookup, dG's rows are first summed per table row (dP [V, 4H]): ∂table = dP·w_ih (the
     * padding row's left at zero), ∂w_ih = dPᵀ·table, ∂b = Σ dP.
     */
    private static Tensor[] lstmTrainingBackward(Rnn.Shape s, Tensor[] in, Tensor packed, Tensor acts, Tensor cs,
                                                 Lookups.Lookup lookup, Tensor table, Tensor rowTensor,
                                                 Tensor grad) {
        int t = Math.toIntExact(s.steps());
        int n = Math.toIntExact(s.batch());
        int h = Math.toIntExact(s.hiddenSize());
        int i = Math.toIntExact(s.inputSize());
        int rows = Math.multiplyExact(t, n);
        int g4 = 4 * h;
        long ny = s.outputElements();
        long ns = s.stateElements();
        Tensor[] grads = new Tensor[in.length];
        Tensor firstInput = lookup == null ? in[0] : lookup.table();
        try (var ignored = Autograd.noGrad();
             Tensor dg = Tensor.empty(rows, g4);
             Tensor wb = Tensor.empty(Rnn.lstmBackwardPackElements(h))) {
            MemorySegment gs = segment(grad.contiguous());
            Tensor dh0 = Tensor.empty(n, h);
            Tensor dc0 = Tensor.empty(n, h);
            MemorySegment d = segment(dg);
            Rnn.lstmTrainBackward(s, segment(in[4]), segment(acts), segment(cs), segment(in[2]),
                    gs.asSlice(0, ny * Float.BYTES), gs.asSlice(ny * Float.BYTES, ns * Float.BYTES),
                    gs.asSlice((ny + ns) * Float.BYTES, ns * Float.BYTES), segment(wb), d, segment(dh0), segment(dc0));
            grads[1] = dh0;
            grads[2] = dc0;
            // The input side: over x's T·N rows, or the table's V rows with the gates' gradients summed per row.
            Tensor dp = null;
            MemorySegment src = d;
            MemorySegment xs;
            int inputRows = rows;
            if (lookup == null) {
                xs = segment(in[0]);
            } else {
                int v = Math.toIntExact(table.size(0));
                dp = Tensor.zeros(v, g4);
                Rnn.scatterAddRows(d, segment(rowTensor), segment(dp), rows, g4, v);
                src = segment(dp);
                xs = segment(table);
                inputRows = v;
            }
            if (firstInput.requiresGrad()) {
                Tensor dx = lookup == null ? Tensor.empty(t, n, i) : Tensor.empty(inputRows, i);
                Blas.sgemm(false, false, inputRows, i, g4, 1f, src, 0, g4, segment(in[3]), 0, i, 0f, segment(dx), 0, i);
                if (lookup != null && lookup.paddingIdx() >= 0) {
                    dx.select(0, lookup.paddingIdx()).fill(0f);
                }
                grads[0] = dx;
            }
            if (in[3].requiresGrad()) {
                Tensor dwi = Tensor.empty(g4, i);
                Blas.sgemm(true, false, g4, i, inputRows, 1f, src, 0, g4, xs, 0, i, 0f, segment(dwi), 0, i);
                grads[3] = dwi;
            }
            if (in[4].requiresGrad()) {
                Tensor dwh = Tensor.zeros(g4, h);
                MemorySegment w = segment(dwh);
                long stepGates = (long) n * g4; // elements
                if (t > 1) {
                    Blas.sgemm(true, false, g4, h, rows - n, 1f, d, stepGates, g4, segment(packed), 0, h, 0f, w, 0, h);
                }
                if (in[1] != null) {
                    Blas.sgemm(true, false, g4, h, n, 1f, d, 0, g4, segment(in[1]), 0, h, 1f, w, 0, h);
                }
                grads[4] = dwh;
            }
            if (in[5] != null && (in[5].requiresGrad() || in[6].requiresGrad())) {
                // Σ over the rows = dGᵀ · 1; b_ih and b_hh get the same values, in tensors of their own.
                Tensor dbi = Tensor.empty(g4);
                try (Tensor ones = Tensor.ones(inputRows)) {
                    Blas.sgemv(true, inputRows, g4, 1f, src, 0, g4, segment(ones), 0, 1, 0f, segment(dbi), 0, 1);
                }
                grads[5] = dbi;
                grads[6] = dbi.copy();
            }
            if (dp != null) {
                dp.close();
            }
        }
        Tensor[] recorded = in.clone();
        recorded[0] = firstInput;
        for (int k = 0; k < in.length; k++) {
            if (recorded[k] == null || !recorded[k].requiresGrad()) grads[k] = null;
        }
        return grads;
    }

    /**
     * Gradients of {x, h0, c0, then weight_ih, weight_hh, bias_ih, bias_hh per direction} from the
     * packed gradient.
     */
    private static Tensor[] backward(Rnn.Shape s, Tensor[] in, Rnn.Weights w, MemorySegment y, MemorySegment hT,
                                     MemorySegment cT, Tensor workspace, Tensor grad) {
        long ny = s.outputElements();
        long ns = s.stateElements();
        MemorySegment g = segment(grad.contiguous());
        MemorySegment dy = g.asSlice(0, ny * Float.BYTES);
        MemorySegment dhT = g.asSlice(ny * Float.BYTES, ns * Float.BYTES);
        MemorySegment dcT = cT != null ? g.asSlice((ny + ns) * Float.BYTES, ns * Float.BYTES) : null;
        // Every gradient the primitive computes needs a buffer (it writes all of each); only wanted ones
        // are returned.
        Tensor dx = Tensor.empty(in[0].shape());
        Tensor dh0 = in[1] == null ? null : Tensor.empty(in[1].shape());
        Tensor dc0 = in[2] == null ? null : Tensor.empty(in[2].shape());
        int d = s.directions();
        long[] wiShape = in[3].shape();
        long[] whShape = in[4].shape();
        boolean bias = in[5] != null;
        // All directions' gradients in one buffer each, [D, ...]; direction k's is a view.
        Tensor dwi = Tensor.empty(d, wiShape[0], wiShape[1]);
        Tensor dwh = Tensor.empty(d, whShape[0], whShape[1]);
        Tensor dbi = bias ? Tensor.empty(d, wiShape[0]) : null;
        Tensor dbh = bias ? Tensor.empty(d, wiShape[0]) : null;
        Rnn.backward(s, w, segment(in[0]), segment(in[1]), segment(in[2]), y, hT, cT, segment(workspace), dy, dhT, dcT,
                segment(dx), segment(dh0), segment(dc0),
                new Rnn.Weights(segment(dwi), segment(dwh), segment(dbi), segment(dbh)));
        Tensor[] grads = new Tensor[in.length];
        grads[0] = dx;
        grads[1] = dh0;
        grads[2] = dc0;
        for (int k = 0; k < d; k++) {
            grads[3 + 4 * k] = dwi.select(0, k);
            grads[4 + 4 * k] = dwh.select(0, k);
            grads[5 + 4 * k] = bias ? dbi.select(0, k) : null;
            grads[6 + 4 * k] = bias ? dbh.select(0, k) : null;
        }
        for (int k = 0; k < in.length; k++) {
            if (in[k] == null || !in[k].requiresGrad()) grads[k] = null;
        }
        return grads;
    }

    /**
     * The backend's weights from the (contiguous) inputs: one direction's tensors as they are, or both
     * directions' copied into one buffer per kind.
     */
    private static Rnn.Weights weights(Rnn.Shape s, Tensor[] in) {
        if (s.directions() == 1) {
            return new Rnn.Weights(segment(in[3]), segment(in[4]), segment(in[5]), segment(in[6]));
        }
        MemorySegment[] joined = new MemorySegment[4];
        for (int kind = 0; kind < 4; kind++) {
            Tensor a = in[3 + kind];
            if (a == null) continue;
            Tensor both = Tensor.empty(2 * a.numel());
            MemorySegment seg = segment(both);
            long bytes = a.numel() * Float.BYTES;
            MemorySegment.copy(segment(a), 0, seg, 0, bytes);
            MemorySegment.copy(segment(in[7 + kind]), 0, seg, bytes, bytes);
            joined[kind] = seg;
        }
        return new Rnn.Weights(joined[0], joined[1], joined[2], joined[3]);
    }

    /**
     * Checks every tensor's shape against x and the forward parameters {weight_ih, weight_hh, bias_ih,
     * bias_hh} (and the reverse ones of a bidirectional layer, else null) and returns the layer's shape.
     */
    static Rnn.Shape shape(Rnn.Cell cell, Tensor x, Tensor h0, Tensor c0, Tensor[] forward, Tensor[] reverse) {
        String op = cell.opName();
        Tensor weightIh = forward[0];
        Tensor weightHh = forward[1];
        Tensor biasIh = forward[2];
        Tensor biasHh = forward[3];
        if (x == null || weightIh == null || weightHh == null) {
            throw new IllegalArgumentException(op + ": input, weight_ih and weight_hh are required");
        }
        for (Tensor t : new Tensor[] {x, h0, c0, weightIh, weightHh, biasIh, biasHh}) {
            if (t != null) t.checkAlive();
        }
        if (c0 != null && !cell.hasCellState()) {
            throw new IllegalArgumentException(op + ": only the LSTM has a cell state c0");
        }
        if (x.dim() != 3) {
            throw new IllegalArgumentException(op + ": input must be [T, N, I], got shape " + Arrays.toString(x.shape()));
        }
        long g = cell.gates();
        if (weightIh.dim() != 2 || weightIh.size(0) % g != 0 || weightIh.size(0) == 0) {
            throw new IllegalArgumentException(op + ": weight_ih must be [" + g + "·H, I], got shape "
                    + Arrays.toString(weightIh.shape()));
        }
        long hidden = weightIh.size(0) / g;
        long t = x.size(0);
        long n = x.size(1);
        long i = x.size(2);
        if (weightIh.size(1) != i) {
            throw new IllegalArgumentException(op + ": input width " + i + " (input " + Arrays.toString(x.shape())
                    + ") differs from weight_ih's " + weightIh.size(1) + " columns (" + Arrays.toString(weightIh.shape())
                    + ")");
        }
        requireShape(op, "weight_hh", weightHh, g * hidden, hidden);
        if (biasIh != null) requireShape(op, "bias_ih", biasIh, g * hidden);
        if (biasHh != null) requireShape(op, "bias_hh", biasHh, g * hidden);
        if ((biasIh == null) != (biasHh == null)) {
            throw new IllegalArgumentException(op + ": bias_ih and bias_hh must be given together");
        }
        int directions = 1;
        if (reverse != null) {
            directions = 2;
            String[] names = {"weight_ih_reverse", "weight_hh_reverse", "bias_ih_reverse", "bias_hh_reverse"};
            for (int k = 0; k < 4; k++) {
                if ((reverse[k] == null) != (forward[k] == null)) {
                    throw new IllegalArgumentException(op + ": " + names[k] + " must be given exactly when its forward"
                            + " counterpart is");
                }
                if (reverse[k] != null) {
                    reverse[k].checkAlive();
                    requireShape(op, names[k], reverse[k], forward[k].shape());
                }
            }
        }
        long[] state = directions == 1 ? new long[] {n, hidden} : new long[] {directions, n, hidden};
        if (h0 != null) requireShape(op, "h0", h0, state);
        if (c0 != null) requireShape(op, "c0", c0, state);
        return new Rnn.Shape(cell, t, n, i, hidden, directions);
    }

    private static void requireShape(String op, String name, Tensor t, long... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + name + " must be " + Arrays.toString(expected) + ", got "
                    + Arrays.toString(t.shape()));
        }
    }
}
