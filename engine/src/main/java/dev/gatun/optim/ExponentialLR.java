package dev.gatun.optim;

/**
 * Multiplies the learning rate by γ every epoch, as {@code torch.optim.lr_scheduler.ExponentialLR}:
 * <pre>
 *   η(epoch) = η₀ · γ^epoch
 * </pre>
 */
public final class ExponentialLR extends LearningRateSchedule {

    private final double gamma;

    /**
     * Decays from the optimizer's current learning rate by {@code gamma} per epoch.
     *
     * @param optimizer the optimizer whose learning rate this schedule sets
     * @param gamma     γ, the factor per epoch, finite and {@code > 0}
     * @throws IllegalArgumentException if {@code gamma} is not a finite positive number
     * @throws NullPointerException     if {@code optimizer} is null
     */
    public ExponentialLR(Optimizer optimizer, double gamma) {
        super(optimizer);
        this.gamma = Check.positive("ExponentialLR", "gamma", gamma);
    }

    @Override
    public double learningRateAt(long epoch) {
        return baseLearningRate() * Math.pow(gamma, epoch);
    }
}
