package dev.gatun.nn;

import dev.gatun.ops.Norm;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.Map;

/**
 * Batch normalization over the channel dimension of [N, C] or [N, C, L] ({@code nn.BatchNorm1d}) and
 * [N, C, H, W] ({@code nn.BatchNorm2d}) inputs: batch statistics in training (updating the running
 * ones with {@code momentum}), running statistics in evaluation. Parameters {@code weight} (γ, ones)
 * and {@code bias} (β, zeros) when affine; buffers {@code running_mean} (zeros) and
 * {@code running_var} (ones), named as in PyTorch.
 */
public final class BatchNorm extends Module {

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

    private BatchNorm(long features, int expectedRank, float eps, float momentum, boolean affine) {
        if (features < 1) {
            throw new IllegalArgumentException("batch norm needs a positive number of features, got " + features);
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

    /** {@code nn.BatchNorm1d(features)}: eps 1e-5, momentum 0.1, affine. */
    public static BatchNorm batchNorm1d(long features) {
        return new BatchNorm(features, 1, 1e-5f, 0.1f, true);
    }

    /** {@code nn.BatchNorm2d(features)}: eps 1e-5, momentum 0.1, affine. */
    public static BatchNorm batchNorm2d(long features) {
        return new BatchNorm(features, 2, 1e-5f, 0.1f, true);
    }

    /** With every setting: {@code rank} 1 for BatchNorm1d, 2 for BatchNorm2d. */
    public static BatchNorm of(int rank, long features, float eps, float momentum, boolean affine) {
        if (rank != 1 && rank != 2) {
            throw new IllegalArgumentException("batch norm rank must be 1 or 2, got " + rank);
        }
        return new BatchNorm(features, rank, eps, momentum, affine);
    }

    /** γ = 1, β = 0, running mean 0, running variance 1. */
    public void resetParameters() {
        if (weight != null) {
            weight.fill(1f);
            bias.fill(0f);
        }
        runningMean.fill(0f);
        runningVar.fill(1f);
    }

    /** The number of training batches seen, PyTorch's {@code num_batches_tracked}. */
    public long numBatchesTracked() {
        return numBatchesTracked;
    }

    /** Sets {@link #numBatchesTracked()}, as when loading a saved model. */
    public void setNumBatchesTracked(long value) {
        if (value < 0) {
            throw new IllegalArgumentException("num_batches_tracked must be >= 0, got " + value);
        }
        numBatchesTracked = value;
    }

    public Tensor runningMean() {
        return runningMean;
    }

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

    @Override
    public Tensor forward(Tensor x) {
        boolean ok = expectedRank == 2 ? x.dim() == 4 : x.dim() == 2 || x.dim() == 3;
        if (!ok) {
            throw new IllegalArgumentException(describe() + " expects " + (expectedRank == 2 ? "[N, C, H, W]"
                    : "[N, C] or [N, C, L]") + ", got a " + x.dim() + "-d tensor");
        }
        if (isTraining()) {
            numBatchesTracked++;
        }
        return Norm.batchNorm(x, runningMean, runningVar, weight, bias, isTraining(), momentum, eps);
    }

    @Override
    public Map<String, Object> spec() {
        return spec("BatchNorm", "rank", expectedRank, "features", features, "eps", eps, "momentum", momentum,
                "affine", weight != null);
    }

    @Override
    public String describe() {
        return "BatchNorm" + expectedRank + "d(" + features + ")";
    }
}
