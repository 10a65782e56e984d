package dev.gatun.bench.djl;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

/**
 * Times one workload of {@code shared/WORKLOADS.md} on libtorch 2.7.1 through the Deep Java Library and
 * prints one JSON line with the fields of gatun's {@code Runner} and of {@code bench/python/workloads.py}.
 *
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED -cp target/classes:target/lib/* dev.gatun.bench.djl.DjlRunner
 *        WORKLOAD --torchscript DIR --init DIR [--threads N] [--warmup-seconds S] [--warmup-steps N --warmup-max-seconds M] [--steps N] [--check]
 *        [--onednn on|off]
 * </pre>
 *
 * The model is the workload's PyTorch model scripted by Debian's PyTorch with the weights of the init
 * directory ({@code workloads.py --export-torchscript}); the batch comes from the same init directory. A
 * training row's module computes the row's loss ({@code forward(x, y)}: the model, then cross-entropy or
 * MSE); DJL loads it as a {@link PtSymbolBlock} with trainable parameters, and a step is DJL's training
 * step: forward and loss inside a {@link GradientCollector}, backward, then for every parameter DJL's
 * engine update ({@link SgdUpdate} or {@link AdamUpdate}, which also zero the gradient). A row whose
 * {@code NAME.json} names its {@code "inputs"} passes those arrays of the init directory instead of x and y (the
 * VAE: x and its fixed ε); a GAN row ({@code "gan"}) runs the discriminator's and the generator's halves of a step
 * one after the other, each with its own Adam ({@code ganStep}). An inference row
 * is one forward pass in eval mode (DJL runs it under libtorch's inference mode) and the output's sum.
 *
 * <p>{@code --check} runs two steps of the dropout-free module ({@code NAME.check.pt}) and prints their
 * losses (inference: the output's sum twice), the values the other systems print. A generation row
 * ({@code "generate": N} in {@code NAME.json}) is an inference row whose module runs a whole greedy
 * generation of N tokens, keys and values cached, in TorchScript; its check prints the N tokens and the
 * logits of the first ({@code NAME.check.pt} returns both). {@code --onednn off}
 * turns libtorch's oneDNN (MKL-DNN) path off, {@code torch.backends.mkldnn.enabled = False} in Python
 * ({@link TorchContext}; where NNPACK cannot initialise it is switched off too, which changes no kernel).
 * libtorch's graph executor optimisations are off, so the TorchScript interpreter runs the ops as scripted
 * and autograd differentiates them one by one, as in eager PyTorch.
 *
 * <p>DJL never downloads anything here: libtorch and DJL's JNI library come from the pytorch-native-cpu
 * and pytorch-jni jars on the class path, which DJL extracts into its cache ({@code ENGINE_CACHE_DIR}
 * when set), and DJL runs offline.
 */
public final class DjlRunner {

    private DjlRunner() {}

    /**
     * Runs one workload and prints its JSON line.
     *
     * @param args the workload name and the options above
     * @throws IOException when the init directory or the TorchScript directory cannot be read
     * @throws MalformedModelException when the TorchScript file is not a module libtorch can load
     */
    public static void main(String[] args) throws IOException, MalformedModelException {
        if (args.length == 0 || args[0].startsWith("--")) {
            throw new IllegalArgumentException("usage: DjlRunner WORKLOAD --torchscript DIR --init DIR [--threads N] "
                    + "[--warmup-seconds S] [--warmup-steps N --warmup-max-seconds M] [--steps N] [--check] [--onednn on|off]; got " + Arrays.toString(args));
        }
        String name = args[0];
        Path torchscript = null;
        Path init = null;
        int threads = Runtime.getRuntime().availableProcessors();
        double warmupSeconds = 2;
        int warmupSteps = 5;
        double warmupMaxSeconds = Double.POSITIVE_INFINITY;
        int steps = 30;
        boolean check = false;
        boolean onednn = true;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--torchscript" -> torchscript = Path.of(value(args, ++i));
                case "--init" -> init = Path.of(value(args, ++i));
                case "--threads" -> threads = Integer.parseInt(value(args, ++i));
                case "--warmup-seconds" -> warmupSeconds = Double.parseDouble(value(args, ++i));
                case "--warmup-steps" -> warmupSteps = Integer.parseInt(value(args, ++i));
                case "--warmup-max-seconds" -> warmupMaxSeconds = Double.parseDouble(value(args, ++i));
                case "--steps" -> steps = Integer.parseInt(value(args, ++i));
                case "--check" -> check = true;
                case "--onednn" -> onednn = switch (value(args, ++i)) {
                    case "on" -> true;
                    case "off" -> false;
                    default -> throw new IllegalArgumentException("--onednn takes on or off, got " + args[i]);
                };
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (torchscript == null || init == null) {
            throw new IllegalArgumentException("--torchscript DIR and --init DIR are required");
        }
        if (threads < 1 || steps < 1) {
            throw new IllegalArgumentException("--threads and --steps must be at least 1, got " + threads
                    + " and " + steps);
        }
        Path specFile = torchscript.resolve(name + ".json");
        if (!Files.exists(specFile)) {
            throw new IllegalArgumentException("unknown workload " + name + ": " + specFile + " does not exist");
        }
        JsonObject spec = JsonParser.parseString(Files.readString(specFile)).getAsJsonObject();
        boolean train = spec.get("train").getAsBoolean();
        // A generation row: the module's forward is the whole cached greedy loop, giving the new tokens.
        int newTokens = spec.has("generate") ? spec.get("generate").getAsInt() : 0;

        // Offline from the jars alone: never DJL's download of libtorch or of its JNI library.
        System.setProperty("ai.djl.offline", "true");
        // Eager-like execution: no profiling runs, no graph rewriting between the first steps and the rest.
        System.setProperty("ai.djl.pytorch.graph_optimizer", "false");
        Engine engine = Engine.getEngine("PyTorch");
        JniUtils.setNumThreads(threads);
        TorchContext.setMkldnnEnabled(onednn);
        boolean nnpack = TorchContext.disableNnpackUnlessAvailable();

        Map<String, float[]> arrays = readInit(init, name);
        Map<String, long[]> shapes = readShapes(init, name);
        Path file = torchscript.resolve(name + ((train || newTokens > 0) && check ? ".check.pt" : ".pt"));
        try (NDManager manager = engine.newBaseManager(); Model model = Model.newInstance(name, "PyTorch")) {
            model.load(file, null, Map.of("trainParam", Boolean.toString(train)));
            PtSymbolBlock block = (PtSymbolBlock) model.getBlock();
            ParameterStore store = new ParameterStore(manager, false);
            NDArray x = manager.create(arrays.get("x"), new Shape(shapes.get("x")));
            Step step;
            if (train) {
                String loss = spec.get("loss").getAsString();
                // The module's inputs: x and the labels or target y, or those the spec names (the generative
                // rows: the VAE's x and eps, the GAN's x and z), each an array of the init directory.
                NDList inputs = new NDList();
                if (spec.has("inputs")) {
                    for (var input : spec.getAsJsonArray("inputs")) {
                        String key = input.getAsString();
                        if (!arrays.containsKey(key)) {
                            throw new IllegalArgumentException(specFile + " names input " + key + ", which "
                                    + init.resolve(name + ".txt") + " does not hold");
                        }
                        inputs.add(manager.create(arrays.get(key), new Shape(shapes.get(key))));
                    }
                } else {
                    NDArray y = manager.create(arrays.get("y"), new Shape(shapes.get("y")));
                    if (loss.equals("cross_entropy")) {
                        y = y.toType(DataType.INT64, false);  // class indices, as workloads.py's .long()
                    } else if (!loss.equals("mse")) {
                        throw new IllegalArgumentException(specFile + ": unknown loss " + loss);
                    }
                    inputs.add(x);
                    inputs.add(y);
                }
                // Loaded in eval mode; DJL's block believes it is in training mode and would not switch.
                JniUtils.enableTrainingMode(block);
                if (spec.has("gan")) {
                    step = ganStep(engine, block, store, manager, inputs, spec.getAsJsonObject("optimizer"),
                            spec.getAsJsonObject("gan"));
                } else {
                    step = trainingStep(engine, block, store, inputs, spec.getAsJsonObject("optimizer"));
                }
            } else {
                step = () -> {
                    try (NDScope scope = new NDScope()) {
                        scope.suppressNotUsedWarning();
                        return block.forward(store, new NDList(x), false).singletonOrThrow().sum().getFloat();
                    }
                };
            }
            StringJoiner json = new StringJoiner(",", "{", "}");
            json.add("\"system\":\"libtorch\"").add("\"workload\":\"" + name + "\"").add("\"threads\":" + threads)
                    .add("\"onednn\":" + TorchContext.mkldnnEnabled()).add("\"nnpack\":" + nnpack);
            if (newTokens > 0) {
                json.add("\"new_tokens\":" + newTokens);
            }
            if (check && newTokens > 0) {
                // The check module returns the new tokens, then the logits the first was picked from.
                float[] out;
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    out = block.forward(store, new NDList(x), false).singletonOrThrow().toFloatArray();
                }
                StringJoiner tokens = new StringJoiner(",", "[", "]");
                StringJoiner logits = new StringJoiner(",", "[", "]");
                for (int i = 0; i < out.length; i++) {
                    if (i < newTokens) tokens.add(Integer.toString((int) out[i]));
                    else logits.add(String.format(Locale.ROOT, "%.9g", out[i]));
                }
                json.add("\"tokens\":" + tokens).add("\"first_logits\":" + logits);
            } else if (check) {
                double first = step.run();
                double second = step.run();
                json.add(String.format(Locale.ROOT, "\"losses\":[%.9g,%.9g]", first, second));
            } else {
                // As gatun's Runner: at least warmupSeconds, and warmupSteps steps unless warmupMaxSeconds pass.
                long start = System.nanoTime();
                int warm = 0;
                while (warm < 5 || System.nanoTime() - start < warmupSeconds * 1e9
                        || warm < warmupSteps && System.nanoTime() - start < warmupMaxSeconds * 1e9) {
                    step.run();
                    warm++;
                }
                double[] ms = new double[steps];
                for (int i = 0; i < steps; i++) {
                    long t0 = System.nanoTime();
                    step.run();
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                StringJoiner times = new StringJoiner(",", "[", "]");
                Arrays.stream(ms).forEach(v -> times.add(String.format(Locale.ROOT, "%.5f", v)));
                json.add("\"ms\":" + times).add("\"warmup_steps\":" + warm);
            }
            json.add("\"libtorch\":\"" + engine.getVersion() + "\"");
            json.add(String.format(Locale.ROOT, "\"rss_peak_mb\":%.1f", peakRssMb()));
            System.out.println(json);
        }
    }

    /** One step of a workload; returns the loss before the update (inference: the output's sum). */
    private interface Step {
        double run();
    }

    /**
     * DJL's training step on a loss module: forward and loss under a gradient collector, backward, then
     * the optimizer's update of every parameter. Every array a step makes is closed by the step's scope.
     */
    private static Step trainingStep(Engine engine, Block block, ParameterStore store, NDList inputs,
                                     JsonObject optimizer) {
        List<NDArray> weights = new ArrayList<>();
        for (Parameter p : block.getParameters().values()) {
            if (!p.requiresGradient()) {
                throw new IllegalStateException("parameter " + p.getName() + " does not require a gradient");
            }
            weights.add(p.getArray());
        }
        Update update = Update.of(optimizer, weights);
        return () -> {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                double value;
                try (GradientCollector collector = engine.newGradientCollector()) {
                    NDArray loss = block.forward(store, inputs, true).singletonOrThrow();
                    value = loss.getFloat();
                    collector.backward(loss);
                }
                update.step();
                return value;
            }
        };
    }

    /**
     * A GAN's step on a module whose {@code forward(x, z, phase)} is the loss of one half of the step (phase 0 the
     * discriminator's, phase 1 the generator's, as {@code workloads.py}'s {@code DCGAN} scripts it): the
     * discriminator's half under a gradient collector, backward, the discriminator's update; then the
     * generator's half, backward, the generator's update. The module computes G(z) again in the second half
     * (the same values: the generator has not changed and its batch norm uses the batch's statistics), and its
     * backward also reaches the discriminator, whose gradients are zeroed after it, as the other systems' frozen
     * discriminator takes none. Returns the sum of the two losses.
     *
     * @param gan the parameter name prefixes of the two networks ({@code "discriminator"} and {@code "generator"})
     */
    private static Step ganStep(Engine engine, Block block, ParameterStore store, NDManager manager, NDList inputs,
                                JsonObject optimizer, JsonObject gan) {
        String dPrefix = gan.get("discriminator").getAsString();
        String gPrefix = gan.get("generator").getAsString();
        List<NDArray> dWeights = new ArrayList<>();
        List<NDArray> gWeights = new ArrayList<>();
        for (Map.Entry<String, Parameter> p : block.getParameters().toMap().entrySet()) {
            if (!p.getValue().requiresGradient()) {
                throw new IllegalStateException("parameter " + p.getKey() + " does not require a gradient");
            }
            if (p.getKey().startsWith(dPrefix)) {
                dWeights.add(p.getValue().getArray());
            } else if (p.getKey().startsWith(gPrefix)) {
                gWeights.add(p.getValue().getArray());
            } else {
                throw new IllegalStateException("parameter " + p.getKey() + " is in neither network (" + dPrefix
                        + ", " + gPrefix + ")");
            }
        }
        if (dWeights.isEmpty() || gWeights.isEmpty()) {
            throw new IllegalStateException("a GAN needs parameters in both networks, found "
                    + block.getParameters().keys());
        }
        Update dUpdate = Update.of(optimizer, dWeights);
        Update gUpdate = Update.of(optimizer, gWeights);
        NDList dInputs = new NDList(inputs.get(0), inputs.get(1), manager.create(new float[] {0f}));
        NDList gInputs = new NDList(inputs.get(0), inputs.get(1), manager.create(new float[] {1f}));
        return () -> {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                double value;
                try (GradientCollector collector = engine.newGradientCollector()) {
                    NDArray loss = block.forward(store, dInputs, true).singletonOrThrow();
                    value = loss.getFloat();
                    collector.backward(loss);
                }
                dUpdate.step();
                try (GradientCollector collector = engine.newGradientCollector()) {
                    NDArray loss = block.forward(store, gInputs, true).singletonOrThrow();
                    value += loss.getFloat();
                    collector.backward(loss);
                }
                gUpdate.step();
                for (NDArray w : dWeights) {
                    NDArray g = w.getGradient();
                    g.subi(g);
                }
                return value;
            }
        };
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    /** The arrays of {@code NAME.txt} (key, dims, float offset, count) and {@code NAME.bin}. */
    private static Map<String, float[]> readInit(Path dir, String name) throws IOException {
        byte[] all = Files.readAllBytes(dir.resolve(name + ".bin"));
        Map<String, float[]> out = new HashMap<>();
        for (String line : Files.readAllLines(dir.resolve(name + ".txt"))) {
            String[] f = line.trim().split("\\s+");
            long offset = Long.parseLong(f[2]);
            int count = Integer.parseInt(f[3]);
            float[] values = new float[count];
            ByteBuffer.wrap(all, (int) (offset * 4), count * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
                    .get(values);
            out.put(f[0], values);
        }
        return out;
    }

    private static Map<String, long[]> readShapes(Path dir, String name) throws IOException {
        Map<String, long[]> out = new HashMap<>();
        for (String line : Files.readAllLines(dir.resolve(name + ".txt"))) {
            String[] f = line.trim().split("\\s+");
            out.put(f[0], f[1].equals("-") ? new long[0]
                    : Arrays.stream(f[1].split(",")).mapToLong(Long::parseLong).toArray());
        }
        return out;
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
