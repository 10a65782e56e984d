package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * Log-softmax along a dimension ({@code torch.nn.LogSoftmax}): {@code x - log(sum(exp(x)))} over that
 * dimension, computed stably; no parameters.
 */
public final class LogSoftmax extends Module {

    private final int dim;

    /** LogSoftmax over the last dimension. */
    public LogSoftmax() {
        this(-1);
    }

    /**
     * LogSoftmax over dimension {@code dim}.
     *
     * @param dim the dimension, counted from the end when negative (-1: the last); checked against the
     *     input's rank when the layer runs
     */
    public LogSoftmax(int dim) {
        this.dim = dim;
    }

    /**
     * The dimension the layer normalises over.
     *
     * @return the dimension as given (negative: counted from the end)
     */
    public int dim() {
        return dim;
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code dim=-1}
     */
    @Override
    protected String extraRepr() {
        return "dim=" + dim;
    }

    /**
     * {@inheritDoc}
     *
     * @return {@code {"type": "LogSoftmax", "dim": ...}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("LogSoftmax", "dim", dim);
    }

    /**
     * Applies LogSoftmax along the layer's dimension.
     *
     * @param x a tensor with at least one dimension
     * @return the log-probabilities, of x's shape
     * @throws IllegalArgumentException if the dimension lies outside x's rank
     */
    @Override
    public Tensor forward(Tensor x) {
        return Activation.logSoftmax(x, dim);
    }
}
