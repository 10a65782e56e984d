package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Losses;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Loss functions, each the mean over all elements (or samples), as PyTorch's default
 * {@code reduction='mean'}; each returns a 0-d tensor. Sums are accumulated in double.
 *
 * <pre>
 *   mse                 L = mean (p − t)²                       ∂p = 2(p − t)/n
 *   mae (L1)            L = mean |p − t|                        ∂p = sign(p − t)/n
 *   binaryCrossEntropy  L = −mean [t log p + (1−t) log(1−p)]    ∂p = (p − t) / (p(1 − p)) / n
 *                       (log clamped at −100 as PyTorch does)
 *   bceWithLogits       L = mean [max(z,0) − z·t + log(1 + e^−|z|)]   ∂z = (σ(z) − t)/n
 *   crossEntropy        L = mean over rows of −Σ_c q_c log softmax(z)_c, q = (1−ε)·onehot(y) + ε/C
 *                       ∂z = (softmax(z) − q)/N
 *   nllLoss             L = −mean over rows of x[i, y_i]            ∂x[i, y_i] = −1/N
 * </pre>
 *
 * <p>Class targets are given as an int64 tensor [N], as in PyTorch, or as an {@code int[]}; every
 * target is checked to be a class index in [0, C) before anything is computed (PyTorch's
 * {@code ignore_index} is not supported: a negative target is refused). Predictions and float targets
 * are float32.
 */
public final class Loss {

    private Loss() {}

    private static void requireSameShape(String loss, Tensor prediction, Tensor target) {
        prediction.checkAlive();
        target.checkAlive();
        if (!Arrays.equals(prediction.shape(), target.shape())) {
            throw new IllegalArgumentException(loss + ": prediction shape " + Arrays.toString(prediction.shape())
                    + " differs from target shape " + Arrays.toString(target.shape()));
        }
        if (prediction.numel() == 0) {
            throw new IllegalArgumentException(loss + ": empty input");
        }
    }

    /**
     * Mean squared error ({@code torch.nn.functional.mse_loss}).
     *
     * @param prediction the predictions, float32
     * @param target     the targets, float32 of the same shape
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if the shapes differ, the input is empty, or a tensor is not float32
     */
    public static Tensor mse(Tensor prediction, Tensor target) {
        requireSameShape("mse", prediction, target);
        long n = prediction.numel();
        if (n == 0 || prediction.dtype() != DType.FLOAT32 || target.dtype() != DType.FLOAT32) {
            return mseInJava(prediction, target);
        }
        // On gatun's kernel: the partial sums per block, added here in order; backward reads p and t again.
        Tensor p = prediction.contiguous();
        Tensor t = target.contiguous();
        double sum = blockSums(n, sums -> Losses.squaredError(BackendTensors.readable(p), BackendTensors.readable(t),
                sums, n));
        Tensor out = Tensor.full((float) (sum / n));
        return Autograd.record(out, "mse", g -> {
            float scale = g.item() * 2f / n;
            Tensor gp = Tensor.empty(prediction.shape());
            Losses.scaledDifference(BackendTensors.readable(p), BackendTensors.readable(t), BackendTensors.segment(gp),
                    n, scale);
            Tensor gt = null;
            if (target.requiresGrad()) {
                gt = Tensor.empty(prediction.shape());
                Losses.scaledDifference(BackendTensors.readable(t), BackendTensors.readable(p),
                        BackendTensors.segment(gt), n, scale);
            }
            return new Tensor[] {gp, gt};
        }, prediction, target);
    }

    /**
     * Runs a loss kernel that writes the partial sum of each block of {@link Losses#BLOCK} elements of n
     * into the doubles it is given, and adds them in order: the loss is the same at any thread count.
     */
    private static double blockSums(long n, java.util.function.Consumer<MemorySegment> kernel) {
        try (Arena call = Arena.ofConfined()) {
            long blocks = Losses.blocks(n);
            MemorySegment sums = call.allocate(blocks * Double.BYTES, Double.BYTES);
            kernel.accept(sums);
            double sum = 0;
            for (long b = 0; b < blocks; b++) sum += sums.getAtIndex(ValueLayout.JAVA_DOUBLE, b);
            return sum;
        }
    }

    /** {@link #mse} in plain Java with a double-precision sum: for empty or other tensors. */
    private static Tensor mseInJava(Tensor prediction, Tensor target) {
        float[] p = prediction.toArray();
        float[] t = target.toArray();
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            double d = (double) p[i] - t[i];
            sum += d * d;
        }
        int n = p.length;
        Tensor out = Tensor.full((float) (sum / n));
        return Autograd.record(out, "mse", g -> {
            float scale = g.item() * 2f / n;
            float[] dp = new float[n];
            for (int i = 0; i < n; i++) dp[i] = (p[i] - t[i]) * scale;
            Tensor gp = Tensor.fromArray(dp, prediction.shape());
            return new Tensor[] {gp, target.requiresGrad() ? Kernels.scale(gp, -1f) : null};
        }, prediction, target);
    }

    /**
     * Mean absolute error (L1, {@code torch.nn.functional.l1_loss}). The gradient at p = t is 0, as in
     * PyTorch.
     *
     * @param prediction the predictions, float32
     * @param target     the targets, float32 of the same shape
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if the shapes differ, the input is empty, or a tensor is not float32
     */
    public static Tensor mae(Tensor prediction, Tensor target) {
        requireSameShape("mae", prediction, target);
        float[] p = prediction.toArray();
        float[] t = target.toArray();
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            sum += Math.abs((double) p[i] - t[i]);
        }
        int n = p.length;
        Tensor out = Tensor.full((float) (sum / n));
        return Autograd.record(out, "mae", g -> {
            float scale = g.item() / n;
            float[] dp = new float[n];
            for (int i = 0; i < n; i++) dp[i] = Math.signum(p[i] - t[i]) * scale;
            Tensor gp = Tensor.fromArray(dp, prediction.shape());
            return new Tensor[] {gp, target.requiresGrad() ? Kernels.scale(gp, -1f) : null};
        }, prediction, target);
    }

    /**
     * Binary cross-entropy on probabilities p ∈ [0, 1] and targets t ∈ [0, 1]
     * ({@code torch.nn.functional.binary_cross_entropy}).
     *
     * @param probabilities the predicted probabilities, float32
     * @param target        the targets, float32 of the same shape
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if the shapes differ, the input is empty, a tensor is not float32, or
     *                                  a probability or target is outside [0, 1]
     */
    public static Tensor binaryCrossEntropy(Tensor probabilities, Tensor target) {
        requireSameShape("binaryCrossEntropy", probabilities, target);
        float[] p = probabilities.toArray();
        float[] t = target.toArray();
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            if (!(p[i] >= 0 && p[i] <= 1)) {
                throw new IllegalArgumentException("binaryCrossEntropy: probability " + p[i] + " at index " + i
                        + " is outside [0, 1] (use bceWithLogits for raw scores)");
            }
            if (!(t[i] >= 0 && t[i] <= 1)) {
                throw new IllegalArgumentException("binaryCrossEntropy: target " + t[i] + " at index " + i
                        + " is outside [0, 1]");
            }
            sum -= t[i] * clampedLog(p[i]) + (1 - t[i]) * clampedLog(1 - p[i]);
        }
        int n = p.length;
        Tensor out = Tensor.full((float) (sum / n));
        return Autograd.record(out, "binaryCrossEntropy", g -> {
            double scale = g.item() / (double) n;
            float[] dp = new float[n];
            for (int i = 0; i < n; i++) {
                // PyTorch clamps the denominator at 1e-12.
                double denom = Math.max((double) p[i] * (1 - p[i]), 1e-12);
                dp[i] = (float) ((p[i] - t[i]) / denom * scale);
            }
            return new Tensor[] {Tensor.fromArray(dp, probabilities.shape()), null};
        }, probabilities, target);
    }

    private static double clampedLog(double v) {
        return Math.max(Math.log(v), -100);
    }

    /**
     * Binary cross-entropy on logits z, the sigmoid applied inside, stably
     * ({@code torch.nn.functional.binary_cross_entropy_with_logits}).
     *
     * @param logits the raw scores, float32
     * @param target the targets in [0, 1], float32 of the same shape
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if the shapes differ, the input is empty, or a tensor is not float32
     */
    public static Tensor bceWithLogits(Tensor logits, Tensor target) {
        requireSameShape("bceWithLogits", logits, target);
        long count = logits.numel();
        if (count == 0 || logits.dtype() != DType.FLOAT32 || target.dtype() != DType.FLOAT32) {
            return bceWithLogitsInJava(logits, target);
        }
        long n = count;
        // On gatun's kernel: σ(z) kept for backward, and the loss's partial sums per block, added here in order.
        Tensor z = logits.contiguous();
        Tensor t = target.contiguous();
        Tensor sigmoid = Tensor.empty(logits.shape());
        double sum = blockSums(n, sums -> Losses.bceWithLogits(BackendTensors.readable(z), BackendTensors.readable(t),
                BackendTensors.segment(sigmoid), sums, n));
        Tensor out = Tensor.full((float) (sum / n));
        return Autograd.record(out, "bceWithLogits", g -> {
            Tensor dz = Tensor.empty(logits.shape());
            Losses.scaledDifference(BackendTensors.readable(sigmoid), BackendTensors.readable(t),
                    BackendTensors.segment(dz), n, (float) (g.item() / (double) n));
            return new Tensor[] {dz, null};
        }, logits, target);
    }

    /** {@link #bceWithLogits} in plain Java with double-precision sums: for empty or other tensors. */
    private static Tensor bceWithLogitsInJava(Tensor logits, Tensor target) {
        float[] z = logits.toArray();
        float[] t = target.toArray();
        int n = z.length;
        // One exp per element, shared by the loss and the sigmoid its gradient needs (kept for backward):
        // log(1 + e^−|z|) and σ(z) from the same e = e^−|z| ∈ (0, 1].
        double[] sigmoid = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double zi = z[i];
            double e = Math.exp(-Math.abs(zi));
            sum += Math.max(zi, 0) - zi * t[i] + log1pSmall(e);
            sigmoid[i] = zi >= 0 ? 1 / (1 + e) : e / (1 + e);
        }
        Tensor out = Tensor.full((float) (sum / n));
        return Autograd.record(out, "bceWithLogits", g -> {
            double scale = g.item() / (double) n;
            float[] dz = new float[n];
            for (int i = 0; i < n; i++) {
                dz[i] = (float) ((sigmoid[i] - t[i]) * scale);
            }
            return new Tensor[] {Tensor.fromArray(dz, logits.shape()), null};
        }, logits, target);
    }

    /**
     * log(1 + e) for e in (0, 1], to double precision: {@code StrictMath.log1p}, which {@code Math.log1p}
     * calls, is several times slower than the compiler's {@code Math.log}; where 1 + e would round e away,
     * the series e − e²/2 (its next term, e³/3, is below 1e-12 of e there).
     */
    private static double log1pSmall(double e) {
        return e < 1e-6 ? e - 0.5 * e * e : Math.log(1 + e);
    }

    /**
     * Cross-entropy of logits [N, C] against class indices, mean over the N rows
     * ({@code torch.nn.functional.cross_entropy(logits, targets)}).
     *
     * @param logits  the raw scores [N, C], float32
     * @param targets the class of each row: an int64 tensor [N], each in [0, C)
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if logits is not [N, C] or not float32, targets is not an int64 [N],
     *                                  or a target is not a class index (the message names it and its row)
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets) {
        return crossEntropy(logits, targets, 0f);
    }

    /**
     * Cross-entropy of logits [N, C] against class indices with label smoothing ε
     * ({@code label_smoothing} in PyTorch): the target distribution is (1 − ε) on the true class plus ε/C
     * on every class.
     *
     * @param logits         the raw scores [N, C], float32
     * @param targets        the class of each row: an int64 tensor [N], each in [0, C)
     * @param labelSmoothing ε, in [0, 1]
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if logits is not [N, C] or not float32, targets is not an int64 [N],
     *                                  a target is not a class index, or ε is outside [0, 1]
     */
    public static Tensor crossEntropy(Tensor logits, Tensor targets, float labelSmoothing) {
        return crossEntropy(logits, classTargets("crossEntropy", logits, targets), labelSmoothing);
    }

    /**
     * Cross-entropy of logits [N, C] against class indices, mean over the N rows.
     *
     * @param logits  the raw scores [N, C], float32
     * @param targets the class of each row, each in [0, C)
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if logits is not [N, C] or not float32, the number of targets is not
     *                                  N, or a target is not a class index (the message names it and its row)
     */
    public static Tensor crossEntropy(Tensor logits, int[] targets) {
        return crossEntropy(logits, targets, 0f);
    }

    /**
     * Cross-entropy of logits [N, C] against class indices with label smoothing ε: the target
     * distribution is (1 − ε) on the true class plus ε/C on every class.
     *
     * @param logits         the raw scores [N, C], float32
     * @param targets        the class of each row, each in [0, C)
     * @param labelSmoothing ε, in [0, 1]
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if logits is not [N, C] or not float32, the number of targets is not
     *                                  N, a target is not a class index, or ε is outside [0, 1]
     */
    public static Tensor crossEntropy(Tensor logits, int[] targets, float labelSmoothing) {
        int[] shape = checkClassInput("crossEntropy", logits, targets);
        int rows = shape[0];
        int classes = shape[1];
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
            throw new IllegalArgumentException("label smoothing must be in [0, 1], got " + labelSmoothing);
        }
        // On gatun's kernel: the probabilities and each row's loss, summed here in row order.
        Tensor z = logits.contiguous();
        Tensor probs = Tensor.empty(rows, classes);
        Tensor y = BackendTensors.int32(targets); // held by the backward closure below, as probs is
        MemorySegment ys = BackendTensors.readable(y);
        double total = 0;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment rowLoss = call.allocate((long) rows * Double.BYTES, Double.BYTES);
            Losses.crossEntropy(BackendTensors.readable(z), ys, BackendTensors.segment(probs), rowLoss, rows, classes,
                    labelSmoothing);
            for (int r = 0; r < rows; r++) total += rowLoss.getAtIndex(ValueLayout.JAVA_DOUBLE, r);
        }
        Tensor out = Tensor.full((float) (total / rows));
        return Autograd.record(out, "crossEntropy", g -> {
            Tensor dz = Tensor.empty(rows, classes);
            Losses.crossEntropyBackward(BackendTensors.readable(probs), BackendTensors.readable(y),
                    BackendTensors.segment(dz), rows, classes,
                    labelSmoothing, g.item() / (double) rows);
            return new Tensor[] {dz};
        }, logits);
    }

    /**
     * The negative log-likelihood of log-probabilities [N, C] (e.g. a log-softmax) at class indices, mean
     * over the N rows ({@code torch.nn.functional.nll_loss}).
     *
     * @param logProbabilities the log-probabilities [N, C], float32
     * @param targets          the class of each row: an int64 tensor [N], each in [0, C)
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if the input is not a non-empty float32 [N, C], targets is not an int64
     *                                  [N], or a target is not a class index (the message names it and its row)
     */
    public static Tensor nllLoss(Tensor logProbabilities, Tensor targets) {
        return nllLoss(logProbabilities, classTargets("nllLoss", logProbabilities, targets));
    }

    /**
     * The negative log-likelihood of log-probabilities [N, C] at class indices, mean over the N rows.
     *
     * @param logProbabilities the log-probabilities [N, C], float32
     * @param targets          the class of each row, each in [0, C)
     * @return the loss, a 0-d tensor
     * @throws IllegalArgumentException if the input is not a non-empty float32 [N, C], the number of targets is
     *                                  not N, or a target is not a class index
     */
    public static Tensor nllLoss(Tensor logProbabilities, int[] targets) {
        int[] shape = checkClassInput("nllLoss", logProbabilities, targets);
        int rows = shape[0];
        int classes = shape[1];
        float[] x = logProbabilities.toArray();
        double total = 0;
        for (int r = 0; r < rows; r++) total -= x[r * classes + targets[r]];
        int[] y = targets.clone();
        return Autograd.record(Tensor.full((float) (total / rows)), "nllLoss", g -> {
            float share = (float) (-g.item() / (double) rows);
            float[] dx = new float[rows * classes];
            for (int r = 0; r < rows; r++) dx[r * classes + y[r]] = share;
            return new Tensor[] {Tensor.fromArray(dx, rows, classes)};
        }, logProbabilities);
    }

    /**
     * Checks an input [N, C] and its N class targets; returns {N, C}. Shared by the class losses so that
     * they name their bad inputs alike.
     */
    private static int[] checkClassInput(String loss, Tensor input, int[] targets) {
        input.checkAlive();
        if (input.dim() != 2) {
            throw new IllegalArgumentException(loss + " expects " + (loss.equals("nllLoss") ? "log-probabilities"
                    : "logits") + " of shape [N, C], got " + Arrays.toString(input.shape()));
        }
        int rows = (int) input.size(0);
        int classes = (int) input.size(1);
        if (targets.length != rows) {
            throw new IllegalArgumentException(loss + ": " + targets.length + " targets for a batch of " + rows
                    + " rows");
        }
        if (rows == 0 || classes == 0) {
            throw new IllegalArgumentException(loss + ": empty logits " + Arrays.toString(input.shape()));
        }
        for (int i = 0; i < rows; i++) {
            if (targets[i] < 0 || targets[i] >= classes) {
                throw new IllegalArgumentException(loss + ": target " + targets[i] + " at row " + i
                        + " is not a class index in [0, " + classes + ")");
            }
        }
        return new int[] {rows, classes};
    }

    /**
     * The class indices of an int64 target tensor [N] for an input [N, C], each checked to be in [0, C)
     * (as a long, before narrowing, so that no out-of-range target wraps into range).
     */
    private static int[] classTargets(String loss, Tensor input, Tensor targets) {
        input.checkAlive();
        if (targets == null) {
            throw new IllegalArgumentException(loss + ": targets are null");
        }
        targets.checkAlive();
        if (targets.dtype() != DType.INT64) {
            throw new IllegalArgumentException(loss + " expects int64 class indices as targets, got " + targets.dtype()
                    + " (a tensor of shape " + Arrays.toString(targets.shape()) + "); convert them with"
                    + " to(DType.INT64), or pass an int[]");
        }
        long rows = input.dim() == 2 ? input.size(0) : -1;
        if (targets.dim() != 1 || rows >= 0 && targets.size(0) != rows) {
            throw new IllegalArgumentException(loss + ": targets must be [N] for an input of shape "
                    + Arrays.toString(input.shape()) + ", got shape " + Arrays.toString(targets.shape()));
        }
        long classes = input.dim() == 2 ? input.size(1) : Long.MAX_VALUE;
        long[] t = targets.toLongArray();
        int[] out = new int[t.length];
        for (int i = 0; i < t.length; i++) {
            if (t[i] < 0 || t[i] >= classes) {
                throw new IllegalArgumentException(loss + ": target " + t[i] + " at row " + i
                        + " is not a class index in [0, " + classes + ")");
            }
            out[i] = (int) t[i];
        }
        return out;
    }
}
