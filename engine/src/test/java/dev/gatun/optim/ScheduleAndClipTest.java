package dev.gatun.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Learning-rate schedules and gradient clipping against {@code golden/optim.json}. */
class ScheduleAndClipTest {

    /**
     * PyTorch updates the rates recursively (η ← η·γ, the cosine by a recurrence) in double, gatun
     * evaluates the closed form; the two agree to rounding error, about 1e-15 relative after 22 epochs.
     */
    private static final double SCHEDULE_RTOL = 1e-12;

    private static LearningRateSchedule schedule(JsonNode entry, Optimizer optimizer) {
        JsonNode o = entry.get("options");
        return switch (entry.get("schedule").asText()) {
            case "StepLR" -> new StepLR(optimizer, o.get("step_size").asLong(), o.get("gamma").asDouble());
            case "ExponentialLR" -> new ExponentialLR(optimizer, o.get("gamma").asDouble());
            case "CosineAnnealingLR" -> new CosineAnnealingLR(optimizer, o.get("T_max").asLong(),
                    o.get("eta_min").asDouble());
            default -> throw new IllegalArgumentException("unknown schedule " + entry.get("schedule"));
        };
    }

    @Test
    void schedulesFollowPytorchsSequences() {
        for (JsonNode entry : Golden.fixture().get("schedules")) {
            String name = entry.get("name").asText();
            JsonNode expected = entry.get("learning_rates");
            try (Scope s = Scope.open();
                 SGD sgd = new SGD(List.of(Tensor.zeros(1).requiresGrad(true)), entry.get("base_lr").asDouble())) {
                LearningRateSchedule schedule = schedule(entry, sgd);
                for (int epoch = 0; epoch < expected.size(); epoch++) {
                    double want = expected.get(epoch).asDouble();
                    assertEquals(epoch, schedule.epoch());
                    assertEquals(want, sgd.learningRate(), SCHEDULE_RTOL * want, name + ", epoch " + epoch);
                    assertEquals(want, schedule.learningRateAt(epoch), SCHEDULE_RTOL * want, name + ", epoch " + epoch);
                    schedule.step();
                }
            }
        }
    }

    @Test
    void cosineReachesEtaMinAtTMaxAndComesBackAtTwiceTMax() {
        try (Scope s = Scope.open(); Adam adam = new Adam(List.of(Tensor.zeros(1).requiresGrad(true)), 0.01)) {
            CosineAnnealingLR cosine = new CosineAnnealingLR(adam, 4);
            assertEquals(0.01, cosine.learningRateAt(0), 1e-15);
            assertEquals(0.005, cosine.learningRateAt(2), 1e-15);
            assertEquals(0.0, cosine.learningRateAt(4), 1e-15);
            assertEquals(0.01, cosine.learningRateAt(8), 1e-15);
            assertEquals(0.01, cosine.baseLearningRate());
        }
    }

    private static List<Tensor> withGradients(JsonNode gradients) {
        List<Tensor> params = Golden.initialParameters();
        Golden.setGradients(params, gradients);
        return params;
    }

    @Test
    void clippingMatchesPytorch() {
        for (JsonNode c : Golden.fixture().get("clipping")) {
            try (Scope s = Scope.open()) {
                List<Tensor> params = withGradients(c.get("gradients"));
                String what;
                if (c.get("kind").asText().equals("norm")) {
                    double normType = c.get("norm_type").isTextual() ? Double.POSITIVE_INFINITY
                            : c.get("norm_type").asDouble();
                    what = "clipGradNorm(max " + c.get("max_norm") + ", p " + normType + ")";
                    double total = GradClip.clipGradNorm(params, c.get("max_norm").asDouble(), normType);
                    double want = c.get("total_norm").asDouble();
                    // PyTorch sums in float32, gatun in double: a few float32 ulps apart.
                    assertEquals(want, total, 1e-6 * want, what + ": total norm");
                } else {
                    what = "clipGradValue(" + c.get("clip_value") + ")";
                    GradClip.clipGradValue(params, c.get("clip_value").asDouble());
                }
                for (int i = 0; i < params.size(); i++) {
                    Golden.assertClose(what + ", gradient " + i, Golden.floats(c.get("clipped").get(i)),
                            params.get(i).grad().toArray());
                }
            }
        }
    }

    @Test
    void clippingSkipsParametersWithoutGradientsAndLeavesSmallGradientsAlone() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensor.zeros(2).requiresGrad(true);
            Tensor b = Tensor.zeros(3).requiresGrad(true);
            Tensor c = Tensor.zeros(1).requiresGrad(true);
            List<Tensor> params = new ArrayList<>(List.of(a, b, c));
            assertEquals(0.0, GradClip.clipGradNorm(params, 1.0));
            a.setGrad(Tensor.fromArray(new float[] {3, 0}));
            c.setGrad(Tensor.fromArray(new float[] {4}));
            assertEquals(5.0, GradClip.clipGradNorm(params, 10.0), 1e-12);
            assertArrayEquals(new float[] {3, 0}, a.grad().toArray());
            assertEquals(5.0, GradClip.clipGradNorm(params, 1.0), 1e-12);
            assertArrayEquals(new float[] {0.6f, 0}, a.grad().toArray(), 1e-6f);
            assertArrayEquals(new float[] {0.8f}, c.grad().toArray(), 1e-6f);
            assertEquals(null, b.grad());
            GradClip.clipGradValue(params, 0.7);
            assertArrayEquals(new float[] {0.6f, 0}, a.grad().toArray(), 1e-6f);
            assertArrayEquals(new float[] {0.7f}, c.grad().toArray());
        }
    }

    @Test
    void clippingWorksOnStridedGradients() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(2, 2).requiresGrad(true);
            w.setGrad(Tensor.fromArray(new float[] {1, -2, 3, -4}, 2, 2).t());
            GradClip.clipGradValue(List.of(w), 2.5);
            assertArrayEquals(new float[] {1, 2.5f, -2, -2.5f}, w.grad().toArray());
        }
    }
}
