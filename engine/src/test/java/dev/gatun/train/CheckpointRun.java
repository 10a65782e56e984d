package dev.gatun.train;

import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.io.SafeTensors;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Module;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.StepLR;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A small seeded training run for the checkpoint tests: three classes in 6-d, an MLP with dropout,
 * Adam with a step schedule, 4 epochs of 12 batches (the last one smaller). Run as a program (in a child
 * JVM, to be killed) it trains with checkpoints every {@code every} steps into {@code dir}, each step
 * slowed by {@code sleepMs} so that the kill lands mid-run.
 */
public final class CheckpointRun {

    static final long SEED = 1234;
    static final int EPOCHS = 4;
    static final int SAMPLES = 230;
    static final int BATCH = 20;
    static final int KEEP = 3;

    private CheckpointRun() {}

    /** Three Gaussian blobs in 6-d, made from a fixed seed. */
    static Dataset data() {
        SplittableRandom rng = new SplittableRandom(77);
        float[] x = new float[6 * SAMPLES];
        int[] y = new int[SAMPLES];
        for (int i = 0; i < SAMPLES; i++) {
            y[i] = i % 3;
            for (int k = 0; k < 6; k++) {
                x[6 * i + k] = (float) ((k % 3 == y[i] ? 1.5 : 0) + rng.nextGaussian());
            }
        }
        return Dataset.of(x, y, 3, 6);
    }

    /** The final weights and optimizer buffers of a run, by name (Adam's state included). */
    record Result(Map<String, float[]> weights, Map<String, float[]> optimizer, Trainer.History history) {}

    /**
     * Trains from the seed; with {@code checkpoints} (may be null) writes them every {@code every} steps;
     * with {@code resume} (may be null) starts from that checkpoint file or directory.
     */
    static Result train(Path checkpoints, int every, Path resume, long sleepMs, PrintStream out) throws IOException {
        Init.manualSeed(SEED);
        try (Module model = new Sequential(new Linear(6, 32), new ReLU(), new Dropout(0.3f),
                new Linear(32, 32), new ReLU(), new Dropout(0.2f), new Linear(32, 3));
             Optimizer adam = new Adam(model.parameters(), 0.01)) {
            StepLR schedule = new StepLR(adam, 1, 0.7);
            DataLoader loader = new DataLoader(data(), BATCH, Order.shuffled(SEED), LastBatch.KEEP);
            Checkpoint from = resume == null ? null : Checkpoint.resolve(resume, out);
            try {
                Trainer.Config config = Trainer.Config.of(EPOCHS).withOut(null)
                        .withListener(r -> schedule.step())
                        .withCheckpointing(new Trainer.Checkpointing(checkpoints, every, KEEP, schedule, from));
                Trainer.Objective objective = (logits, labels) -> {
                    if (sleepMs > 0) {
                        try {
                            Thread.sleep(sleepMs);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return Loss.crossEntropy(logits, labels);
                };
                Trainer.History h = Trainer.fit(model, adam, objective, loader, null, config);
                Map<String, float[]> w = new LinkedHashMap<>();
                model.stateDict().forEach((k, v) -> w.put(k, v.toArray()));
                Map<String, float[]> o = new LinkedHashMap<>();
                adam.stateDict().buffers().forEach((k, v) -> o.put(k, v.toArray()));
                o.put("lr", new float[] {(float) adam.learningRate()});
                return new Result(w, o, h);
            } finally {
                if (from != null) from.close();
            }
        }
    }

    /** {@code dir every sleepMs out}: trains with checkpoints, prints a line per epoch, saves the weights to out. */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        Result r = train(dir, Integer.parseInt(args[1]), null, Long.parseLong(args[2]), System.out);
        SafeTensors.Writer w = new SafeTensors.Writer();
        try (var scope = dev.gatun.tensor.Scope.open()) {
            r.weights().forEach((k, v) -> w.add(k, dev.gatun.tensor.Tensor.fromArray(v)));
            w.write(Path.of(args[3]));
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        System.out.println("done");
    }
}
