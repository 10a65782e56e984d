package dev.gatun.nn;

import dev.gatun.ops.Conv;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * A 2-d convolution layer over [N, C, H, W] input, weight [out, in/groups, KH, KW] and bias [out] as in
 * PyTorch ({@link Conv#conv2d}). Default initialisation is PyTorch's: weight Kaiming uniform with
 * a = √5 (uniform in ±1/√fan_in), bias uniform in ±1/√fan_in, where fan_in = in/groups · KH · KW.
 */
public final class Conv2d extends Module {

    private final long inChannels;
    private final long outChannels;
    private final int[] kernel;
    private final int[] stride;
    private final int[] padding;
    private final int[] dilation;
    private final int groups;
    private final Tensor weight;
    private final Tensor bias;

    /**
     * A square kernel, stride 1, no padding, with bias.
     *
     * @param inChannels  the input's channels
     * @param outChannels the output's channels
     * @param kernelSize  the kernel's side
     * @throws IllegalArgumentException if a size is below 1
     */
    public Conv2d(long inChannels, long outChannels, int kernelSize) {
        this(inChannels, outChannels, kernelSize, 1, 0);
    }

    /**
     * A square kernel with the same stride and padding in both dimensions, with bias.
     *
     * @param inChannels  the input's channels
     * @param outChannels the output's channels
     * @param kernelSize  the kernel's side
     * @param stride      the step between output positions
     * @param padding     the zero padding on each side
     * @throws IllegalArgumentException if a size or the stride is below 1 or the padding below 0
     */
    public Conv2d(long inChannels, long outChannels, int kernelSize, int stride, int padding) {
        this(inChannels, outChannels, new int[] {kernelSize, kernelSize}, new int[] {stride, stride},
                new int[] {padding, padding}, new int[] {1, 1}, 1, true);
    }

    /**
     * The general layer: kernel, stride, padding and dilation as {height, width} pairs (dilation 1 =
     * dense), initialised from the default generator ({@link Init#generator()}).
     *
     * @param inChannels  the input's channels, divisible by {@code groups}
     * @param outChannels the output's channels, divisible by {@code groups}
     * @param kernel      the kernel's {height, width}
     * @param stride      the {height, width} steps between output positions
     * @param padding     the {height, width} zero padding on each side
     * @param dilation    the {height, width} spacing of the kernel's taps (1: dense)
     * @param groups      the number of channel groups convolved apart
     * @param bias        whether the layer has a bias
     * @throws IllegalArgumentException if a pair is missing or not of length 2, a size is out of range, or
     *     {@code groups} does not divide both channel counts, naming the value
     */
    public Conv2d(long inChannels, long outChannels, int[] kernel, int[] stride, int[] padding, int[] dilation,
                  int groups, boolean bias) {
        this.kernel = pair("kernel", kernel, 1);
        this.stride = pair("stride", stride, 1);
        this.padding = pair("padding", padding, 0);
        this.dilation = pair("dilation", dilation, 1);
        if (inChannels < 1 || outChannels < 1) {
            throw new IllegalArgumentException("Conv2d needs positive channel counts, got in=" + inChannels + " out="
                    + outChannels);
        }
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0) {
            throw new IllegalArgumentException("Conv2d: groups " + groups + " must be ≥ 1 and divide both in="
                    + inChannels + " and out=" + outChannels);
        }
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.groups = groups;
        this.weight = addParameter("weight", outChannels, inChannels / groups, this.kernel[0], this.kernel[1]);
        this.bias = bias ? addParameter("bias", outChannels) : null;
        resetParameters(Init.generator());
    }

    private static int[] pair(String name, int[] v, int min) {
        if (v == null || v.length != 2) {
            throw new IllegalArgumentException("Conv2d: " + name + " must be a {height, width} pair, got "
                    + Arrays.toString(v));
        }
        if (v[0] < min || v[1] < min) {
            throw new IllegalArgumentException("Conv2d: " + name + " must be ≥ " + min + ", got " + v[0] + "×"
                    + v[1]);
        }
        return v.clone();
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
     * The weight, the parameter {@code weight} [out, in/groups, KH, KW].
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

    @Override
    public Map<String, Object> spec() {
        return spec("Conv2d", "in", inChannels, "out", outChannels, "kernel", kernel.clone(), "stride", stride.clone(),
                "padding", padding.clone(), "dilation", dilation.clone(), "groups", groups, "bias", bias != null);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code 1, 20, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2)}: padding, dilation,
     *     groups and bias only when not at their defaults
     */
    @Override
    protected String extraRepr() {
        StringBuilder sb = new StringBuilder().append(inChannels).append(", ").append(outChannels)
                .append(", kernel_size=").append(tuple(kernel)).append(", stride=").append(tuple(stride));
        if (padding[0] != 0 || padding[1] != 0) sb.append(", padding=").append(tuple(padding));
        if (dilation[0] != 1 || dilation[1] != 1) sb.append(", dilation=").append(tuple(dilation));
        if (groups != 1) sb.append(", groups=").append(groups);
        if (bias == null) sb.append(", bias=false");
        return sb.toString();
    }

    private static String tuple(int[] v) {
        return "(" + v[0] + ", " + v[1] + ")";
    }

    /**
     * Convolves the input.
     *
     * @param input [N, in, H, W]
     * @return [N, out, H', W']
     * @throws IllegalArgumentException if the input's shape does not fit the layer
     */
    @Override
    public Tensor forward(Tensor input) {
        return Conv.conv2d(input, weight, bias, stride, padding, dilation, groups);
    }

    /** Batch norm folded into this layer's weights for evaluation ({@link ConvBnFusion}); null until used. */
    ConvBnFusion.Folded folded;

    /** A tensor in this layer's own scope, freed with it. */
    Tensor ownedTensor(long... shape) {
        return Tensor.zeros(parameterScope(), shape);
    }

    /** This layer's own scope, for caches freed with it. */
    Scope scopeForCaches() {
        return parameterScope();
    }

    int[] stride() {
        return stride.clone();
    }

    int[] padding() {
        return padding.clone();
    }

    int[] dilation() {
        return dilation.clone();
    }

    int groups() {
        return groups;
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code Conv2d(1 → 20, 5×5, padding 2)}; settings at their defaults are left out
     */
    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder("Conv2d(").append(inChannels).append(" → ").append(outChannels)
                .append(", ").append(kernel[0]).append('×').append(kernel[1]);
        if (stride[0] != 1 || stride[1] != 1) sb.append(", stride ").append(show(stride));
        if (padding[0] != 0 || padding[1] != 0) sb.append(", padding ").append(show(padding));
        if (dilation[0] != 1 || dilation[1] != 1) sb.append(", dilation ").append(show(dilation));
        if (groups != 1) sb.append(", groups ").append(groups);
        if (bias == null) sb.append(", no bias");
        return sb.append(')').toString();
    }

    private static String show(int[] v) {
        return v[0] == v[1] ? Integer.toString(v[0]) : v[0] + "×" + v[1];
    }
}
