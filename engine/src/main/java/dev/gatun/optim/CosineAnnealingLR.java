package dev.gatun.optim;

/**
 * Anneals the learning rate from η₀ down to η_min along half a cosine over {@code tMax} epochs, as
 * {@code torch.optim.lr_scheduler.CosineAnnealingLR} (SGDR without restarts, Loshchilov and Hutter,
 * 2017):
 * <pre>
 *   η(epoch) = η_min + (η₀ − η_min) · (1 + cos(π · epoch / tMax)) / 2
 * </pre>
 * Past {@code tMax} the cosine climbs back to η₀ at 2·tMax and repeats, as PyTorch's does.
 */
public final class CosineAnnealingLR extends LearningRateSchedule {

    private final long tMax;
    private final double etaMin;

    /**
     * Anneals from the optimizer's current learning rate to {@code etaMin} over {@code tMax} epochs.
     *
     * @param optimizer the optimizer whose learning rate this schedule sets
     * @param tMax      the number of epochs of half a cosine period, {@code >= 1}
     * @param etaMin    η_min, the rate at epoch {@code tMax}, finite and {@code >= 0}
     * @throws IllegalArgumentException if {@code tMax < 1} or {@code etaMin} is negative or not finite
     * @throws NullPointerException     if {@code optimizer} is null
     */
    public CosineAnnealingLR(Optimizer optimizer, long tMax, double etaMin) {
        super(optimizer);
        if (tMax < 1) {
            throw new IllegalArgumentException("CosineAnnealingLR: tMax must be >= 1 epoch, got " + tMax);
        }
        this.tMax = tMax;
        this.etaMin = Check.nonNegative("CosineAnnealingLR", "etaMin", etaMin);
    }

    /**
     * Anneals from the optimizer's current learning rate to zero over {@code tMax} epochs.
     *
     * @param optimizer the optimizer whose learning rate this schedule sets
     * @param tMax      the number of epochs of half a cosine period, {@code >= 1}
     * @throws IllegalArgumentException if {@code tMax < 1}
     * @throws NullPointerException     if {@code optimizer} is null
     */
    public CosineAnnealingLR(Optimizer optimizer, long tMax) {
        this(optimizer, tMax, 0);
    }

    @Override
    public double learningRateAt(long epoch) {
        double base = baseLearningRate();
        return etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
    }
}
