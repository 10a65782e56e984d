package dev.gatun.nn;

import dev.gatun.tensor.Tensor;
import java.util.Map;

/** Flattens every dimension after the batch dimension: [N, d1, d2, ...] → [N, d1·d2·...]. */
public final class Flatten extends Module {

    /** A Flatten layer ({@code torch.nn.Flatten()}, from dimension 1 to the last). */
    public Flatten() {}

    /**
     * {@inheritDoc}
     *
     * @return {@code start_dim=1, end_dim=-1}
     */
    @Override
    protected String extraRepr() {
        return "start_dim=1, end_dim=-1";
    }

    @Override
    public Map<String, Object> spec() {
        return spec("Flatten");
    }

    /**
     * Flattens x after its first dimension (a view when x's layout allows).
     *
     * @param x a tensor [N, ...] with at least two dimensions
     * @return x as [N, product of the other sizes]
     * @throws IllegalArgumentException if x has fewer than two dimensions
     */
    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() < 2) {
            throw new IllegalArgumentException("Flatten expects [N, ...], got a " + x.dim() + "-d tensor");
        }
        return x.flatten(1, -1);
    }
}
