package dev.gatun.ops;

import static dev.gatun.ops.GradCheck.check;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.nn.BatchNorm;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class NormTest extends ScopedTest {

    @Test
    void trainingNormalizesEachChannel() {
        Tensor x = Arithmetic.addScalar(Arithmetic.scale(Tensor.randn(1, 4, 3, 5, 5), 3f), 2f);
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

    @Test
    void matchesPyTorchInBothModes() throws IOException {
        JsonNode fixture = Fixtures.load("batchnorm.json");
        for (JsonNode c : fixture.get("cases")) {
            String name = c.get("name").asText();
            long[] shape = Fixtures.longs(c.get("shape"));
            try (BatchNorm bn = shape.length == 4 ? BatchNorm.batchNorm2d(shape[1]) : BatchNorm.batchNorm1d(shape[1])) {
                JsonNode start = c.get("start");
                bn.namedParameters().forEach((k, t) -> t.copyFrom(Fixtures.floats(start.get(k))));
                bn.namedBuffers().forEach((k, t) -> t.copyFrom(Fixtures.floats(start.get(k))));
                if (c.get("mode").asText().equals("eval")) bn.eval();
                Tensor x = Tensor.zeros(shape).copyFrom(Fixtures.floats(c.get("x"))).requiresGrad(true);
                Tensor y = bn.forward(x);
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
        try (BatchNorm bn = BatchNorm.batchNorm2d(3)) {
            e = assertThrows(IllegalArgumentException.class, () -> bn.forward(Tensor.zeros(2, 3)));
            assertTrue(e.getMessage().startsWith("BatchNorm2d(3) expects [N, C, H, W]"), e.getMessage());
        }
    }

}
