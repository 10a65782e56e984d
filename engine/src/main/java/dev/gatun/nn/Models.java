package dev.gatun.nn;

/** Networks of the curriculum and of shared/WORKLOADS.md, built from the layers of this package. */
public final class Models {

    private Models() {}

    /**
     * LeNet-5 as the lecture's table has it, for 1×28×28 inputs: conv(1→20, 5×5, padding 2), ReLU,
     * max-pool 2, conv(20→50, 5×5, padding 2), ReLU, max-pool 2, flatten (2450), linear 500, ReLU,
     * linear 10. Layer indices (0, 3, 7, 9 carry weights) match PyTorch's {@code nn.Sequential}.
     *
     * @return a new network, initialised from {@link Init#generator()}
     */
    public static Sequential lenet5() {
        return new Sequential(new Conv2d(1, 20, 5, 1, 2), new ReLU(), new MaxPool2d(2),
                new Conv2d(20, 50, 5, 1, 2), new ReLU(), new MaxPool2d(2), new Flatten(),
                new Linear(2450, 500), new ReLU(), new Linear(500, 10));
    }

    /**
     * The small ResNet of shared/WORKLOADS.md: conv 3×3 (no bias) to 32 channels, batch norm, ReLU, two
     * {@link BasicBlock}s at 32 channels, global average pooling, flatten, linear 32 → 10. Layer indices
     * and block children match the PyTorch program in {@code bench/python/workloads.py}.
     *
     * @param inChannels the input's channels (1 for MNIST, 3 for colour images)
     * @return a new network, initialised from {@link Init#generator()}
     */
    public static Sequential resnet(long inChannels) {
        return new Sequential(new Conv2d(inChannels, 32, new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1},
                new int[] {1, 1}, 1, false), new BatchNorm2d(32), new ReLU(),
                new BasicBlock(32, 32, 1), new BasicBlock(32, 32, 1), new AdaptiveAvgPool2d(1), new Flatten(),
                new Linear(32, 10));
    }

    /**
     * The same blocks in three stages, for classifying whole images: conv 3×3 (no bias) to 32 channels,
     * batch norm, ReLU, a {@link BasicBlock} at 32 channels, then blocks to 64 and 128 channels with
     * stride 2 (projection shortcuts), global average pooling, flatten, linear 128 → 10. On 28×28 inputs
     * the stages see 28×28, 14×14 and 7×7, so the last features span the whole digit, where the
     * benchmark's {@link #resnet} (no downsampling) averages features of 11×11 patches.
     *
     * @param inChannels the input's channels (1 for MNIST, 3 for colour images)
     * @return a new network, initialised from {@link Init#generator()}
     */
    public static Sequential resnetStages(long inChannels) {
        return new Sequential(new Conv2d(inChannels, 32, new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1},
                new int[] {1, 1}, 1, false), new BatchNorm2d(32), new ReLU(),
                new BasicBlock(32, 32, 1), new BasicBlock(32, 64, 2), new BasicBlock(64, 128, 2),
                new AdaptiveAvgPool2d(1), new Flatten(), new Linear(128, 10));
    }
}
