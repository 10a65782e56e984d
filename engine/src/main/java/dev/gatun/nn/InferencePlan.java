package dev.gatun.nn;

import dev.gatun.backend.ChannelBlock;
import dev.gatun.backend.Convolution;
import dev.gatun.backend.Program;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A model's evaluation-mode forward pass for one input shape, compiled into a {@link Program}: native
 * primitive calls over buffers made once, run from one native call, with no tensor, scope or autograd work
 * between the layers. What {@code torch.jit.freeze} plus an inference session give a
 * PyTorch user; {@link dev.gatun.serve.InferenceSession} uses one per worker where the model compiles.
 *
 * <p><b>What compiles.</b> A {@link Sequential} (nested ones included) of {@link Conv2d} (one group; a
 * following {@link BatchNorm2d} is folded into its weights, a following {@link ReLU} fused),
 * {@link BasicBlock} (both shortcuts), {@link ReLU}, {@link MaxPool2d} (on gatun's kernel, NaN propagating),
 * {@link AvgPool2d}, {@link AdaptiveAvgPool2d},
 * {@link Flatten}, {@link Linear} (a following ReLU fused) and {@link Dropout} (nothing, in evaluation), on
 * a {@code [N, C, H, W]} or {@code [N, F]} input; every module in evaluation mode. {@link #compile} names
 * the first module that does not.
 *
 * <p><b>Results.</b> The same operations as the layers' own forward passes, in other layouts, another
 * split between threads and, for 3×3 convolutions in the blocked program, Winograd's algorithm: equal to
 * them within float rounding, not bit for bit; equal between runs of a plan, and between plans of the same
 * model and shape that chose the same program.
 *
 * <p><b>Parameters.</b> A plan computes with the parameters and running statistics the model had when it
 * was compiled, as an exported model does: compile again after changing them.
 *
 * <p><b>Threads.</b> A plan runs on the {@link dev.gatun.backend.Threads#get()} threads of its compile
 * time. {@link #run} calls are serialised (one at a time per plan); use a plan per thread to run
 * several at once.
 */
public final class InferencePlan implements AutoCloseable {

    /** Thrown by {@link #compile} for a model or shape a plan cannot take; the message names why. */
    public static final class UnsupportedModelException extends RuntimeException {
        /**
         * An exception naming why a model cannot be compiled.
         *
         * @param message the reason
         */
        public UnsupportedModelException(String message) {
            super(message);
        }
    }

    private final Program program;
    private final Program.Layout layout;
    private final long[] inputShape;
    private final long[] outputShape;

    private InferencePlan(Program program, Program.Layout layout, long[] inputShape, long[] outputShape) {
        this.program = program;
        this.layout = layout;
        this.inputShape = inputShape;
        this.outputShape = outputShape;
    }

    /**
     * A value between steps: a buffer, its dims, and for a 4-d one its layout (2-d ones are row-major,
     * {@link Program.Layout#PLAIN}).
     */
    private record Value(MemorySegment buffer, long[] dims, Program.Layout layout) {
        long elements() {
            return product(dims);
        }
    }

    /** What a candidate program lays its 4-d activations out in. */
    private static final Program.Layout[] CANDIDATES = {Program.Layout.CHANNELS_LAST, Program.Layout.BLOCKED};

    /**
     * Compiles {@code model}'s forward pass for inputs of exactly {@code inputShape}. A model with
     * convolutions is compiled twice, its activations channels-last (every convolution shared out between
     * the threads) and in channel blocks (each convolution on oneDNN's own team, 3×3 ones by
     * Winograd's algorithm where oneDNN has a kernel), and the program that runs faster on this machine
     * is kept: each is timed on a zero input, the two alternating. System property
     * {@code gatun.plan.layout} ({@code channelsLast}, {@code blocked}, or {@code auto}, the default) fixes
     * the choice.
     *
     * @param model      the model, in evaluation mode
     * @param inputShape the input's shape, batch first: {@code [N, C, H, W]} or {@code [N, F]}
     * @return the plan; close it when done (or leave it to the garbage collector)
     * @throws UnsupportedModelException if a module, or its shape, is not one a plan takes (the message
     *     names it), or a module is in training mode
     * @throws IllegalArgumentException  if the shape is not one the model takes
     */
    public static InferencePlan compile(Module model, long... inputShape) {
        return compile(model, null, inputShape);
    }

    /**
     * As {@link #compile(Module, long...)}, with the 4-d activations in {@code layout} (for instance the
     * {@link #layout()} of an earlier plan, so that the two give the same values bit for bit).
     *
     * @param model      the model, in evaluation mode
     * @param layout     the layout of the program's 4-d activations; null to choose as
     *                   {@link #compile(Module, long...)} does
     * @param inputShape the input's shape, batch first: {@code [N, C, H, W]} or {@code [N, F]}
     * @return the plan
     * @throws UnsupportedModelException as {@link #compile(Module, long...)}
     * @throws IllegalArgumentException  as {@link #compile(Module, long...)}
     */
    public static InferencePlan compile(Module model, Program.Layout layout, long... inputShape) {
        long[] shape = inputShape.clone();
        if (shape.length != 2 && shape.length != 4) {
            throw new UnsupportedModelException("a plan takes [N, C, H, W] or [N, F] inputs, got "
                    + Arrays.toString(shape));
        }
        long values = 1;
        for (long d : shape) {
            if (d < 1 || d > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("input dimension " + d + " out of range in " + Arrays.toString(shape));
            }
            values *= d;
            if (values > Integer.MAX_VALUE - 8) { // run takes Java arrays
                throw new IllegalArgumentException("an input of shape " + Arrays.toString(shape)
                        + " does not fit a Java array");
            }
        }
        List<Module> layers = new ArrayList<>();
        flatten(model, layers);
        boolean convolutions = false;
        for (Module m : layers) {
            if (m.isTraining()) {
                throw new UnsupportedModelException(m.describe() + " is in training mode; call eval() first");
            }
            convolutions |= m instanceof Conv2d || m instanceof BasicBlock;
        }
        String setting = System.getProperty("gatun.plan.layout", "auto").trim();
        Program.Layout fixed = layout != null ? layout : switch (setting) {
            case "channelsLast" -> Program.Layout.CHANNELS_LAST;
            case "blocked" -> Program.Layout.BLOCKED;
            case "auto" -> convolutions ? null : Program.Layout.CHANNELS_LAST;
            default -> throw new IllegalArgumentException("gatun.plan.layout must be channelsLast, blocked or auto,"
                    + " got " + setting);
        };
        if (fixed != null) {
            return build(layers, shape, fixed);
        }
        InferencePlan[] plans = new InferencePlan[CANDIDATES.length];
        try {
            for (int i = 0; i < plans.length; i++) plans[i] = build(layers, shape, CANDIDATES[i]);
            int best = fastest(plans);
            InferencePlan chosen = plans[best];
            plans[best] = null;
            return chosen;
        } finally {
            for (InferencePlan p : plans) {
                if (p != null) p.close();
            }
        }
    }

    /**
     * The index of the plan that runs fastest on a zero input. Each is first run ten times (its first runs
     * pay for lazily made kernels, and the Java around them is not yet compiled), then they take turns for
     * three rounds. A turn runs a plan for about 20 ms and times only its second half: the threads of the
     * plan before it (OpenMP's, or gatun's workers) spin on for a while after its last run and would slow
     * the first runs of the next, which a lone plan never meets. The plan of the fastest run wins: other
     * threads (the JIT compiler's, early in a process) slow runs down, never up. Plans whose run takes
     * longer than 20 ms are run less: two warm-up runs and three rounds of one.
     */
    private static int fastest(InferencePlan[] plans) {
        float[] in = new float[Math.toIntExact(product(plans[0].inputShape))];
        float[][] out = new float[plans.length][];
        long slowest = 0;
        for (int i = 0; i < plans.length; i++) {
            out[i] = new float[Math.toIntExact(product(plans[i].outputShape))];
            long t0 = System.nanoTime();
            plans[i].run(in, out[i]);
            slowest = Math.max(slowest, System.nanoTime() - t0);
        }
        boolean slow = slowest > 20_000_000L;
        int warm = slow ? 1 : 9;
        int rounds = 3;
        long[] each = new long[plans.length];
        for (int i = 0; i < plans.length; i++) {
            long min = Long.MAX_VALUE;
            for (int k = 0; k < warm; k++) {
                long t0 = System.nanoTime();
                plans[i].run(in, out[i]);
                min = Math.min(min, System.nanoTime() - t0);
            }
            each[i] = min;
        }
        long[] best = new long[plans.length];
        Arrays.fill(best, Long.MAX_VALUE);
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < plans.length; i++) {
                int runs = slow ? 1 : (int) Math.max(4, Math.min(2000, 20_000_000L / Math.max(1, each[i])));
                long min = Long.MAX_VALUE;
                for (int k = 0; k < runs; k++) {
                    long t0 = System.nanoTime();
                    plans[i].run(in, out[i]);
                    long t = System.nanoTime() - t0;
                    if (k >= runs / 2) min = Math.min(min, t);
                }
                best[i] = Math.min(best[i], min);
            }
        }
        int chosen = 0;
        for (int i = 1; i < plans.length; i++) {
            if (best[i] < best[chosen]) chosen = i;
        }
        return chosen;
    }

    /** The program with 4-d activations in {@code layout}. */
    private static InferencePlan build(List<Module> layers, long[] shape, Program.Layout layout) {
        try (Program.Builder b = Program.builder()) {
            long floats = product(shape);
            MemorySegment input = b.buffer(floats);
            Value x = new Value(input, shape, Program.Layout.PLAIN);
            for (int i = 0; i < layers.size(); i++) {
                Module m = layers.get(i);
                Module next = i + 1 < layers.size() ? layers.get(i + 1) : null;
                switch (m) {
                    case Conv2d conv -> {
                        BatchNorm bn = next instanceof BatchNorm2d n ? n : null;
                        int after = bn == null ? i + 1 : i + 2;
                        boolean relu = after < layers.size() && layers.get(after) instanceof ReLU;
                        x = convolution(b, x, layout, conv, bn,
                                relu ? Convolution.Fusion.RELU : Convolution.Fusion.NONE, null);
                        i = relu ? after : after - 1;
                    }
                    case BasicBlock block -> x = block(b, x, layout, block);
                    case ReLU r -> b.relu(x.buffer(), floats(x));
                    case Dropout d -> { }
                    case AvgPool2d p -> x = averagePooling(b, x, layout, p.kernel(), p.stride(), p.padding(),
                            p.countIncludePad(), p.describe());
                    case AdaptiveAvgPool2d p -> {
                        require(x, 4, p);
                        int h = (int) x.dims()[2];
                        int w = (int) x.dims()[3];
                        x = averagePooling(b, x, layout, new int[] {h, w}, new int[] {h, w}, new int[] {0, 0}, true,
                                p.describe());
                    }
                    case MaxPool2d p -> x = maxPooling(b, x, layout, p);
                    case Flatten f -> x = flatten(b, x);
                    case Linear l -> {
                        boolean relu = next instanceof ReLU;
                        x = linear(b, x, l, relu);
                        if (relu) i++;
                    }
                    default -> throw new UnsupportedModelException("an inference plan cannot take "
                            + m.describe());
                }
            }
            Value out = x.dims().length == 4 ? laid(b, x, Program.Layout.PLAIN) : x; // row-major for the caller
            Program p = b.build(input, floats, out.buffer(), out.elements());
            return new InferencePlan(p, layout, shape, out.dims().clone());
        }
    }

    /** The floats of {@code x}'s buffer that hold its values, padding included. */
    private static long floats(Value x) {
        return x.dims().length == 4 ? Program.floats(x.dims(), x.layout()) : x.elements();
    }

    private static void flatten(Module m, List<Module> into) {
        if (m instanceof Sequential s) {
            for (int i = 0; i < s.size(); i++) flatten(s.get(i), into);
        } else {
            into.add(m);
        }
    }

    private static void require(Value x, int rank, Module m) {
        if (x.dims().length != rank) {
            throw new IllegalArgumentException(m.describe() + " takes a " + rank + "-d input, got "
                    + Arrays.toString(x.dims()));
        }
    }

    private static Value convolution(Program.Builder b, Value x, Program.Layout layout, Conv2d conv, BatchNorm bn,
                                     Convolution.Fusion fusion, Value residual) {
        require(x, 4, conv);
        if (conv.groups() != 1) {
            throw new UnsupportedModelException("an inference plan takes convolutions of one group, not "
                    + conv.describe());
        }
        long[] ws = conv.weight().shape();
        long[] d = x.dims();
        if (d[1] != ws[1]) {
            throw new IllegalArgumentException(conv.describe() + " takes " + ws[1] + " channels, got "
                    + Arrays.toString(d));
        }
        Convolution.Geometry g = new Convolution.Geometry(d[0], d[1], d[2], d[3], ws[0], ws[2], ws[3],
                conv.stride()[0], conv.stride()[1], conv.padding()[0], conv.padding()[1], conv.dilation()[0],
                conv.dilation()[1], 1, conv.bias() != null || bn != null);
        float[][] folded = ConvBnFusion.fold(conv, bn);
        Value out = residual != null ? residual
                : new Value(b.buffer(Program.floats(g.outputShape(), layout)), g.outputShape(), layout);
        // A blocked convolution reads a row-major input of few channels as it is (oneDNN's kernels for a
        // network's first convolution); anything else is laid out as the output.
        boolean plainIn = layout == Program.Layout.BLOCKED && x.layout() == Program.Layout.PLAIN
                && d[1] < ChannelBlock.widest();
        Value in = plainIn ? x : laid(b, x, layout);
        b.convolution(g, folded[0], folded[1], fusion, in.layout(), in.buffer(), out.layout(), out.buffer(), true);
        return out;
    }

    /**
     * {@code x} in {@code layout}: itself where it is so or the layouts coincide in memory, else a copy
     * in a new buffer.
     */
    private static Value laid(Program.Builder b, Value x, Program.Layout layout) {
        if (x.layout() == layout || coincide(x.dims(), x.layout(), layout)) {
            return new Value(x.buffer(), x.dims(), layout);
        }
        Value v = new Value(b.buffer(Program.floats(x.dims(), layout)), x.dims(), layout);
        b.reorder(x.dims(), x.layout(), layout, x.buffer(), v.buffer());
        return v;
    }

    /** Whether two layouts put {@code [n, c, h, w]} values in the same places. */
    private static boolean coincide(long[] d, Program.Layout a, Program.Layout b) {
        boolean plainAndLast = (a == Program.Layout.PLAIN || a == Program.Layout.CHANNELS_LAST)
                && (b == Program.Layout.PLAIN || b == Program.Layout.CHANNELS_LAST);
        if (plainAndLast) {
            return d[1] == 1 || d[2] * d[3] == 1;
        }
        // Blocked against either: the same when each pixel's channels are whole blocks and one pixel per image.
        return d[2] * d[3] == 1 && d[1] % ChannelBlock.widest() == 0;
    }

    private static Value block(Program.Builder b, Value x, Program.Layout layout, BasicBlock block) {
        Value h = convolution(b, x, layout, block.conv1(), block.bn1(), Convolution.Fusion.RELU, null);
        Value shortcut;
        Sequential ds = block.downsample();
        if (ds == null) {
            // The identity: conv2 adds its output onto x where x lies (nothing later reads x).
            shortcut = laid(b, x, layout);
        } else {
            if (ds.size() != 2 || !(ds.get(0) instanceof Conv2d c) || !(ds.get(1) instanceof BatchNorm n)) {
                throw new UnsupportedModelException("an inference plan takes projection shortcuts of a convolution"
                        + " and a batch norm, not " + ds.describe());
            }
            shortcut = convolution(b, x, layout, c, n, Convolution.Fusion.NONE, null);
        }
        long[] want = new long[] {h.dims()[0], block.conv2().weight().size(0), h.dims()[2], h.dims()[3]};
        if (!Arrays.equals(shortcut.dims(), want)) {
            throw new IllegalArgumentException(block.describe() + ": shortcut " + Arrays.toString(shortcut.dims())
                    + " does not match the residual branch " + Arrays.toString(want));
        }
        return convolution(b, h, layout, block.conv2(), block.bn2(), Convolution.Fusion.ADD_RELU, shortcut);
    }

    private static Value averagePooling(Program.Builder b, Value x, Program.Layout layout, int[] kernel, int[] stride,
                                        int[] padding, boolean includePadding, String what) {
        long[] window = {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1]};
        return pooling(b, x, layout, window, what, (in, out) -> b.averagePooling(in.dims(), window, includePadding,
                layout, in.buffer(), out.buffer()));
    }

    private static Value maxPooling(Program.Builder b, Value x, Program.Layout layout, MaxPool2d p) {
        int[] w = p.window();
        long[] window = {w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]};
        return pooling(b, x, layout, window, p.describe(), (in, out) -> b.maxPooling(in.dims(), window, layout,
                in.buffer(), out.buffer()));
    }

    /** Adds a pooling step on {@code x} laid out in {@code layout}, into a new buffer of the pooled dims. */
    private static Value pooling(Program.Builder b, Value x, Program.Layout layout, long[] window, String what,
                                 java.util.function.BiConsumer<Value, Value> step) {
        if (x.dims().length != 4) {
            throw new IllegalArgumentException(what + " takes a 4-d input, got " + Arrays.toString(x.dims()));
        }
        Value in = laid(b, x, layout);
        long[] outDims = Program.pooledDims(in.dims(), window, what);
        Value out = new Value(b.buffer(Program.floats(outDims, layout)), outDims, layout);
        step.accept(in, out);
        return out;
    }

    private static Value flatten(Program.Builder b, Value x) {
        long[] d = x.dims();
        long[] rows = {d[0], product(d) / d[0]};
        if (d.length == 2) {
            return x;
        }
        Value plain = laid(b, x, Program.Layout.PLAIN);
        return new Value(plain.buffer(), rows, Program.Layout.PLAIN);
    }

    private static Value linear(Program.Builder b, Value x, Linear l, boolean relu) {
        require(x, 2, l);
        long[] ws = l.weight().shape();
        if (x.dims()[1] != ws[1]) {
            throw new IllegalArgumentException(l.describe() + " takes " + ws[1] + " features, got "
                    + Arrays.toString(x.dims()));
        }
        long[] outDims = {x.dims()[0], ws[0]};
        Value out = new Value(b.buffer(product(outDims)), outDims, Program.Layout.PLAIN);
        b.innerProduct(x.dims()[0], ws[1], ws[0], l.weight().toArray(), l.bias() == null ? null : l.bias().toArray(),
                relu, x.buffer(), out.buffer());
        return out;
    }

    private static long product(long[] dims) {
        long n = 1;
        for (long d : dims) n = Math.multiplyExact(n, d);
        return n;
    }

    /**
     * The input shape this plan takes.
     *
     * @return a copy of it, batch first
     */
    public long[] inputShape() {
        return inputShape.clone();
    }

    /**
     * The output shape it gives.
     *
     * @return a copy of it, batch first
     */
    public long[] outputShape() {
        return outputShape.clone();
    }

    /**
     * The layout of the program's 4-d activations, chosen or given when compiled.
     *
     * @return the layout
     */
    public Program.Layout layout() {
        return layout;
    }

    /**
     * The threads each run uses: {@link dev.gatun.backend.Threads#get()} when the plan was compiled.
     *
     * @return the thread count
     */
    public int threads() {
        return program.threads();
    }

    /**
     * Runs the model on {@code input} (row-major, of {@link #inputShape()}), writing the output (row-major,
     * of {@link #outputShape()}) into {@code output}.
     *
     * @param input  the input values
     * @param output where the output values go
     *
     * @throws IllegalArgumentException if an array's length does not match its shape
     * @throws IllegalStateException    if the plan is closed
     */
    public void run(float[] input, float[] output) {
        program.run(input, output);
    }

    /**
     * As {@link #run(float[], float[])}, into a new array.
     *
     * @param input the input values, row-major, of {@link #inputShape()}
     * @return the output, row-major, of {@link #outputShape()}
     */
    public float[] run(float[] input) {
        float[] out = new float[Math.toIntExact(product(outputShape))];
        program.run(input, out);
        return out;
    }

    /** Frees the plan's native memory; waits for a run in progress. Idempotent. */
    @Override
    public void close() {
        program.close();
    }
}
