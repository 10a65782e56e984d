package dev.gatun.ops;

import static dev.gatun.ops.GradCheck.check;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.BatchNorm1d;
import dev.gatun.nn.BatchNorm2d;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class NormTest extends ScopedTest {

    @Test
    void trainingNormalizesEachChannel() {
        Tensor x = Arithmetic.addScalar(Arithmetic.scale(Tensor.randn(new Generator(1), 4, 3, 5, 5), 3f), 2f);
        Tensor rm = Tensor.zeros(3);
        Tensor rv = Tensor.ones(3);
        Tensor y = Norm.batchNorm(x, rm, rv, null, null, true, 0.1f, 1e-5f);
        float[] v = y.toArray();
        float[] xv = x.toArray();
        for (int c = 0; c < 3; c++) {
            double sum = 0, sq = 0, xs = 0, xsq = 0;
            int n = 0;
            for (int b = 0; b < 4; b++) {
                for (int i = 0; i < 25; i++) {
                    int k = (b * 3 + c) * 25 + i;
                    sum += v[k];
                    sq += v[k] * v[k];
                    xs += xv[k];
                    xsq += (double) xv[k] * xv[k];
                    n++;
                }
            }
            assertEquals(0, sum / n, 1e-5);
            assertEquals(1, sq / n, 1e-3);
            double mean = xs / n;
            double unbiased = (xsq / n - mean * mean) * n / (n - 1);
            assertEquals(0.1 * mean, rm.toArray()[c], 1e-4, "running mean");
            assertEquals(0.9 + 0.1 * unbiased, rv.toArray()[c], 1e-3, "running variance (unbiased)");
        }
    }

    @Test
    void gradientsInTrainingAndEvaluation() {
        Tensor x = GradCheck.leaf(1, 3, 2, 4, 3);
        Tensor gamma = GradCheck.leafIn(2, 0.5, 1.5, 2);
        Tensor beta = GradCheck.leaf(3, 2);
        check("batchNorm train", 1e-2, 3e-2, 3e-3,
                in -> Norm.batchNorm(in[0], null, null, in[1], in[2], true, 0.1f, 1e-5f), x, gamma, beta);
        check("batchNorm train, no affine", 1e-2, 3e-2, 3e-3,
                in -> Norm.batchNorm(in[0], null, null, null, null, true, 0.1f, 1e-5f), x);
        Tensor rm = Tensor.fromArray(new float[] {0.2f, -0.1f});
        Tensor rv = Tensor.fromArray(new float[] {0.8f, 1.3f});
        check("batchNorm eval", in -> Norm.batchNorm(in[0], rm, rv, in[1], in[2], false, 0.1f, 1e-5f), x, gamma, beta);
        Tensor seq = GradCheck.leaf(4, 4, 2, 3);
        check("batchNorm 1d over [N, C, L]", 1e-2, 3e-2, 3e-3,
                in -> Norm.batchNorm(in[0], null, null, in[1], in[2], true, 0.1f, 1e-5f), seq, gamma, beta);
    }

    /** relu(batchNorm) fused against the two ops: values, the three gradients and the running statistics. */
    private static void assertFusedMatchesTwoOps(long seed, boolean affine, long... shape) {
        long c = shape[1];
        Tensor x = GradCheck.leaf(seed, shape);
        Tensor gamma = affine ? GradCheck.leafIn(seed + 1, 0.5, 1.5, c) : null;
        Tensor beta = affine ? GradCheck.leaf(seed + 2, c) : null;
        Tensor upstream = Tensor.randn(new Generator(seed + 3), shape);
        float[][] got = new float[2][];
        float[][] gx = new float[2][];
        float[][] gg = new float[2][];
        float[][] gb = new float[2][];
        float[][] stats = new float[2][];
        for (int fused = 0; fused < 2; fused++) {
            x.setGrad(null);
            if (affine) {
                gamma.setGrad(null);
                beta.setGrad(null);
            }
            Tensor rm = Tensor.zeros(c);
            Tensor rv = Tensor.ones(c);
            Tensor y = fused == 1 ? Norm.batchNormRelu(x, rm, rv, gamma, beta, true, 0.1f, 1e-5f)
                    : Activation.relu(Norm.batchNorm(x, rm, rv, gamma, beta, true, 0.1f, 1e-5f));
            Reduce.sum(Arithmetic.mul(y, upstream)).backward();
            got[fused] = y.toArray();
            gx[fused] = x.grad().toArray();
            gg[fused] = affine ? gamma.grad().toArray() : new float[0];
            gb[fused] = affine ? beta.grad().toArray() : new float[0];
            float[] m = rm.toArray();
            float[] v = rv.toArray();
            stats[fused] = new float[m.length + v.length];
            System.arraycopy(m, 0, stats[fused], 0, m.length);
            System.arraycopy(v, 0, stats[fused], m.length, v.length);
        }
        String what = java.util.Arrays.toString(shape) + (affine ? " affine" : "");
        int zeros = 0;
        for (float v : got[1]) zeros += v == 0 ? 1 : 0;
        assertTrue(zeros > 0 && zeros < got[1].length, what + ": ReLU cuts some values, not all");
        assertArrayEquals(got[0], got[1], 1e-6f, what + ": values");
        assertArrayEquals(gx[0], gx[1], 1e-5f, what + ": input gradient");
        assertArrayEquals(gg[0], gg[1], 1e-4f, what + ": scale gradient");
        assertArrayEquals(gb[0], gb[1], 1e-4f, what + ": shift gradient");
        assertArrayEquals(stats[0], stats[1], 1e-6f, what + ": running statistics");
    }

    @Test
    void batchNormReluGivesWhatReluOfBatchNormGives() {
        assertFusedMatchesTwoOps(11, true, 4, 3, 5, 5);
        assertFusedMatchesTwoOps(12, false, 4, 3, 5, 5);
        assertFusedMatchesTwoOps(13, true, 2, 20, 3, 4); // two channel blocks, the second partly padded
        assertFusedMatchesTwoOps(14, true, 16, 6); // [N, C]
        assertFusedMatchesTwoOps(15, false, 8, 5, 7); // [N, C, L]
    }

    @Test
    void batchNormReluGradients() {
        Tensor x = GradCheck.leaf(21, 3, 2, 4, 3);
        Tensor gamma = GradCheck.leafIn(22, 0.5, 1.5, 2);
        Tensor beta = GradCheck.leaf(23, 2);
        check("batchNormRelu train", 1e-2, 3e-2, 3e-3,
                in -> Norm.batchNormRelu(in[0], null, null, in[1], in[2], true, 0.1f, 1e-5f), x, gamma, beta);
        // A smaller step here: a step of 1e-2 takes one of these 24 normalized values across ReLU's kink.
        Tensor rows = GradCheck.leaf(24, 6, 4);
        check("batchNormRelu train over [N, C], no affine", 2e-3, 3e-2, 3e-3,
                in -> Norm.batchNormRelu(in[0], null, null, null, null, true, 0.1f, 1e-5f), rows);
        Tensor rm = Tensor.fromArray(new float[] {0.2f, -0.1f});
        Tensor rv = Tensor.fromArray(new float[] {0.8f, 1.3f});
        check("batchNormRelu eval", in -> Norm.batchNormRelu(in[0], rm, rv, in[1], in[2], false, 0.1f, 1e-5f),
                x, gamma, beta);
    }

    @Test
    void aSequentialRunsBatchNormThenReluFusedWithTheSameResult() {
        dev.gatun.nn.Sequential fused = new dev.gatun.nn.Sequential(new BatchNorm2d(3), new dev.gatun.nn.ReLU());
        BatchNorm2d alone = new BatchNorm2d(3);
        Tensor x = Tensor.randn(new Generator(5), 4, 3, 6, 6);
        float[] a = fused.forward(x).toArray();
        float[] b = Activation.relu(alone.forward(x)).toArray();
        assertArrayEquals(b, a, 1e-6f);
        assertArrayEquals(alone.runningMean().toArray(), ((BatchNorm2d) fused.get(0)).runningMean().toArray(), 1e-7f);
    }

    @Test
    void matchesPyTorchInBothModes() throws IOException {
        matchesPyTorch("batchnorm.json", false);
    }

    @Test
    void batchNormThenReluMatchesPyTorchInBothModes() throws IOException {
        matchesPyTorch("batchnorm_relu.json", true);
    }

    /** The fixture's cases through a batch norm, or (relu) a Sequential of it and ReLU, which fuses them. */
    private static void matchesPyTorch(String file, boolean relu) throws IOException {
        JsonNode fixture = Fixtures.load(file);
        for (JsonNode c : fixture.get("cases")) {
            String name = c.get("name").asText() + (relu ? " + relu" : "");
            long[] shape = Fixtures.longs(c.get("shape"));
            try (BatchNorm bn = shape.length == 4 ? new BatchNorm2d(shape[1]) : new BatchNorm1d(shape[1])) {
                JsonNode start = c.get("start");
                bn.namedParameters().forEach((k, t) -> t.copyFrom(Fixtures.floats(start.get(k))));
                bn.namedBuffers().forEach((k, t) -> t.copyFrom(Fixtures.floats(start.get(k))));
                if (c.get("mode").asText().equals("eval")) bn.eval();
                Tensor x = Tensor.zeros(shape).copyFrom(Fixtures.floats(c.get("x"))).requiresGrad(true);
                Tensor y = relu ? new dev.gatun.nn.Sequential(bn, new dev.gatun.nn.ReLU()).forward(x) : bn.forward(x);
                assertArrayEquals(Fixtures.floats(c.get("y")), y.toArray(), 2e-5f, name + " output");
                Reduce.sum(Arithmetic.mul(y, Tensor.zeros(shape).copyFrom(Fixtures.floats(c.get("r"))))).backward();
                assertArrayEquals(Fixtures.floats(c.get("grad_x")), x.grad().toArray(), 2e-5f, name + " ∂x");
                assertArrayEquals(Fixtures.floats(c.get("grad_weight")), bn.namedParameters().get("weight").grad().toArray(), 1e-4f,
                        name + " ∂γ");
                assertArrayEquals(Fixtures.floats(c.get("grad_bias")), bn.namedParameters().get("bias").grad().toArray(), 1e-4f,
                        name + " ∂β");
                assertArrayEquals(Fixtures.floats(c.get("running_mean")), bn.runningMean().toArray(), 1e-6f, name + " running mean");
                assertArrayEquals(Fixtures.floats(c.get("running_var")), bn.runningVar().toArray(), 1e-5f, name + " running var");
            }
        }
    }

    @Test
    void badInputsAreNamed() {
        Tensor x = Tensor.zeros(2, 3, 4, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Norm.batchNorm(x, null, null, Tensor.ones(4), Tensor.zeros(4), true, 0.1f, 1e-5f));
        assertEquals("batchNorm: weight must be [3], got [4]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Norm.batchNorm(Tensor.zeros(1, 3), null, null, null, null, true, 0.1f, 1e-5f));
        assertTrue(e.getMessage().contains("more than one value per channel"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Norm.batchNorm(x, null, null, Tensor.ones(3), null, true, 0.1f, 1e-5f));
        assertThrows(IllegalArgumentException.class, () -> Norm.batchNorm(x, null, null, null, null, true, 0.1f, 0f));
        assertThrows(IllegalArgumentException.class, () -> Norm.batchNorm(Tensor.zeros(5), null, null, null, null,
                true, 0.1f, 1e-5f));
        try (BatchNorm bn = new BatchNorm2d(3)) {
            e = assertThrows(IllegalArgumentException.class, () -> bn.forward(Tensor.zeros(2, 3)));
            assertTrue(e.getMessage().startsWith("BatchNorm2d(3) expects [N, C, H, W]"), e.getMessage());
        }
    }

    @Test
    void layerNormNormalizesEachRow() {
        Tensor x = Arithmetic.addScalar(Arithmetic.scale(Tensor.randn(new Generator(1), 3, 4, 6), 3f), 2f);
        Tensor y = Norm.layerNorm(x, new long[] {6}, null, null, 1e-5f);
        float[] v = y.toArray();
        for (int row = 0; row < 12; row++) {
            double sum = 0, sq = 0;
            for (int i = 0; i < 6; i++) {
                sum += v[row * 6 + i];
                sq += v[row * 6 + i] * v[row * 6 + i];
            }
            assertEquals(0, sum / 6, 1e-5, "row " + row + " mean");
            assertEquals(1, sq / 6, 1e-3, "row " + row + " variance");
        }
        // γ and β act per feature after normalizing: y' = γ·y + β.
        Tensor gamma = Tensor.fromArray(new float[] {1, 2, 3, 4, 5, 6});
        Tensor beta = Tensor.fromArray(new float[] {0, -1, 1, 0, 2, 0});
        float[] affine = Norm.layerNorm(x, new long[] {6}, gamma, beta, 1e-5f).toArray();
        for (int i = 0; i < v.length; i++) {
            assertEquals(v[i] * (i % 6 + 1) + beta.toArray()[i % 6], affine[i], 1e-5, "element " + i);
        }
    }

    @Test
    void layerNormGradients() {
        Tensor x = GradCheck.leaf(1, 3, 2, 5);
        Tensor gamma = GradCheck.leafIn(2, 0.5, 1.5, 5);
        Tensor beta = GradCheck.leaf(3, 5);
        check("layerNorm affine", 1e-2, 3e-2, 3e-3,
                in -> Norm.layerNorm(in[0], new long[] {5}, in[1], in[2], 1e-5f), x, gamma, beta);
        check("layerNorm, no affine", 1e-2, 3e-2, 3e-3,
                in -> Norm.layerNorm(in[0], new long[] {5}, null, null, 1e-5f), x);
        Tensor gamma2 = GradCheck.leafIn(4, 0.5, 1.5, 2, 5);
        check("layerNorm over two dimensions, weight only", 1e-2, 3e-2, 3e-3,
                in -> Norm.layerNorm(in[0], new long[] {2, 5}, in[1], null, 1e-5f), x, gamma2);
        check("layerNorm of a transposed view", 1e-2, 3e-2, 3e-3,
                in -> Norm.layerNorm(in[0].transpose(0, 2), new long[] {3}, null, null, 1e-5f), x);
    }

    @Test
    void layerNormMatchesPyTorch() {
        JsonNode fixture = Fixtures.load("transformer.json");
        int seen = 0;
        for (JsonNode c : fixture.get("cases")) {
            String name = c.get("name").asText();
            if (!name.startsWith("layer_norm")) continue;
            seen++;
            long[] normalized = Fixtures.longs(c.get("normalized_shape"));
            float eps = c.has("eps") ? (float) c.get("eps").asDouble() : 1e-5f;
            try (dev.gatun.nn.LayerNorm ln = new dev.gatun.nn.LayerNorm(normalized, eps, c.get("affine").asBoolean())) {
                ln.namedParameters().forEach((k, t) -> t.copyFrom(Fixtures.floats(c.get("params").get(k))));
                assertEquals(c.get("params").size(), ln.namedParameters().size(), name + " parameters");
                Tensor x = Tensor.zeros(Fixtures.longs(c.get("input_shapes").get("x")))
                        .copyFrom(Fixtures.floats(c.get("inputs").get("x"))).requiresGrad(true);
                Tensor y = ln.forward(x);
                assertArrayEquals(Fixtures.floats(c.get("y")), y.toArray(), 2e-5f, name + " output");
                Reduce.sum(Arithmetic.mul(y, Tensor.zeros(y.shape()).copyFrom(Fixtures.floats(c.get("r"))))).backward();
                assertArrayEquals(Fixtures.floats(c.get("input_grads").get("x")), x.grad().toArray(), 5e-5f, name + " ∂x");
                ln.namedParameters().forEach((k, t) -> assertArrayEquals(Fixtures.floats(c.get("grads").get(k)),
                        t.grad().toArray(), 1e-4f, name + " ∂" + k));
            }
        }
        assertEquals(2, seen);
    }

    @Test
    void layerNormBadInputsAreNamed() {
        Tensor x = Tensor.zeros(2, 3, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Norm.layerNorm(x, new long[] {3}, null, null, 1e-5f));
        assertEquals("layerNorm: input of shape [2, 3, 4] does not end in the normalized shape [3]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Norm.layerNorm(x, new long[] {4}, Tensor.ones(5), null, 1e-5f));
        assertEquals("layerNorm: weight must be [4], got [5]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Norm.layerNorm(x, new long[] {4}, null, null, 0f));
        assertEquals("layerNorm: eps must be positive, got 0.0", e.getMessage());
        try (dev.gatun.nn.LayerNorm ln = new dev.gatun.nn.LayerNorm(8)) {
            e = assertThrows(IllegalArgumentException.class, () -> ln.forward(Tensor.zeros(2, 5, 7)));
            assertEquals("layerNorm: input of shape [2, 5, 7] does not end in the normalized shape [8]", e.getMessage());
        }
        Tensor closed = Tensor.zeros(2, 4);
        closed.close();
        assertThrows(IllegalStateException.class, () -> Norm.layerNorm(closed, new long[] {4}, null, null, 1e-5f));
    }
}
