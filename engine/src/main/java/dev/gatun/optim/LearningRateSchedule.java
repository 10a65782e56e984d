package dev.gatun.optim;

import java.util.Objects;

/**
 * Sets an optimizer's learning rate epoch by epoch, like {@code torch.optim.lr_scheduler}: call
 * {@link #step()} once after each epoch's optimizer steps. The optimizer's learning rate when the
 * schedule is made is the base rate η₀ and the rate of epoch 0; after the k-th {@code step()} the
 * optimizer runs at {@link #learningRateAt(long) learningRateAt(k)}.
 *
 * <pre>{@code
 * var schedule = new CosineAnnealingLR(optimizer, epochs, 0);
 * for (int epoch = 0; epoch < epochs; epoch++) {
 *     trainOneEpoch(model, optimizer);
 *     schedule.step();
 * }
 * }</pre>
 *
 * Each schedule is written in its closed form (a function of the epoch alone), which PyTorch documents
 * and which its recursive updates reproduce to rounding error.
 */
public abstract class LearningRateSchedule {

    private final Optimizer optimizer;
    private final double baseLearningRate;
    private long epoch;

    protected LearningRateSchedule(Optimizer optimizer) {
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        this.baseLearningRate = optimizer.learningRate();
    }

    /** The learning rate of epoch {@code epoch} (0 is the first). */
    public abstract double learningRateAt(long epoch);

    /** Ends an epoch: moves to the next one and sets the optimizer's learning rate for it. */
    public final void step() {
        epoch++;
        optimizer.setLearningRate(learningRateAt(epoch));
    }

    /** How many epochs have ended ({@link #step()} calls). */
    public final long epoch() {
        return epoch;
    }

    /**
     * Puts the schedule back at {@code epoch} ended epochs (from {@link #epoch()} of a saved run) and sets
     * the optimizer's learning rate to that epoch's, as {@code epoch} calls of {@link #step()} would.
     */
    public final void restoreEpoch(long epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("schedule epoch must be >= 0, got " + epoch);
        }
        this.epoch = epoch;
        optimizer.setLearningRate(learningRateAt(epoch));
    }

    /** The optimizer's learning rate when this schedule was made, η₀. */
    public final double baseLearningRate() {
        return baseLearningRate;
    }

    /** The optimizer whose learning rate this schedule sets. */
    public final Optimizer optimizer() {
        return optimizer;
    }
}
