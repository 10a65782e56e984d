package dev.gatun.optim;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * An optimizer over a fixed list of parameters (leaf tensors that require gradients). {@link #step()}
 * updates every parameter that has a gradient, without recording; per-parameter state (momentum
 * buffers, moment estimates) lives in the optimizer's own scope, freed by {@link #close()}.
 */
public abstract class Optimizer implements AutoCloseable {

    private final List<Tensor> parameters;
    private final Scope stateScope = Scope.detached();
    private double learningRate;
    private long steps;
    /** Per parameter, how many updates it has received (a parameter without a gradient is skipped). */
    private final long[] parameterSteps;

    protected Optimizer(List<Tensor> parameters, double learningRate) {
        if (parameters == null || parameters.isEmpty()) {
            throw new IllegalArgumentException("optimizer got an empty parameter list");
        }
        for (int i = 0; i < parameters.size(); i++) {
            Tensor p = parameters.get(i);
            if (p == null || !p.requiresGrad() || p.gradFn() != null) {
                throw new IllegalArgumentException("parameter " + i + " is not a leaf tensor that requires a gradient");
            }
            if (!p.isContiguous()) {
                throw new IllegalArgumentException("parameter " + i + " is not contiguous");
            }
        }
        this.parameters = List.copyOf(parameters);
        this.parameterSteps = new long[parameters.size()];
        setLearningRate(learningRate);
    }

    /** The parameters this optimizer updates. */
    public final List<Tensor> parameters() {
        return parameters;
    }

    /** The current learning rate (schedules change it between epochs or steps). */
    public final double learningRate() {
        return learningRate;
    }

    public final void setLearningRate(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate must be a finite number >= 0, got " + lr);
        }
        this.learningRate = lr;
    }

    /** How many steps have been taken. */
    public final long steps() {
        return steps;
    }

    /**
     * How many updates parameter {@code index} has received, counting the one in progress inside
     * {@link #update}. It falls behind {@link #steps()} when the parameter had no gradient at some
     * step; PyTorch keeps its step count per parameter the same way, and bias corrections (Adam) and
     * learning-rate decay (Adagrad) use it.
     */
    protected final long parameterSteps(int index) {
        return parameterSteps[index];
    }

    /** Applies one update to every parameter that has a gradient. */
    public final void step() {
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            steps++;
            for (int i = 0; i < parameters.size(); i++) {
                Tensor p = parameters.get(i);
                Tensor g = p.grad();
                if (g != null) {
                    parameterSteps[i]++;
                    update(i, p, g.contiguous());
                }
            }
        }
    }

    /**
     * Updates parameter {@code index} in place from its gradient (contiguous, same shape). Called with
     * recording disabled; {@link #steps()} is already the number of this step (1 for the first).
     */
    protected abstract void update(int index, Tensor parameter, Tensor gradient);

    /** Zeroes every parameter's gradient, keeping its memory. */
    public final void zeroGrad() {
        for (Tensor p : parameters) {
            Tensor g = p.grad();
            if (g != null && g.isAlive()) {
                g.fill(0f);
            }
        }
    }

    /**
     * The elements of a contiguous tensor as a segment of exactly its size, for update loops: an
     * int-indexed loop over an exact slice compiles to tight, bounds-check-free code.
     */
    protected static MemorySegment region(Tensor t) {
        return t.storage().asSlice(t.offset() * Float.BYTES, t.numel() * Float.BYTES);
    }

    /** A zero-filled state tensor shaped like a parameter, owned by this optimizer. */
    protected final Tensor newState(Tensor like) {
        return Tensor.zeros(stateScope, like.shape());
    }

    /** Frees the optimizer's state. */
    @Override
    public void close() {
        stateScope.close();
    }
}
