package dev.gatun.ops;

import static dev.gatun.ops.ArgReduceTest.FIXTURE;
import static dev.gatun.ops.ArgReduceTest.assertSameFloats;
import static dev.gatun.ops.ArgReduceTest.floats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/** Cross-entropy and NLL with int64 class targets ({@link Loss}) against PyTorch and the int[] overloads. */
class ClassTargetLossTest extends ScopedTest {

    private static final JsonNode L = FIXTURE.get("losses");

    @Test
    void crossEntropyWithInt64TargetsAsPyTorch() {
        long[] y = Fixtures.longs(L.get("targets"));
        Tensor targets = Tensor.fromLongs(y);
        for (JsonNode c : L.get("cases")) {
            float eps = (float) c.get("label_smoothing").asDouble();
            Tensor z = Tensor.fromArray(floats(L.get("logits")), 5, 4).requiresGrad(true);
            Tensor loss = Loss.crossEntropy(z, targets, eps);
            assertEquals(c.get("loss").asDouble(), loss.item(), 1e-5, "label smoothing " + eps);
            loss.backward();
            assertSameFloats(floats(c.get("grad")), z.grad().toArray(), 1e-6f, "∂logits, smoothing " + eps);

            // The int[] overload gives the same loss and gradient.
            Tensor z2 = Tensor.fromArray(floats(L.get("logits")), 5, 4).requiresGrad(true);
            int[] asInts = new int[y.length];
            for (int i = 0; i < y.length; i++) asInts[i] = (int) y[i];
            Tensor loss2 = Loss.crossEntropy(z2, asInts, eps);
            assertEquals(loss2.item(), loss.item(), 0f);
            loss2.backward();
            assertArrayEquals(z2.grad().toArray(), z.grad().toArray(), 0f);
        }
        Tensor z = Tensor.fromArray(floats(L.get("logits")), 5, 4);
        assertEquals(Loss.crossEntropy(z, targets, 0f).item(), Loss.crossEntropy(z, targets).item(), 0f);
    }

    @Test
    void nllLossAsPyTorch() {
        JsonNode c = L.get("nll");
        Tensor logp = Tensor.fromArray(floats(c.get("log_probabilities")), 5, 4).requiresGrad(true);
        Tensor loss = Loss.nllLoss(logp, Tensor.fromLongs(Fixtures.longs(L.get("targets"))));
        assertEquals(c.get("loss").asDouble(), loss.item(), 1e-5);
        loss.backward();
        assertSameFloats(floats(c.get("grad")), logp.grad().toArray(), 1e-6f, "∂log-probabilities");
        GradCheck.check("nllLoss", x -> Loss.nllLoss(x[0], new int[] {3, 0, 1, 3, 2}), GradCheck.leaf(7, 5, 4));
    }

    @Test
    void targetsAreChecked() {
        Tensor z = Tensor.zeros(2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Loss.crossEntropy(z, Tensor.fromLongs(new long[] {0, 3})));
        assertEquals("crossEntropy: target 3 at row 1 is not a class index in [0, 3)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Loss.crossEntropy(z, Tensor.fromLongs(new long[] {0, -100})));
        assertTrue(e.getMessage().contains("target -100 at row 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Loss.crossEntropy(z, Tensor.fromLongs(new long[] {0, 1L << 32})));
        assertTrue(e.getMessage().contains("target 4294967296 at row 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Loss.crossEntropy(z, Tensor.zeros(2)));
        assertTrue(e.getMessage().contains("expects int64 class indices as targets, got float32"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Loss.crossEntropy(z, Tensor.zeros(DType.INT64, 3)));
        assertTrue(e.getMessage().contains("targets must be [N] for an input of shape [2, 3], got shape [3]"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Loss.nllLoss(Tensor.zeros(6), Tensor.zeros(DType.INT64, 6)));
        assertTrue(e.getMessage().contains("nllLoss"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Loss.crossEntropy(Tensor.zeros(DType.INT64, 2, 3), Tensor.zeros(DType.INT64, 2)));
        assertTrue(e.getMessage().contains("expects float32, got int64"), e.getMessage());
    }
}
