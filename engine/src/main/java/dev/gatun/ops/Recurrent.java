package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Rnn;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * One recurrent layer over a whole sequence, with PyTorch's semantics ({@code torch.nn.RNN} with tanh
 * or ReLU, {@code LSTM}, {@code GRU}; one layer, one direction, time-major), on oneDNN's RNN primitives:
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
 * <p>Backward is backpropagation through time over the full sequence in one oneDNN call, from the
 * gradients of the output and of the final states together, to x, h0, c0, the weights and the biases.
 * The forward pass records one node on a packed tensor [output | h | c]; the three results are views of
 * it, so gradients reaching any of them meet there.
 */
public final class Recurrent {

    private Recurrent() {}

    /**
     * A layer's results: the output sequence [T, N, H], the final hidden state h [N, H] and, for the
     * LSTM, the final cell state c [N, H] (null for the RNN and the GRU).
     */
    public record Result(Tensor output, Tensor h, Tensor c) {}

    /** The Elman RNN with tanh ({@code torch.nn.RNN}, nonlinearity='tanh'). */
    public static Result rnnTanh(Tensor x, Tensor h0, Tensor weightIh, Tensor weightHh, Tensor biasIh, Tensor biasHh) {
        return layer(Rnn.Cell.RNN_TANH, x, h0, null, weightIh, weightHh, biasIh, biasHh);
    }

    /** The Elman RNN with ReLU ({@code torch.nn.RNN}, nonlinearity='relu'). */
    public static Result rnnRelu(Tensor x, Tensor h0, Tensor weightIh, Tensor weightHh, Tensor biasIh, Tensor biasHh) {
        return layer(Rnn.Cell.RNN_RELU, x, h0, null, weightIh, weightHh, biasIh, biasHh);
    }

    /** The LSTM ({@code torch.nn.LSTM}). */
    public static Result lstm(Tensor x, Tensor h0, Tensor c0, Tensor weightIh, Tensor weightHh, Tensor biasIh,
                              Tensor biasHh) {
        return layer(Rnn.Cell.LSTM, x, h0, c0, weightIh, weightHh, biasIh, biasHh);
    }

    /** The GRU ({@code torch.nn.GRU}). */
    public static Result gru(Tensor x, Tensor h0, Tensor weightIh, Tensor weightHh, Tensor biasIh, Tensor biasHh) {
        return layer(Rnn.Cell.GRU, x, h0, null, weightIh, weightHh, biasIh, biasHh);
    }

    /**
     * The layer of the given cell; c0 must be null unless the cell is the LSTM. Shapes are checked here,
     * before any native call; inputs that are not contiguous are copied first. The results live in the
     * current scope.
     */
    public static Result layer(Rnn.Cell cell, Tensor x, Tensor h0, Tensor c0, Tensor weightIh, Tensor weightHh,
                               Tensor biasIh, Tensor biasHh) {
        Rnn.Shape s = shape(cell, x, h0, c0, weightIh, weightHh, biasIh, biasHh);
        Tensor xc = x.contiguous();
        Tensor h0c = h0 == null ? null : h0.contiguous();
        Tensor c0c = c0 == null ? null : c0.contiguous();
        Tensor wi = weightIh.contiguous();
        Tensor wh = weightHh.contiguous();
        Tensor bi = biasIh == null ? null : biasIh.contiguous();
        Tensor bh = biasHh == null ? null : biasHh.contiguous();
        Tensor[] inputs = {xc, h0c, c0c, wi, wh, bi, bh};
        boolean training = Autograd.needsGrad(inputs);

        long ny = s.outputElements();
        long ns = s.stateElements();
        int states = cell.hasCellState() ? 2 : 1;
        Tensor packed = Tensor.zeros(ny + states * ns); // [output | h | c]
        Tensor workspace = training ? Tensor.zeros((Rnn.workspaceBytes(s) + Float.BYTES - 1) / Float.BYTES) : null;
        MemorySegment p = segment(packed);
        MemorySegment y = p.asSlice(0, ny * Float.BYTES);
        MemorySegment hT = p.asSlice(ny * Float.BYTES, ns * Float.BYTES);
        MemorySegment cT = states == 2 ? p.asSlice((ny + ns) * Float.BYTES, ns * Float.BYTES) : null;
        Rnn.forward(s, training, weights(wi, wh, bi, bh), segment(xc), segment(h0c), segment(c0c), y, hT, cT,
                workspace == null ? null : segment(workspace));
        if (training) {
            Autograd.record(packed, cell.opName(),
                    g -> backward(s, inputs, y, hT, cT, workspace, g), inputs);
        }
        Tensor output = packed.slice(0, 0, ny).view(s.steps(), s.batch(), s.hiddenSize());
        Tensor h = packed.slice(0, ny, ny + ns).view(s.batch(), s.hiddenSize());
        Tensor c = states == 2 ? packed.slice(0, ny + ns, ny + 2 * ns).view(s.batch(), s.hiddenSize()) : null;
        return new Result(output, h, c);
    }

    /** Gradients of {x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh} from the packed gradient. */
    private static Tensor[] backward(Rnn.Shape s, Tensor[] in, MemorySegment y, MemorySegment hT, MemorySegment cT,
                                     Tensor workspace, Tensor grad) {
        long ny = s.outputElements();
        long ns = s.stateElements();
        MemorySegment g = segment(grad.contiguous());
        MemorySegment dy = g.asSlice(0, ny * Float.BYTES);
        MemorySegment dhT = g.asSlice(ny * Float.BYTES, ns * Float.BYTES);
        MemorySegment dcT = cT != null ? g.asSlice((ny + ns) * Float.BYTES, ns * Float.BYTES) : null;
        Tensor[] grads = new Tensor[in.length];
        for (int k = 0; k < in.length; k++) {
            // Every gradient the primitive computes needs a buffer; only wanted ones are returned.
            grads[k] = in[k] == null ? null : Tensor.zeros(in[k].shape());
        }
        Tensor dx = grads[0];
        Tensor dh0 = grads[1];
        Tensor dc0 = grads[2];
        Rnn.backward(s, weights(in[3], in[4], in[5], in[6]), segment(in[0]), segment(in[1]), segment(in[2]), y, hT, cT,
                segment(workspace), dy, dhT, dcT, segment(dx), segment(dh0), segment(dc0),
                weights(grads[3], grads[4], grads[5], grads[6]));
        for (int k = 0; k < in.length; k++) {
            if (in[k] == null || !in[k].requiresGrad()) grads[k] = null;
        }
        return grads;
    }

    private static Rnn.Weights weights(Tensor wi, Tensor wh, Tensor bi, Tensor bh) {
        return new Rnn.Weights(segment(wi), segment(wh), segment(bi), segment(bh));
    }

    /** The contiguous elements of t as a segment (null for null). */
    private static MemorySegment segment(Tensor t) {
        if (t == null) {
            return null;
        }
        t.checkAlive();
        return t.storage().asSlice(t.offset() * Float.BYTES, t.numel() * Float.BYTES);
    }

    /** Checks every tensor's shape against x and the weights and returns the layer's shape. */
    static Rnn.Shape shape(Rnn.Cell cell, Tensor x, Tensor h0, Tensor c0, Tensor weightIh, Tensor weightHh,
                           Tensor biasIh, Tensor biasHh) {
        String op = cell.opName();
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
        if (h0 != null) requireShape(op, "h0", h0, n, hidden);
        if (c0 != null) requireShape(op, "c0", c0, n, hidden);
        return new Rnn.Shape(cell, t, n, i, hidden);
    }

    private static void requireShape(String op, String name, Tensor t, long... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(op + ": " + name + " must be " + Arrays.toString(expected) + ", got "
                    + Arrays.toString(t.shape()));
        }
    }
}
