package dev.gatun.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every optimizer configuration of {@code golden/optim.json} (see {@code scripts/golden/optim_fixtures.py}):
 * the same initial parameters and five steps of the same gradients as in PyTorch, the parameters
 * compared after every step.
 */
class OptimizerGoldenTest {

    @TestFactory
    Stream<DynamicTest> everyConfigurationMatchesPytorch() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode config : Golden.fixture().get("optimizers")) {
            tests.add(DynamicTest.dynamicTest(config.get("name").asText(), () -> check(config)));
        }
        return tests.stream();
    }

    private static void check(JsonNode config) {
        String name = config.get("name").asText();
        try (Scope s = Scope.open()) {
            List<Tensor> params = Golden.initialParameters();
            try (Optimizer optimizer = create(config.get("optimizer").asText(), config.get("options"), params)) {
                int step = 0;
                for (JsonNode expected : config.get("steps")) {
                    step++;
                    Golden.setGradients(params, expected.get("gradients"));
                    optimizer.step();
                    for (int i = 0; i < params.size(); i++) {
                        Golden.assertClose(name + ", step " + step + ", parameter " + i,
                                Golden.floats(expected.get("parameters").get(i)), params.get(i).toArray());
                    }
                }
                assertEquals(config.get("steps").size(), optimizer.steps());
            }
        }
    }

    /** The gatun optimizer for a fixture entry; options absent from the entry take PyTorch's defaults. */
    static Optimizer create(String kind, JsonNode o, List<Tensor> params) {
        if (o.isEmpty()) {
            return switch (kind) {
                case "Adagrad" -> new Adagrad(params);
                case "RMSprop" -> new RMSprop(params);
                case "Adadelta" -> new Adadelta(params);
                case "Adam" -> new Adam(params);
                case "AdamW" -> new AdamW(params);
                default -> throw new IllegalArgumentException("no defaults for " + kind);
            };
        }
        return switch (kind) {
            case "SGD" -> new SGD(params, new SGD.Options(o.get("lr").asDouble(), num(o, "momentum", 0),
                    num(o, "dampening", 0), num(o, "weight_decay", 0), o.path("nesterov").asBoolean(false)));
            case "Adagrad" -> {
                Adagrad.Options d = Adagrad.Options.DEFAULTS;
                yield new Adagrad(params, new Adagrad.Options(num(o, "lr", d.learningRate()),
                        num(o, "lr_decay", d.learningRateDecay()), num(o, "weight_decay", d.weightDecay()),
                        num(o, "initial_accumulator_value", d.initialAccumulatorValue()), num(o, "eps", d.eps())));
            }
            case "RMSprop" -> {
                RMSprop.Options d = RMSprop.Options.DEFAULTS;
                yield new RMSprop(params, new RMSprop.Options(num(o, "lr", d.learningRate()),
                        num(o, "alpha", d.alpha()), num(o, "eps", d.eps()), num(o, "weight_decay", d.weightDecay()),
                        num(o, "momentum", d.momentum()), o.path("centered").asBoolean(d.centered())));
            }
            case "Adadelta" -> {
                Adadelta.Options d = Adadelta.Options.DEFAULTS;
                yield new Adadelta(params, new Adadelta.Options(num(o, "lr", d.learningRate()),
                        num(o, "rho", d.rho()), num(o, "eps", d.eps()), num(o, "weight_decay", d.weightDecay())));
            }
            case "Adam" -> {
                Adam.Options d = Adam.Options.DEFAULTS;
                JsonNode betas = o.get("betas");
                yield new Adam(params, new Adam.Options(num(o, "lr", d.learningRate()),
                        betas == null ? d.beta1() : betas.get(0).asDouble(),
                        betas == null ? d.beta2() : betas.get(1).asDouble(), num(o, "eps", d.eps()),
                        num(o, "weight_decay", d.weightDecay()), o.path("amsgrad").asBoolean(d.amsgrad())));
            }
            case "AdamW" -> {
                AdamW.Options d = AdamW.Options.DEFAULTS;
                JsonNode betas = o.get("betas");
                yield new AdamW(params, new AdamW.Options(num(o, "lr", d.learningRate()),
                        betas == null ? d.beta1() : betas.get(0).asDouble(),
                        betas == null ? d.beta2() : betas.get(1).asDouble(), num(o, "eps", d.eps()),
                        num(o, "weight_decay", d.weightDecay()), o.path("amsgrad").asBoolean(d.amsgrad())));
            }
            default -> throw new IllegalArgumentException("unknown optimizer in the fixture: " + kind);
        };
    }

    private static double num(JsonNode options, String key, double fallback) {
        JsonNode v = options.get(key);
        return v == null ? fallback : v.asDouble();
    }
}
