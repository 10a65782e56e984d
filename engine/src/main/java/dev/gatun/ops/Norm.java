package dev.gatun.ops;

import static dev.gatun.ops.BackendTensors.dstOutput;
import static dev.gatun.ops.BackendTensors.input;
import static dev.gatun.ops.BackendTensors.operand;
import static dev.gatun.ops.BackendTensors.segment;
import static dev.gatun.ops.BackendTensors.srcOutput;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.ActivationLayouts;
import dev.gatun.backend.BatchNorm;
import dev.gatun.backend.LayerNorm;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Normalization layers with PyTorch's semantics, on oneDNN.
 *
 * <p>Batch normalization, over the batch and every position of each channel c (x of shape [N, C],
 * [N, C, L] or [N, C, H, W]):
 *
 * <pre>
 *   training:  μ_c, σ²_c = mean and biased variance of the batch;  y = γ·(x − μ)/√(σ² + ε) + β
 *              running_mean ← (1 − m)·running_mean + m·μ
 *              running_var  ← (1 − m)·running_var  + m·σ²·n/(n − 1)      (n values per channel)
 *   evaluation: the same y with running_mean and running_var in place of μ and σ²
 *   backward:   oneDNN's in training; in evaluation the map is affine per channel, so
 *              ∂x = g·γ/√(var + ε),  ∂γ = Σ g·x̂,  ∂β = Σ g
 * </pre>
 *
 * <p>Layer normalization, over the last k dimensions of x (the normalized shape, D values per row),
 * always with the statistics of the row itself:
 *
 * <pre>
 *   μ, σ² = mean and biased variance of the row;  r = 1/√(σ² + ε);  x̂ = (x − μ)·r;  y = γ·x̂ + β
 *   backward:  ĝ = g·γ;  ∂x = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂));  ∂γ = Σ_rows g·x̂;  ∂β = Σ_rows g
 * </pre>
 */
public final class Norm {

    private Norm() {}

    /**
     * Batch normalization, {@code F.batch_norm(x, runningMean, runningVar, weight, bias, training,
     * momentum, eps)}: each channel c normalized with the mean and variance over the batch and every
     * position (the formulas on this class), then scaled by γ_c and shifted by β_c. Batch statistics are
     * used in training, and also in evaluation when there are no running statistics (as
     * {@code nn.BatchNorm2d(track_running_stats=False)} does; PyTorch's functional form refuses that
     * case). In training the running statistics are updated in place, outside autograd, with the
     * unbiased batch variance. Inputs that are not contiguous are copied first.
     *
     * <p>When recording is on and x, weight or bias requires a gradient, the backward pass is recorded:
     * oneDNN's with batch statistics, the per-channel affine formula with running statistics; it gives
     * ∂x of x's shape, ∂weight and ∂bias [C]. The running statistics receive no gradient.
     *
     * @param x           the input [N, C], [N, C, L] or [N, C, H, W], all sizes at least 1
     * @param runningMean the running mean [C], updated in place in training; or null (then runningVar
     *                    must be null too, and batch statistics are always used)
     * @param runningVar  the running variance [C], updated in place in training; or null with runningMean
     * @param weight      γ [C], or null for 1 (then bias must be null too)
     * @param bias        β [C], or null for 0 (then weight must be null too)
     * @param training    true to normalize with the batch statistics and update the running ones; false
     *                    to normalize with the running statistics
     * @param momentum    m in running ← (1 − m)·running + m·batch, in [0, 1] (PyTorch's default 0.1)
     * @param eps         ε added to the variance before the square root, positive (PyTorch's 1e-5)
     * @return the normalized tensor, of x's shape, new in the current scope
     * @throws IllegalArgumentException if x is not 2-, 3- or 4-d or has a size below 1; if weight, bias or
     *         a running statistic is not [C]; if only one of weight and bias, or of the two running
     *         statistics, is given; if batch statistics would be taken over a single value per channel
     *         (N times the positions per channel is 1); if momentum is outside [0, 1] or NaN; or if eps is
     *         not positive
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                   boolean training, float momentum, float eps) {
        return batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps, false);
    }

    /**
     * ReLU of {@link #batchNorm batch normalization}, {@code relu(batchNorm(...))}: in training one fused
     * pass each way (oneDNN's batch normalization with ReLU: the ReLU's own passes over the tensor are
     * saved), the same values as the two ops one after the other; in evaluation the two ops.
     *
     * @param x           as for {@link #batchNorm}
     * @param runningMean as for {@link #batchNorm}
     * @param runningVar  as for {@link #batchNorm}
     * @param weight      as for {@link #batchNorm}
     * @param bias        as for {@link #batchNorm}
     * @param training    as for {@link #batchNorm}
     * @param momentum    as for {@link #batchNorm}
     * @param eps         as for {@link #batchNorm}
     * @return max(0, the normalized tensor), of x's shape, new in the current scope
     * @throws IllegalArgumentException as {@link #batchNorm}
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor batchNormRelu(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                       boolean training, float momentum, float eps) {
        return batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps, true);
    }

    private static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                    boolean training, float momentum, float eps, boolean relu) {
        x.checkAlive();
        long[] s = x.shape();
        if (s.length < 2 || s.length > 4) {
            throw new IllegalArgumentException("batchNorm expects [N, C], [N, C, L] or [N, C, H, W], got "
                    + Arrays.toString(s));
        }
        long c = s[1];
        long spatial = spatialSize(s);
        checkChannels("weight", weight, c);
        checkChannels("bias", bias, c);
        checkChannels("running mean", runningMean, c);
        checkChannels("running variance", runningVar, c);
        if ((weight == null) != (bias == null)) {
            throw new IllegalArgumentException("batchNorm: weight and bias must both be given or both be null");
        }
        if ((runningMean == null) != (runningVar == null)) {
            throw new IllegalArgumentException("batchNorm: running mean and variance must both be given or both be null");
        }
        boolean useBatchStats = training || runningMean == null;
        long perChannel = s[0] * spatial;
        if (useBatchStats && perChannel < 2) {
            throw new IllegalArgumentException("batchNorm: training needs more than one value per channel, input shape "
                    + Arrays.toString(s));
        }
        if (!(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException("batchNorm: momentum must be in [0, 1], got " + momentum);
        }
        if (relu && !useBatchStats) {
            return Activation.relu(batchNorm(x, runningMean, runningVar, weight, bias, false, momentum, eps, false));
        }
        // [N, C, H, W] keeps its two spatial dimensions, so that the blocked layout is the convolutions' one.
        BatchNorm.Config config = s.length == 4 ? new BatchNorm.Config(s[0], c, s[2], s[3], eps, weight != null, relu)
                : new BatchNorm.Config(s[0], c, spatial, 1, eps, weight != null, relu);
        Tensor in = x.contiguous();
        ActivationLayouts l = BatchNorm.layouts(config);
        Tensor y = dstOutput(s, l);
        MemorySegment scale = weight == null ? null : segment(weight.contiguous());
        MemorySegment shift = bias == null ? null : segment(bias.contiguous());
        if (useBatchStats) {
            Tensor mean = Tensor.empty(c);
            Tensor var = Tensor.empty(c);
            long wsBytes = BatchNorm.workspaceBytes(config);
            Tensor ws = wsBytes > 0 ? Tensor.empty((wsBytes + Float.BYTES - 1) / Float.BYTES) : null;
            BatchNorm.forwardTraining(config, input(in, l.src()), operand(y, l.dst()), scale, shift,
                    mean.storage(), var.storage(), ws == null ? null : ws.storage());
            if (runningMean != null && training) {
                updateRunning(runningMean, mean.toArray(), momentum, 1);
                updateRunning(runningVar, var.toArray(), momentum, perChannel / (double) (perChannel - 1));
            }
            return Autograd.record(y, "batchNorm", g -> {
                Tensor dx = srcOutput(s, l);
                Tensor dGamma = weight == null ? null : Tensor.empty(c);
                Tensor dBeta = bias == null ? null : Tensor.empty(c);
                BatchNorm.backward(config, input(in, l.src()), mean.storage(), var.storage(),
                        input(g.contiguous(), l.dst()),
                        weight == null ? null : segment(weight.contiguous()),
                        bias == null ? null : segment(bias.contiguous()),
                        operand(dx, l.src()),
                        dGamma == null ? null : dGamma.storage(), dBeta == null ? null : dBeta.storage(),
                        ws == null ? null : ws.storage());
                return new Tensor[] {dx, dGamma, dBeta};
            }, x, weight, bias);
        }
        // Evaluation: fixed statistics, an affine map per channel.
        Tensor mean = runningMean.contiguous();
        Tensor var = runningVar.contiguous();
        BatchNorm.forwardInference(config, input(in, l.src()), operand(y, l.dst()), scale, shift,
                segment(mean), segment(var));
        float[] rm = mean.toArray();
        float[] rv = var.toArray();
        return Autograd.record(y, "batchNorm", g -> evalBackward(g.toArray(), in.toArray(), rm, rv,
                weight == null ? null : weight.toArray(), s, c, spatial, eps, weight != null), x, weight, bias);
    }

    private static long spatialSize(long[] s) {
        long spatial = 1;
        for (int i = 2; i < s.length; i++) spatial *= s[i];
        return spatial;
    }

    private static Tensor[] evalBackward(float[] g, float[] x, float[] rm, float[] rv, float[] gamma, long[] shape,
                                         long c, long spatial, float eps, boolean affine) {
        float[] dx = new float[g.length];
        double[] dGamma = new double[(int) c];
        double[] dBeta = new double[(int) c];
        int inner = (int) spatial;
        for (int i = 0; i < g.length; i++) {
            int ch = (int) ((i / inner) % c);
            float invStd = (float) (1 / Math.sqrt(rv[ch] + (double) eps));
            float gm = affine ? gamma[ch] : 1f;
            dx[i] = g[i] * gm * invStd;
            dGamma[ch] += g[i] * (x[i] - rm[ch]) * invStd;
            dBeta[ch] += g[i];
        }
        if (!affine) {
            return new Tensor[] {Tensor.fromArray(dx, shape), null, null};
        }
        float[] dg = new float[(int) c];
        float[] db = new float[(int) c];
        for (int k = 0; k < c; k++) {
            dg[k] = (float) dGamma[k];
            db[k] = (float) dBeta[k];
        }
        return new Tensor[] {Tensor.fromArray(dx, shape), Tensor.fromArray(dg, c), Tensor.fromArray(db, c)};
    }

    /** stat ← (1 − m)·stat + m·batch·correction, in place, outside autograd. */
    private static void updateRunning(Tensor stat, float[] batch, float momentum, double correction) {
        float[] v = stat.toArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((1 - momentum) * v[i] + momentum * batch[i] * correction);
        }
        stat.copyFrom(v);
    }

    private static void checkChannels(String name, Tensor t, long c) {
        if (t == null) {
            return;
        }
        t.checkAlive();
        if (t.dim() != 1 || t.size(0) != c) {
            throw new IllegalArgumentException("batchNorm: " + name + " must be [" + c + "], got " + Arrays.toString(t.shape()));
        }
    }

    /**
     * Layer normalization, {@code F.layer_norm(x, normalizedShape, weight, bias, eps)}: each row (the
     * last {@code normalizedShape.length} dimensions of x, D values) normalized with its own mean and
     * biased variance, then scaled elementwise by γ and shifted by β (the formulas on this class). It is
     * the same in training and evaluation, with no running statistics. Computed by oneDNN's layer
     * normalization; the row means and variances are kept for backward.
     *
     * <p>When recording is on and x, weight or bias requires a gradient, the backward pass on this class
     * is recorded, giving ∂x of x's shape and ∂weight, ∂bias of the normalized shape (each only when that
     * tensor requires a gradient).
     *
     * @param x               the input [..., normalizedShape]
     * @param normalizedShape the trailing shape to normalize over, at least one dimension, equal to x's
     *                        last dimensions
     * @param weight          γ of the normalized shape, or null for 1
     * @param bias            β of the normalized shape, or null for 0
     * @param eps             ε added to the variance before the square root, positive (PyTorch's 1e-5)
     * @return the normalized tensor, of x's shape, new in the current scope
     * @throws IllegalArgumentException if normalizedShape is empty, if x's shape does not end in it, if
     *         eps is not positive (PyTorch accepts 0), or if weight or bias is not of the normalized shape
     * @throws IllegalStateException    if a tensor is closed
     */
    public static Tensor layerNorm(Tensor x, long[] normalizedShape, Tensor weight, Tensor bias, float eps) {
        x.checkAlive();
        long[] s = x.shape();
        int k = normalizedShape.length;
        if (k == 0) {
            throw new IllegalArgumentException("layerNorm: the normalized shape must have at least one dimension");
        }
        if (s.length < k || !Arrays.equals(Arrays.copyOfRange(s, s.length - k, s.length), normalizedShape)) {
            throw new IllegalArgumentException("layerNorm: input of shape " + Arrays.toString(s)
                    + " does not end in the normalized shape " + Arrays.toString(normalizedShape));
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("layerNorm: eps must be positive, got " + eps);
        }
        checkNormalized("weight", weight, normalizedShape);
        checkNormalized("bias", bias, normalizedShape);
        long d = Kernels.checkedSize(normalizedShape);
        long rows = d == 0 ? 0 : x.numel() / d;
        if (rows == 0) {
            Tensor out = Tensor.empty(s);
            return Autograd.record(out, "layerNorm", g -> new Tensor[] {
                Tensor.zeros(s),
                weight != null && weight.requiresGrad() ? Tensor.zeros(normalizedShape) : null,
                bias != null && bias.requiresGrad() ? Tensor.zeros(normalizedShape) : null}, x, weight, bias);
        }
        Tensor src = x.contiguous();
        Tensor gamma = weight == null ? null : weight.contiguous();
        Tensor beta = bias == null ? null : bias.contiguous();
        Tensor out = Tensor.empty(s);
        // Each row's mean and variance, kept for backward.
        Tensor stats = Tensor.empty(2, rows);
        MemorySegment st = stats.storage();
        MemorySegment mean = st.asSlice(stats.offset() * Float.BYTES, rows * Float.BYTES);
        MemorySegment variance = st.asSlice((stats.offset() + rows) * Float.BYTES, rows * Float.BYTES);
        LayerNorm.forward(rows, d, eps, src.storageForReading(), src.offset(), out.storage(), out.offset(), mean,
                variance, gamma == null ? null : slice(gamma, d), beta == null ? null : slice(beta, d));
        return Autograd.record(out, "layerNorm", g -> {
            Tensor gc = g.contiguous();
            Tensor dx = Tensor.empty(s);
            Tensor dw = weight != null && weight.requiresGrad() ? Tensor.empty(normalizedShape) : null;
            Tensor db = bias != null && bias.requiresGrad() ? Tensor.empty(normalizedShape) : null;
            LayerNorm.backward(rows, d, eps, src.storageForReading(), src.offset(), mean, variance,
                    gamma == null ? null : slice(gamma, d), beta == null ? null : slice(beta, d), gc.storageForReading(), gc.offset(),
                    dx.storage(), dx.offset(), dw == null ? null : slice(dw, d), db == null ? null : slice(db, d));
            return new Tensor[] {dx, dw, db};
        }, x, weight, bias);
    }

    /**
     * The n floats of a contiguous tensor, from its first element: a parameter read or a new gradient
     * filled (neither counted as a write of the tensor, as {@link BackendTensors#segment}).
     */
    private static MemorySegment slice(Tensor t, long n) {
        return segment(t).asSlice(0, n * Float.BYTES);
    }

    private static void checkNormalized(String name, Tensor t, long[] normalizedShape) {
        if (t == null) {
            return;
        }
        t.checkAlive();
        if (!Arrays.equals(t.shape(), normalizedShape)) {
            throw new IllegalArgumentException("layerNorm: " + name + " must be " + Arrays.toString(normalizedShape)
                    + ", got " + Arrays.toString(t.shape()));
        }
    }
}
