package dev.gatun.optim;

import dev.gatun.tensor.Tensor;
import java.util.List;

/** Makes an optimizer by name with its usual defaults, for the command line and configuration files. */
public final class Optimizers {

    /** The optimizers gatun offers, with the learning rate each uses when none is given. */
    public enum Kind {
        /** {@link dev.gatun.optim.SGD}, default learning rate 0.1. */
        SGD(0.1),
        /** {@link Adagrad}, default learning rate 1e-2. */
        ADAGRAD(1e-2),
        /** {@link RMSprop}, default learning rate 1e-3 (PyTorch's own default is 1e-2). */
        RMSPROP(1e-3),
        /** {@link Adadelta}, default learning rate 1.0. */
        ADADELTA(1.0),
        /** {@link Adam}, default learning rate 1e-3. */
        ADAM(1e-3),
        /** {@link AdamW}, default learning rate 1e-3. */
        ADAMW(1e-3);

        private final double defaultLearningRate;

        Kind(double defaultLearningRate) {
            this.defaultLearningRate = defaultLearningRate;
        }

        /**
         * The learning rate used when none is given.
         *
         * @return η for {@link Optimizers#create} when its learning rate is null
         */
        public double defaultLearningRate() {
            return defaultLearningRate;
        }
    }

    private Optimizers() {}

    /**
     * An optimizer of the given kind; {@code learningRate} null means the kind's default, and
     * {@code momentum} applies to SGD and RMSprop only. Weight decay is the kind's default (see
     * {@link #create(Kind, List, Double, double, Double)}); the other hyper-parameters are PyTorch's
     * defaults.
     *
     * @param kind         which optimizer
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients
     * @param learningRate η, finite and {@code >= 0}; null for {@link Kind#defaultLearningRate()}
     * @param momentum     μ for SGD and RMSprop, finite and {@code >= 0}; must be 0 for the other kinds
     * @return a new optimizer; the caller closes it
     * @throws IllegalArgumentException if momentum is given to a kind without it, a hyper-parameter is out
     *                                  of its range, or a parameter is unusable (see {@link Optimizer})
     */
    public static Optimizer create(Kind kind, List<Tensor> parameters, Double learningRate, double momentum) {
        return create(kind, parameters, learningRate, momentum, null);
    }

    /**
     * As {@link #create(Kind, List, Double, double)} with a weight decay; null means the kind's default
     * (0, or 1e-2 for AdamW, whose decay is decoupled from the gradient).
     *
     * @param kind         which optimizer
     * @param parameters   the tensors to update: contiguous leaf tensors that require gradients
     * @param learningRate η, finite and {@code >= 0}; null for {@link Kind#defaultLearningRate()}
     * @param momentum     μ for SGD and RMSprop, finite and {@code >= 0}; must be 0 for the other kinds
     * @param weightDecay  λ, finite and {@code >= 0} (an L2 penalty on the gradient, or AdamW's decoupled
     *                     decay); null for the kind's default
     * @return a new optimizer; the caller closes it
     * @throws IllegalArgumentException if momentum is given to a kind without it, a hyper-parameter is out
     *                                  of its range, or a parameter is unusable (see {@link Optimizer})
     */
    public static Optimizer create(Kind kind, List<Tensor> parameters, Double learningRate, double momentum,
                                   Double weightDecay) {
        double lr = learningRate != null ? learningRate : kind.defaultLearningRate();
        if (momentum != 0 && kind != Kind.SGD && kind != Kind.RMSPROP) {
            throw new IllegalArgumentException("momentum applies to sgd and rmsprop only, not "
                    + kind.name().toLowerCase(java.util.Locale.ROOT));
        }
        double wd = weightDecay != null ? weightDecay : kind == Kind.ADAMW ? AdamW.Options.DEFAULTS.weightDecay() : 0;
        return switch (kind) {
            case SGD -> new SGD(parameters, SGD.Options.of(lr).withMomentum(momentum).withWeightDecay(wd));
            case ADAGRAD -> new Adagrad(parameters, Adagrad.Options.DEFAULTS.withLearningRate(lr).withWeightDecay(wd));
            case RMSPROP -> new RMSprop(parameters, RMSprop.Options.DEFAULTS.withLearningRate(lr).withMomentum(momentum)
                    .withWeightDecay(wd));
            case ADADELTA -> new Adadelta(parameters, Adadelta.Options.DEFAULTS.withLearningRate(lr).withWeightDecay(wd));
            case ADAM -> new Adam(parameters, Adam.Options.DEFAULTS.withLearningRate(lr).withWeightDecay(wd));
            case ADAMW -> new AdamW(parameters, AdamW.Options.DEFAULTS.withLearningRate(lr).withWeightDecay(wd));
        };
    }
}
