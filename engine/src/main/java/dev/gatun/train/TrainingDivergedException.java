package dev.gatun.train;

/** The loss became NaN or infinite; the message names the epoch and batch (both counted from 1). */
public final class TrainingDivergedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int epoch;
    private final int batch;

    public TrainingDivergedException(int epoch, int batch, float loss) {
        super("training diverged: the loss became " + loss + " at epoch " + epoch + ", batch " + batch
                + " (try a lower learning rate or gradient clipping)");
        this.epoch = epoch;
        this.batch = batch;
    }

    public int epoch() {
        return epoch;
    }

    public int batch() {
        return batch;
    }
}
