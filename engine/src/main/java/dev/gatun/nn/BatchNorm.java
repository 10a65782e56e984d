package dev.gatun.nn;

import dev.gatun.ops.Norm;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * What {@link BatchNorm1d} and {@link BatchNorm2d} share: batch normalization over the channel
 * dimension, with batch statistics in training (updating the running ones with {@code momentum}) and
 * running statistics in evaluation. Parameters {@code weight} (γ, ones) and {@code bias} (β, zeros)
 * when affine; buffers {@code running_mean} (zeros) and {@code running_var} (ones), named as in
 * PyTorch. Build one of the two subclasses; this class only holds what they have in common.
 */
public abstract sealed class BatchNorm extends Module permits BatchNorm1d, BatchNorm2d {

    private final long features;
    private final int expectedRank;
    private final float eps;
    private final float momentum;
    private final Tensor weight;
    private final Tensor bias;
    private final Tensor runningMean;
    private final Tensor runningVar;
    // PyTorch's num_batches_tracked buffer (int64 there): counted here, saved and loaded as I64.
    private long numBatchesTracked;

    /** rank 1 for BatchNorm1d, 2 for BatchNorm2d; the settings are checked here. */
    BatchNorm(long features, int expectedRank, float eps, float momentum, boolean affine) {
        String name = "BatchNorm" + expectedRank + "d";
        if (features < 1) {
            throw new IllegalArgumentException(name + " needs a positive number of features, got " + features);
        }
        if (!(eps > 0) || !Float.isFinite(eps)) {
            throw new IllegalArgumentException(name + ": eps must be finite and positive, got " + eps);
        }
        if (!(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException(name + ": momentum must lie in [0, 1], got " + momentum);
        }
        this.features = features;
        this.expectedRank = expectedRank;
        this.eps = eps;
        this.momentum = momentum;
        this.weight = affine ? addParameter("weight", features) : null;
        this.bias = affine ? addParameter("bias", features) : null;
        this.runningMean = addBuffer("running_mean", features);
        this.runningVar = addBuffer("running_var", features);
        resetParameters();
    }

    /**
     * The number of channels normalised, C.
     *
     * @return the feature count ({@code num_features} in PyTorch)
     */
    public long numFeatures() {
        return features;
    }

    /**
     * The constant added to the variance before its square root.
     *
     * @return eps
     */
    public float eps() {
        return eps;
    }

    /**
     * The weight of a batch's statistics in the running ones: running = (1 − momentum)·running +
     * momentum·batch.
     *
     * @return momentum
     */
    public float momentum() {
        return momentum;
    }

    /**
     * Whether the layer has the learnt scale γ and shift β.
     *
     * @return true when {@code weight} and {@code bias} exist
     */
    public boolean affine() {
        return weight != null;
    }

    /** Resets γ to 1, β to 0, the running mean to 0 and the running variance to 1. */
    public void resetParameters() {
        if (weight != null) {
            weight.fill(1f);
            bias.fill(0f);
        }
        runningMean.fill(0f);
        runningVar.fill(1f);
    }

    /**
     * The number of training batches seen, PyTorch's {@code num_batches_tracked}.
     *
     * @return the count
     */
    public long numBatchesTracked() {
        return numBatchesTracked;
    }

    /**
     * Sets {@link #numBatchesTracked()}, as when loading a saved model.
     *
     * @param value the count
     * @throws IllegalArgumentException if {@code value} is negative
     */
    public void setNumBatchesTracked(long value) {
        if (value < 0) {
            throw new IllegalArgumentException("num_batches_tracked must be >= 0, got " + value);
        }
        numBatchesTracked = value;
    }

    /**
     * The running mean, the buffer {@code running_mean} [C].
     *
     * @return the module's own tensor
     */
    public Tensor runningMean() {
        return runningMean;
    }

    /**
     * The running variance, the buffer {@code running_var} [C].
     *
     * @return the module's own tensor
     */
    public Tensor runningVar() {
        return runningVar;
    }

    /** The tensors evaluation reads: running mean and variance, then γ and β when affine. */
    List<Tensor> evaluationState() {
        return weight == null ? List.of(runningMean, runningVar) : List.of(runningMean, runningVar, weight, bias);
    }

    /** Whether this normalises [N, C, H, W] input ({@code BatchNorm2d}). */
    boolean isSpatial() {
        return expectedRank == 2;
    }

    /**
     * The per-channel map y = x·scale + shift that evaluation mode applies: scale = γ/√(σ² + ε),
     * shift = β − μ·scale (γ = 1, β = 0 without affine parameters), computed in double.
     */
    float[][] evaluationAffine() {
        float[] mean = runningMean.toArray();
        float[] var = runningVar.toArray();
        float[] gamma = weight == null ? null : weight.toArray();
        float[] beta = bias == null ? null : bias.toArray();
        float[] scale = new float[mean.length];
        float[] shift = new float[mean.length];
        for (int c = 0; c < mean.length; c++) {
            double s = (gamma == null ? 1.0 : gamma[c]) / Math.sqrt((double) var[c] + eps);
            scale[c] = (float) s;
            shift[c] = (float) ((beta == null ? 0.0 : beta[c]) - mean[c] * s);
        }
        return new float[][] {scale, shift};
    }

    /**
     * γ, the parameter {@code weight} [C].
     *
     * @return the module's own tensor, or null when not affine
     */
    public Tensor weight() {
        return weight;
    }

    /**
     * β, the parameter {@code bias} [C].
     *
     * @return the module's own tensor, or null when not affine
     */
    public Tensor bias() {
        return bias;
    }

    /**
     * Normalises each channel: with the batch's statistics in training (and counts the batch), with the
     * running ones in evaluation.
     *
     * @param x [N, C] or [N, C, L] for BatchNorm1d, [N, C, H, W] for BatchNorm2d
     * @return the normalised tensor, of x's shape
     * @throws IllegalArgumentException if x has another rank or C differs from {@link #numFeatures()}
     */
    @Override
    public final Tensor forward(Tensor x) {
        checkAndCount(x);
        return Norm.batchNorm(x, runningMean, runningVar, weight, bias, isTraining(), momentum, eps);
    }

    /** relu(forward(x)), fused in training ({@link Norm#batchNormRelu}); for a Sequential's BatchNorm → ReLU. */
    final Tensor forwardThenRelu(Tensor x) {
        checkAndCount(x);
        return Norm.batchNormRelu(x, runningMean, runningVar, weight, bias, isTraining(), momentum, eps);
    }

    private void checkAndCount(Tensor x) {
        boolean ok = expectedRank == 2 ? x.dim() == 4 : x.dim() == 2 || x.dim() == 3;
        if (!ok) {
            throw new IllegalArgumentException(describe() + " expects " + (expectedRank == 2 ? "[N, C, H, W]"
                    : "[N, C] or [N, C, L]") + ", got a " + x.dim() + "-d tensor");
        }
        if (isTraining()) {
            numBatchesTracked++;
        }
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code 32, eps=1.0E-5, momentum=0.1, affine=true, track_running_stats=true}
     */
    @Override
    protected String extraRepr() {
        return features + ", eps=" + eps + ", momentum=" + momentum + ", affine=" + (weight != null)
                + ", track_running_stats=true";
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "BatchNorm1d" or "BatchNorm2d", "features", "eps", "momentum", "affine"}}
     */
    @Override
    public final Map<String, Object> spec() {
        return spec("BatchNorm" + expectedRank + "d", "features", features, "eps", eps, "momentum", momentum,
                "affine", weight != null);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code BatchNorm2d(32)}
     */
    @Override
    public final String describe() {
        return "BatchNorm" + expectedRank + "d(" + features + ")";
    }
}
