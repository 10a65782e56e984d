package dev.gatun.nn;

import dev.gatun.ops.MatMul;
import dev.gatun.tensor.Tensor;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * A fully connected layer, {@code y = x·Wᵀ + b}, weight [out, in] and bias [out] as in PyTorch.
 * Default initialisation is PyTorch's: W and b uniform in ±1/√in (Kaiming uniform with a = √5).
 */
public final class Linear extends Module {

    private final long inFeatures;
    private final long outFeatures;
    private final Tensor weight;
    private final Tensor bias;

    /**
     * A layer with bias, initialised from the default generator ({@link Init#generator()}).
     *
     * @param inFeatures  the input's features
     * @param outFeatures the output's features
     * @throws IllegalArgumentException if a size is below 1
     */
    public Linear(long inFeatures, long outFeatures) {
        this(inFeatures, outFeatures, true);
    }

    /**
     * A layer with or without bias, initialised from the default generator ({@link Init#generator()}).
     *
     * @param inFeatures  the input's features
     * @param outFeatures the output's features
     * @param bias        whether the layer has a bias
     * @throws IllegalArgumentException if a size is below 1
     */
    public Linear(long inFeatures, long outFeatures, boolean bias) {
        if (inFeatures < 1 || outFeatures < 1) {
            throw new IllegalArgumentException("Linear needs positive sizes, got in=" + inFeatures + " out="
                    + outFeatures);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = addParameter("weight", outFeatures, inFeatures);
        this.bias = bias ? addParameter("bias", outFeatures) : null;
        resetParameters(Init.generator());
    }

    /**
     * Re-initialises weight and bias as PyTorch does, drawing from {@code rng}.
     *
     * @param rng the random generator to draw from
     */
    public void resetParameters(RandomGenerator rng) {
        Init.layerDefaults(weight, bias, rng);
    }

    /**
     * The weight, the parameter {@code weight} [out, in].
     *
     * @return the module's own tensor
     */
    public Tensor weight() {
        return weight;
    }

    /**
     * The bias, the parameter {@code bias} [out].
     *
     * @return the module's own tensor, or null when the layer has none
     */
    public Tensor bias() {
        return bias;
    }

    /**
     * Applies the layer to the last dimension.
     *
     * @param input [..., in]
     * @return [..., out]
     * @throws IllegalArgumentException if the input's last dimension is not {@code in}
     */
    @Override
    public Tensor forward(Tensor input) {
        return MatMul.linear(input, weight, bias);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code in_features=784, out_features=128, bias=true}
     */
    @Override
    protected String extraRepr() {
        return "in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + (bias != null);
    }

    @Override
    public Map<String, Object> spec() {
        return spec("Linear", "in", inFeatures, "out", outFeatures, "bias", bias != null);
    }

    @Override
    public String describe() {
        return "Linear(" + inFeatures + " → " + outFeatures + (bias == null ? ", no bias" : "") + ")";
    }
}
