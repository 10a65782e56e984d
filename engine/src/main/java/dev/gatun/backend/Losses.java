package dev.gatun.backend;

import dev.gatun.bindings.kernels.GatunKernels;
import java.lang.foreign.MemorySegment;

/**
 * gatun's kernels for the losses over many elements: softmax cross-entropy over rows of logits, binary
 * cross-entropy on logits, squared error. Each checks sizes, class indices and overlaps before the native call, and
 * leaves the final sum to the caller (per row or per block, in double, added in order), so that the loss
 * does not depend on the thread count.
 */
public final class Losses {

    /**
     * Elements per partial sum of {@link #bceWithLogits} and {@link #squaredError} (the kernels'
     * {@code GATUN_LOSS_BLOCK}).
     */
    public static final int BLOCK = GatunKernels.GATUN_LOSS_BLOCK();

    private Losses() {}

    /**
     * Softmax cross-entropy of logits [rows, classes] against class indices with label smoothing ε, on
     * gatun's kernel ({@code gatun_softmax_cross_entropy}): writes the probabilities (each row's softmax)
     * and each row's loss, −((1 − ε)·log p[y] + ε/C·Σ_k log p[k]), as doubles in rowLoss.
     *
     * @param logits    [rows, classes] floats
     * @param targets   rows int32 class indices, each in [0, classes) (checked here)
     * @param probs     [rows, classes] floats, written; must not overlap the inputs
     * @param rowLoss   rows doubles, written; must not overlap the others
     * @param smoothing ε in [0, 1]
     * @throws IllegalArgumentException if a size is not positive, a region does not fit, a target is not a
     *                                  class index, ε is outside [0, 1], or outputs overlap
     */
    public static void crossEntropy(MemorySegment logits, MemorySegment targets, MemorySegment probs,
                                    MemorySegment rowLoss, long rows, long classes, float smoothing) {
        long n = matrix(rows, classes, smoothing);
        MemorySegment z = Primitives.region("crossEntropy: logits", logits, 0, n);
        MemorySegment y = classIndices("crossEntropy", targets, rows, classes);
        MemorySegment p = Primitives.region("crossEntropy: probabilities", probs, 0, n);
        MemorySegment l = Primitives.region("crossEntropy: row losses", rowLoss, 0, Math.multiplyExact(rows, 2));
        Primitives.requireDisjoint("crossEntropy", new MemorySegment[] {z, y}, new MemorySegment[] {p, l},
                new String[] {"the probabilities", "the row losses"});
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_softmax_cross_entropy(z, y, p, l, rows, classes, smoothing);
    }

    /**
     * The gradient of {@link #crossEntropy} ({@code gatun_softmax_cross_entropy_backward}): dz = (p − q)·scale,
     * q being (1 − ε) at the target plus ε/C everywhere. dz must not overlap probs or targets.
     *
     * @throws IllegalArgumentException as {@link #crossEntropy}
     */
    public static void crossEntropyBackward(MemorySegment probs, MemorySegment targets, MemorySegment dz, long rows,
                                            long classes, float smoothing, double scale) {
        long n = matrix(rows, classes, smoothing);
        MemorySegment p = Primitives.region("crossEntropy backward: probabilities", probs, 0, n);
        MemorySegment y = classIndices("crossEntropy backward", targets, rows, classes);
        MemorySegment d = Primitives.region("crossEntropy backward: dz", dz, 0, n);
        Primitives.requireDisjoint("crossEntropy backward", new MemorySegment[] {p, y}, new MemorySegment[] {d},
                new String[] {"dz"});
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_softmax_cross_entropy_backward(p, y, d, rows, classes, smoothing,
                scale);
    }

    /** rows · classes, after checking both positive and ε in [0, 1]. */
    private static long matrix(long rows, long classes, float smoothing) {
        if (rows < 1 || classes < 1) {
            throw new IllegalArgumentException("crossEntropy: rows and classes must be positive, got " + rows + " × "
                    + classes);
        }
        if (!(smoothing >= 0 && smoothing <= 1)) {
            throw new IllegalArgumentException("crossEntropy: label smoothing " + smoothing + " is outside [0, 1]");
        }
        return Math.multiplyExact(rows, classes);
    }

    /** rows int32 values, each checked to be in [0, classes). */
    private static MemorySegment classIndices(String op, MemorySegment targets, long rows, long classes) {
        return Primitives.indices(op, targets, rows, classes, "target", "row", "is not a class index in");
    }

    /**
     * Binary cross-entropy on logits ({@code gatun_bce_with_logits}): writes σ(z) and, per block of
     * {@link #BLOCK} elements, the sum of max(z, 0) − z·t + log(1 + e^−|z|) as a double.
     *
     * @param logits    n floats
     * @param targets   n floats
     * @param sigmoid   n floats, written; must not overlap the inputs
     * @param blockSums ceil(n / BLOCK) doubles, written; must not overlap the others
     * @param n         the element count, at least 1
     * @throws IllegalArgumentException if n is not positive, a region does not fit, or outputs overlap
     */
    public static void bceWithLogits(MemorySegment logits, MemorySegment targets, MemorySegment sigmoid,
                                     MemorySegment blockSums, long n) {
        MemorySegment[] r = blockLoss("bceWithLogits", "logits", logits, targets, "sigmoid", sigmoid, blockSums, n);
        GatunKernels.gatun_bce_with_logits(r[0], r[1], r[2], r[3], n);
    }

    /**
     * The checked regions of a loss over n elements with per-block sums ({@link #bceWithLogits},
     * {@link #squaredError}): its input, the targets, its per-element output and the block sums, the two
     * outputs disjoint from the inputs and each other; the library loaded and the thread's setting applied,
     * ready for the kernel.
     */
    private static MemorySegment[] blockLoss(String what, String inputName, MemorySegment input, MemorySegment targets,
                                             String outputName, MemorySegment output, MemorySegment blockSums,
                                             long n) {
        if (n < 1) {
            throw new IllegalArgumentException(what + ": " + n + " elements");
        }
        MemorySegment[] in = {Primitives.region(what + ": " + inputName, input, 0, n),
            Primitives.region(what + ": targets", targets, 0, n)};
        MemorySegment sums = Primitives.region(what + ": block sums", blockSums, 0, 2 * blocks(n));
        MemorySegment out = null;
        if (output == null) {
            Primitives.requireDisjoint(what, in, new MemorySegment[] {sums}, new String[] {"the block sums"});
        } else {
            out = Primitives.region(what + ": " + outputName, output, 0, n);
            Primitives.requireDisjoint(what, in, new MemorySegment[] {out, sums},
                    new String[] {"the " + outputName, "the block sums"});
        }
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        return new MemorySegment[] {in[0], in[1], out, sums};
    }

    /** Partial sums of {@link #bceWithLogits} and {@link #squaredError} for n elements. */
    public static long blocks(long n) {
        return (n + BLOCK - 1) / BLOCK;
    }

    /**
     * out = (a − b)·scale over n floats ({@code gatun_scaled_difference}): the gradient of {@link #bceWithLogits}
     * from the σ(z) it kept (a = σ(z), b = t) and of {@link #squaredError} (a = p, b = t, or the other way round
     * for the targets' gradient). out must not overlap a or b.
     *
     * @throws IllegalArgumentException if n is not positive, a region does not fit, or out overlaps an input
     */
    public static void scaledDifference(MemorySegment a, MemorySegment b, MemorySegment out, long n, float scale) {
        if (n < 1) {
            throw new IllegalArgumentException("scaledDifference: " + n + " elements");
        }
        MemorySegment sa = Primitives.region("scaledDifference: a", a, 0, n);
        MemorySegment sb = Primitives.region("scaledDifference: b", b, 0, n);
        MemorySegment so = Primitives.region("scaledDifference: out", out, 0, n);
        Primitives.requireDisjoint("scaledDifference", new MemorySegment[] {sa, sb}, new MemorySegment[] {so},
                new String[] {"out"});
        NativeLibraries.load();
        Threads.applyToCurrentThread();
        GatunKernels.gatun_scaled_difference(sa, sb, so, n, scale);
    }

    /**
     * Squared error ({@code gatun_squared_error}): per block of {@link #BLOCK} elements, the sum of (p − t)²
     * computed in double.
     *
     * @param predictions n floats
     * @param targets     n floats
     * @param blockSums   ceil(n / BLOCK) doubles, written; must not overlap the inputs
     * @param n           the element count, at least 1
     * @throws IllegalArgumentException if n is not positive, a region does not fit, or the sums overlap an input
     */
    public static void squaredError(MemorySegment predictions, MemorySegment targets, MemorySegment blockSums,
                                    long n) {
        MemorySegment[] r = blockLoss("squaredError", "predictions", predictions, targets, null, null, blockSums, n);
        GatunKernels.gatun_squared_error(r[0], r[1], r[3], n);
    }
}
