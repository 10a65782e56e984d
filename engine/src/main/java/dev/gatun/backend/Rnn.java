package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import dev.gatun.bindings.dnnl.dnnl_rnn_desc_t;
import dev.gatun.bindings.kernels.GatunKernels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One recurrent layer on oneDNN's RNN primitives, in one direction or both: the Elman RNN with tanh
 * or ReLU, the LSTM and the GRU (oneDNN's linear-before-reset GRU, which is PyTorch's GRU), forward for
 * training (with a workspace the backward pass reads) or inference, and backward through time over
 * the whole sequence in one call. (Stacked layers are stacked calls.)
 *
 * <p>Every buffer is contiguous float32 in PyTorch's layouts, and this class does the translation:
 * <pre>
 *   x  [T, N, I]   y [T, N, D·H]   h0, hT, c0, cT [D, N, H]        (oneDNN tnc / ldnc with L = 1)
 *   weight_ih [D][G·H, I], weight_hh [D][G·H, H]   rows gate-major (PyTorch; oneDNN ldgoi in memory)
 *   bias_ih, bias_hh [D][G·H]
 *
 *   D = 1, or 2 (bidirectional: PyTorch's _l0 then _l0_reverse; y holds [forward h | reverse h])
 *   G = 1 (RNN, tanh or ReLU), 4 (LSTM: i, f, g, o — oneDNN's order too), 3 (GRU: PyTorch r, z, n;
 *       oneDNN u, r, o = z, r, n)
 * </pre>
 * oneDNN's forward wants weights as ldigo ([I][G][H]) and its backward as ldgoi ([G][H][I], PyTorch's
 * layout up to the GRU's gate order); its weight gradients come as ldigo. Each call converts the
 * weights with oneDNN reorders between ldgoi and ldigo (the GRU's gate blocks moved by a copy on the
 * PyTorch side), once per call against T·N multiply-adds per weight in the primitive itself; for a
 * one-sequence LSTM over 64 steps a Java transpose there took about half the call. oneDNN has one bias
 * [G, H] where PyTorch has
 * two: it gets b_ih + b_hh, and its gradient is the gradient of both; the GRU's has a fourth row,
 * b_hn, which stays apart from b_in because r multiplies it.
 *
 * <p>The LSTM in one direction also runs on kernels of gatun's own: {@link #lstmInference} for small
 * batches without a tape, {@link #lstmTrainForward} and {@link #lstmTrainBackward} for training on CPUs
 * with AVX-512 ({@link #lstmTrainKernel}); the ops layer (dev.gatun.ops.Recurrent) chooses.
 *
 * <p>oneDNN accumulates weight gradients into its buffers; this class zeroes them first, so
 * {@link #backward} overwrites its outputs like every other backend call. Primitives are created once
 * per ({@link Pass}, {@link Shape}) and cached for the process; each execution gets its own scratchpad.
 */
public final class Rnn {

    /** The recurrent cell. */
    public enum Cell {
        /** h' = tanh(W_ih x + b_ih + W_hh h + b_hh). */
        RNN_TANH(1),
        /** h' = max(0, W_ih x + b_ih + W_hh h + b_hh) ({@code torch.nn.RNN}, nonlinearity='relu'). */
        RNN_RELU(1),
        /** PyTorch's LSTM: gates i, f, g, o; c' = f⊙c + i⊙g, h' = o⊙tanh(c'). */
        LSTM(4),
        /** PyTorch's GRU: gates r, z, n; n = tanh(W_in x + b_in + r⊙(W_hn h + b_hn)), h' = (1 − z)⊙n + z⊙h. */
        GRU(3);

        private final int gates;

        Cell(int gates) {
            this.gates = gates;
        }

        /** G: how many gate blocks of H rows the weights hold. */
        public int gates() {
            return gates;
        }

        /** The op's name in messages: {@code rnn_tanh}, {@code lstm}, {@code gru}. */
        public String opName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Whether the cell has a cell state c besides h. */
        public boolean hasCellState() {
            return this == LSTM;
        }

        /** Whether oneDNN's gates come in PyTorch's order (all but the GRU's). */
        boolean gatesInPytorchOrder() {
            return this != GRU;
        }

        /** PyTorch's gate index for each of oneDNN's gates. */
        int[] pytorchGate() {
            return switch (this) {
                case RNN_TANH, RNN_RELU -> new int[] {0};
                case LSTM -> new int[] {0, 1, 2, 3};
                case GRU -> new int[] {1, 0, 2}; // oneDNN u, r, o = PyTorch z, r, n
            };
        }

        /** Rows of oneDNN's bias: the lbr GRU keeps b_hn as a fourth. */
        int biasGates() {
            return this == GRU ? 4 : gates;
        }
    }

    /**
     * Everything that determines a recurrent layer's primitives: the cell, T steps, N sequences, input
     * width I, hidden width H and D directions (1, or 2 for a bidirectional layer whose output is both
     * directions' h side by side); validated on construction with the numbers in the message.
     */
    public record Shape(Cell cell, long steps, long batch, long inputSize, long hiddenSize, int directions) {
        public Shape {
            if (cell == null) {
                throw new IllegalArgumentException("rnn: cell is missing");
            }
            if (directions != 1 && directions != 2) {
                throw new IllegalArgumentException(cell.opName() + ": directions must be 1 or 2, got " + directions);
            }
            if (steps < 1 || batch < 1 || inputSize < 1 || hiddenSize < 1) {
                throw new IllegalArgumentException(cell.opName() + ": sizes must be positive, got T=" + steps + " N=" + batch
                        + " I=" + inputSize + " H=" + hiddenSize);
            }
            // Every buffer's float count must fit a Java int for the layout loops.
            long gh = Math.multiplyExact(cell.gates(), hiddenSize);
            long widest = Math.max(inputSize, hiddenSize) * directions;
            if (Math.multiplyExact(Math.multiplyExact(steps, batch), widest) > Integer.MAX_VALUE
                    || Math.multiplyExact(gh, widest) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(cell.opName() + ": T=" + steps + " N=" + batch + " I=" + inputSize + " H="
                        + hiddenSize + " is too large");
            }
        }

        /** One direction. */
        public Shape(Cell cell, long steps, long batch, long inputSize, long hiddenSize) {
            this(cell, steps, batch, inputSize, hiddenSize, 1);
        }

        /** Elements of x: T·N·I. */
        public long inputElements() {
            return steps * batch * inputSize;
        }

        /** Elements of y [T, N, D·H]: T·N·D·H. */
        public long outputElements() {
            return steps * batch * directions * hiddenSize;
        }

        /** Elements of one state (h or c) [D, N, H]: D·N·H. */
        public long stateElements() {
            return directions * batch * hiddenSize;
        }

        /** Elements of weight_ih, all directions [D, G·H, I]: D·G·H·I. */
        public long weightIhElements() {
            return directions * cell.gates() * hiddenSize * inputSize;
        }

        /** Elements of weight_hh, all directions [D, G·H, H]: D·G·H·H. */
        public long weightHhElements() {
            return directions * cell.gates() * hiddenSize * hiddenSize;
        }

        /** Elements of one PyTorch bias, all directions [D, G·H]: D·G·H. */
        public long biasElements() {
            return directions * cell.gates() * hiddenSize;
        }

        @Override
        public String toString() {
            return cell.opName() + " T=" + steps + " N=" + batch + " I=" + inputSize + " H=" + hiddenSize
                    + (directions == 2 ? " bidirectional" : "");
        }
    }

    /**
     * A layer's parameters (or their gradients) in PyTorch's layouts, a bidirectional layer's two
     * directions one after the other in each buffer (PyTorch's {@code _l0} then {@code _l0_reverse});
     * the biases may be null (a layer without bias, or bias gradients not wanted).
     */
    public record Weights(MemorySegment weightIh, MemorySegment weightHh, MemorySegment biasIh, MemorySegment biasHh) {}

    /** Which primitive. */
    private enum Pass { TRAINING, INFERENCE, BACKWARD }

    private record Key(Pass pass, Shape shape) {}

    /** A primitive with the memory descriptors it was made for (null where the cell has no c state). */
    private record Cached(Primitives.Primitive primitive, MemorySegment srcLayer, MemorySegment state,
                          MemorySegment cState, MemorySegment weightsLayer, MemorySegment weightsIter,
                          MemorySegment bias, MemorySegment dstLayer, MemorySegment diffWeightsLayer,
                          MemorySegment diffWeightsIter, MemorySegment ldgoiLayer, MemorySegment ldgoiIter) {}

    /**
     * Estimated resident bytes of one RNN primitive ({@link PrimitiveCache}): about 0.1 MB of growth per
     * new sequence length was measured for a one-layer LSTM.
     */
    private static final long PRIMITIVE_BYTES = 100 * 1024;
    private static final AtomicLong CREATED = new AtomicLong();

    private Rnn() {}

    /** How many RNN primitives this process has created; a repeated call must not raise it. */
    public static long primitivesCreated() {
        return CREATED.get();
    }

    /** Bytes of the workspace a training forward pass of this shape fills and its backward pass reads. */
    public static long workspaceBytes(Shape s) {
        return primitive(Pass.TRAINING, s).primitive().workspaceBytes();
    }

    /**
     * The layer over the whole sequence: y (every step's h), hT and, for the LSTM, cT. h0 and c0 may be
     * null (zeros). With {@code training} the pass fills {@code workspace} ({@link #workspaceBytes}
     * bytes) for {@link #backward}; without it the inference primitive runs and workspace is ignored.
     */
    public static void forward(Shape s, boolean training, Weights w, MemorySegment x, MemorySegment h0,
                               MemorySegment c0, MemorySegment y, MemorySegment hT, MemorySegment cT,
                               MemorySegment workspace) {
        String what = (training ? "forward training " : "forward inference ") + s;
        Cell cell = s.cell();
        MemorySegment xs = region(s, "x", x, s.inputElements());
        MemorySegment ys = region(s, "y", y, s.outputElements());
        MemorySegment hTs = region(s, "hT", hT, s.stateElements());
        MemorySegment cTs = cell.hasCellState() ? region(s, "cT", cT, s.stateElements()) : null;
        checkWeights(s, w, "weight");
        Cached p = primitive(training ? Pass.TRAINING : Pass.INFERENCE, s);
        MemorySegment ws = training ? workspace(s, p, workspace) : null;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment h0s = h0 == null ? zeros(call, s.stateElements()) : region(s, "h0", h0, s.stateElements());
            MemorySegment c0s = !cell.hasCellState() ? null
                    : c0 == null ? zeros(call, s.stateElements()) : region(s, "c0", c0, s.stateElements());
            MemorySegment wl = call.allocate(s.weightIhElements() * Float.BYTES, 64);
            MemorySegment wi = call.allocate(s.weightHhElements() * Float.BYTES, 64);
            toLdigo(call, s, s.inputSize(), w.weightIh(), p.ldgoiLayer(), p.weightsLayer(), wl);
            toLdigo(call, s, s.hiddenSize(), w.weightHh(), p.ldgoiIter(), p.weightsIter(), wi);
            MemorySegment bias = bias(call, s, w.biasIh(), w.biasHh());
            Args a = new Args(12);
            a.addForward(p, xs, h0s, c0s, wl, wi, bias, ys, hTs, cTs);
            if (ws != null) {
                a.add(Dnnl.DNNL_ARG_WORKSPACE(), p.primitive().workspaceDesc(), ws);
            }
            a.execute(p, what);
        }
    }

    /**
     * The most sequences an LSTM inference pass runs on gatun's own kernel ({@link #lstmInference}); larger
     * batches run oneDNN's primitive, whose matrix products share each weight row among the sequences.
     * Measured on the character LSTM's layer (64 steps, 64 inputs, 256 units, 2 threads, Zen 5), kernel
     * against oneDNN: 0.48-0.52 against 1.10-1.19 ms for 1 sequence, 0.71-0.77 against 1.72-1.77 for 2,
     * 1.21-1.35 against 1.80-1.82 for 4, 2.24-2.43 against 2.17-2.21 for 8.
     */
    public static final long LSTM_KERNEL_BATCH_MAX = 4;

    /**
     * Whether the inference pass of {@code s} runs on gatun's own LSTM kernel: one direction, at most
     * {@link #LSTM_KERNEL_BATCH_MAX} sequences. At batch 1 oneDNN 2.6 runs its reference RNN (0.70 ms of
     * the character LSTM's 0.84 ms) and reorders the weights on every call (0.125 ms).
     */
    public static boolean lstmKernel(Shape s) {
        return s.cell() == Cell.LSTM && s.directions() == 1 && s.batch() <= LSTM_KERNEL_BATCH_MAX;
    }

    /**
     * The LSTM's inference pass on gatun's kernel ({@code gatun_lstm_inference}): from gx = x·w_ihᵀ + b_ih
     * ([T, N, 4H], computed by the caller), w_hh [4H, H], b_hh [4H] (or null) and h0, c0 [N, H] (or null:
     * zeros), writes y [T, N, H] (every step's h), hT and cT [N, H]. The outputs must not overlap the
     * inputs or each other. Agrees with oneDNN's pass to float rounding (the gates' σ and tanh are
     * polynomials accurate to a few units in the last place).
     */
    public static void lstmInference(Shape s, MemorySegment gx, MemorySegment weightHh, MemorySegment biasHh,
                                     MemorySegment h0, MemorySegment c0, MemorySegment y, MemorySegment hT,
                                     MemorySegment cT) {
        if (s.cell() != Cell.LSTM || s.directions() != 1) {
            throw new IllegalArgumentException(s + ": the LSTM kernel runs one direction of an LSTM");
        }
        long st = s.stateElements();
        MemorySegment[] in = {
            region(s, "gx", gx, s.steps() * s.batch() * 4 * s.hiddenSize()),
            region(s, "weight_hh", weightHh, s.weightHhElements()),
            biasHh == null ? null : region(s, "bias_hh", biasHh, s.biasElements()),
            h0 == null ? null : region(s, "h0", h0, st),
            c0 == null ? null : region(s, "c0", c0, st)};
        MemorySegment[] out = {region(s, "y", y, s.outputElements()), region(s, "hT", hT, st),
            region(s, "cT", cT, st)};
        Primitives.requireDisjoint(s.toString(), in, out, new String[] {"y", "hT", "cT"});
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_lstm_inference(in[0], in[1], orNull(in[2]), orNull(in[3]), orNull(in[4]), out[0], out[1],
                out[2], s.steps(), s.batch(), s.hiddenSize());
    }

    /**
     * Whether training passes of one-direction LSTMs run on gatun's own kernels ({@link #lstmTrainForward},
     * {@link #lstmTrainBackward}): on CPUs with AVX-512, unless the system property
     * {@code gatun.rnn.lstmKernel} is {@code false} (then oneDNN's RNN primitives run them, as they do on
     * other CPUs and for bidirectional layers). The kernels split the batch between the threads, each
     * running its sequences through every step with w_hh packed in its cache and no barrier between steps,
     * and fuse the gates' update into the recurrent product; oneDNN 2.6's reference RNN reorders the
     * weights on every call and joins its threads at every step (on the character LSTM's layer, forward
     * 6.5 ms and backward 10.6-11.5 against the kernels' 4.6-4.8 and 4.9-5.6 with the products after them,
     * bench/results/lstm-training.md).
     */
    public static boolean lstmTrainKernel(Shape s) {
        return s.cell() == Cell.LSTM && s.directions() == 1 && LstmTraining.ENABLED;
    }

    /** Whether the kernels of {@link #lstmTrainKernel} are on for this process (CPU and setting). */
    private static final class LstmTraining {
        static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("gatun.rnn.lstmKernel", "true"))
                && avx512();

        private static boolean avx512() {
            NativeLibraries.load();
            return GatunKernels.gatun_cpu_has_avx512() != 0;
        }
    }

    /** Floats of the scratch {@link #lstmTrainForward} needs for the packed w_hh of {@code hidden} units. */
    public static long lstmForwardPackElements(long hidden) {
        NativeLibraries.load();
        return GatunKernels.gatun_lstm_forward_pack_elements(hidden);
    }

    /** Floats of the scratch {@link #lstmTrainBackward} needs for the packed w_hh of {@code hidden} units. */
    public static long lstmBackwardPackElements(long hidden) {
        NativeLibraries.load();
        return GatunKernels.gatun_lstm_backward_pack_elements(hidden);
    }

    /**
     * The LSTM's training forward pass on gatun's kernel ({@code gatun_lstm_train_forward}): from gx =
     * x·w_ihᵀ + b_ih ([T, N, 4H]), w_hh [4H, H], b_hh [4H] (or null), h0 and c0 [N, H] (or null: zeros),
     * writes y [T, N, H], hT and cT [N, H], and for {@link #lstmTrainBackward} the activated gates acts
     * [T, N, 4H] and every step's cell state cs [T, N, H]. wf is scratch of
     * {@link #lstmForwardPackElements} floats. No output may overlap an input or another output.
     */
    public static void lstmTrainForward(Shape s, MemorySegment gx, MemorySegment weightHh, MemorySegment biasHh,
                                        MemorySegment h0, MemorySegment c0, MemorySegment wf, MemorySegment y,
                                        MemorySegment hT, MemorySegment cT, MemorySegment acts, MemorySegment cs) {
        lstmTrainForward(s, gx, null, 0, weightHh, biasHh, h0, c0, wf, y, hT, cT, acts, cs);
    }

    /**
     * As {@link #lstmTrainForward(Shape, MemorySegment, MemorySegment, MemorySegment, MemorySegment,
     * MemorySegment, MemorySegment, MemorySegment, MemorySegment, MemorySegment, MemorySegment, MemorySegment)},
     * with the input's share of the gates looked up: when {@code rows} (T·N int32 values, each in [0,
     * tableRows), checked here) is not null, gx is a table [tableRows, 4H] and sequence b at step t reads its
     * row rows[t·N + b] (an embedding table times w_ihᵀ, plus b_ih).
     */
    public static void lstmTrainForward(Shape s, MemorySegment gx, MemorySegment rows, long tableRows,
                                        MemorySegment weightHh, MemorySegment biasHh, MemorySegment h0,
                                        MemorySegment c0, MemorySegment wf, MemorySegment y, MemorySegment hT,
                                        MemorySegment cT, MemorySegment acts, MemorySegment cs) {
        requireOneLstm(s);
        long st = s.stateElements();
        long positions = s.steps() * s.batch();
        long gates = Math.multiplyExact(positions, 4 * s.hiddenSize());
        MemorySegment rowSegment = null;
        if (rows != null) {
            if (tableRows < 1) {
                throw new IllegalArgumentException(s + ": the gates' table needs at least one row, got " + tableRows);
            }
            rowSegment = Primitives.indices(s.toString(), rows, positions, tableRows, "row", "position",
                    "is outside the table's");
        }
        MemorySegment[] in = {
            region(s, "gx", gx, rows == null ? gates : Math.multiplyExact(tableRows, 4 * s.hiddenSize())),
            rowSegment,
            region(s, "weight_hh", weightHh, s.weightHhElements()),
            biasHh == null ? null : region(s, "bias_hh", biasHh, s.biasElements()),
            h0 == null ? null : region(s, "h0", h0, st),
            c0 == null ? null : region(s, "c0", c0, st)};
        MemorySegment[] out = {region(s, "packed weight_hh", wf, lstmForwardPackElements(s.hiddenSize())),
            region(s, "y", y, s.outputElements()), region(s, "hT", hT, st), region(s, "cT", cT, st),
            region(s, "gates", acts, gates), region(s, "cell states", cs, s.outputElements())};
        Primitives.requireDisjoint(s.toString(), in, out,
                new String[] {"packed weight_hh", "y", "hT", "cT", "gates", "cell states"});
        Threads.applyToCurrentThread();
        GatunKernels.gatun_lstm_train_forward(in[0], orNull(in[1]), in[2], orNull(in[3]), orNull(in[4]), orNull(in[5]),
                out[0], out[1], out[2], out[3], out[4], out[5], s.steps(), s.batch(), s.hiddenSize());
    }

    /**
     * Backpropagation through time of {@link #lstmTrainForward} ({@code gatun_lstm_train_backward}): from
     * w_hh, the forward's acts and cs, c0 (or null: zeros) and the gradients dy [T, N, H], dhT and dcT [N, H]
     * (each null: zeros), writes dgates [T, N, 4H] (the gradients of every step's gate pre-activations, in
     * w_ih's row order), dh0 and dc0 [N, H]. wb is scratch of {@link #lstmBackwardPackElements} floats. The
     * gradients of the weights, biases and x follow from dgates by matrix products (the caller's).
     */
    public static void lstmTrainBackward(Shape s, MemorySegment weightHh, MemorySegment acts, MemorySegment cs,
                                         MemorySegment c0, MemorySegment dy, MemorySegment dhT, MemorySegment dcT,
                                         MemorySegment wb, MemorySegment dgates, MemorySegment dh0,
                                         MemorySegment dc0) {
        requireOneLstm(s);
        long st = s.stateElements();
        long gates = Math.multiplyExact(s.steps() * s.batch(), 4 * s.hiddenSize());
        MemorySegment[] in = {
            region(s, "weight_hh", weightHh, s.weightHhElements()),
            region(s, "gates", acts, gates),
            region(s, "cell states", cs, s.outputElements()),
            c0 == null ? null : region(s, "c0", c0, st),
            region(s, "dy", dy, s.outputElements()),
            dhT == null ? null : region(s, "dhT", dhT, st),
            dcT == null ? null : region(s, "dcT", dcT, st)};
        MemorySegment[] out = {region(s, "packed weight_hh", wb, lstmBackwardPackElements(s.hiddenSize())),
            region(s, "dgates", dgates, gates), region(s, "dh0", dh0, st), region(s, "dc0", dc0, st)};
        Primitives.requireDisjoint(s.toString(), in, out, new String[] {"packed weight_hh", "dgates", "dh0", "dc0"});
        Threads.applyToCurrentThread();
        GatunKernels.gatun_lstm_train_backward(in[0], in[1], in[2], orNull(in[3]), in[4], orNull(in[5]),
                orNull(in[6]), out[0], out[1], out[2], out[3], s.steps(), s.batch(), s.hiddenSize());
    }

    /**
     * {@code dst[rows[k]] += src[k]} for k = 0 .. count − 1 ({@code gatun_rows_scatter_add}): src is [count,
     * width], dst [tableRows, width], rows count int32 values, each in [0, tableRows) (checked here). The
     * gradient of a table whose rows were looked up. dst must not overlap src or rows.
     */
    public static void scatterAddRows(MemorySegment src, MemorySegment rows, MemorySegment dst, long count,
                                      long width, long tableRows) {
        if (count < 0 || width < 1 || tableRows < 1) {
            throw new IllegalArgumentException("scatterAddRows: count " + count + ", width " + width + ", table rows "
                    + tableRows);
        }
        MemorySegment s = Primitives.region("scatterAddRows: src", src, 0, Math.multiplyExact(count, width));
        MemorySegment r = Primitives.indices("scatterAddRows", rows, count, tableRows, "row", "position", "is outside");
        MemorySegment d = Primitives.region("scatterAddRows: dst", dst, 0, Math.multiplyExact(tableRows, width));
        Primitives.requireDisjoint("scatterAddRows", new MemorySegment[] {s, r}, new MemorySegment[] {d},
                new String[] {"dst"});
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_rows_scatter_add(s, r, d, count, width);
    }

    private static void requireOneLstm(Shape s) {
        if (s.cell() != Cell.LSTM || s.directions() != 1) {
            throw new IllegalArgumentException(s + ": the LSTM kernels run one direction of an LSTM");
        }
    }

    private static MemorySegment orNull(MemorySegment m) {
        return m == null ? MemorySegment.NULL : m;
    }

    /**
     * Backpropagation through time over the whole sequence, from the gradients of y, hT and cT (each
     * may be null: zeros). Needs the forward's inputs and outputs and the workspace of its training
     * pass. Writes (overwriting) dx, dh0, dc0 (each may be null: not wanted) and the gradients of the
     * weights and, where {@code grads} has them, of the biases (b_ih and b_hh get the same gradient,
     * except the GRU's n rows).
     */
    public static void backward(Shape s, Weights w, MemorySegment x, MemorySegment h0, MemorySegment c0,
                                MemorySegment y, MemorySegment hT, MemorySegment cT, MemorySegment workspace,
                                MemorySegment dy, MemorySegment dhT, MemorySegment dcT, MemorySegment dx,
                                MemorySegment dh0, MemorySegment dc0, Weights grads) {
        String what = "backward " + s;
        Cell cell = s.cell();
        long st = s.stateElements();
        MemorySegment xs = region(s, "x", x, s.inputElements());
        MemorySegment ys = region(s, "y", y, s.outputElements());
        MemorySegment hTs = region(s, "hT", hT, st);
        MemorySegment cTs = cell.hasCellState() ? region(s, "cT", cT, st) : null;
        checkWeights(s, w, "weight");
        if (grads == null) {
            throw new IllegalArgumentException(s + ": the weight gradients are missing");
        }
        region(s, "weight_ih gradient", grads.weightIh(), s.weightIhElements());
        region(s, "weight_hh gradient", grads.weightHh(), s.weightHhElements());
        if (grads.biasIh() != null) region(s, "bias_ih gradient", grads.biasIh(), s.biasElements());
        if (grads.biasHh() != null) region(s, "bias_hh gradient", grads.biasHh(), s.biasElements());
        Cached p = primitive(Pass.BACKWARD, s);
        Cached fwd = primitive(Pass.TRAINING, s);
        MemorySegment ws = workspace(s, fwd, workspace);
        try (Arena call = Arena.ofConfined()) {
            MemorySegment h0s = h0 == null ? zeros(call, st) : region(s, "h0", h0, st);
            MemorySegment c0s = !cell.hasCellState() ? null : c0 == null ? zeros(call, st) : region(s, "c0", c0, st);
            MemorySegment dys = dy == null ? zeros(call, s.outputElements()) : region(s, "y gradient", dy, s.outputElements());
            MemorySegment dhTs = dhT == null ? zeros(call, st) : region(s, "hT gradient", dhT, st);
            MemorySegment dcTs = !cell.hasCellState() ? null
                    : dcT == null ? zeros(call, st) : region(s, "cT gradient", dcT, st);
            MemorySegment dxs = dx == null ? zeros(call, s.inputElements()) : region(s, "x gradient", dx, s.inputElements());
            MemorySegment dh0s = dh0 == null ? zeros(call, st) : region(s, "h0 gradient", dh0, st);
            MemorySegment dc0s = !cell.hasCellState() ? null
                    : dc0 == null ? zeros(call, st) : region(s, "c0 gradient", dc0, st);
            MemorySegment wl = call.allocate(s.weightIhElements() * Float.BYTES, 64);
            MemorySegment wi = call.allocate(s.weightHhElements() * Float.BYTES, 64);
            toLdgoi(s, s.inputSize(), w.weightIh(), wl);
            toLdgoi(s, s.hiddenSize(), w.weightHh(), wi);
            MemorySegment bias = bias(call, s, w.biasIh(), w.biasHh());
            // oneDNN adds to its weight gradients: they start at zero (allocate zeroes them).
            MemorySegment dwl = zeros(call, s.weightIhElements());
            MemorySegment dwi = zeros(call, s.weightHhElements());
            MemorySegment db = zeros(call, (long) s.directions() * cell.biasGates() * s.hiddenSize());
            Args a = new Args(24);
            a.addForward(p, xs, h0s, c0s, wl, wi, bias, ys, hTs, cTs);
            a.add(Dnnl.DNNL_ARG_WORKSPACE(), fwd.primitive().workspaceDesc(), ws);
            a.add(Dnnl.DNNL_ARG_DIFF_DST_LAYER(), p.dstLayer(), dys);
            a.add(Dnnl.DNNL_ARG_DIFF_DST_ITER(), p.state(), dhTs);
            a.add(Dnnl.DNNL_ARG_DIFF_SRC_LAYER(), p.srcLayer(), dxs);
            a.add(Dnnl.DNNL_ARG_DIFF_SRC_ITER(), p.state(), dh0s);
            a.add(Dnnl.DNNL_ARG_DIFF_WEIGHTS_LAYER(), p.diffWeightsLayer(), dwl);
            a.add(Dnnl.DNNL_ARG_DIFF_WEIGHTS_ITER(), p.diffWeightsIter(), dwi);
            a.add(Dnnl.DNNL_ARG_DIFF_BIAS(), p.bias(), db);
            if (cell.hasCellState()) {
                a.add(Dnnl.DNNL_ARG_DIFF_DST_ITER_C(), p.cState(), dcTs);
                a.add(Dnnl.DNNL_ARG_DIFF_SRC_ITER_C(), p.cState(), dc0s);
            }
            a.execute(p, what);
            fromLdigo(call, s, s.inputSize(), p.diffWeightsLayer(), dwl, p.ldgoiLayer(), grads.weightIh());
            fromLdigo(call, s, s.hiddenSize(), p.diffWeightsIter(), dwi, p.ldgoiIter(), grads.weightHh());
            splitBiasGradient(s, db, grads.biasIh(), grads.biasHh());
        }
    }

    // ---------------------------------------------------------------- argument checks

    private static MemorySegment region(Shape s, String name, MemorySegment seg, long floats) {
        if (seg == null) {
            throw new IllegalArgumentException(s + ": " + name + " is missing");
        }
        return Primitives.region(s + ": " + name, seg, 0, floats);
    }

    private static void checkWeights(Shape s, Weights w, String what) {
        if (w == null) {
            throw new IllegalArgumentException(s + ": the weights are missing");
        }
        region(s, what + "_ih", w.weightIh(), s.weightIhElements());
        region(s, what + "_hh", w.weightHh(), s.weightHhElements());
        if (w.biasIh() != null) region(s, "bias_ih", w.biasIh(), s.biasElements());
        if (w.biasHh() != null) region(s, "bias_hh", w.biasHh(), s.biasElements());
    }

    private static MemorySegment workspace(Shape s, Cached training, MemorySegment workspace) {
        long bytes = training.primitive().workspaceBytes();
        if (workspace == null || workspace.byteSize() < bytes) {
            throw new IllegalArgumentException(s + ": the workspace needs " + bytes + " bytes, got "
                    + (workspace == null ? "none" : workspace.byteSize()));
        }
        return workspace.asSlice(0, bytes);
    }

    private static MemorySegment zeros(Arena arena, long floats) {
        return arena.allocate(Math.max(1, floats) * Float.BYTES, 64); // Arena.allocate zero-fills
    }

    // ---------------------------------------------------------------- layouts

    /**
     * PyTorch [G·H, X] (gate-major rows) to oneDNN ldigo [X][G][H] in oneDNN's gate order, for each
     * direction: the rows in oneDNN's gate order are its ldgoi layout (the buffer itself where the
     * orders agree, else a copy with the gate blocks moved), and a oneDNN reorder transposes that.
     */
    private static void toLdigo(Arena call, Shape s, long x, MemorySegment pytorch, MemorySegment ldgoiDesc,
                                MemorySegment ldigoDesc, MemorySegment ldigo) {
        MemorySegment ldgoi = pytorch;
        if (!s.cell().gatesInPytorchOrder()) {
            ldgoi = call.allocate(Primitives.bytes(ldgoiDesc), 64);
            toLdgoi(s, x, pytorch, ldgoi);
        }
        Primitives.reorder(ldgoiDesc, ldgoi, ldigoDesc, ldigo);
    }

    /** oneDNN ldigo [X][G][H] to PyTorch [G·H, X], for each direction: {@link #toLdigo} backwards. */
    private static void fromLdigo(Arena call, Shape s, long x, MemorySegment ldigoDesc, MemorySegment ldigo,
                                  MemorySegment ldgoiDesc, MemorySegment pytorch) {
        if (s.cell().gatesInPytorchOrder()) {
            Primitives.reorder(ldigoDesc, ldigo, ldgoiDesc, pytorch);
            return;
        }
        MemorySegment ldgoi = call.allocate(Primitives.bytes(ldgoiDesc), 64);
        Primitives.reorder(ldigoDesc, ldigo, ldgoiDesc, ldgoi);
        fromLdgoi(s, x, ldgoi, pytorch);
    }

    private static float[] floats(MemorySegment seg, long count) {
        float[] out = new float[Math.toIntExact(count)];
        MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
        return out;
    }

    /** PyTorch [G·H, X] to oneDNN ldgoi [G][H][X]: the same rows in oneDNN's gate order, per direction. */
    private static void toLdgoi(Shape s, long x, MemorySegment pytorch, MemorySegment ldgoi) {
        moveGates(s, x, pytorch, ldgoi, true);
    }

    /** oneDNN ldgoi [G][H][X] to PyTorch [G·H, X]: each gate block back in PyTorch's place, per direction. */
    private static void fromLdgoi(Shape s, long x, MemorySegment ldgoi, MemorySegment pytorch) {
        moveGates(s, x, ldgoi, pytorch, false);
    }

    /** Copies each direction's gate blocks of H·X floats between PyTorch's order and oneDNN's. */
    private static void moveGates(Shape s, long x, MemorySegment from, MemorySegment to, boolean toOneDnn) {
        int[] pg = s.cell().pytorchGate();
        long gateBytes = s.hiddenSize() * x * Float.BYTES;
        long block = pg.length * gateBytes;
        for (int d = 0; d < s.directions(); d++) {
            for (int g = 0; g < pg.length; g++) {
                long pytorch = d * block + pg[g] * gateBytes;
                long oneDnn = d * block + g * gateBytes;
                MemorySegment.copy(from, toOneDnn ? pytorch : oneDnn, to, toOneDnn ? oneDnn : pytorch, gateBytes);
            }
        }
    }

    /** oneDNN's bias [D][G'][H] from PyTorch's b_ih and b_hh [D][G·H] (either may be null: zeros). */
    private static MemorySegment bias(Arena arena, Shape s, MemorySegment biasIh, MemorySegment biasHh) {
        Cell cell = s.cell();
        int h = (int) s.hiddenSize();
        int[] pg = cell.pytorchGate();
        int inBlock = pg.length * h;
        int outBlock = cell.biasGates() * h;
        float[] bi = biasIh == null ? null : floats(biasIh, (long) s.directions() * inBlock);
        float[] bh = biasHh == null ? null : floats(biasHh, (long) s.directions() * inBlock);
        float[] out = new float[s.directions() * outBlock];
        for (int d = 0; d < s.directions(); d++) {
            for (int g = 0; g < pg.length; g++) {
                // The GRU's n gate keeps b_hn apart, in oneDNN's fourth row.
                int hhRow = cell == Cell.GRU && g == 2 ? 3 : g;
                for (int o = 0; o < h; o++) {
                    int src = d * inBlock + pg[g] * h + o;
                    if (bi != null) out[d * outBlock + g * h + o] += bi[src];
                    if (bh != null) out[d * outBlock + hhRow * h + o] += bh[src];
                }
            }
        }
        MemorySegment seg = zeros(arena, out.length);
        MemorySegment.copy(out, 0, seg, ValueLayout.JAVA_FLOAT, 0, out.length);
        return seg;
    }

    /** ∂b_ih and ∂b_hh [D][G·H] (each may be null: not wanted) from oneDNN's bias gradient [D][G'][H]. */
    private static void splitBiasGradient(Shape s, MemorySegment diffBias, MemorySegment biasIh, MemorySegment biasHh) {
        Cell cell = s.cell();
        int h = (int) s.hiddenSize();
        int[] pg = cell.pytorchGate();
        int outBlock = pg.length * h;
        int inBlock = cell.biasGates() * h;
        float[] db = floats(diffBias, (long) s.directions() * inBlock);
        float[] di = new float[s.directions() * outBlock];
        float[] dh = new float[s.directions() * outBlock];
        for (int d = 0; d < s.directions(); d++) {
            for (int g = 0; g < pg.length; g++) {
                int hhRow = cell == Cell.GRU && g == 2 ? 3 : g;
                for (int o = 0; o < h; o++) {
                    int dst = d * outBlock + pg[g] * h + o;
                    di[dst] = db[d * inBlock + g * h + o];
                    dh[dst] = db[d * inBlock + hhRow * h + o];
                }
            }
        }
        if (biasIh != null) MemorySegment.copy(di, 0, biasIh, ValueLayout.JAVA_FLOAT, 0, di.length);
        if (biasHh != null) MemorySegment.copy(dh, 0, biasHh, ValueLayout.JAVA_FLOAT, 0, dh.length);
    }

    // ---------------------------------------------------------------- execution

    /** The (argument kind, descriptor, data) triples of one execution. */
    private static final class Args {
        private final int[] kinds;
        private final MemorySegment[] descs;
        private final MemorySegment[] data;
        private int n;

        Args(int capacity) {
            kinds = new int[capacity];
            descs = new MemorySegment[capacity];
            data = new MemorySegment[capacity];
        }

        void add(int kind, MemorySegment desc, MemorySegment segment) {
            kinds[n] = kind;
            descs[n] = desc;
            data[n++] = segment;
        }

        /** The arguments of the forward pass, which the backward pass reads as well (c0, cT: LSTM only). */
        void addForward(Cached p, MemorySegment x, MemorySegment h0, MemorySegment c0, MemorySegment weightsLayer,
                        MemorySegment weightsIter, MemorySegment bias, MemorySegment y, MemorySegment hT,
                        MemorySegment cT) {
            add(Dnnl.DNNL_ARG_SRC_LAYER(), p.srcLayer(), x);
            add(Dnnl.DNNL_ARG_SRC_ITER(), p.state(), h0);
            add(Dnnl.DNNL_ARG_WEIGHTS_LAYER(), p.weightsLayer(), weightsLayer);
            add(Dnnl.DNNL_ARG_WEIGHTS_ITER(), p.weightsIter(), weightsIter);
            add(Dnnl.DNNL_ARG_BIAS(), p.bias(), bias);
            add(Dnnl.DNNL_ARG_DST_LAYER(), p.dstLayer(), y);
            add(Dnnl.DNNL_ARG_DST_ITER(), p.state(), hT);
            if (p.cState() != null) {
                add(Dnnl.DNNL_ARG_SRC_ITER_C(), p.cState(), c0);
                add(Dnnl.DNNL_ARG_DST_ITER_C(), p.cState(), cT);
            }
        }

        void execute(Cached p, String what) {
            Primitives.execute(p.primitive(), Arrays.copyOf(kinds, n), Arrays.copyOf(descs, n),
                    Arrays.copyOf(data, n), what);
        }
    }

    // ---------------------------------------------------------------- primitive creation

    /** The vanilla RNN's activation (alpha, the ReLU's negative slope, is 0 for both). */
    private static int activation(Cell cell) {
        return cell == Cell.RNN_RELU ? Dnnl.dnnl_eltwise_relu() : Dnnl.dnnl_eltwise_tanh();
    }

    private static Cached primitive(Pass pass, Shape s) {
        return PrimitiveCache.get(new Key(pass, s), k -> {
            // The backward primitive needs the training forward's descriptor as its hint.
            Cached training = pass == Pass.BACKWARD ? primitive(Pass.TRAINING, s) : null;
            return create(pass, s, training);
        }, c -> new Primitives.Primitive[] {c.primitive()}, PRIMITIVE_BYTES);
    }

    private static Cached create(Pass pass, Shape s, Cached training) {
        String what = pass + " " + s;
        Cell cell = s.cell();
        long t = s.steps();
        long n = s.batch();
        long in = s.inputSize();
        long h = s.hiddenSize();
        long g = cell.gates();
        long d = s.directions();
        MemorySegment srcLayer = Primitives.f32Desc(new long[] {t, n, in}, Dnnl.dnnl_tnc(), what);
        MemorySegment state = Primitives.f32Desc(new long[] {1, d, n, h}, Dnnl.dnnl_ldnc(), what);
        MemorySegment cState = cell.hasCellState() ? state : null;
        // Forward wants ldigo weights, backward ldgoi; the weight gradients are ldigo.
        int weightTag = pass == Pass.BACKWARD ? Dnnl.dnnl_ldgoi() : Dnnl.dnnl_ldigo();
        MemorySegment weightsLayer = Primitives.f32Desc(new long[] {1, d, in, g, h}, weightTag, what);
        MemorySegment weightsIter = Primitives.f32Desc(new long[] {1, d, h, g, h}, weightTag, what);
        MemorySegment bias = Primitives.f32Desc(new long[] {1, d, cell.biasGates(), h}, Dnnl.dnnl_ldgo(), what);
        // Both directions' h side by side at every step, as PyTorch's bidirectional output.
        MemorySegment dstLayer = Primitives.f32Desc(new long[] {t, n, d * h}, Dnnl.dnnl_tnc(), what);
        MemorySegment diffWeightsLayer = null;
        MemorySegment diffWeightsIter = null;
        int direction = d == 2 ? Dnnl.dnnl_bidirectional_concat() : Dnnl.dnnl_unidirectional_left2right();
        int flags = Dnnl.dnnl_rnn_flags_undef();
        try (Arena tmp = Arena.ofConfined()) {
            // dnnl_rnn_desc_t holds 22 memory descriptors: larger than Primitives.opDesc's buffer.
            MemorySegment desc = tmp.allocate(dnnl_rnn_desc_t.layout());
            if (pass != Pass.BACKWARD) {
                int prop = pass == Pass.TRAINING ? Dnnl.dnnl_forward_training() : Dnnl.dnnl_forward_inference();
                switch (cell) {
                    case RNN_TANH, RNN_RELU -> OneDnn.check(Dnnl.dnnl_vanilla_rnn_forward_desc_init(desc, prop,
                            activation(cell), direction, srcLayer, state, weightsLayer, weightsIter, bias,
                            dstLayer, state, flags, 0f, 0f), "dnnl_vanilla_rnn_forward_desc_init", what);
                    case LSTM -> OneDnn.check(Dnnl.dnnl_lstm_forward_desc_init(desc, prop, direction, srcLayer, state,
                            cState, weightsLayer, weightsIter, bias, dstLayer, state, cState, flags),
                            "dnnl_lstm_forward_desc_init", what);
                    case GRU -> OneDnn.check(Dnnl.dnnl_lbr_gru_forward_desc_init(desc, prop, direction, srcLayer, state,
                            weightsLayer, weightsIter, bias, dstLayer, state, flags),
                            "dnnl_lbr_gru_forward_desc_init", what);
                }
            } else {
                diffWeightsLayer = Primitives.f32Desc(new long[] {1, d, in, g, h}, Dnnl.dnnl_ldigo(), what);
                diffWeightsIter = Primitives.f32Desc(new long[] {1, d, h, g, h}, Dnnl.dnnl_ldigo(), what);
                int prop = Dnnl.dnnl_backward();
                switch (cell) {
                    case RNN_TANH, RNN_RELU -> OneDnn.check(Dnnl.dnnl_vanilla_rnn_backward_desc_init(desc, prop,
                            activation(cell), direction, srcLayer, state, weightsLayer, weightsIter, bias,
                            dstLayer, state, srcLayer, state, diffWeightsLayer, diffWeightsIter, bias, dstLayer, state,
                            flags, 0f, 0f), "dnnl_vanilla_rnn_backward_desc_init", what);
                    case LSTM -> OneDnn.check(Dnnl.dnnl_lstm_backward_desc_init(desc, prop, direction, srcLayer, state,
                            cState, weightsLayer, weightsIter, bias, dstLayer, state, cState, srcLayer, state, cState,
                            diffWeightsLayer, diffWeightsIter, bias, dstLayer, state, cState, flags),
                            "dnnl_lstm_backward_desc_init", what);
                    case GRU -> OneDnn.check(Dnnl.dnnl_lbr_gru_backward_desc_init(desc, prop, direction, srcLayer,
                            state, weightsLayer, weightsIter, bias, dstLayer, state, srcLayer, state, diffWeightsLayer,
                            diffWeightsIter, bias, dstLayer, state, flags), "dnnl_lbr_gru_backward_desc_init", what);
                }
            }
            Primitives.Primitive p = Primitives.createWithHint(desc, training != null ? training.primitive() : null,
                    pass == Pass.TRAINING, what, null);
            CREATED.incrementAndGet();
            // PyTorch's weight rows in oneDNN's gate order: the backward pass's own weights layout.
            MemorySegment ldgoiLayer = pass == Pass.BACKWARD ? weightsLayer
                    : Primitives.f32Desc(new long[] {1, d, in, g, h}, Dnnl.dnnl_ldgoi(), what);
            MemorySegment ldgoiIter = pass == Pass.BACKWARD ? weightsIter
                    : Primitives.f32Desc(new long[] {1, d, h, g, h}, Dnnl.dnnl_ldgoi(), what);
            return new Cached(p, srcLayer, state, cState, weightsLayer, weightsIter, bias, dstLayer, diffWeightsLayer,
                    diffWeightsIter, ldgoiLayer, ldgoiIter);
        }
    }
}
