package dev.gatun.nn;

import dev.gatun.ops.Norm;
import dev.gatun.tensor.Tensor;
import java.util.Map;
import java.util.Arrays;

/**
 * Layer normalization over the last dimensions of the input ({@code torch.nn.LayerNorm}): each row of
 * the normalized shape is brought to mean 0 and variance 1 with its own statistics (the same in
 * training and evaluation), then scaled by {@code weight} (γ, ones) and shifted by {@code bias}
 * (β, zeros) when elementwise-affine. See {@link Norm#layerNorm}.
 */
public final class LayerNorm extends Module {

    private final long[] normalizedShape;
    private final float eps;
    private final Tensor weight;
    private final Tensor bias;

    /**
     * {@code nn.LayerNorm(features)}: over the last dimension, eps 1e-5, affine.
     *
     * @param features the size of the last dimension
     * @throws IllegalArgumentException if {@code features} is below 1
     */
    public LayerNorm(long features) {
        this(new long[] {features}, 1e-5f, true);
    }

    /**
     * With every setting.
     *
     * @param normalizedShape   the last dimensions of the input, normalised together
     * @param eps               added to the variance for stability; positive
     * @param elementwiseAffine whether to learn γ and β of {@code normalizedShape}
     * @throws IllegalArgumentException if the shape is empty or has a size below 1, or eps is not positive
     */
    public LayerNorm(long[] normalizedShape, float eps, boolean elementwiseAffine) {
        if (normalizedShape.length == 0) {
            throw new IllegalArgumentException("LayerNorm needs at least one normalized dimension");
        }
        for (long d : normalizedShape) {
            if (d < 1) {
                throw new IllegalArgumentException("LayerNorm needs positive sizes, got "
                        + Arrays.toString(normalizedShape));
            }
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("LayerNorm eps must be positive, got " + eps);
        }
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
        this.weight = elementwiseAffine ? addParameter("weight", normalizedShape) : null;
        this.bias = elementwiseAffine ? addParameter("bias", normalizedShape) : null;
        resetParameters();
    }

    /** Resets γ to 1 and β to 0. */
    public void resetParameters() {
        if (weight != null) {
            weight.fill(1f);
            bias.fill(0f);
        }
    }

    /**
     * γ, the parameter {@code weight}.
     *
     * @return the module's own tensor, or null when not affine
     */
    public Tensor weight() {
        return weight;
    }

    /**
     * β, the parameter {@code bias}.
     *
     * @return the module's own tensor, or null when not affine
     */
    public Tensor bias() {
        return bias;
    }

    @Override
    public Tensor forward(Tensor input) {
        return Norm.layerNorm(input, normalizedShape, weight, bias, eps);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code (5,), eps=1.0E-5, elementwise_affine=true}
     */
    @Override
    protected String extraRepr() {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < normalizedShape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(normalizedShape[i]);
        }
        return sb.append(normalizedShape.length == 1 ? ",)" : ")").append(", eps=").append(eps)
                .append(", elementwise_affine=").append(weight != null).toString();
    }

    @Override
    public Map<String, Object> spec() {
        return spec("LayerNorm", "normalizedShape", normalizedShape.clone(), "eps", eps, "affine", weight != null);
    }

    @Override
    public String describe() {
        return "LayerNorm(" + Arrays.toString(normalizedShape) + (weight == null ? ", no affine" : "") + ")";
    }
}
