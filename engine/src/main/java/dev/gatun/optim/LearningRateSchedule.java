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

    /**
     * Takes the optimizer's current learning rate as the base rate η₀. The optimizer's rate is not
     * changed until the first {@link #step()}.
     *
     * @param optimizer the optimizer whose learning rate this schedule sets
     * @throws NullPointerException if {@code optimizer} is null
     */
    protected LearningRateSchedule(Optimizer optimizer) {
        this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
        this.baseLearningRate = optimizer.learningRate();
    }

    /**
     * The learning rate of an epoch, a function of the epoch and {@link #baseLearningRate()} alone.
     *
     * @param epoch the epoch, 0 for the first
     * @return its learning rate, finite and {@code >= 0}
     */
    public abstract double learningRateAt(long epoch);

    /**
     * Ends an epoch: moves to the next one and sets the optimizer's learning rate for it.
     *
     * @throws IllegalArgumentException if the schedule gives a rate that is negative or not finite
     */
    public final void step() {
        epoch++;
        optimizer.setLearningRate(learningRateAt(epoch));
    }

    /**
     * How many epochs have ended.
     *
     * @return the number of {@link #step()} calls, or the epoch given to {@link #restoreEpoch(long)} plus
     *         the calls since
     */
    public final long epoch() {
        return epoch;
    }

    /**
     * Puts the schedule back at {@code epoch} ended epochs (from {@link #epoch()} of a saved run) and sets
     * the optimizer's learning rate to that epoch's, as {@code epoch} calls of {@link #step()} would.
     *
     * @param epoch the number of ended epochs, {@code >= 0}
     * @throws IllegalArgumentException if {@code epoch} is negative
     */
    public final void restoreEpoch(long epoch) {
        if (epoch < 0) {
            throw new IllegalArgumentException("schedule epoch must be >= 0, got " + epoch);
        }
        this.epoch = epoch;
        optimizer.setLearningRate(learningRateAt(epoch));
    }

    /**
     * The base rate of the schedule.
     *
     * @return η₀, the optimizer's learning rate when this schedule was made
     */
    public final double baseLearningRate() {
        return baseLearningRate;
    }

    /**
     * The optimizer this schedule drives.
     *
     * @return the optimizer whose learning rate this schedule sets
     */
    public final Optimizer optimizer() {
        return optimizer;
    }
}
