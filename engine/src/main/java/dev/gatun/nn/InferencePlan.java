package dev.gatun.nn;

import dev.gatun.backend.Convolution;
import dev.gatun.backend.Program;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A model's evaluation-mode forward pass for one input shape, compiled into a {@link Program}: native
 * primitive calls over buffers made once, run inside one OpenMP parallel region per call, with no tensor,
 * scope or autograd work between the layers. What {@code torch.jit.freeze} plus an inference session give a
 * PyTorch user; {@link dev.gatun.serve.InferenceSession} uses one per worker where the model compiles.
 *
 * <p><b>What compiles.</b> A {@link Sequential} (nested ones included) of {@link Conv2d} (one group; a
 * following {@link BatchNorm2d} is folded into its weights, a following {@link ReLU} fused),
 * {@link BasicBlock} (both shortcuts), {@link ReLU}, {@link AvgPool2d}, {@link AdaptiveAvgPool2d},
 * {@link Flatten}, {@link Linear} (a following ReLU fused) and {@link Dropout} (nothing, in evaluation), on
 * a {@code [N, C, H, W]} or {@code [N, F]} input; every module in evaluation mode. {@link #compile} names
 * the first module that does not.
 *
 * <p><b>Results.</b> The same operations as the layers' own forward passes, in another layout
 * (channels-last) and another split between threads, so equal to them within float rounding, not bit for
 * bit; equal between runs, and between threads running their own plans of the same model and shape.
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
        UnsupportedModelException(String message) {
            super(message);
        }
    }

    private final Program program;
    private final long[] inputShape;
    private final long[] outputShape;

    private InferencePlan(Program program, long[] inputShape, long[] outputShape) {
        this.program = program;
        this.inputShape = inputShape;
        this.outputShape = outputShape;
    }

    /** A value between steps: a buffer, its dims, and whether it is 4-d channels-last (else row-major). */
    private record Value(MemorySegment buffer, long[] dims, boolean last) {
        long elements() {
            long n = 1;
            for (long d : dims) n *= d;
            return n;
        }
    }

    /**
     * Compiles {@code model}'s forward pass for inputs of exactly {@code inputShape}.
     *
     * @param model      the model, in evaluation mode
     * @param inputShape the input's shape, batch first: {@code [N, C, H, W]} or {@code [N, F]}
     * @return the plan; close it when done (or leave it to the garbage collector)
     * @throws UnsupportedModelException if a module, or its shape, is not one a plan takes (the message
     *     names it), or a module is in training mode
     * @throws IllegalArgumentException  if the shape is not one the model takes
     */
    public static InferencePlan compile(Module model, long... inputShape) {
        long[] shape = inputShape.clone();
        if (shape.length != 2 && shape.length != 4) {
            throw new UnsupportedModelException("a plan takes [N, C, H, W] or [N, F] inputs, got "
                    + Arrays.toString(shape));
        }
        for (long d : shape) {
            if (d < 1 || d > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("input dimension " + d + " out of range in " + Arrays.toString(shape));
            }
        }
        List<Module> layers = new ArrayList<>();
        flatten(model, layers);
        for (Module m : layers) {
            if (m.isTraining()) {
                throw new UnsupportedModelException(m.describe() + " is in training mode; call eval() first");
            }
        }
        try (Program.Builder b = Program.builder()) {
            long floats = product(shape);
            MemorySegment input = b.buffer(floats);
            Value x;
            if (shape.length == 4 && shape[1] > 1 && shape[2] * shape[3] > 1) {
                x = new Value(b.buffer(floats), shape, true);
                b.reorder(shape, true, input, x.buffer());
            } else {
                x = new Value(input, shape, shape.length == 4);
            }
            for (int i = 0; i < layers.size(); i++) {
                Module m = layers.get(i);
                Module next = i + 1 < layers.size() ? layers.get(i + 1) : null;
                switch (m) {
                    case Conv2d conv -> {
                        BatchNorm bn = next instanceof BatchNorm2d n ? n : null;
                        int after = bn == null ? i + 1 : i + 2;
                        boolean relu = after < layers.size() && layers.get(after) instanceof ReLU;
                        x = convolution(b, x, conv, bn, relu ? Convolution.Fusion.RELU : Convolution.Fusion.NONE,
                                null);
                        i = relu ? after : after - 1;
                    }
                    case BasicBlock block -> x = block(b, x, block);
                    case ReLU r -> b.relu(x.buffer(), x.elements());
                    case Dropout d -> { }
                    case AvgPool2d p -> x = averagePooling(b, x, p.kernel(), p.stride(), p.padding(),
                            p.countIncludePad(), p.describe());
                    case AdaptiveAvgPool2d p -> {
                        require(x, 4, p);
                        int h = (int) x.dims()[2];
                        int w = (int) x.dims()[3];
                        x = averagePooling(b, x, new int[] {h, w}, new int[] {h, w}, new int[] {0, 0}, true,
                                p.describe());
                    }
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
            Value out = x;
            if (x.last()) { // back to row-major for the caller
                out = new Value(b.buffer(x.elements()), x.dims(), false);
                b.reorder(x.dims(), false, x.buffer(), out.buffer());
            }
            Program p = b.build(input, floats, out.buffer(), out.elements());
            return new InferencePlan(p, shape, out.dims().clone());
        }
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

    private static Value convolution(Program.Builder b, Value x, Conv2d conv, BatchNorm bn, Convolution.Fusion fusion,
                                     Value residual) {
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
                : new Value(b.buffer(product(g.outputShape())), g.outputShape(), true);
        x = channelsLast(b, x);
        b.convolution(g, folded[0], folded[1], fusion, x.buffer(), out.buffer());
        return out;
    }

    /** {@code x} itself where it is channels-last or its layouts coincide (one channel, or 1×1). */
    private static Value channelsLast(Program.Builder b, Value x) {
        if (x.last() || x.dims()[1] == 1 || x.dims()[2] * x.dims()[3] == 1) {
            return x;
        }
        Value v = new Value(b.buffer(x.elements()), x.dims(), true);
        b.reorder(x.dims(), true, x.buffer(), v.buffer());
        return v;
    }

    private static Value block(Program.Builder b, Value x, BasicBlock block) {
        Value h = convolution(b, x, block.conv1(), block.bn1(), Convolution.Fusion.RELU, null);
        Value shortcut;
        Sequential ds = block.downsample();
        if (ds == null) {
            // The identity: conv2 adds its output onto x where x lies (nothing later reads x).
            shortcut = channelsLast(b, x);
        } else {
            if (ds.size() != 2 || !(ds.get(0) instanceof Conv2d c) || !(ds.get(1) instanceof BatchNorm n)) {
                throw new UnsupportedModelException("an inference plan takes projection shortcuts of a convolution"
                        + " and a batch norm, not " + ds.describe());
            }
            shortcut = convolution(b, x, c, n, Convolution.Fusion.NONE, null);
        }
        long[] want = new long[] {h.dims()[0], block.conv2().weight().size(0), h.dims()[2], h.dims()[3]};
        if (!Arrays.equals(shortcut.dims(), want)) {
            throw new IllegalArgumentException(block.describe() + ": shortcut " + Arrays.toString(shortcut.dims())
                    + " does not match the residual branch " + Arrays.toString(want));
        }
        return convolution(b, h, block.conv2(), block.bn2(), Convolution.Fusion.ADD_RELU, shortcut);
    }

    private static Value averagePooling(Program.Builder b, Value x, int[] kernel, int[] stride, int[] padding,
                                        boolean includePadding, String what) {
        if (x.dims().length != 4) {
            throw new IllegalArgumentException(what + " takes a 4-d input, got " + Arrays.toString(x.dims()));
        }
        x = channelsLast(b, x);
        long[] d = x.dims();
        if (padding[0] * 2 > kernel[0] || padding[1] * 2 > kernel[1] || d[2] + 2L * padding[0] < kernel[0]
                || d[3] + 2L * padding[1] < kernel[1]) {
            throw new IllegalArgumentException(what + ": window does not fit input " + Arrays.toString(d));
        }
        long oh = (d[2] + 2L * padding[0] - kernel[0]) / stride[0] + 1;
        long ow = (d[3] + 2L * padding[1] - kernel[1]) / stride[1] + 1;
        long[] outDims = {d[0], d[1], oh, ow};
        Value out = new Value(b.buffer(product(outDims)), outDims, true);
        b.averagePooling(d, new long[] {kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1]},
                includePadding, x.buffer(), out.buffer());
        return out;
    }

    private static Value flatten(Program.Builder b, Value x) {
        long[] d = x.dims();
        long[] rows = {d[0], product(d) / d[0]};
        if (!x.last() || d[1] == 1 || d[2] * d[3] == 1) {
            return new Value(x.buffer(), rows, false);
        }
        Value plain = new Value(b.buffer(x.elements()), d, false);
        b.reorder(d, false, x.buffer(), plain.buffer());
        return new Value(plain.buffer(), rows, false);
    }

    private static Value linear(Program.Builder b, Value x, Linear l, boolean relu) {
        require(x, 2, l);
        long[] ws = l.weight().shape();
        if (x.dims()[1] != ws[1]) {
            throw new IllegalArgumentException(l.describe() + " takes " + ws[1] + " features, got "
                    + Arrays.toString(x.dims()));
        }
        long[] outDims = {x.dims()[0], ws[0]};
        Value out = new Value(b.buffer(product(outDims)), outDims, false);
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
