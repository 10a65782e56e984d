package dev.gatun.data;

/**
 * Samples numbered 0 to N − 1 that a {@link DataLoader} cuts into batches: a labelled classification
 * {@link Dataset} (features and integer class labels), or a {@link TensorDataset} (any tensors whose
 * first dimension numbers the samples, such as inputs and targets of a regression, a language model or
 * an autoencoder). Both are immutable, so a loader and its batches never see them change.
 */
public sealed interface Samples permits Dataset, TensorDataset {

    /**
     * The number of samples, N.
     *
     * @return N, at least 0
     */
    int size();
}
