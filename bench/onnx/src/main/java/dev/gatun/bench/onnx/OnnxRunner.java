package dev.gatun.bench.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

/**
 * Times one inference workload on ONNX Runtime's Java API and prints one JSON line with the fields of
 * gatun's {@code Runner} and of {@code bench/python/workloads.py}: the model is the workload's PyTorch
 * model exported with its initial weights ({@code workloads.py --export-onnx}), the input the
 * workload's batch from the same init directory. A step is what a Java caller pays: an input tensor
 * made from the batch, {@code session.run}, the output copied out, all closed.
 *
 * <pre>
 *   java -cp target/classes:target/lib/* dev.gatun.bench.onnx.OnnxRunner WORKLOAD --onnx DIR --init DIR
 *        [--threads N] [--warmup-seconds S] [--steps N] [--check]
 * </pre>
 *
 * {@code --threads} sets the session's intra-op threads (inter-op 1, sequential execution); all graph
 * optimisations are on. {@code --check} prints the sum of the outputs twice as {@code losses}, the
 * value the other two systems print.
 */
public final class OnnxRunner {

    private OnnxRunner() {}

    public static void main(String[] args) throws IOException, OrtException {
        String name = args[0];
        Path onnx = null;
        Path init = null;
        int threads = Runtime.getRuntime().availableProcessors();
        double warmupSeconds = 2;
        int steps = 30;
        boolean check = false;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--onnx" -> onnx = Path.of(args[++i]);
                case "--init" -> init = Path.of(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--warmup-seconds" -> warmupSeconds = Double.parseDouble(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--check" -> check = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (onnx == null || init == null) {
            throw new IllegalArgumentException("--onnx DIR and --init DIR are required");
        }
        Input x = readInput(init, name);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            try (OrtSession session = env.createSession(onnx.resolve(name + ".onnx").toString(), options)) {
                StringJoiner json = new StringJoiner(",", "{", "}");
                json.add("\"system\":\"onnxruntime\"").add("\"workload\":\"" + name + "\"")
                        .add("\"threads\":" + threads);
                if (check) {
                    json.add(String.format(Locale.ROOT, "\"losses\":[%.9g,%.9g]", step(env, session, x),
                            step(env, session, x)));
                } else {
                    long end = System.nanoTime() + (long) (warmupSeconds * 1e9);
                    int warm = 0;
                    while (warm < 5 || System.nanoTime() < end) {
                        step(env, session, x);
                        warm++;
                    }
                    double[] ms = new double[steps];
                    for (int i = 0; i < steps; i++) {
                        long t0 = System.nanoTime();
                        step(env, session, x);
                        ms[i] = (System.nanoTime() - t0) / 1e6;
                    }
                    StringJoiner times = new StringJoiner(",", "[", "]");
                    Arrays.stream(ms).forEach(v -> times.add(String.format(Locale.ROOT, "%.5f", v)));
                    json.add("\"ms\":" + times).add("\"warmup_steps\":" + warm);
                }
                json.add(String.format(Locale.ROOT, "\"rss_peak_mb\":%.1f", peakRssMb()));
                System.out.println(json);
            }
        }
    }

    /** One inference: input tensor from the batch, run, output copied out; returns the output's sum. */
    private static double step(OrtEnvironment env, OrtSession session, Input x) throws OrtException {
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.values()), x.shape());
             OrtSession.Result out = session.run(Map.of("x", in))) {
            FloatBuffer y = ((OnnxTensor) out.get(0)).getFloatBuffer();
            double sum = 0;
            while (y.hasRemaining()) {
                sum += y.get();
            }
            return sum;
        }
    }

    /** The workload's batch {@code x}. */
    private record Input(float[] values, long[] shape) {}

    /** Reads {@code x} from {@code NAME.txt} (key, dims, float offset, count) and {@code NAME.bin}. */
    private static Input readInput(Path dir, String name) throws IOException {
        for (String line : Files.readAllLines(dir.resolve(name + ".txt"))) {
            String[] f = line.trim().split("\\s+");
            if (!f[0].equals("x")) {
                continue;
            }
            long[] shape = f[1].equals("-") ? new long[0]
                    : Arrays.stream(f[1].split(",")).mapToLong(Long::parseLong).toArray();
            long offset = Long.parseLong(f[2]);
            int count = Integer.parseInt(f[3]);
            byte[] all = Files.readAllBytes(dir.resolve(name + ".bin"));
            float[] values = new float[count];
            ByteBuffer.wrap(all, (int) (offset * 4), count * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
                    .get(values);
            return new Input(values, shape);
        }
        throw new IOException(dir.resolve(name + ".txt") + " holds no x");
    }

    private static double peakRssMb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
            }
        }
        return Double.NaN;
    }
}
