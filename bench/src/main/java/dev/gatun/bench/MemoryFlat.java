package dev.gatun.bench;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.MemoryPool;
import dev.gatun.backend.SharedMemory;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.Module;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Whether memory stays flat when the user opens no scope at all: every tensor is left to
 * {@link SharedMemory}'s collector safety net. Two runs, as a PyTorch user writes them:
 * <ul>
 *   <li>{@code infer [N]}: N (default 100,000) batch-1 LeNet-5 inferences, a new input each time,
 *       results dropped;
 *   <li>{@code train [N]}: N (default 5,000) training steps of a 784-512-256-10 MLP with Adam, as a
 *       plain for-each loop over a {@link DataLoader} of batch 64, the batches never closed.
 * </ul>
 * Prints the resident set ({@code VmRSS}) sampled at 20 points, and its range after a warm-up of the
 * first fifth. Run it on an otherwise idle machine:
 * {@code java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar dev.gatun.bench.MemoryFlat infer}.
 */
public final class MemoryFlat {

    private MemoryFlat() {}

    public static void main(String[] args) throws IOException {
        String mode = args.length > 0 ? args[0] : "infer";
        long n = args.length > 1 ? Long.parseLong(args[1]) : mode.equals("infer") ? 100_000 : 5_000;
        List<long[]> samples = switch (mode) {
            case "infer" -> infer(n);
            case "train" -> train(n);
            default -> throw new IllegalArgumentException("mode is infer or train, got " + mode);
        };
        long warm = n / 5;
        long lo = Long.MAX_VALUE;
        long hi = 0;
        for (long[] s : samples) {
            if (s[0] >= warm) {
                lo = Math.min(lo, s[1]);
                hi = Math.max(hi, s[1]);
            }
        }
        System.out.printf(Locale.ROOT, "%s: %d iterations, no scope; after %d: RSS %.1f-%.1f MiB (spread %.1f MiB);"
                + " peak %.1f MiB; %d collections requested, %d allocations freed by the collector%n", mode, n, warm,
                lo / 1024.0, hi / 1024.0, (hi - lo) / 1024.0, status("VmHWM:") / 1024.0,
                SharedMemory.collectionsRequested(), SharedMemory.reclaimedCount());
    }

    private static List<long[]> infer(long n) throws IOException {
        List<long[]> samples = new ArrayList<>();
        Sequential model = Models.lenet5();
        model.eval();
        SplittableRandom rng = new SplittableRandom(1);
        float[] image = new float[28 * 28];
        long t0 = System.nanoTime();
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            for (long i = 0; i < n; i++) {
                image[(int) (i % image.length)] = (float) rng.nextDouble();
                Tensor logits = model.forward(Tensor.fromArray(image, 1, 1, 28, 28)); // never closed
                if (logits.numel() != 10) {
                    throw new AssertionError("logits of shape " + logits);
                }
                sample(samples, i + 1, n, t0);
            }
        }
        return samples;
    }

    private static List<long[]> train(long n) throws IOException {
        List<long[]> samples = new ArrayList<>();
        int size = 4096;
        SplittableRandom rng = new SplittableRandom(2);
        float[] features = new float[size * 784];
        int[] labels = new int[size];
        for (int i = 0; i < size; i++) {
            labels[i] = rng.nextInt(10);
            for (int j = 0; j < 784; j++) {
                features[i * 784 + j] = (float) rng.nextDouble() + (j % 10 == labels[i] ? 0.5f : 0f);
            }
        }
        Dataset data = Dataset.of(features, labels, 10, 784);
        DataLoader loader = new DataLoader(data, 64, Order.shuffled(3), LastBatch.DROP);
        Module model = new Sequential(new Linear(784, 512), new ReLU(), new Linear(512, 256),
                new ReLU(), new Linear(256, 10));
        Optimizer optimizer = new Adam(model.parameters(), 1e-3);
        long step = 0;
        long t0 = System.nanoTime();
        float loss = Float.NaN;
        for (int epoch = 0; step < n; epoch++) {
            for (Batch batch : loader.epoch(epoch)) { // the batch is never closed
                optimizer.zeroGrad();
                Tensor l = Loss.crossEntropy(model.forward(batch.inputs()), batch.labels());
                loss = l.item();
                l.backward();
                optimizer.step();
                sample(samples, ++step, n, t0);
                if (step == n) {
                    break;
                }
            }
        }
        System.out.printf(Locale.ROOT, "last loss %.4f%n", loss);
        return samples;
    }

    /** Records and prints the resident set at 20 evenly spaced points. */
    private static void sample(List<long[]> samples, long i, long n, long t0) throws IOException {
        if (i % Math.max(1, n / 20) != 0) {
            return;
        }
        long rss = status("VmRSS:");
        samples.add(new long[] {i, rss});
        System.out.printf(Locale.ROOT, "%8d  RSS %7.1f MiB  not freed %6.1f MiB  pool free %6.1f MiB  %6.1f s%n", i,
                rss / 1024.0, SharedMemory.unfreedBytes() / 1048576.0, MemoryPool.freeBytes() / 1048576.0,
                (System.nanoTime() - t0) / 1e9);
    }

    /** A {@code /proc/self/status} field in KiB. */
    private static long status(String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
