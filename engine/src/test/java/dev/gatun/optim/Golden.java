package dev.gatun.optim;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import java.util.ArrayList;
import java.util.List;

/**
 * The PyTorch fixture {@code golden/optim.json}, written by {@code scripts/golden/optim_fixtures.py},
 * and the comparison used against it.
 */
final class Golden {

    /**
     * Tolerances for float32 results compared with PyTorch's: |actual − expected| ≤ ATOL + RTOL·|expected|.
     * Both sides round every operation to float32 in the same order; what differs is that PyTorch's CPU
     * kernels fuse {@code a + α·b} (add with alpha, addcmul) into one FMA, which Java's float arithmetic
     * does not, so results differ by an ulp here and there (≤ 6e-8 measured over five steps). The
     * bounds leave about ten times that, for a fixture written by a PyTorch built another way; a wrong
     * formula (ε inside instead of outside a square root, a missing bias correction, dampening at the
     * first step, a global instead of a per-parameter step count) moves parameters by 2e-6 or more.
     */
    static final double ATOL = 1e-7;
    static final double RTOL = 1e-6;

    private static JsonNode fixture;

    private Golden() {}

    static synchronized JsonNode fixture() {
        if (fixture == null) {
            fixture = Fixtures.load("optim.json");
        }
        return fixture;
    }

    static float[] floats(JsonNode array) {
        return Fixtures.floats(array);
    }

    static long[] shape(int parameter) {
        JsonNode s = fixture().get("shapes").get(parameter);
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) out[i] = s.get(i).asLong();
        return out;
    }

    /** The fixture's initial parameters as leaf tensors that require gradients, in the current scope. */
    static List<Tensor> initialParameters() {
        List<Tensor> out = new ArrayList<>();
        JsonNode init = fixture().get("initial_parameters");
        for (int i = 0; i < init.size(); i++) {
            out.add(Tensor.fromArray(floats(init.get(i)), shape(i)).requiresGrad(true));
        }
        return out;
    }

    /** Sets each parameter's gradient to the fixture's ({@code null} entries clear it). */
    static void setGradients(List<Tensor> parameters, JsonNode gradients) {
        for (int i = 0; i < parameters.size(); i++) {
            JsonNode g = gradients.get(i);
            Tensor p = parameters.get(i);
            p.setGrad(g.isNull() ? null : Tensor.fromArray(floats(g), p.shape()));
        }
    }

    /** Checks every element against the tolerances, naming the first that is off. */
    static void assertClose(String what, float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            throw new AssertionError(what + ": expected " + expected.length + " values, got " + actual.length);
        }
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) actual[i] - expected[i]);
            if (!(diff <= ATOL + RTOL * Math.abs(expected[i]))) {
                throw new AssertionError(what + ", element " + i + ": expected " + expected[i] + " (PyTorch), got "
                        + actual[i] + ", off by " + diff);
            }
        }
    }
}
