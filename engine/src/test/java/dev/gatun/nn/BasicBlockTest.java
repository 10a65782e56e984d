package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.GradCheck;
import dev.gatun.ops.Reduce;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import java.util.List;
import java.util.Map;
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

    /** Both shortcuts against PyTorch (scripts/golden/block_fixtures.py): train step, running stats, eval. */
    @Test
    void matchesPyTorch() {
        for (JsonNode c : Fixtures.load("basicblock.json").get("cases")) {
            String name = c.get("name").asText();
            try (BasicBlock block = new BasicBlock(c.get("in").asLong(), c.get("out").asLong(), c.get("stride").asInt());
                 Scope s = Scope.open()) {
                Map<String, Tensor> params = block.namedParameters();
                Map<String, Tensor> buffers = block.namedBuffers();
                c.get("state").fields().forEachRemaining(e -> {
                    Tensor t = params.containsKey(e.getKey()) ? params.get(e.getKey()) : buffers.get(e.getKey());
                    assertTrue(t != null, name + ": no tensor named " + e.getKey());
                    t.copyFrom(Fixtures.floats(e.getValue()));
                });
                Tensor x = Tensor.fromArray(Fixtures.floats(c.get("x")), Fixtures.longs(c.get("shape")))
                        .requiresGrad(true);
                block.train();
                Tensor y = block.forward(x);
                assertArrayEquals(Fixtures.longs(c.get("y_shape")), y.shape(), name);
                assertClose(name + " y", Fixtures.floats(c.get("y")), y.toArray(), 2e-5);
                Tensor r = Tensor.fromArray(Fixtures.floats(c.get("r")), y.shape());
                Reduce.sum(Arithmetic.mul(y, r)).backward();
                assertClose(name + " grad x", Fixtures.floats(c.get("grad_x")), x.grad().toArray(), 1e-4);
                c.get("grads").fields().forEachRemaining(e -> assertClose(name + " grad " + e.getKey(),
                        Fixtures.floats(e.getValue()), params.get(e.getKey()).grad().toArray(), 2e-4));
                c.get("running_after").fields().forEachRemaining(e -> assertClose(name + " " + e.getKey(),
                        Fixtures.floats(e.getValue()), buffers.get(e.getKey()).toArray(), 1e-5));
                block.eval();
                assertClose(name + " eval y", Fixtures.floats(c.get("y_eval")), block.forward(x).toArray(), 2e-5);
                // Without recording, evaluation runs the fused convolutions (batch norm folded in).
                long fused = ConvBnFusion.passes();
                try (Autograd.NoGrad ignored = Autograd.noGrad()) {
                    assertClose(name + " fused eval y", Fixtures.floats(c.get("y_eval")), block.forward(x).toArray(),
                            2e-5);
                }
                assertTrue(ConvBnFusion.passes() > fused, name + ": the fused path ran");
            }
        }
    }

    @Test
    void threeStageResNetHalvesTheImageTwice() {
        Init.manualSeed(3);
        try (Sequential net = Models.resnetStages(1); Scope s = Scope.open()) {
            // stem 288 + 64, block 18,560, block to 64 57,728, block to 128 230,144, linear 1,290
            assertEquals(308_074, net.parameterCount());
            net.eval();
            Tensor y = net.forward(Tensor.randn(new Generator(4), 2, 1, 28, 28));
            assertArrayEquals(new long[] {2, 10}, y.shape());
            String summary = net.summary(1, 1, 28, 28);
            assertTrue(summary.contains("[1, 128, 7, 7]"), summary);
        }
    }

    /** |expected − actual| ≤ tol · (1 + |expected|) element by element. */
    private static void assertClose(String what, float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs(expected[i] - actual[i]);
            if (diff > tol * (1 + Math.abs(expected[i]))) {
                throw new AssertionError(what + "[" + i + "]: expected " + expected[i] + ", got " + actual[i]);
            }
        }
    }
}
