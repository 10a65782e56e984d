package dev.gatun.nn;

import dev.gatun.ops.ConvTranspose;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * A 2-d transposed convolution layer ({@code torch.nn.ConvTranspose2d}) over [N, C_in, H, W] input, with
 * weight [in, out/groups, KH, KW] and bias [out] as in PyTorch ({@link ConvTranspose#convTranspose2d}).
 * It upsamples: with kernel 4, stride 2 and padding 1 each spatial size doubles. Default initialisation
 * is PyTorch's: weight Kaiming uniform with a = √5 and bias uniform in ±1/√fan_in, where fan_in is
 * computed from the weight's second dimension as PyTorch does: out/groups · KH · KW.
 */
public final class ConvTranspose2d extends Module {

    private final long inChannels;
    private final long outChannels;
    private final int[] kernel;
    private final int[] stride;
    private final int[] padding;
    private final int[] outputPadding;
    private final int[] dilation;
    private final int groups;
    private final Tensor weight;
    private final Tensor bias;

    /**
     * A square kernel with the same stride and padding in both dimensions, no output padding, with bias.
     *
     * @param inChannels  the input's channels
     * @param outChannels the output's channels
     * @param kernelSize  the kernel's side
     * @param stride      the step between the input's positions in the output
     * @param padding     the rows and columns cropped from each side of the output
     * @throws IllegalArgumentException if a size or the stride is below 1 or the padding below 0
     */
    public ConvTranspose2d(long inChannels, long outChannels, int kernelSize, int stride, int padding) {
        this(inChannels, outChannels, new int[] {kernelSize, kernelSize}, new int[] {stride, stride},
                new int[] {padding, padding}, new int[] {0, 0}, 1, true, new int[] {1, 1});
    }

    /**
     * The general layer, in PyTorch's argument order: kernel, stride, padding, output padding and dilation
     * as {height, width} pairs (dilation 1 = dense), initialised from the default generator
     * ({@link Init#generator()}).
     *
     * @param inChannels    the input's channels, divisible by {@code groups}
     * @param outChannels   the output's channels, divisible by {@code groups}
     * @param kernel        the kernel's {height, width}
     * @param stride        the {height, width} steps between the input's positions in the output
     * @param padding       the {height, width} rows and columns cropped from each side of the output
     * @param outputPadding the {height, width} rows and columns added at the bottom and right, each smaller
     *                      than the stride or the dilation of its dimension
     * @param groups        the number of channel groups convolved apart
     * @param bias          whether the layer has a bias
     * @param dilation      the {height, width} spacing of the kernel's taps (1: dense)
     * @throws IllegalArgumentException if a pair is missing or not of length 2, a size is out of range, the
     *     output padding is not below the stride or the dilation, or {@code groups} does not divide both
     *     channel counts, naming the value
     */
    public ConvTranspose2d(long inChannels, long outChannels, int[] kernel, int[] stride, int[] padding,
                           int[] outputPadding, int groups, boolean bias, int[] dilation) {
        this.kernel = pair("kernel", kernel, 1);
        this.stride = pair("stride", stride, 1);
        this.padding = pair("padding", padding, 0);
        this.outputPadding = pair("output_padding", outputPadding, 0);
        this.dilation = pair("dilation", dilation, 1);
        for (int d = 0; d < 2; d++) {
            if (this.outputPadding[d] >= Math.max(this.stride[d], this.dilation[d])) {
                throw new IllegalArgumentException("ConvTranspose2d: output_padding must be smaller than either"
                        + " stride or dilation, got output_padding " + show(this.outputPadding) + ", stride "
                        + show(this.stride) + ", dilation " + show(this.dilation));
            }
        }
        if (inChannels < 1 || outChannels < 1) {
            throw new IllegalArgumentException("ConvTranspose2d needs positive channel counts, got in=" + inChannels
                    + " out=" + outChannels);
        }
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0) {
            throw new IllegalArgumentException("ConvTranspose2d: groups " + groups + " must be ≥ 1 and divide both"
                    + " in=" + inChannels + " and out=" + outChannels);
        }
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.groups = groups;
        this.weight = addParameter("weight", inChannels, outChannels / groups, this.kernel[0], this.kernel[1]);
        this.bias = bias ? addParameter("bias", outChannels) : null;
        resetParameters(Init.generator());
    }

    private static int[] pair(String name, int[] v, int min) {
        if (v == null || v.length != 2) {
            throw new IllegalArgumentException("ConvTranspose2d: " + name + " must be a {height, width} pair, got "
                    + Arrays.toString(v));
        }
        if (v[0] < min || v[1] < min) {
            throw new IllegalArgumentException("ConvTranspose2d: " + name + " must be ≥ " + min + ", got " + v[0]
                    + "×" + v[1]);
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
     * The weight, the parameter {@code weight} [in, out/groups, KH, KW].
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
     * {@inheritDoc}
     *
     * @return e.g. {@code 128, 64, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1)}: padding, output
     *     padding, dilation, groups and bias only when not at their defaults
     */
    @Override
    public Map<String, Object> spec() {
        return spec("ConvTranspose2d", "in", inChannels, "out", outChannels, "kernel", kernel.clone(), "stride",
                stride.clone(), "padding", padding.clone(), "outputPadding", outputPadding.clone(), "dilation",
                dilation.clone(), "groups", groups, "bias", bias != null);
    }

    @Override
    protected String extraRepr() {
        StringBuilder sb = new StringBuilder().append(inChannels).append(", ").append(outChannels)
                .append(", kernel_size=").append(tuple(kernel)).append(", stride=").append(tuple(stride));
        if (padding[0] != 0 || padding[1] != 0) sb.append(", padding=").append(tuple(padding));
        if (outputPadding[0] != 0 || outputPadding[1] != 0) sb.append(", output_padding=").append(tuple(outputPadding));
        if (dilation[0] != 1 || dilation[1] != 1) sb.append(", dilation=").append(tuple(dilation));
        if (groups != 1) sb.append(", groups=").append(groups);
        if (bias == null) sb.append(", bias=false");
        return sb.toString();
    }

    private static String tuple(int[] v) {
        return "(" + v[0] + ", " + v[1] + ")";
    }

    /**
     * Applies the transposed convolution.
     *
     * @param input [N, in, H, W]
     * @return [N, out, OH, OW], OH = (H − 1)·stride − 2·padding + dilation·(KH − 1) + output_padding + 1
     * @throws IllegalArgumentException if the input's shape does not fit the layer
     */
    @Override
    public Tensor forward(Tensor input) {
        return ConvTranspose.convTranspose2d(input, weight, bias, stride, padding, outputPadding, groups, dilation);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code ConvTranspose2d(128 → 64, 4×4, stride 2, padding 1)}; settings at their defaults
     *     are left out
     */
    @Override
    public String describe() {
        StringBuilder sb = new StringBuilder("ConvTranspose2d(").append(inChannels).append(" → ").append(outChannels)
                .append(", ").append(kernel[0]).append('×').append(kernel[1]);
        if (stride[0] != 1 || stride[1] != 1) sb.append(", stride ").append(show(stride));
        if (padding[0] != 0 || padding[1] != 0) sb.append(", padding ").append(show(padding));
        if (outputPadding[0] != 0 || outputPadding[1] != 0) sb.append(", output padding ").append(show(outputPadding));
        if (dilation[0] != 1 || dilation[1] != 1) sb.append(", dilation ").append(show(dilation));
        if (groups != 1) sb.append(", groups ").append(groups);
        if (bias == null) sb.append(", no bias");
        return sb.append(')').toString();
    }

    private static String show(int[] v) {
        return v[0] == v[1] ? Integer.toString(v[0]) : v[0] + "×" + v[1];
    }
}
