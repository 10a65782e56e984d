package dev.gatun.distributed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two MPI processes on this machine ({@code mpirun -np 2}, one thread each, over loopback) that train K
 * steps data-parallel end with the weights one process reaches on the combined batches: the same K
 * optimizer steps, up to float rounding (the two halves' gradients are summed in another order than one
 * batch's); with allreduces overlapped with backward or not, with gradient accumulation over two backward
 * passes (with and without noSync), and with backward completing the buckets in another order in each
 * process. One mpirun launch runs every case.
 */
class DataParallelEquivalenceTest {

    /** Steps trained; the batch of 16 is 8 samples per process. */
    static final int STEPS = 4;

    /**
     * The program each process runs, once per case: a model (MLP or LeNet-5, same seed), SGD with momentum,
     * one epoch of STEPS shuffled batches of random data; it writes each case's final weights to
     * {@code out.CASE[.RANK]}, then checks that the finalised communicator refuses work. One process runs
     * the references: {@code ref} (the net), and for the MLP {@code order-ref} (two branches whose sum is
     * the output). Two processes run, with buckets of 1 KB (4 and more per model):
     * <ul>
     *   <li>{@code overlap}: allreduces started during backward, through Trainer.fit;</li>
     *   <li>{@code plain}: without overlap;</li>
     *   <li>{@code accumulate}: a loop of its own with two backward passes per step (half of the process's
     *       share each, loss halved), overlap on, no noSync: gradientsReady sends the sums again;</li>
     *   <li>{@code nosync}: the same with the first pass in a noSync region;</li>
     *   <li>{@code order} (MLP): the branches summed in the other order in rank 1, so that backward
     *       completes the buckets in another order there; they must still start in bucket order.</li>
     * </ul>
     */
    static final String PROGRAM = """
            import dev.gatun.autograd.Autograd;
            import dev.gatun.data.*;
            import dev.gatun.distributed.*;
            import dev.gatun.nn.*;
            import dev.gatun.ops.Arithmetic;
            import dev.gatun.ops.Loss;
            import dev.gatun.optim.*;
            import dev.gatun.tensor.Scope;
            import dev.gatun.tensor.Tensor;
            import dev.gatun.train.Trainer;
            import java.io.*;
            import java.nio.*;
            import java.nio.file.*;
            import java.util.*;

            public class Program {
                static int rank;

                /** A(x) + B(x), added in the other order in rank 1: the same sums, another backward order. */
                static class Branches extends dev.gatun.nn.Module {
                    final Linear a = addModule("a", new Linear(784, 10));
                    final Sequential b = addModule("b", new Sequential(new Linear(784, 8), new Tanh(),
                            new Linear(8, 10)));

                    @Override
                    public Tensor forward(Tensor x) {
                        return rank == 1 ? Arithmetic.add(b.forward(x), a.forward(x))
                                : Arithmetic.add(a.forward(x), b.forward(x));
                    }
                }

                public static void main(String[] args) throws Exception {
                    String net = args[0];
                    int steps = Integer.parseInt(args[1]);
                    Path out = Path.of(args[2]);
                    int batch = 16;
                    boolean parallel = Communicator.launchedAsMany();
                    Communicator comm = parallel ? Communicator.world(Communicator.ThreadLevel.SERIALIZED) : null;
                    rank = comm == null ? 0 : comm.rank();
                    long[] shape = net.equals("lenet5") ? new long[] {1, 28, 28} : new long[] {784};
                    int n = Math.max(1, steps) * batch; // 0 steps: the weights before training
                    Random r = new Random(7);
                    float[] x = new float[n * 784];
                    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                    int[] y = new int[n];
                    for (int i = 0; i < n; i++) y[i] = r.nextInt(10);
                    Dataset data = Dataset.of(x, y, 10, shape);
                    List<String> cases = new ArrayList<>(comm == null ? List.of("ref")
                            : List.of("overlap", "plain", "accumulate", "nosync"));
                    if (net.equals("mlp") && steps > 0) cases.add(comm == null ? "order-ref" : "order");
                    for (String c : cases) {
                        Init.manualSeed(3);
                        // Rank 1 starts from other weights: the broadcast must make them rank 0's.
                        if (rank == 1) Init.manualSeed(99);
                        dev.gatun.nn.Module model = c.startsWith("order") ? new Branches()
                                : net.equals("lenet5") ? Models.lenet5()
                                : new Sequential(new Linear(784, 32), new Tanh(), new Linear(32, 10));
                        Optimizer opt = Optimizers.create(Optimizers.Kind.SGD, model.parameters(), 0.05, 0.9, 0.0);
                        DataLoader loader = new DataLoader(data, batch, DataLoader.Order.shuffled(5),
                                DataLoader.LastBatch.DROP);
                        // Small buckets: several allreduces in flight at once.
                        DistributedDataParallel ddp = comm == null ? null
                                : new DistributedDataParallel(comm, model, 1024, !c.equals("plain"));
                        if (steps > 0 && (c.equals("accumulate") || c.equals("nosync"))) {
                            for (DataLoader.Batch b : ddp.batches(loader, 0)) {
                                try (Scope step = Scope.open()) {
                                    opt.zeroGrad();
                                    int half = b.size() / 2;
                                    for (int h = 0; h < 2; h++) {
                                        Tensor in = b.inputs().slice(0, h * half, (h + 1) * half).contiguous();
                                        int[] labels = Arrays.copyOfRange(b.labels(), h * half, (h + 1) * half);
                                        Tensor loss = Arithmetic.scale(Loss.crossEntropy(model.forward(in),
                                                labels), 0.5f);
                                        if (h == 0 && c.equals("nosync")) {
                                            try (DistributedDataParallel.NoSync ns = ddp.noSync()) {
                                                loss.backward();
                                            }
                                        } else {
                                            loss.backward();
                                        }
                                    }
                                    ddp.gradientsReady(model);
                                    opt.step();
                                }
                            }
                        } else if (steps > 0) {
                            Trainer.History h = Trainer.fit(model, opt,
                                    Trainer.Task.classification(Loss::crossEntropy), loader, null,
                                    Trainer.Config.of(1).withOut(null),
                                    ddp == null ? Trainer.DataParallel.SINGLE : ddp);
                            System.out.println(c + " loss " + h.epochs().get(0).trainLoss());
                        }
                        List<Tensor> ps = model.parameters();
                        long total = 0;
                        for (Tensor p : ps) total += p.numel();
                        ByteBuffer bytes = ByteBuffer.allocate((int) total * 4).order(ByteOrder.LITTLE_ENDIAN);
                        for (Tensor p : ps) for (float v : p.toArray()) bytes.putFloat(v);
                        String suffix = comm == null ? "" : "." + rank;
                        Files.write(Path.of(out + "." + c + suffix), bytes.array());
                        if (ddp != null) {
                            System.out.println("case " + c + " buckets " + ddp.bucketCount() + " overlapped "
                                    + ddp.overlappedBuckets() + " steps " + ddp.steps() + " allreduces "
                                    + ddp.allreduceCount());
                            ddp.close();
                        }
                        model.close();
                        opt.close();
                    }
                    if (comm != null) {
                        comm.close();
                        try {
                            comm.barrier();
                            System.out.println("closed communicator accepted a barrier");
                        } catch (IllegalStateException e) {
                            System.out.println("closed refused: " + e.getMessage());
                        }
                    }
                }
            }
            """;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "lenet5"})
    void twoProcessesEndWithTheWeightsOfOneOnTheCombinedBatch(String net) throws Exception {
        Path source = dir.resolve("Program.java");
        Files.writeString(source, PROGRAM);
        Path single = dir.resolve("single.bin");
        Path parallel = dir.resolve("parallel.bin");

        Run one = run(List.of(), source, net, single);
        assertEquals(0, one.exitCode, one.output);
        Run two = run(mpirun(2), source, net, parallel);
        assertEquals(0, two.exitCode, two.output);
        assertEquals(2, count(two.output, "closed refused: barrier: the communicator is closed"), two.output);

        List<String> cases = new ArrayList<>(List.of("overlap", "plain", "accumulate", "nosync"));
        if (net.equals("mlp")) cases.add("order");
        for (String c : cases) {
            float[] w = floats(Path.of(single + (c.equals("order") ? ".order-ref" : ".ref")));
            float[] w0 = floats(Path.of(parallel + "." + c + ".0"));
            float[] w1 = floats(Path.of(parallel + "." + c + ".1"));
            assertEquals(w.length, w0.length);
            // Both processes took the same steps from the same broadcast weights: identical, bit for bit.
            assertTrue(java.util.Arrays.equals(w0, w1), c + ": the two processes' weights differ");
            double maxDiff = 0;
            double maxAbs = 0;
            for (int i = 0; i < w.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(w[i] - w0[i]));
                maxAbs = Math.max(maxAbs, Math.abs(w[i]));
            }
            // The gradients are the same up to summation order: a few float ulps per step.
            assertTrue(maxDiff < 1e-5, net + ", " + c + ": max |single - parallel| = " + maxDiff
                    + " (weights up to " + maxAbs + ")");
            Matcher m = Pattern.compile("case " + c + " buckets (\\d+) overlapped (\\d+) steps (\\d+) allreduces"
                    + " (\\d+)").matcher(two.output);
            assertTrue(m.find(), c + ": " + two.output);
            int buckets = Integer.parseInt(m.group(1));
            long overlapped = Long.parseLong(m.group(2));
            assertTrue(buckets >= 3, c + ": " + buckets + " buckets");
            assertEquals(STEPS, Long.parseLong(m.group(3)), c);
            // Accumulation without noSync sends every bucket twice a step: once after the first pass, then
            // again after the second changed the gradients. noSync spares the first.
            assertEquals((long) STEPS * buckets * (c.equals("accumulate") ? 2 : 1), Long.parseLong(m.group(4)),
                    c + ": allreduces");
            if (c.equals("plain")) {
                assertEquals(0, overlapped, c + ": no bucket starts during backward without overlap");
            } else {
                // Every pass that sends completes every bucket during backward (the last at its last hook).
                assertEquals((long) STEPS * buckets, overlapped, c + ": buckets started during backward");
            }
        }
        // And training moved the weights: the test would pass vacuously for a model that did not learn.
        Path untrained = dir.resolve("untrained.bin");
        Run zero = run(List.of(), source, net, untrained, "0");
        assertEquals(0, zero.exitCode, zero.output);
        float[] w = floats(Path.of(single + ".ref"));
        float[] w00 = floats(Path.of(untrained + ".ref"));
        double moved = 0;
        for (int i = 0; i < w.length; i++) moved = Math.max(moved, Math.abs(w[i] - w00[i]));
        assertTrue(moved > 1e-3, "training moved the weights by only " + moved);
    }

    /** The command that starts {@code n} processes on this machine, one core each or less. */
    static List<String> mpirun(int n) {
        return List.of("mpirun", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-np",
                String.valueOf(n));
    }

    record Run(int exitCode, String output) {}

    /** Runs the program in a child JVM (or under {@code launcher}), with the engine on its path. */
    static Run run(List<String> launcher, Path source, String net, Path out, String... steps)
            throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(launcher);
        cmd.addAll(List.of(java, "--enable-native-access=ALL-UNNAMED,dev.gatun.bindings,dev.gatun.engine",
                "-Dgatun.threads=1"));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isEmpty()) {
            cmd.addAll(List.of("--module-path", modulePath, "--add-modules", "ALL-MODULE-PATH"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), source.toString(), net,
                steps.length > 0 ? steps[0] : String.valueOf(STEPS), out.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        // This JVM may be a job of one already (another test initialised MPI), whose variables would make
        // mpirun and the children believe they run inside that job.
        pb.environment().keySet().removeIf(k -> k.startsWith("OMPI_") || k.startsWith("PMIX_")
                || k.startsWith("PMI_") || k.startsWith("OPAL_"));
        Process child;
        try {
            child = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot start " + cmd.get(0) + " (Open MPI's mpirun: scripts/setup installs"
                    + " openmpi-bin): " + e.getMessage(), e);
        }
        try {
            assertTrue(child.waitFor(240, TimeUnit.SECONDS), "the run finishes within 240 s: " + cmd);
            return new Run(child.exitValue(), new String(child.getInputStream().readAllBytes(),
                    StandardCharsets.UTF_8));
        } finally {
            child.descendants().forEach(ProcessHandle::destroyForcibly);
            child.destroyForcibly();
        }
    }

    static float[] floats(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) n++;
        return n;
    }
}
