package dev.gatun.nn;

import dev.gatun.backend.Convolution;
import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * The residual block of ResNet-18/34 ({@code torchvision}'s {@code BasicBlock}):
 *
 * <pre>
 *   y = relu( bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x) )
 * </pre>
 *
 * conv1 is 3×3 with the block's stride, conv2 3×3 with stride 1, both without bias (batch norm follows).
 * The shortcut is the identity when the shape is unchanged, otherwise a 1×1 convolution with the stride
 * followed by batch norm (the projection shortcut). Children are named {@code conv1, bn1, conv2, bn2} and
 * {@code downsample.0, downsample.1} as in torchvision.
 */
public final class BasicBlock extends Module {

    private final Conv2d conv1;
    private final BatchNorm2d bn1;
    private final Conv2d conv2;
    private final BatchNorm2d bn2;
    private final Sequential downsample;
    private final String description;
    private final long inChannels;
    private final long outChannels;
    private final int stride;

    /**
     * A block from {@code inChannels} to {@code outChannels} channels, initialised from
     * {@link Init#generator()}; the shortcut projects when the stride is not 1 or the channels change.
     *
     * @param inChannels  the input's channels
     * @param outChannels the output's channels
     * @param stride      the stride of the first convolution (and of the projection), at least 1
     * @throws IllegalArgumentException if the stride is below 1 or a channel count below 1
     */
    public BasicBlock(long inChannels, long outChannels, int stride) {
        if (stride < 1) {
            throw new IllegalArgumentException("BasicBlock stride must be >= 1, got " + stride);
        }
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.stride = stride;
        conv1 = addModule("conv1", conv3x3(inChannels, outChannels, stride));
        bn1 = addModule("bn1", new BatchNorm2d(outChannels));
        conv2 = addModule("conv2", conv3x3(outChannels, outChannels, 1));
        bn2 = addModule("bn2", new BatchNorm2d(outChannels));
        boolean project = stride != 1 || inChannels != outChannels;
        downsample = project ? addModule("downsample", new Sequential(new Conv2d(inChannels, outChannels,
                new int[] {1, 1}, new int[] {stride, stride}, new int[] {0, 0}, new int[] {1, 1}, 1, false),
                new BatchNorm2d(outChannels))) : null;
        description = "BasicBlock(" + inChannels + " → " + outChannels + (stride != 1 ? ", stride " + stride : "")
                + (project ? ", projection" : "") + ")";
    }

    private static Conv2d conv3x3(long in, long out, int stride) {
        return new Conv2d(in, out, new int[] {3, 3}, new int[] {stride, stride}, new int[] {1, 1}, new int[] {1, 1}, 1,
                false);
    }

    @Override
    public Tensor forward(Tensor x) {
        if (ConvBnFusion.applies(conv1, bn1) && ConvBnFusion.applies(conv2, bn2) && downsampleFuses()) {
            // Evaluation without recording: three fused primitives (conv+bn+relu, the projection
            // conv+bn, conv+bn+add+relu) instead of the layers one by one.
            Tensor h = ConvBnFusion.forward(x, conv1, bn1, Convolution.Fusion.RELU, null);
            Tensor shortcut = downsample == null ? x
                    : ConvBnFusion.forward(x, (Conv2d) downsample.get(0), (BatchNorm) downsample.get(1),
                            Convolution.Fusion.NONE, null);
            return ConvBnFusion.forward(h, conv2, bn2, Convolution.Fusion.ADD_RELU, shortcut);
        }
        Tensor h = bn1.forwardThenRelu(conv1.forward(x));
        h = bn2.forward(conv2.forward(h));
        Tensor shortcut = downsample == null ? x : downsample.forward(x);
        return Activation.relu(Arithmetic.add(h, shortcut));
    }

    /** The first convolution, its batch norm, the second, its batch norm; the projection (null if none). */
    Conv2d conv1() {
        return conv1;
    }

    BatchNorm2d bn1() {
        return bn1;
    }

    Conv2d conv2() {
        return conv2;
    }

    BatchNorm2d bn2() {
        return bn2;
    }

    /** The projection shortcut (a convolution and its batch norm), or null for the identity. */
    Sequential downsample() {
        return downsample;
    }

    private boolean downsampleFuses() {
        return downsample == null || ConvBnFusion.applies((Conv2d) downsample.get(0), (BatchNorm) downsample.get(1));
    }

    @Override
    public Map<String, Object> spec() {
        return spec("BasicBlock", "in", inChannels, "out", outChannels, "stride", stride);
    }

    @Override
    public String describe() {
        return description;
    }
}
