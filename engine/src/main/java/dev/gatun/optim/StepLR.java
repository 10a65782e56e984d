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
