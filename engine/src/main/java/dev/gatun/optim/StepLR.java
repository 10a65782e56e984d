package dev.gatun.optim;

/**
 * Multiplies the learning rate by γ every {@code stepSize} epochs, as
 * {@code torch.optim.lr_scheduler.StepLR}:
 * <pre>
 *   η(epoch) = η₀ · γ^⌊epoch / stepSize⌋
 * </pre>
 */
public final class StepLR extends LearningRateSchedule {

    private final long stepSize;
    private final double gamma;

    /**
     * Decays from the optimizer's current learning rate by {@code gamma} every {@code stepSize} epochs.
     *
     * @param optimizer the optimizer whose learning rate this schedule sets
     * @param stepSize  the number of epochs between decays, {@code >= 1}
     * @param gamma     γ, the factor per decay, finite and {@code > 0}
     * @throws IllegalArgumentException if {@code stepSize < 1} or {@code gamma} is not a finite positive
     *                                  number
     * @throws NullPointerException     if {@code optimizer} is null
     */
    public StepLR(Optimizer optimizer, long stepSize, double gamma) {
        super(optimizer);
        if (stepSize < 1) {
            throw new IllegalArgumentException("StepLR: step size must be >= 1 epoch, got " + stepSize);
        }
        this.stepSize = stepSize;
        this.gamma = Check.positive("StepLR", "gamma", gamma);
    }

    @Override
    public double learningRateAt(long epoch) {
        return baseLearningRate() * Math.pow(gamma, Math.floorDiv(epoch, stepSize));
    }
}
