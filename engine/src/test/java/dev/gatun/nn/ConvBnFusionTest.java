package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Convolution;
import dev.gatun.ops.Activation;
import dev.gatun.ops.Arithmetic;
import dev.gatun.ops.Conv;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Evaluation without recording folds batch norm into the convolution before it and fuses the ReLU or
 * the residual addition into the convolution primitive; the result must be the unfused layers' to
 * float rounding, for every pattern the layers fuse.
 */
class ConvBnFusionTest extends ScopedTest {

    /** Gives every batch norm non-trivial running statistics and affine parameters. */
    private static void randomizeStatistics(Module m, long seed) {
        long s = seed;
        for (Map.Entry<String, Tensor> e : m.namedBuffers().entrySet()) {
            Tensor t = e.getValue();
            if (e.getKey().endsWith("running_var")) {
                t.copyFrom(Arithmetic.addScalar(Tensor.rand(new Generator(s++), t.shape()), 0.5f));
            } else if (e.getKey().endsWith("running_mean")) {
                t.copyFrom(Arithmetic.scale(Tensor.randn(new Generator(s++), t.shape()), 0.3f));
            }
        }
        // Every 1-d parameter: batch norm γ (around 1) and β, and convolution biases (around 0).
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet()) {
            Tensor t = e.getValue();
            if (t.dim() == 1) {
                t.copyFrom(Arithmetic.addScalar(Arithmetic.scale(Tensor.randn(new Generator(s++), t.shape()), 0.2f),
                        e.getKey().endsWith("weight") ? 1f : 0f));
            }
        }
    }

    /** The module's evaluation output recorded (unfused) and not recorded (fused), which must agree. */
    private static void assertFusedMatches(String what, Module m, Tensor x) {
        m.eval();
        Tensor unfused = m.forward(x.detach().requiresGrad(true));
        long before = ConvBnFusion.passes();
        Tensor fused;
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            fused = m.forward(x);
        }
        assertTrue(ConvBnFusion.passes() > before, what + ": the fused path ran");
        float[] want = unfused.toArray();
        float[] got = fused.toArray();
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            if (Math.abs(want[i] - got[i]) > 2e-5 * (1 + Math.abs(want[i]))) {
                throw new AssertionError(what + "[" + i + "]: unfused " + want[i] + ", fused " + got[i]);
            }
        }
    }

    @Test
    void sequentialPatternsFuse() {
        Init.manualSeed(5);
        try (Sequential convBnRelu = new Sequential(new Conv2d(3, 8, 3, 1, 1), new BatchNorm2d(8),
                     new ReLU(), new Conv2d(8, 8, 3, 2, 1), new BatchNorm2d(8));
             Sequential convRelu = new Sequential(new Conv2d(3, 5, 5, 1, 2), new ReLU(),
                     new MaxPool2d(2), new Conv2d(5, 4, 3));
             Sequential noBias = new Sequential(new Conv2d(3, 16, new int[] {3, 3}, new int[] {1, 1}, new int[] {2, 2},
                     new int[] {2, 2}, 1, false), new BatchNorm2d(16, 1e-3f, 0.1f, false), new ReLU())) {
            randomizeStatistics(convBnRelu, 10);
            randomizeStatistics(noBias, 20);
            Tensor x = Tensor.randn(new Generator(1), 2, 3, 9, 9);
            assertFusedMatches("conv+bn+relu, conv+bn (stride 2)", convBnRelu, x);
            assertFusedMatches("conv+relu with pooling after", convRelu, x);
            assertFusedMatches("dilated conv without bias, bn without affine", noBias, x);
        }
    }

    @Test
    void residualBlocksFuse() {
        Init.manualSeed(6);
        try (BasicBlock same = new BasicBlock(8, 8, 1); BasicBlock down = new BasicBlock(8, 16, 2)) {
            randomizeStatistics(same, 30);
            randomizeStatistics(down, 40);
            Tensor x = Tensor.randn(new Generator(2), 2, 8, 10, 10);
            assertFusedMatches("identity shortcut", same, x);
            assertFusedMatches("projection shortcut", down, x);
        }
    }

    /** The fold is kept between calls and redone when any value it came from changes. */
    @Test
    void foldFollowsChangedParametersAndStatistics() {
        Init.manualSeed(8);
        try (Sequential net = new Sequential(new Conv2d(3, 6, 3, 1, 1), new BatchNorm2d(6),
                new ReLU())) {
            randomizeStatistics(net, 50);
            Tensor x = Tensor.randn(new Generator(12), 2, 3, 7, 7);
            assertFusedMatches("first fold", net, x);
            assertFusedMatches("kept fold", net, x);
            Tensor mean = net.namedBuffers().get("1.running_mean");
            mean.set(mean.get(2) + 0.5f, 2);
            assertFusedMatches("after a running mean changed", net, x);
            Tensor w = net.namedParameters().get("0.weight");
            w.copyFrom(Arithmetic.scale(w, 0.5f));
            assertFusedMatches("after the weights changed", net, x);
            Tensor gamma = net.namedParameters().get("1.weight");
            gamma.fill(2f);
            assertFusedMatches("after γ changed", net, x);
        }
    }

    /** A convolution and ReLU keep the convolution's weights laid out, redone when a weight or bias changes. */
    @Test
    void laidOutWeightsWithoutABatchNormFollowChangedParameters() {
        Init.manualSeed(9);
        try (Sequential net = new Sequential(new Conv2d(20, 50, 5, 1, 2), new ReLU(), new MaxPool2d(2))) {
            for (long batch : new long[] {1, 3}) {
                Tensor x = Tensor.randn(new Generator(13 + batch), batch, 20, 14, 14);
                assertFusedMatches("batch " + batch + ", first call", net, x);
                assertFusedMatches("batch " + batch + ", kept weights", net, x);
                Tensor w = net.namedParameters().get("0.weight");
                w.copyFrom(Arithmetic.scale(w, -0.5f));
                assertFusedMatches("batch " + batch + ", after the weights changed", net, x);
                w.set(w.get(7, 3, 2, 2) + 1f, 7, 3, 2, 2);
                assertFusedMatches("batch " + batch + ", after one weight changed", net, x);
                Tensor b = net.namedParameters().get("0.bias");
                b.fill(0.25f);
                assertFusedMatches("batch " + batch + ", after the bias changed", net, x);
            }
        }
    }

    @Test
    void trainingModeAndRecordingDoNotFuse() {
        Init.manualSeed(7);
        try (Sequential net = new Sequential(new Conv2d(1, 4, 3), new BatchNorm2d(4), new ReLU())) {
            Tensor x = Tensor.randn(new Generator(3), 2, 1, 6, 6);
            long before = ConvBnFusion.passes();
            try (Autograd.NoGrad ignored = Autograd.noGrad()) {
                net.forward(x); // training mode: batch statistics, no folding
            }
            net.eval();
            net.forward(x.detach().requiresGrad(true)); // recording: the layers one by one
            assertEquals(before, ConvBnFusion.passes());
        }
    }

    /** The op itself: RELU and ADD_RELU against the composed ops, and its checks. */
    @Test
    void inferenceConvolutionOp() {
        Tensor x = Tensor.randn(new Generator(8), 2, 3, 7, 7);
        Tensor w = Tensor.randn(new Generator(9), 6, 3, 3, 3);
        Tensor b = Tensor.randn(new Generator(10), 6);
        Tensor residual = Tensor.randn(new Generator(11), 2, 6, 7, 7);
        int[] one = {1, 1};
        Tensor plain = Conv.conv2d(x, w, b, one, one, one, 1);
        Tensor relu = Conv.conv2dInference(x, w, b, one, one, one, 1, Convolution.Fusion.RELU, null);
        Tensor addRelu = Conv.conv2dInference(x, w, b, one, one, one, 1, Convolution.Fusion.ADD_RELU, residual);
        float[] wantRelu = Activation.relu(plain).toArray();
        float[] wantAdd = Activation.relu(Arithmetic.add(plain, residual)).toArray();
        float[] gotRelu = relu.toArray();
        float[] gotAdd = addRelu.toArray();
        for (int i = 0; i < wantRelu.length; i++) {
            assertEquals(wantRelu[i], gotRelu[i], 1e-5f * (1 + Math.abs(wantRelu[i])));
            assertEquals(wantAdd[i], gotAdd[i], 1e-5f * (1 + Math.abs(wantAdd[i])));
        }
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> Conv.conv2dInference(x, w,
                b, one, one, one, 1, Convolution.Fusion.ADD_RELU, Tensor.zeros(2, 6, 5, 5)));
        assertEquals("conv2d: residual of shape [2, 6, 5, 5] for an output of shape [2, 6, 7, 7]", shape.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Conv.conv2dInference(x, w, b, one, one, one, 1,
                Convolution.Fusion.ADD_RELU, null));
        assertThrows(IllegalArgumentException.class, () -> Conv.conv2dInference(x, w, b, one, one, one, 1,
                Convolution.Fusion.RELU, residual));
        Tensor needsGrad = w.detach().requiresGrad(true);
        assertThrows(IllegalStateException.class, () -> Conv.conv2dInference(x, needsGrad, b, one, one, one, 1,
                Convolution.Fusion.NONE, null));
    }
}
