package dev.gatun.bench.workloads;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.Module;
import dev.gatun.ops.Loss;
import dev.gatun.ops.Reduce;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * One row of the comparison with PyTorch (shared/WORKLOADS.md): a model, a fixed mini-batch and what
 * one timed step does. A training step is zero grads + forward + loss + backward + optimizer step;
 * an inference step is one forward pass in evaluation mode without recording.
 */
public interface Workload extends AutoCloseable {

    /** The row's name, e.g. {@code mlp13k_train_b32}. */
    String name();

    /** Floating-point operations of one step, for the physical floor. */
    double flops();

    /** Runs one step and returns its loss (training) or the sum of its outputs (inference). */
    float step();

    /** Turns dropout off (and back on), so that the equivalence check is deterministic. */
    default void setDropout(boolean enabled) {}

    /**
     * The tokens one step generates, for a generation row whose figure is tokens (characters) per second;
     * 0 for every other row.
     */
    default int tokensPerStep() {
        return 0;
    }

    /**
     * The fields of the equivalence check, as JSON members without the braces: by default, dropout off, the
     * losses of the first two steps ({@code "losses":[a,b]}), which the other systems print alike.
     */
    default String check() {
        setDropout(false);
        float first = step();
        float second = step();
        return String.format(Locale.ROOT, "\"losses\":[%.9g,%.9g]", first, second);
    }

    @Override
    void close();

    /**
     * One training step (zero grads, forward and loss as {@code loss} computes them, backward, optimizer
     * step) in its own scope; returns the loss before the update.
     */
    static float trainStep(Optimizer optimizer, Supplier<Tensor> loss) {
        try (Scope step = Scope.open()) {
            optimizer.zeroGrad();
            Tensor value = loss.get();
            float v = value.item();
            value.backward();
            optimizer.step();
            return v;
        }
    }

    /**
     * One training step with cross-entropy against class labels (zero grads, forward, loss, backward,
     * optimizer step) in its own scope; returns the loss before the update.
     */
    static float trainStep(Module model, Optimizer optimizer, Tensor x, int[] y) {
        return trainStep(optimizer, () -> Loss.crossEntropy(model.forward(x), y));
    }

    /** One forward pass without recording, in its own scope; returns the sum of the outputs. */
    static float inferStep(Module model, Tensor x) {
        try (Scope step = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
            return Reduce.sum(model.forward(x)).item();
        }
    }
}
