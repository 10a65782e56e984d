package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The recurrent layers fed a sequence in parts, keeping their state, and one step at a time. */
class RecurrentStateTest extends ScopedTest {

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5f, what + " at " + i);
        }
    }

    /** Runs {@code layer} over x [T, N, I] (or [N, T, I]) whole and one step at a time; the two must agree. */
    private static void stepsEqualTheWholeSequence(RecurrentLayer layer, Tensor x, boolean batchFirst) {
        int timeDim = batchFirst ? 1 : 0;
        RecurrentLayer.Output whole = layer.forward(x, (RecurrentLayer.State) null);
        RecurrentLayer.State state = null;
        List<float[]> steps = new ArrayList<>();
        for (long t = 0; t < x.size(timeDim); t++) {
            RecurrentLayer.Output step = layer.forward(x.slice(timeDim, t, t + 1), state);
            steps.add(step.output().toArray());
            state = step.state();
        }
        String name = layer.getClass().getSimpleName();
        // whole.output() by time step, to compare with each step's output
        for (int t = 0; t < steps.size(); t++) {
            assertClose(whole.output().slice(timeDim, t, t + 1).contiguous().toArray(), steps.get(t),
                    name + " output at step " + t);
        }
        assertClose(whole.h().toArray(), state.h().toArray(), name + " final h");
        if (whole.c() != null) {
            assertClose(whole.c().toArray(), state.c().toArray(), name + " final c");
        } else {
            assertNull(state.c());
        }
    }

    @Test
    void feedingOneStepAtATimeEqualsTheWholeSequence() {
        RecurrentLayer.Options twoLayers = RecurrentLayer.Options.defaults().withLayers(2);
        Tensor x = Tensor.randn(new Generator(1), 6, 3, 5);
        List<Supplier<RecurrentLayer>> layers = List.of(() -> new LSTM(5, 4, twoLayers),
                () -> new GRU(5, 4, twoLayers), () -> new RNN(5, 4, twoLayers),
                () -> new RNN(5, 4, RNN.Nonlinearity.RELU, RecurrentLayer.Options.defaults()));
        for (Supplier<RecurrentLayer> make : layers) {
            try (RecurrentLayer layer = make.get()) {
                stepsEqualTheWholeSequence(layer, x, false);
            }
        }
        try (LSTM batchFirst = new LSTM(5, 4, twoLayers.withBatchFirst(true))) {
            stepsEqualTheWholeSequence(batchFirst, x.transpose(0, 1).contiguous(), true);
        }
    }

    @Test
    void gradientsFlowThroughTheStateUnlessItIsDetached() {
        try (LSTM lstm = new LSTM(3, 4)) {
            Tensor x = Tensor.randn(new Generator(2), 6, 2, 3);
            Tensor w = lstm.namedParameters().get("weight_hh_l0");

            lstm.forward(x).sum().backward();
            float[] whole = w.grad().toArray();
            lstm.zeroGrad();

            RecurrentLayer.Output first = lstm.forward(x.slice(0, 0, 3), (RecurrentLayer.State) null);
            RecurrentLayer.Output second = lstm.forward(x.slice(0, 3, 6), first.state());
            first.output().sum().add(second.output().sum()).backward();
            assertClose(whole, w.grad().toArray(), "the gradient through the carried state");
            lstm.zeroGrad();

            RecurrentLayer.State detached = first.state().detach();
            assertFalse(detached.h().requiresGrad());
            assertFalse(detached.c().requiresGrad());
            assertArrayEquals(first.h().toArray(), detached.h().toArray());
            lstm.forward(x.slice(0, 3, 6), detached).output().sum().backward();
            float[] truncated = w.grad().toArray();
            lstm.zeroGrad();
            lstm.forward(x.slice(0, 3, 6), new RecurrentLayer.State(first.h().detach().contiguous(),
                    first.c().detach().contiguous())).output().sum().backward();
            assertClose(truncated, w.grad().toArray(), "a detached state is a constant start");
            boolean differs = false;
            for (int i = 0; i < whole.length; i++) differs |= Math.abs(whole[i] - truncated[i]) > 1e-4;
            assertTrue(differs, "cutting the graph drops the first part's contribution");
        }
    }

    @Test
    void aStateOfTheWrongKindOrShapeIsRefused() {
        try (LSTM lstm = new LSTM(3, 4); GRU gru = new GRU(3, 4)) {
            Tensor x = Tensor.zeros(2, 1, 3);
            Tensor h = Tensor.zeros(1, 1, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> lstm.forward(x, new RecurrentLayer.State(h, null)));
            assertEquals("LSTM: the state needs the cell states c as well as h", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> gru.forward(x, new RecurrentLayer.State(h, h)));
            assertEquals("GRU has no cell state, but the state has c of shape [1, 1, 4]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> gru.forward(x, new RecurrentLayer.State(Tensor.zeros(1, 2, 4), null)));
            assertTrue(e.getMessage().contains("h0 must be [1, 1, 4], got [1, 2, 4]"), e.getMessage());
            assertThrows(NullPointerException.class, () -> new RecurrentLayer.State(null, h));
        }
    }
}
