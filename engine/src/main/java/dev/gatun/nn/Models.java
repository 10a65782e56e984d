package dev.gatun.nn;

/** Networks of the curriculum and of shared/WORKLOADS.md, built from the layers of this package. */
public final class Models {

    private Models() {}

    /**
     * LeNet-5 as the lecture's table has it, for 1×28×28 inputs: conv(1→20, 5×5, padding 2), ReLU,
     * max-pool 2, conv(20→50, 5×5, padding 2), ReLU, max-pool 2, flatten (2450), linear 500, ReLU,
     * linear 10. Layer indices (0, 3, 7, 9 carry weights) match PyTorch's {@code nn.Sequential}.
     */
    public static Sequential lenet5() {
        return new Sequential(new Conv2d(1, 20, 5, 1, 2), new Activations.ReLU(), new Pooling2d.MaxPool2d(2),
                new Conv2d(20, 50, 5, 1, 2), new Activations.ReLU(), new Pooling2d.MaxPool2d(2), new Flatten(),
                new Linear(2450, 500), new Activations.ReLU(), new Linear(500, 10));
    }
}
