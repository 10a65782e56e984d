package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * Softmax along a dimension ({@code torch.nn.Softmax}): {@code exp(x) / sum(exp(x))} over that dimension,
 * so each slice along it sums to 1; no parameters.
 */
public final class Softmax extends Module {

    private final int dim;

    /** Softmax over the last dimension. */
    public Softmax() {
        this(-1);
    }

    /**
     * Softmax over dimension {@code dim}.
     *
     * @param dim the dimension, counted from the end when negative (-1: the last); checked against the
     *     input's rank when the layer runs
     */
    public Softmax(int dim) {
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
     * @return {@code {"type": "Softmax", "dim": ...}}
     */
    @Override
    public Map<String, Object> spec() {
        return spec("Softmax", "dim", dim);
    }

    /**
     * Applies Softmax along the layer's dimension.
     *
     * @param x a tensor with at least one dimension
     * @return the probabilities, of x's shape
     * @throws IllegalArgumentException if the dimension lies outside x's rank
     */
    @Override
    public Tensor forward(Tensor x) {
        return Activation.softmax(x, dim);
    }
}
