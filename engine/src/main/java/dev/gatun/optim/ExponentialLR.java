package dev.gatun.optim;

/**
 * Multiplies the learning rate by γ every epoch, as {@code torch.optim.lr_scheduler.ExponentialLR}:
 * <pre>
 *   η(epoch) = η₀ · γ^epoch
 * </pre>
 */
public final class ExponentialLR extends LearningRateSchedule {

    private final double gamma;

    public ExponentialLR(Optimizer optimizer, double gamma) {
        super(optimizer);
        this.gamma = Check.positive("ExponentialLR", "gamma", gamma);
    }

    @Override
    public double learningRateAt(long epoch) {
        return baseLearningRate() * Math.pow(gamma, epoch);
    }
}
