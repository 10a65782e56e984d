package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;

/** Makes an optimizer by name with its usual defaults, for the command line and configuration files. */
public final class Optimizers {

    /** The optimizers gatun offers. */
    public enum Kind {
        SGD(0.1);

        private final double defaultLearningRate;

        Kind(double defaultLearningRate) {
            this.defaultLearningRate = defaultLearningRate;
        }

        /** The learning rate used when none is given. */
        public double defaultLearningRate() {
            return defaultLearningRate;
        }
    }

    private Optimizers() {}

    /**
     * An optimizer of the given kind; {@code learningRate} null means the kind's default, and
     * {@code momentum} applies to SGD only.
     */
    public static Optimizer create(Kind kind, List<Tensor> parameters, Double learningRate, double momentum) {
        double lr = learningRate != null ? learningRate : kind.defaultLearningRate();
        if (momentum != 0 && kind != Kind.SGD) {
            throw new IllegalArgumentException("--momentum applies to sgd only, not " + kind);
        }
        return switch (kind) {
            case SGD -> new SGD(parameters, lr, momentum, 0, 0, false);
        };
    }
}
