package dev.gatun.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Module;
import dev.gatun.ops.Loss;
import dev.gatun.optim.SGD;
import dev.gatun.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The fit loop with a {@link Trainer.Task} that {@link Trainer.Task#updatesItself}: the task's own update
 * runs instead of the loop's backward pass and optimizer step, its figures are averaged as any task's,
 * a non-finite loss still stops the fit, and checkpoints are refused while the task names none of the
 * optimizers it steps (a task that names them is checkpointed: {@code CheckpointTest}).
 */
class SelfUpdatingTaskTest {

    private static Dataset data(int n) {
        float[] x = new float[2 * n];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            x[2 * i] = i;
            x[2 * i + 1] = -i;
            y[i] = i % 2;
        }
        return Dataset.of(x, y, 2, 2);
    }

    /** Steps its own optimizer (on a regression loss) and counts the calls. */
    private static final class OwnSteps extends Trainer.Task {
        final SGD own;
        int updates;
        int evaluations;
        float nextLoss = Float.NaN;

        OwnSteps(SGD own) {
            this.own = own;
        }

        @Override
        public boolean updatesItself() {
            return true;
        }

        @Override
        public Trainer.BatchLoss update(Module model, Batch batch) {
            updates++;
            own.zeroGrad();
            Tensor loss = Loss.mse(model.forward(batch.inputs()), Tensor.zeros(batch.size(), 2));
            loss.backward();
            own.step();
            Tensor reported = Float.isNaN(nextLoss) ? loss.detach() : Tensor.full(nextLoss);
            return new Trainer.BatchLoss(reported, 2L * batch.size(), batch.size());
        }

        @Override
        public Trainer.BatchLoss step(Module model, Batch batch) {
            evaluations++;
            return new Trainer.BatchLoss(Loss.mse(model.forward(batch.inputs()), Tensor.zeros(batch.size(), 2)),
                    batch.size(), 0);
        }
    }

    @Test
    void theTasksOwnUpdateReplacesTheLoopsStep() throws Exception {
        Init.manualSeed(2);
        try (Linear model = new Linear(2, 2); SGD own = new SGD(model.parameters(), 1e-4);
             SGD fits = new SGD(model.parameters(), 1.0)) {
            OwnSteps task = new OwnSteps(own);
            DataLoader train = new DataLoader(data(40), 8, Order.sequential(), LastBatch.KEEP);
            DataLoader val = new DataLoader(data(10), 10, Order.sequential(), LastBatch.KEEP);
            Trainer.History h = Trainer.fit(model, fits, task, train, val, Trainer.Config.of(3).withOut(null));
            assertEquals(15, task.updates, "five batches, three epochs");
            assertEquals(3, task.evaluations, "one validation batch per epoch");
            assertEquals(15, own.steps());
            assertEquals(0, fits.steps(), "the fit's optimizer is not stepped");
            assertEquals(0.5, h.epochs().getFirst().trainAccuracy(), 1e-12, "the task's counts");
            assertTrue(h.epochs().getLast().trainLoss() < h.epochs().getFirst().trainLoss());
        }
    }

    @Test
    void aNonFiniteLossStillStopsTheFit() {
        try (Linear model = new Linear(2, 2); SGD own = new SGD(model.parameters(), 1e-4)) {
            OwnSteps task = new OwnSteps(own);
            task.nextLoss = Float.POSITIVE_INFINITY;
            DataLoader train = new DataLoader(data(16), 8, Order.sequential(), LastBatch.KEEP);
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
                    () -> Trainer.fit(model, own, task, train, null, Trainer.Config.of(2).withOut(null)));
            assertTrue(e.getMessage().contains("epoch 1") && e.getMessage().contains("batch 1"), e.getMessage());
        }
    }

    @Test
    void checkpointsAreRefused() {
        try (Linear model = new Linear(2, 2); SGD own = new SGD(model.parameters(), 1e-4)) {
            DataLoader train = new DataLoader(data(16), 8, Order.sequential(), LastBatch.KEEP);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.fit(model, own,
                    new OwnSteps(own), train, null, Trainer.Config.of(1).withOut(null).withCheckpointing(
                            new Trainer.Checkpointing(java.nio.file.Path.of("unused"), 0, 3, java.util.List.of(),
                                    null))));
            assertTrue(e.getMessage().contains("steps its own"), e.getMessage());
            assertEquals(0, own.steps());
        }
    }
}
