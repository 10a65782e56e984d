package dev.gatun.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.gatun.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;

class OptimizersTest {

    @Test
    void everyKindWithItsDefaults() {
        try (Tensor p = Tensor.zeros(3).requiresGrad(true)) {
            for (Optimizers.Kind kind : Optimizers.Kind.values()) {
                try (Optimizer o = Optimizers.create(kind, List.of(p), null, 0)) {
                    assertEquals(kind.defaultLearningRate(), o.learningRate(), kind.toString());
                    assertEquals(kind.name(), o.getClass().getSimpleName().toUpperCase(java.util.Locale.ROOT));
                }
            }
            try (Optimizer o = Optimizers.create(Optimizers.Kind.ADAMW, List.of(p), 0.5, 0, null)) {
                assertInstanceOf(AdamW.class, o);
                assertEquals(0.01, ((AdamW) o).options().weightDecay());
                assertEquals(0.5, o.learningRate());
            }
            try (Optimizer o = Optimizers.create(Optimizers.Kind.SGD, List.of(p), null, 0.9, 1e-4)) {
                assertEquals(0.9, ((SGD) o).options().momentum());
                assertEquals(1e-4, ((SGD) o).options().weightDecay());
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Optimizers.create(Optimizers.Kind.ADAM, List.of(p), null, 0.9));
            assertEquals("momentum applies to sgd and rmsprop only, not adam", e.getMessage());
        }
    }
}
