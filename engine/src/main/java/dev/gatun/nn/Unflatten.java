package dev.gatun.nn;

import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;

/**
 * Unflattens the features of each sample: [N, d1·d2·...] → [N, d1, d2, ...]
 * ({@code torch.nn.Unflatten(1, shape)}), as a decoder turns a vector into feature maps; no parameters.
 */
public final class Unflatten extends Module {

    private final long[] shape;

    /**
     * An Unflatten layer to the given sample shape.
     *
     * @param shape the shape of one sample after the layer, e.g. {@code 128, 7, 7}; every size at least 1
     * @throws IllegalArgumentException if the shape is empty or a size is below 1
     */
    public Unflatten(long... shape) {
        if (shape == null || shape.length == 0) {
            throw new IllegalArgumentException("Unflatten needs a sample shape, got " + Arrays.toString(shape));
        }
        for (long s : shape) {
            if (s < 1) {
                throw new IllegalArgumentException("Unflatten sizes must be positive, got " + Arrays.toString(shape));
            }
        }
        this.shape = shape.clone();
    }

    @Override
    public Map<String, Object> spec() {
        return spec("Unflatten", "shape", shape.clone());
    }

    /**
     * Reshapes each sample (a view when x's layout allows).
     *
     * @param x [N, F] with F the product of the layer's sizes
     * @return x as [N, shape...]
     * @throws IllegalArgumentException if x is not [N, F] with that F
     */
    @Override
    public Tensor forward(Tensor x) {
        long features = 1;
        for (long s : shape) features *= s;
        if (x.dim() != 2 || x.size(1) != features) {
            throw new IllegalArgumentException("Unflatten to " + Arrays.toString(shape) + " expects [N, " + features
                    + "], got " + Arrays.toString(x.shape()));
        }
        long[] out = new long[shape.length + 1];
        out[0] = x.size(0);
        System.arraycopy(shape, 0, out, 1, shape.length);
        return x.reshape(out);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code dim=1, unflattened_size=(128, 7, 7)}
     */
    @Override
    protected String extraRepr() {
        StringBuilder sb = new StringBuilder("dim=1, unflattened_size=(");
        for (int i = 0; i < shape.length; i++) sb.append(i > 0 ? ", " : "").append(shape[i]);
        return sb.append(')').toString();
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code Unflatten([128, 7, 7])}
     */
    @Override
    public String describe() {
        return "Unflatten(" + Arrays.toString(shape) + ")";
    }
}
