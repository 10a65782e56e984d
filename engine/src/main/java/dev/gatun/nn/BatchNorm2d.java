package dev.gatun.nn;

/**
 * Batch normalization of [N, C, H, W] input over the channel dimension C
 * ({@code torch.nn.BatchNorm2d}): each channel is normalised with its mean and variance over the batch
 * and the H×W plane in training, with the running statistics in evaluation, then scaled by γ and shifted by β.
 * See {@link BatchNorm} for the parameters and buffers.
 */
public final class BatchNorm2d extends BatchNorm {

    /**
     * PyTorch's defaults: eps 1e-5, momentum 0.1, affine.
     *
     * @param numFeatures the number of channels, C
     * @throws IllegalArgumentException if {@code numFeatures} is below 1
     */
    public BatchNorm2d(long numFeatures) {
        this(numFeatures, 1e-5f, 0.1f, true);
    }

    /**
     * With every setting.
     *
     * @param numFeatures the number of channels, C
     * @param eps         added to the variance for stability; finite and positive
     * @param momentum    the weight of each batch in the running statistics, in [0, 1]
     * @param affine      whether to learn the scale γ and shift β
     * @throws IllegalArgumentException if a setting is out of range, naming it
     */
    public BatchNorm2d(long numFeatures, float eps, float momentum, boolean affine) {
        super(numFeatures, 2, eps, momentum, affine);
    }
}
