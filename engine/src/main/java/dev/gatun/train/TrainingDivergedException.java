package dev.gatun.train;

/**
 * The loss became NaN or infinite, so training cannot go on: thrown by the fit loop when a batch's loss
 * is not finite. The message names the epoch, the batch and the loss, and suggests a remedy.
 */
public final class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The epoch in which the loss diverged, counted from 1; serialized with the exception. */
    private final int epoch;
    /** The batch of that epoch whose loss diverged, counted from 1; serialized with the exception. */
    private final int batch;

    /**
     * Reports a loss that is not finite.
     *
     * @param epoch the epoch, counted from 1
     * @param batch the batch within the epoch, counted from 1
     * @param loss  the loss, NaN or infinite; only quoted in the message
     */
    public TrainingDivergedException(int epoch, int batch, float loss) {
        this(epoch, batch, loss, false);
    }

    /**
     * Reports a loss that is not finite, saying whether the batch's inputs were at fault.
     *
     * @param epoch        the epoch, counted from 1
     * @param batch        the batch within the epoch, counted from 1
     * @param loss         the loss, NaN or infinite; only quoted in the message
     * @param badInputs    whether the batch's inputs hold a NaN or an infinity (then the data is the cause,
     *                     not the learning rate)
     */
    public TrainingDivergedException(int epoch, int batch, float loss, boolean badInputs) {
        super("training diverged: the loss became " + loss + " at epoch " + epoch + ", batch " + batch
                + (badInputs ? " (the batch's inputs hold NaN or infinite values: check the data)"
                        : " (try a lower learning rate or gradient clipping)"));
        this.epoch = epoch;
        this.batch = batch;
    }

    /**
     * The epoch in which the loss diverged.
     *
     * @return the epoch, counted from 1
     */
    public int epoch() {
        return epoch;
    }

    /**
     * The batch whose loss diverged.
     *
     * @return the batch within {@link #epoch()}, counted from 1
     */
    public int batch() {
        return batch;
    }
}
