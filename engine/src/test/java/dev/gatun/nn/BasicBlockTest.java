package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.GradCheck;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class BasicBlockTest {

    @Test
    void namesFollowTorchvision() {
        Init.manualSeed(1);
        try (BasicBlock same = new BasicBlock(4, 4, 1); BasicBlock down = new BasicBlock(4, 8, 2)) {
            assertEquals(List.of("conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"),
                    List.copyOf(same.namedParameters().keySet()));
            assertEquals(List.of("conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias",
                    "downsample.0.weight", "downsample.1.weight", "downsample.1.bias"),
                    List.copyOf(down.namedParameters().keySet()));
            assertTrue(down.namedBuffers().containsKey("downsample.1.running_var"));
            assertEquals(4 * 4 * 9 * 2 + 4 * 4, same.parameterCount());
        }
    }

    @Test
    void shapesAndGradients() {
        Init.manualSeed(2);
        try (BasicBlock same = new BasicBlock(2, 2, 1); BasicBlock down = new BasicBlock(2, 3, 2);
             Scope s = Scope.open()) {
            Tensor x = GradCheck.leaf(3, 2, 2, 5, 5);
            assertArrayEquals(new long[] {2, 2, 5, 5}, same.forward(x).shape());
            assertArrayEquals(new long[] {2, 3, 3, 3}, down.forward(x).shape());
            // Gradients flow through both paths of the block, including the identity shortcut.
            GradCheck.check("BasicBlock identity", 1e-2, 5e-2, 5e-3, in -> same.forward(in[0]), x);
            GradCheck.check("BasicBlock projection", 1e-2, 5e-2, 5e-3, in -> down.forward(in[0]), x);
            Tensor y = same.forward(x);
            float[] v = y.toArray();
            for (float f : v) assertTrue(f >= 0, "ends in ReLU");
        }
    }
}
