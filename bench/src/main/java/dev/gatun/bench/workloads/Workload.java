package dev.gatun.bench.workloads;

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

    @Override
    void close();
}
