package dev.gatun.optim;

/** Hyper-parameter checks shared by the optimizers and schedules; each message names the value and its owner. */
final class Check {

    private Check() {}

    /** {@code value} if it is finite and {@code >= 0}. */
    static double nonNegative(String owner, String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(owner + ": " + name + " must be a finite number >= 0, got " + value);
        }
        return value;
    }

    /** {@code value} if it is finite and {@code > 0}. */
    static double positive(String owner, String name, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(owner + ": " + name + " must be a finite number > 0, got " + value);
        }
        return value;
    }

    /** {@code value} if it lies in [0, 1) (a decay rate that must forget). */
    static double unitIntervalOpen(String owner, String name, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(owner + ": " + name + " must be in [0, 1), got " + value);
        }
        return value;
    }

    /** {@code value} if it lies in [0, 1]. */
    static double unitInterval(String owner, String name, double value) {
        if (!(value >= 0 && value <= 1)) {
            throw new IllegalArgumentException(owner + ": " + name + " must be in [0, 1], got " + value);
        }
        return value;
    }
}
