package dev.gatun.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Hyper-parameter checks, defaults, and parameters without gradients. */
class OptimizerValidationTest {

    /** Runs {@code bad}, expecting an IllegalArgumentException whose message names each of {@code words}. */
    private static void rejects(Executable bad, String... words) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, bad);
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "message '" + e.getMessage() + "' should name '" + w + "'");
        }
    }

    /** A parameter given twice, or a view of another, would be updated twice a step. */
    @Test
    void parametersMustBeDistinctAndDisjoint() {
        Tensor w = Tensor.ones(4).requiresGrad(true);
        Tensor other = Tensor.ones(3).requiresGrad(true);
        rejects(() -> new SGD(List.of(w, other, w), 1.0), "parameter 2 is parameter 0 again");
        Tensor base = Tensor.ones(2, 4);
        Tensor row = base.select(0, 1).detach().requiresGrad(true);
        Tensor all = base.detach().requiresGrad(true);
        rejects(() -> new Adam(List.of(other, row, all)), "parameter 2 shares memory with parameter 1");
        Tensor closed = Tensor.ones(2).requiresGrad(true);
        closed.close();
        rejects(() -> new SGD(List.of(other, closed), 1.0), "parameter 1 is closed");
        Tensor first = base.select(0, 0).detach().requiresGrad(true);
        new SGD(List.of(first, row), 1.0); // two rows of one tensor: disjoint
    }

    @Test
    void sgdRejectsBadHyperParameters() {
        rejects(() -> SGD.Options.of(-0.1), "SGD", "learning rate", "-0.1");
        rejects(() -> SGD.Options.of(0.1).withMomentum(-0.5), "momentum", "-0.5");
        rejects(() -> SGD.Options.of(0.1).withWeightDecay(Double.NaN), "weight decay", "NaN");
        rejects(() -> SGD.Options.of(0.1).withDampening(1.5), "dampening", "1.5");
        rejects(() -> SGD.Options.of(0.1).withNesterov(true), "Nesterov", "momentum 0.0");
        rejects(() -> SGD.Options.of(0.1).withMomentum(0.9).withDampening(0.1).withNesterov(true), "dampening 0.1");
    }

    @Test
    void adagradRejectsBadHyperParameters() {
        Adagrad.Options d = Adagrad.Options.DEFAULTS;
        rejects(() -> d.withLearningRate(-1), "Adagrad", "learning rate", "-1.0");
        rejects(() -> d.withLearningRateDecay(-0.01), "learning-rate decay", "-0.01");
        rejects(() -> d.withWeightDecay(-2), "weight decay", "-2.0");
        rejects(() -> d.withInitialAccumulatorValue(-0.1), "initial accumulator value", "-0.1");
        rejects(() -> d.withEps(Double.POSITIVE_INFINITY), "eps", "Infinity");
    }

    @Test
    void rmspropRejectsBadHyperParameters() {
        RMSprop.Options d = RMSprop.Options.DEFAULTS;
        rejects(() -> d.withLearningRate(-0.01), "RMSprop", "learning rate", "-0.01");
        rejects(() -> d.withAlpha(1.01), "alpha", "1.01");
        rejects(() -> d.withAlpha(-0.1), "alpha", "-0.1");
        rejects(() -> d.withEps(-1e-8), "eps", "-1.0E-8");
        rejects(() -> d.withMomentum(-0.9), "momentum", "-0.9");
        rejects(() -> d.withWeightDecay(-1), "weight decay", "-1.0");
    }

    @Test
    void adadeltaRejectsBadHyperParameters() {
        Adadelta.Options d = Adadelta.Options.DEFAULTS;
        rejects(() -> d.withLearningRate(-1), "Adadelta", "learning rate", "-1.0");
        rejects(() -> d.withRho(1.5), "rho", "1.5");
        rejects(() -> d.withEps(-1e-6), "eps", "-1.0E-6");
        rejects(() -> d.withWeightDecay(-0.1), "weight decay", "-0.1");
    }

    @Test
    void adamAndAdamWRejectBetasOutsideTheUnitInterval() {
        rejects(() -> Adam.Options.DEFAULTS.withBetas(1.0, 0.999), "Adam", "beta1", "[0, 1)", "1.0");
        rejects(() -> Adam.Options.DEFAULTS.withBetas(0.9, -0.1), "beta2", "-0.1");
        rejects(() -> Adam.Options.DEFAULTS.withLearningRate(-1e-3), "learning rate", "-0.001");
        rejects(() -> Adam.Options.DEFAULTS.withEps(-1), "eps", "-1.0");
        rejects(() -> Adam.Options.DEFAULTS.withWeightDecay(-0.01), "weight decay", "-0.01");
        rejects(() -> AdamW.Options.DEFAULTS.withBetas(0.9, 1.0), "AdamW", "beta2", "1.0");
        rejects(() -> AdamW.Options.DEFAULTS.withBetas(Double.NaN, 0.999), "beta1", "NaN");
        rejects(() -> AdamW.Options.DEFAULTS.withWeightDecay(-1e-2), "weight decay", "-0.01");
    }

    @Test
    void schedulesAndClippingRejectBadArguments() {
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(2).requiresGrad(true);
            try (SGD sgd = new SGD(List.of(w), 0.1)) {
                rejects(() -> new StepLR(sgd, 0, 0.5), "StepLR", "step size", "0");
                rejects(() -> new StepLR(sgd, 2, -0.5), "gamma", "-0.5");
                rejects(() -> new ExponentialLR(sgd, 0), "ExponentialLR", "gamma", "0.0");
                rejects(() -> new CosineAnnealingLR(sgd, 0, 0), "CosineAnnealingLR", "tMax", "0");
                rejects(() -> new CosineAnnealingLR(sgd, 10, -1e-3), "etaMin", "-0.001");
            }
            rejects(() -> GradClip.clipGradNorm(List.of(w), -1), "maxNorm", "-1.0");
            rejects(() -> GradClip.clipGradNorm(List.of(w), 1, 0), "normType", "0.0");
            rejects(() -> GradClip.clipGradValue(List.of(w), -0.5), "clipValue", "-0.5");
        }
    }

    @Test
    void defaultsArePytorchs() {
        assertEquals(new Adagrad.Options(1e-2, 0, 0, 0, 1e-10), Adagrad.Options.DEFAULTS);
        assertEquals(new RMSprop.Options(1e-2, 0.99, 1e-8, 0, 0, false), RMSprop.Options.DEFAULTS);
        assertEquals(new Adadelta.Options(1.0, 0.9, 1e-6, 0), Adadelta.Options.DEFAULTS);
        assertEquals(new Adam.Options(1e-3, 0.9, 0.999, 1e-8, 0, false), Adam.Options.DEFAULTS);
        assertEquals(new AdamW.Options(1e-3, 0.9, 0.999, 1e-8, 1e-2, false), AdamW.Options.DEFAULTS);
        try (Scope s = Scope.open(); Adam adam = new Adam(List.of(Tensor.zeros(1).requiresGrad(true)), 0.05)) {
            assertEquals(0.05, adam.learningRate());
            assertEquals(Adam.Options.DEFAULTS.withLearningRate(0.05), adam.options());
        }
    }

    /** Every optimizer, made with its defaults at learning rate 0.1. */
    private static final List<Function<List<Tensor>, Optimizer>> EVERY_OPTIMIZER = List.of(
            p -> new SGD(p, SGD.Options.of(0.1).withMomentum(0.9)),
            p -> new Adagrad(p, 0.1),
            p -> new RMSprop(p, RMSprop.Options.DEFAULTS.withLearningRate(0.1).withMomentum(0.5).withCentered(true)),
            p -> new Adadelta(p, 0.1),
            p -> new Adam(p, Adam.Options.DEFAULTS.withLearningRate(0.1).withAmsgrad(true)),
            p -> new AdamW(p, 0.1));

    @Test
    void everyOptimizerSkipsParametersWithoutGradients() {
        for (Function<List<Tensor>, Optimizer> make : EVERY_OPTIMIZER) {
            try (Scope s = Scope.open()) {
                Tensor a = Tensor.fromArray(new float[] {1, 2, 3}).requiresGrad(true);
                Tensor b = Tensor.fromArray(new float[] {4, 5}).requiresGrad(true);
                try (Optimizer opt = make.apply(List.of(a, b))) {
                    String name = opt.getClass().getSimpleName();
                    a.setGrad(Tensor.fromArray(new float[] {0.5f, -0.5f, 1}));
                    opt.step();
                    opt.step();
                    assertArrayEquals(new float[] {4, 5}, b.toArray(), name + " changed a parameter without a gradient");
                    float[] moved = a.toArray();
                    for (int i = 0; i < 3; i++) {
                        assertNotEquals(new float[] {1, 2, 3}[i], moved[i], name + " did not update element " + i);
                    }
                    assertEquals(2, opt.steps());
                }
            }
        }
    }

    @Test
    void optimizerRejectsParametersThatCannotBeTrained() {
        try (Scope s = Scope.open()) {
            Tensor frozen = Tensor.zeros(2);
            rejects(() -> new Adam(List.of(frozen)), "parameter 0", "requires a gradient");
            rejects(() -> new RMSprop(List.of()), "empty parameter list");
        }
    }
}
