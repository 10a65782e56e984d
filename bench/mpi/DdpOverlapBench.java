// Data-parallel training steps with the gradient allreduces overlapped with backward and without:
// DistributedDataParallel(comm, model, bucketBytes, overlap) on the MLP 784-512-256-10 and LeNet-5 of
// `gatun train` (random MNIST-shaped data, SGD with momentum), the two modes alternating, each repeat a
// fresh model. Run by bench/ddp-overlap.sh, which says how; arguments: steps, warm-up steps, repeats,
// bucket bytes, models (comma-separated: mlp,lenet5).
//
// Per repeat and mode, rank 0 prints the wall time per step (barrier to barrier: the slower process),
// and per step the communication time (hooks during backward + gradientsReady), the part of it
// gradientsReady spent waiting for allreduces, and the buckets started during backward; then the median
// of each over the repeats.
import dev.gatun.data.DataLoader;
import dev.gatun.data.Dataset;
import dev.gatun.distributed.Communicator;
import dev.gatun.distributed.DistributedDataParallel;
import dev.gatun.nn.Init;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Models;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.Sequential;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.Optimizers;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Random;

public class DdpOverlapBench {

    record Row(double stepMs, double commMs, double waitMs, double overlappedPerStep) {}

    public static void main(String[] args) {
        int steps = Integer.parseInt(args[0]);
        int warmup = Integer.parseInt(args[1]);
        int repeats = Integer.parseInt(args[2]);
        long bucketBytes = Long.parseLong(args[3]);
        List<String> models = List.of(args[4].split(","));
        Communicator comm = Communicator.world(Communicator.ThreadLevel.SERIALIZED);
        boolean main = comm.rank() == 0;
        if (main) {
            System.out.printf(Locale.ROOT, "%d processes, %d steps after %d warm-up, %d repeats, buckets of %d"
                    + " bytes%n", comm.size(), steps, warmup, repeats, bucketBytes);
            System.out.println("model   mode     repeat  step ms  comm ms  wait ms  buckets overlapped/step");
        }
        for (String name : models) {
            boolean lenet = name.equals("lenet5");
            if (!lenet && !name.equals("mlp")) {
                throw new IllegalArgumentException("models are mlp and lenet5, got " + name);
            }
            int batch = lenet ? 64 : 128; // the global batch, as in bench/results/distributed.md
            Dataset data = randomData((steps + warmup) * batch, lenet);
            List<List<Row>> rows = List.of(new ArrayList<>(), new ArrayList<>());
            for (int rep = 0; rep < repeats; rep++) {
                for (int k = 0; k < 2; k++) {
                    boolean overlap = (rep + k) % 2 == 0; // alternate which mode goes first
                    Init.manualSeed(3);
                    try (Sequential model = lenet ? Models.lenet5() : new Sequential(new Linear(784, 512),
                                 new ReLU(), new Linear(512, 256), new ReLU(), new Linear(256, 10));
                         Optimizer opt = Optimizers.create(Optimizers.Kind.SGD, model.parameters(), 0.01, 0.9, 0.0);
                         DistributedDataParallel ddp = new DistributedDataParallel(comm, model, bucketBytes,
                                 overlap)) {
                        DataLoader loader = new DataLoader(data, batch, DataLoader.Order.shuffled(rep),
                                DataLoader.LastBatch.DROP);
                        Iterator<DataLoader.Batch> it = ddp.batches(loader, 0).iterator();
                        for (int s = 0; s < warmup; s++) {
                            step(it, model, opt, ddp);
                        }
                        long comm0 = ddp.communicationNanos();
                        long wait0 = ddp.waitNanos();
                        long over0 = ddp.overlappedBuckets();
                        comm.barrier();
                        long t0 = System.nanoTime();
                        for (int s = 0; s < steps; s++) {
                            step(it, model, opt, ddp);
                        }
                        comm.barrier();
                        double stepMs = (System.nanoTime() - t0) / 1e6 / steps;
                        Row row = new Row(stepMs, (ddp.communicationNanos() - comm0) / 1e6 / steps,
                                (ddp.waitNanos() - wait0) / 1e6 / steps,
                                (ddp.overlappedBuckets() - over0) / (double) steps);
                        rows.get(overlap ? 0 : 1).add(row);
                        if (main) {
                            System.out.printf(Locale.ROOT, "%-7s %-8s %6d %8.2f %8.2f %8.2f %8d %8.1f%n", name,
                                    overlap ? "overlap" : "plain", rep + 1, row.stepMs, row.commMs, row.waitMs,
                                    ddp.bucketCount(), row.overlappedPerStep);
                        }
                    }
                }
            }
            if (main) {
                for (int k = 0; k < 2; k++) {
                    List<Row> r = rows.get(k);
                    System.out.printf(Locale.ROOT, "%-7s %-8s median %8.2f %8.2f %8.2f%n", name,
                            k == 0 ? "overlap" : "plain", median(r, Row::stepMs), median(r, Row::commMs),
                            median(r, Row::waitMs));
                }
            }
        }
        comm.close();
    }

    static void step(Iterator<DataLoader.Batch> it, Sequential model, Optimizer opt, DistributedDataParallel ddp) {
        try (Scope step = Scope.open()) {
            DataLoader.Batch batch = it.next();
            opt.zeroGrad();
            Tensor loss = Loss.crossEntropy(model.forward(batch.inputs()), batch.labels());
            loss.backward();
            ddp.gradientsReady(model);
            opt.step();
        }
    }

    static Dataset randomData(int n, boolean image) {
        Random r = new Random(7);
        float[] x = new float[n * 784];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
        int[] y = new int[n];
        for (int i = 0; i < n; i++) y[i] = r.nextInt(10);
        return image ? Dataset.of(x, y, 10, 1, 28, 28) : Dataset.of(x, y, 10, 784);
    }

    static double median(List<Row> rows, java.util.function.ToDoubleFunction<Row> f) {
        double[] v = rows.stream().mapToDouble(f).toArray();
        Arrays.sort(v);
        return v.length == 0 ? Double.NaN : v.length % 2 == 1 ? v[v.length / 2]
                : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
