package dev.gatun.io;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.AdaptiveAvgPool2d;
import dev.gatun.nn.AvgPool2d;
import dev.gatun.nn.BasicBlock;
import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.BatchNorm1d;
import dev.gatun.nn.BatchNorm2d;
import dev.gatun.nn.Autoencoder;
import dev.gatun.nn.Conv2d;
import dev.gatun.nn.ConvTranspose2d;
import dev.gatun.nn.DCGAN;
import dev.gatun.nn.Dropout;
import dev.gatun.nn.Embedding;
import dev.gatun.nn.Flatten;
import dev.gatun.nn.GELU;
import dev.gatun.nn.GPT;
import dev.gatun.nn.GRU;
import dev.gatun.nn.LSTM;
import dev.gatun.nn.LayerNorm;
import dev.gatun.nn.LearnedPositionalEmbedding;
import dev.gatun.nn.LeakyReLU;
import dev.gatun.nn.Linear;
import dev.gatun.nn.LogSoftmax;
import dev.gatun.nn.MaxPool2d;
import dev.gatun.nn.Module;
import dev.gatun.nn.ModuleList;
import dev.gatun.nn.MultiheadAttention;
import dev.gatun.nn.PositionalEncoding;
import dev.gatun.nn.RNN;
import dev.gatun.nn.ReLU;
import dev.gatun.nn.RecurrentLayer;
import dev.gatun.nn.Sequential;
import dev.gatun.nn.Sigmoid;
import dev.gatun.nn.Softmax;
import dev.gatun.nn.Tanh;
import dev.gatun.nn.Transformer;
import dev.gatun.nn.TransformerDecoder;
import dev.gatun.nn.TransformerDecoderLayer;
import dev.gatun.nn.TransformerEncoder;
import dev.gatun.nn.TransformerEncoderLayer;
import dev.gatun.nn.Unflatten;
import dev.gatun.nn.Upsample;
import dev.gatun.nn.VAE;
import dev.gatun.ops.Resample;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Saves and loads models as safetensors files that PyTorch can read: the weights under PyTorch's
 * {@code state_dict} names (float32; BatchNorm's {@code num_batches_tracked} as an int64 scalar, as PyTorch
 * keeps it), and, in {@code __metadata__}, the architecture as JSON under {@value #ARCHITECTURE_KEY} so that
 * {@link #load} can rebuild the model. Files without an architecture (such as PyTorch's) load into a model
 * built by the caller with {@link #loadInto}.
 *
 * <p>Loading checks every name, shape and dtype against the model and reports all that do not match
 * (missing, unexpected, wrong shape, wrong dtype) in one {@link ModelFileException}, before copying anything.
 * F64, F16 and BF16 weights are converted to float32; integer weights are rejected.
 */
public final class ModelFile {

    /** The metadata key of the architecture description. */
    public static final String ARCHITECTURE_KEY = "gatun.architecture";

    /** The metadata key of the shape of one input sample, without the batch dimension ("1,28,28"). */
    public static final String INPUT_SHAPE_KEY = "gatun.input_shape";

    private static final String NUM_BATCHES_TRACKED = "num_batches_tracked";

    private ModelFile() {}

    /**
     * Writes {@code model}'s weights and, when every layer can describe itself ({@link Module#spec()}), its
     * architecture to {@code file}, atomically: the file is written under a temporary name and moved in
     * place, so a reader never sees half a file. The model is only read; it must not be trained on
     * another thread meanwhile.
     *
     * @param model the model to save
     * @param file  the file to write; an existing file is replaced and missing parent directories are made
     * @throws IOException if the file cannot be written
     */
    public static void save(Module model, Path file) throws IOException {
        save(model, file, (long[]) null);
    }

    /**
     * As {@link #save(Module, Path)}, also recording the shape of one input sample without the batch
     * dimension (null: none), which {@code gatun serve} then needs no option for.
     *
     * @param model       the model to save
     * @param file        the file to write; an existing file is replaced
     * @param sampleShape the shape of one input sample, e.g. {@code 1, 28, 28}; null records none
     * @throws IllegalArgumentException if a dimension of {@code sampleShape} is below 1
     * @throws IOException              if the file cannot be written
     */
    public static void save(Module model, Path file, long... sampleShape) throws IOException {
        save(model, file, Map.of(), sampleShape);
    }

    /**
     * As {@link #save(Module, Path, long...)}, also recording {@code metadata}, e.g. a language model's
     * vocabulary under {@code dev.gatun.data.Vocabulary.METADATA_KEY}.
     *
     * @param model       the model to save
     * @param file        the file to write; an existing file is replaced
     * @param metadata    more metadata entries, none of them a key gatun writes itself
     * @param sampleShape the shape of one input sample; null records none
     * @throws IllegalArgumentException if a metadata key is gatun's own or {@code "format"}, or a dimension of
     *     {@code sampleShape} is below 1
     * @throws IOException              if the file cannot be written
     */
    public static void save(Module model, Path file, Map<String, String> metadata, long... sampleShape)
            throws IOException {
        for (String key : metadata.keySet()) {
            if (key.equals("format") || key.equals(ARCHITECTURE_KEY) || key.equals(INPUT_SHAPE_KEY)) {
                throw new IllegalArgumentException("the metadata may not replace '" + key + "'");
            }
        }
        Map<String, String> shared = model.sharedTensorNames();
        if (!shared.isEmpty()) {
            // The architecture records each module on its own: built again, the copies would be separate.
            var e = shared.entrySet().iterator().next();
            throw new IllegalArgumentException("a model file cannot record tied weights: '" + e.getKey() + "' is '"
                    + e.getValue() + "'" + (shared.size() > 1 ? " (and " + (shared.size() - 1) + " more)" : "")
                    + "; a model rebuilt from the file would train them apart. Save its state dict with a"
                    + " checkpoint, or untie them");
        }
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "pt");
        metadata.forEach(w::metadata);
        if (sampleShape != null) {
            StringBuilder sb = new StringBuilder();
            for (long d : sampleShape) {
                if (d < 1) {
                    throw new IllegalArgumentException("sample shape " + java.util.Arrays.toString(sampleShape)
                            + " has a dimension below 1");
                }
                sb.append(sb.isEmpty() ? "" : ",").append(d);
            }
            w.metadata(INPUT_SHAPE_KEY, sb.toString());
        }
        String arch = architecture(model);
        if (arch != null) {
            w.metadata(ARCHITECTURE_KEY, arch);
        }
        for (var e : model.stateDict().entrySet()) {
            w.add(e.getKey(), e.getValue());
        }
        for (var e : batchNorms(model).entrySet()) {
            w.addLongs(e.getKey() + NUM_BATCHES_TRACKED, new long[0], new long[] {e.getValue().numBatchesTracked()});
        }
        w.write(file);
    }

    /**
     * The shape of one input sample recorded in {@code file} (see {@link #save(Module, Path, long...)}), or
     * null when the file records none. Reads only the file's header.
     *
     * @param file a safetensors file
     * @return the recorded shape (1 to 8 positive sizes), or null
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws IOException         if the file cannot be read
     * @throws ModelFileException when the file is malformed or the recorded shape is not positive integers
     */
    public static long[] sampleShape(Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            String v = st.metadata().get(INPUT_SHAPE_KEY);
            if (v == null) {
                return null;
            }
            String[] parts = v.split(",", -1);
            long[] shape = new long[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    shape[i] = Long.parseLong(parts[i].strip());
                } catch (NumberFormatException e) {
                    shape[i] = -1;
                }
                if (shape[i] < 1 || parts.length > 8) {
                    throw new ModelFileException(file, "'" + INPUT_SHAPE_KEY + "' must be up to 8 positive integers"
                            + " separated by commas, got '" + v + "'");
                }
            }
            long elements = 1;
            for (long d : shape) {
                if (d > Integer.MAX_VALUE / elements) {
                    throw new ModelFileException(file, "'" + INPUT_SHAPE_KEY + "' " + v + " describes a sample of more"
                            + " than 2^31 elements");
                }
                elements *= d;
            }
            return shape;
        }
    }

    /**
     * Builds the model described in {@code file}'s metadata and loads its weights. The model is in training
     * mode, as a newly built one; call {@link Module#eval()} for inference.
     *
     * @param file a safetensors file written by {@link #save(Module, Path)}
     * @return the new model, which owns its parameters' native memory: close it when done
     * @throws ModelFileException when the file is malformed, has no architecture, or its weights do not fit
     *                            (nothing stays allocated then)
     * @throws IOException        if the file cannot be read
     */
    public static Module load(Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            String arch = st.metadata().get(ARCHITECTURE_KEY);
            if (arch == null) {
                throw new ModelFileException(file, "no '" + ARCHITECTURE_KEY + "' in the metadata: the file holds "
                        + "weights only; build the model and use ModelFile.loadInto");
            }
            long dataBytes = 0;
            for (SafeTensors.Entry e : st.entries().values()) {
                dataBytes += e.end() - e.begin();
            }
            // The weights must all be in the file, 2 bytes per element at the least: a larger architecture
            // is refused before any of it is allocated.
            Module model = build(file, arch, dataBytes / 2);
            try {
                loadInto(model, st);
            } catch (IOException | RuntimeException e) {
                model.close();
                throw e;
            }
            return model;
        }
    }

    /**
     * Loads the weights in {@code file} into {@code model}, checking every name, shape and dtype first;
     * on a mismatch nothing is copied. Works for files written by PyTorch's {@code safetensors.torch}
     * when the model has the same {@code state_dict} names.
     *
     * @param model the model whose parameters and buffers are overwritten (without recording gradients)
     * @param file  a safetensors file
     * @throws ModelFileException when the file is malformed or its tensors do not fit the model; the
     *                            message lists every missing, unexpected, misshaped or mistyped tensor
     * @throws IOException        if the file cannot be read
     */
    public static void loadInto(Module model, Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            loadInto(model, st);
        }
    }

    /**
     * Loads the weights of an open file into {@code model}, checking every name, shape and dtype first;
     * as {@link #loadInto(Module, Path)}, leaving the file open.
     *
     * @param model the model whose parameters and buffers are overwritten
     * @param st    an open file; the caller keeps it and closes it
     * @throws ModelFileException when the tensors do not fit the model (nothing is copied then), or a
     *                            BatchNorm's {@code num_batches_tracked} is negative
     */
    public static void loadInto(Module model, SafeTensors st) throws ModelFileException {
        Map<String, Tensor> own = model.stateDict();
        Map<String, BatchNorm> norms = batchNorms(model);
        List<String> problems = new ArrayList<>();
        for (String name : own.keySet()) {
            if (!st.entries().containsKey(name)) {
                problems.add("missing '" + name + "'");
            }
        }
        // num_batches_tracked may be absent (files of PyTorch before 0.4.1 lack it): the count stays as it is.
        for (var e : st.entries().values()) {
            String name = e.name();
            Tensor mine = own.get(name);
            if (mine != null) {
                if (!Arrays.equals(mine.shape(), e.shape())) {
                    problems.add("'" + name + "' has shape " + Arrays.toString(e.shape()) + ", the model expects "
                            + Arrays.toString(mine.shape()));
                } else if (!e.dtype().isFloating()) {
                    problems.add("'" + name + "' has dtype " + e.dtype() + ", the model expects a floating type");
                }
            } else if (name.endsWith(NUM_BATCHES_TRACKED)
                    && norms.containsKey(name.substring(0, name.length() - NUM_BATCHES_TRACKED.length()))) {
                if (e.numel() != 1 || e.dtype().isFloating() || e.dtype() == StorageType.U64) {
                    problems.add("'" + name + "' must be one integer, got " + e.dtype() + Arrays.toString(e.shape()));
                }
            } else {
                problems.add("unexpected '" + name + "'");
            }
        }
        if (!problems.isEmpty()) {
            throw new ModelFileException(st.file(), "does not fit the model: " + String.join("; ", problems));
        }
        try (Autograd.NoGrad ignored = Autograd.noGrad()) {
            for (var e : own.entrySet()) {
                st.copyInto(e.getKey(), e.getValue());
            }
        }
        for (var e : norms.entrySet()) {
            String name = e.getKey() + NUM_BATCHES_TRACKED;
            if (st.entries().containsKey(name)) {
                long v = st.toLongs(name)[0];
                if (v < 0) {
                    throw new ModelFileException(st.file(), "'" + name + "' is negative: " + v);
                }
                e.getValue().setNumBatchesTracked(v);
            }
        }
    }

    /** Every BatchNorm in {@code model} by its name prefix (e.g. {@code "1."}; empty for the model itself). */
    private static Map<String, BatchNorm> batchNorms(Module model) {
        Map<String, BatchNorm> out = new LinkedHashMap<>();
        collectNorms(model, "", out);
        return out;
    }

    private static void collectNorms(Module m, String prefix, Map<String, BatchNorm> out) {
        if (m instanceof BatchNorm bn) {
            out.put(prefix, bn);
        }
        for (var e : m.children().entrySet()) {
            collectNorms(e.getValue(), prefix + e.getKey() + ".", out);
        }
    }

    /**
     * The architecture of a model as the JSON that {@link #save(Module, Path)} stores and
     * {@link #build(Path, String)} reads, built from each layer's {@link Module#spec()}.
     *
     * @param model the model to describe
     * @return compact JSON, or null when some layer cannot describe itself
     */
    public static String architecture(Module model) {
        StringBuilder sb = new StringBuilder();
        return appendSpec(sb, model) ? sb.toString() : null;
    }

    private static boolean appendSpec(StringBuilder sb, Module m) {
        Map<String, Object> spec = m.spec();
        if (spec == null) {
            return false;
        }
        sb.append('{');
        boolean first = true;
        for (var e : spec.entrySet()) {
            if (!first) sb.append(',');
            first = false;
            sb.append(Json.quote(e.getKey())).append(':');
            Object v = e.getValue();
            if (v instanceof List<?> list) {
                sb.append('[');
                for (int i = 0; i < list.size(); i++) {
                    if (i > 0) sb.append(',');
                    if (!appendSpec(sb, (Module) list.get(i))) {
                        return false;
                    }
                }
                sb.append(']');
            } else if (v instanceof long[] a) {
                sb.append(Arrays.toString(a).replace(" ", ""));
            } else if (v instanceof int[] a) {
                sb.append(Arrays.toString(a).replace(" ", ""));
            } else if (v instanceof String s) {
                sb.append(Json.quote(s));
            } else if (v instanceof Float f) {
                sb.append(Float.toString(f)); // shortest form that reads back as the same float
            } else if (v instanceof Double d) {
                sb.append(Double.toString(d));
            } else {
                sb.append(v); // Long, Integer, Boolean
            }
        }
        sb.append('}');
        return true;
    }

    /**
     * Builds the model described by architecture JSON, with freshly initialized weights.
     *
     * @param file the file the JSON was read from, named in messages (may be null)
     * @param arch the JSON, as {@link #architecture(Module)} makes it
     * @return the new model, in training mode; the caller closes it
     * @throws ModelFileException if the JSON is malformed, names an unknown layer type, or a layer's
     *                            settings are missing or invalid; the message gives the spec's path (e.g.
     *                            {@code model.layers[3]})
     */
    public static Module build(Path file, String arch) throws ModelFileException {
        Object json;
        try {
            json = Json.parse(arch);
        } catch (Json.JsonException e) {
            throw new ModelFileException(file, ARCHITECTURE_KEY + ": " + e.getMessage(), e);
        }
        return new Builder(file, Long.MAX_VALUE).module(json, "model");
    }

    /**
     * As {@link #build(Path, String)}, refusing an architecture whose weights need more than
     * {@code maxElements} elements before allocating them (a file of n data bytes holds at most n / 2).
     */
    static Module build(Path file, String arch, long maxElements) throws ModelFileException {
        Object json;
        try {
            json = Json.parse(arch);
        } catch (Json.JsonException e) {
            throw new ModelFileException(file, ARCHITECTURE_KEY + ": " + e.getMessage(), e);
        }
        return new Builder(file, maxElements).module(json, "model");
    }

    /** Turns parsed specs into modules, naming the faulty spec by its path (e.g. {@code model.layers[3]}). */
    private static final class Builder {

        private final Path file;
        private long budget;

        Builder(Path file, long maxElements) {
            this.file = file;
            this.budget = maxElements;
        }

        /** Charges a lower bound of the elements a layer allocates against the budget. */
        private void charge(String where, String type, long... factors) throws ModelFileException {
            long n = 1;
            try {
                for (long f : factors) {
                    n = Math.multiplyExact(n, Math.max(f, 0));
                }
            } catch (ArithmeticException e) {
                n = Long.MAX_VALUE;
            }
            if (n > budget) {
                throw fail(where, type + " needs at least " + n + " weight elements, more than the file holds");
            }
            budget -= n;
        }

        private void chargeFor(String type, Map<String, Object> m, String where) throws ModelFileException {
            switch (type) {
                case "Linear" -> charge(where, type, lng(m, "in", where), lng(m, "out", where));
                case "Conv2d" -> {
                    int[] k = ints(m, "kernel", where);
                    long groups = Math.max(1, integer(m, "groups", where));
                    charge(where, type, lng(m, "in", where) / groups, lng(m, "out", where),
                            k.length > 0 ? k[0] : 1, k.length > 1 ? k[1] : 1);
                }
                case "ConvTranspose2d" -> {
                    int[] k = ints(m, "kernel", where);
                    long groups = Math.max(1, integer(m, "groups", where));
                    charge(where, type, lng(m, "in", where), lng(m, "out", where) / groups,
                            k.length > 0 ? k[0] : 1, k.length > 1 ? k[1] : 1);
                }
                case "VAE" -> charge(where, type, 2, lng(m, "inputs", where), lng(m, "hidden", where));
                case "DCGAN" -> {
                    // The generator's linear layer, then its and the discriminator's 128 <-> 64 channel 4x4 ones.
                    charge(where, type, lng(m, "noise", where), 128 * 7 * 7);
                    charge(where, type, 2 * 128 * 64, 16);
                }
                case "BatchNorm", "BatchNorm1d", "BatchNorm2d" -> charge(where, type, 2, lng(m, "features", where));
                case "LayerNorm" -> {
                    long[] shape = longs(m, "normalizedShape", where);
                    if (bool(m, "affine", where)) {
                        charge(where, type, shape);
                    }
                }
                case "Embedding" -> charge(where, type, lng(m, "num", where), lng(m, "dim", where));
                case "BasicBlock" -> charge(where, type, 9, lng(m, "out", where), lng(m, "in", where)
                        + lng(m, "out", where));
                case "LSTM", "GRU", "RNN" -> {
                    long hidden = lng(m, "hidden", where);
                    charge(where, type, hidden, hidden + lng(m, "input", where));
                    charge(where, type, integer(m, "numLayers", where) - 1L, hidden, hidden);
                }
                case "MultiheadAttention" -> charge(where, type, 4, lng(m, "embedDim", where),
                        lng(m, "embedDim", where));
                case "TransformerEncoderLayer" -> charge(where, type, 2, lng(m, "dModel", where),
                        lng(m, "dModel", where) + lng(m, "dimFeedforward", where));
                case "PositionalEncoding", "LearnedPositionalEmbedding" -> charge(where, type, lng(m, "maxLen", where),
                        lng(m, "dModel", where));
                case "TransformerDecoderLayer" -> charge(where, type, 2, lng(m, "dModel", where),
                        3 * lng(m, "dModel", where) + lng(m, "dimFeedforward", where));
                case "GPT" -> {
                    long d = lng(m, "dModel", where);
                    charge(where, type, 2 * lng(m, "vocabSize", where) + lng(m, "blockSize", where), d);
                    charge(where, type, integer(m, "numLayers", where), 2 * d, d + lng(m, "dimFeedforward", where));
                }
                default -> { }
            }
        }

        Module module(Object json, String where) throws ModelFileException {
            if (!(json instanceof Map<?, ?> raw)) {
                throw fail(where, "expected an object, got " + json);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) raw;
            String type = string(m, "type", where);
            chargeFor(type, m, where);
            try {
                return switch (type) {
                    case "Sequential" -> {
                        if (!(m.get("layers") instanceof List<?> list) || list.isEmpty()) {
                            throw fail(where, "Sequential needs a non-empty 'layers' array");
                        }
                        Module[] layers = new Module[list.size()];
                        for (int i = 0; i < layers.length; i++) {
                            layers[i] = module(list.get(i), where + ".layers[" + i + "]");
                        }
                        yield new Sequential(layers);
                    }
                    case "Linear" -> new Linear(lng(m, "in", where), lng(m, "out", where), bool(m, "bias", where));
                    case "Conv2d" -> new Conv2d(lng(m, "in", where), lng(m, "out", where), ints(m, "kernel", where),
                            ints(m, "stride", where), ints(m, "padding", where), ints(m, "dilation", where),
                            integer(m, "groups", where), bool(m, "bias", where));
                    case "ConvTranspose2d" -> new ConvTranspose2d(lng(m, "in", where), lng(m, "out", where),
                            ints(m, "kernel", where), ints(m, "stride", where), ints(m, "padding", where),
                            ints(m, "outputPadding", where), integer(m, "groups", where), bool(m, "bias", where),
                            ints(m, "dilation", where));
                    case "Unflatten" -> new Unflatten(longs(m, "shape", where));
                    case "Upsample" -> upsample(m, where);
                    case "Autoencoder" -> autoencoder(m, where);
                    case "VAE" -> new VAE(lng(m, "inputs", where), lng(m, "hidden", where), lng(m, "latent", where));
                    case "DCGAN" -> new DCGAN(lng(m, "noise", where));
                    case "BatchNorm1d" -> new BatchNorm1d(lng(m, "features", where), flt(m, "eps", where),
                            flt(m, "momentum", where), bool(m, "affine", where));
                    case "BatchNorm2d" -> new BatchNorm2d(lng(m, "features", where), flt(m, "eps", where),
                            flt(m, "momentum", where), bool(m, "affine", where));
                    case "BatchNorm" -> batchNormOfRank(m, where);
                    case "MaxPool2d" -> new MaxPool2d(integer(m, "kernel", where),
                            integer(m, "stride", where),
                            integer(m, "padding", where), integer(m, "dilation", where));
                    case "AvgPool2d" -> new AvgPool2d(integer(m, "kernel", where),
                            integer(m, "stride", where),
                            integer(m, "padding", where), bool(m, "countIncludePad", where));
                    case "AdaptiveAvgPool2d" -> new AdaptiveAvgPool2d(integer(m, "outputSize", where));
                    // The name of AdaptiveAvgPool2d(1) in files written before it had PyTorch's.
                    case "GlobalAvgPool2d" -> new AdaptiveAvgPool2d(1);
                    case "Flatten" -> new Flatten();
                    case "ReLU" -> new ReLU();
                    case "LeakyReLU" -> new LeakyReLU(flt(m, "slope", where));
                    case "Sigmoid" -> new Sigmoid();
                    case "Tanh" -> new Tanh();
                    case "GELU" -> new GELU();
                    case "Softmax" -> new Softmax(integer(m, "dim", where));
                    case "LogSoftmax" -> new LogSoftmax(integer(m, "dim", where));
                    case "Dropout" -> new Dropout(flt(m, "p", where));
                    case "LayerNorm" -> new LayerNorm(longs(m, "normalizedShape", where), flt(m, "eps", where),
                            bool(m, "affine", where));
                    case "Embedding" -> new Embedding(lng(m, "num", where), lng(m, "dim", where),
                            integer(m, "paddingIdx", where));
                    case "BasicBlock" -> new BasicBlock(lng(m, "in", where), lng(m, "out", where),
                            integer(m, "stride", where));
                    case "LSTM", "GRU", "RNN" -> recurrent(type, m, where);
                    case "MultiheadAttention" -> new MultiheadAttention(lng(m, "embedDim", where),
                            lng(m, "numHeads", where), flt(m, "dropout", where), bool(m, "bias", where),
                            bool(m, "batchFirst", where));
                    case "TransformerEncoderLayer" -> new TransformerEncoderLayer(lng(m, "dModel", where),
                            lng(m, "nhead", where), layerOptions(m, where));
                    case "PositionalEncoding" -> new PositionalEncoding(lng(m, "dModel", where),
                            lng(m, "maxLen", where),
                            flt(m, "dropout", where), bool(m, "batchFirst", where));
                    case "LearnedPositionalEmbedding" -> new LearnedPositionalEmbedding(lng(m, "dModel", where),
                            lng(m, "maxLen", where), flt(m, "dropout", where), bool(m, "batchFirst", where));
                    case "TransformerDecoderLayer" -> new TransformerDecoderLayer(lng(m, "dModel", where),
                            lng(m, "nhead", where), layerOptions(m, where));
                    case "ModuleList" -> new ModuleList<>(modules(m, "layers", where, Module.class, 0));
                    case "TransformerEncoder" -> new TransformerEncoder(
                            modules(m, "layers", where, TransformerEncoderLayer.class, 1), finalNorm(m, where));
                    case "TransformerDecoder" -> new TransformerDecoder(
                            modules(m, "layers", where, TransformerDecoderLayer.class, 1), finalNorm(m, where));
                    case "Transformer" -> new Transformer(
                            only(modules(m, "encoder", where, TransformerEncoder.class, 1), "encoder", where),
                            only(modules(m, "decoder", where, TransformerDecoder.class, 1), "decoder", where));
                    case "GPT" -> new GPT(new GPT.Config(lng(m, "vocabSize", where), lng(m, "blockSize", where),
                            lng(m, "dModel", where), integer(m, "numLayers", where), lng(m, "numHeads", where),
                            lng(m, "dimFeedforward", where), flt(m, "dropout", where)));
                    default -> throw fail(where, "unknown layer type '" + type + "'");
                };
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new ModelFileException(file, ARCHITECTURE_KEY + ": " + where + " (" + type + "): "
                        + e.getMessage(), e);
            }
        }

        /** An Upsample to a fixed size (its spec has {@code height}) or by scale factors. */
        private Module upsample(Map<String, Object> m, String where) throws ModelFileException {
            String mode = string(m, "mode", where);
            Resample.Mode parsed = switch (mode) {
                case "nearest" -> Resample.Mode.NEAREST;
                case "bilinear" -> Resample.Mode.BILINEAR;
                default -> throw fail(where, "'mode' must be \"nearest\" or \"bilinear\", got \"" + mode + "\"");
            };
            boolean alignCorners = bool(m, "alignCorners", where);
            if (m.containsKey("height")) {
                return Upsample.toSize(lng(m, "height", where), lng(m, "width", where), parsed, alignCorners);
            }
            return new Upsample(dbl(m, "scaleHeight", where), dbl(m, "scaleWidth", where), parsed, alignCorners);
        }

        /** An autoencoder of its two Sequential halves; the encoder is closed when the decoder fails. */
        private Module autoencoder(Map<String, Object> m, String where) throws ModelFileException {
            String description = string(m, "description", where);
            Sequential encoder = only(modules(m, "encoder", where, Sequential.class, 1), "encoder", where);
            try {
                Sequential decoder = only(modules(m, "decoder", where, Sequential.class, 1), "decoder", where);
                return new Autoencoder(encoder, decoder, description);
            } catch (ModelFileException | RuntimeException e) {
                encoder.close();
                throw e;
            }
        }

        /** A layer written as {@code "BatchNorm"} with a rank, before BatchNorm1d and BatchNorm2d were classes. */
        private Module batchNormOfRank(Map<String, Object> m, String where) throws ModelFileException {
            int rank = integer(m, "rank", where);
            if (rank != 1 && rank != 2) {
                throw fail(where, "BatchNorm 'rank' must be 1 or 2, got " + rank);
            }
            long features = lng(m, "features", where);
            float eps = flt(m, "eps", where);
            float momentum = flt(m, "momentum", where);
            boolean affine = bool(m, "affine", where);
            return rank == 1 ? new BatchNorm1d(features, eps, momentum, affine)
                    : new BatchNorm2d(features, eps, momentum, affine);
        }

        private Module recurrent(String type, Map<String, Object> m, String where) throws ModelFileException {
            RecurrentLayer.Options o = new RecurrentLayer.Options(integer(m, "numLayers", where),
                    bool(m, "bias", where), bool(m, "batchFirst", where), bool(m, "bidirectional", where),
                    flt(m, "dropout", where));
            long in = lng(m, "input", where);
            long hidden = lng(m, "hidden", where);
            return switch (type) {
                case "LSTM" -> new LSTM(in, hidden, o);
                case "GRU" -> new GRU(in, hidden, o);
                default -> {
                    Object nl = m.getOrDefault("nonlinearity", "tanh");
                    if (!"tanh".equals(nl) && !"relu".equals(nl)) {
                        throw fail(where, "'nonlinearity' must be \"tanh\" or \"relu\", got " + nl);
                    }
                    yield new RNN(in, hidden, "relu".equals(nl) ? RNN.Nonlinearity.RELU : RNN.Nonlinearity.TANH, o);
                }
            };
        }

        private TransformerEncoderLayer.Options layerOptions(Map<String, Object> m, String where)
                throws ModelFileException {
            return new TransformerEncoderLayer.Options(lng(m, "dimFeedforward", where), flt(m, "dropout", where),
                    activation(m, where), flt(m, "layerNormEps", where), bool(m, "batchFirst", where),
                    bool(m, "normFirst", where));
        }

        /**
         * The modules of the array under {@code key}, each of {@code kind}, at least {@code min} of them. On a
         * failure the modules built so far are closed.
         */
        private <M extends Module> List<M> modules(Map<String, Object> m, String key, String where, Class<M> kind,
                                                   int min) throws ModelFileException {
            if (!(m.get(key) instanceof List<?> list) || list.size() < min) {
                throw fail(where, "'" + key + "' must be an array of at least " + min + " layer"
                        + (min == 1 ? "" : "s") + ", got " + m.get(key));
            }
            List<M> out = new ArrayList<>();
            try {
                for (int i = 0; i < list.size(); i++) {
                    String at = where + "." + key + "[" + i + "]";
                    Module built = module(list.get(i), at);
                    if (!kind.isInstance(built)) {
                        built.close();
                        throw fail(at, "expected a " + kind.getSimpleName() + ", got " + built.getClass().getSimpleName());
                    }
                    out.add(kind.cast(built));
                }
            } catch (ModelFileException | RuntimeException e) {
                out.forEach(Module::close);
                throw e;
            }
            return out;
        }

        /** The single module of a list that {@link #modules} built with a minimum of 1. */
        private <M extends Module> M only(List<M> list, String key, String where) throws ModelFileException {
            if (list.size() != 1) {
                list.forEach(Module::close);
                throw fail(where, "'" + key + "' must hold exactly one layer, got " + list.size());
            }
            return list.getFirst();
        }

        /** A stack's final norm: the array under "norm" holds none or one LayerNorm. */
        private LayerNorm finalNorm(Map<String, Object> m, String where) throws ModelFileException {
            List<LayerNorm> norms = modules(m, "norm", where, LayerNorm.class, 0);
            if (norms.size() > 1) {
                norms.forEach(Module::close);
                throw fail(where, "'norm' must hold at most one LayerNorm, got " + norms.size());
            }
            return norms.isEmpty() ? null : norms.getFirst();
        }

        private TransformerEncoderLayer.FeedForwardActivation activation(Map<String, Object> m, String where)
                throws ModelFileException {
            String a = string(m, "activation", where);
            try {
                return TransformerEncoderLayer.FeedForwardActivation.valueOf(a);
            } catch (IllegalArgumentException e) {
                throw fail(where, "unknown activation '" + a + "'");
            }
        }

        private ModelFileException fail(String where, String what) {
            return new ModelFileException(file, ARCHITECTURE_KEY + ": " + where + ": " + what);
        }

        private String string(Map<String, Object> m, String key, String where) throws ModelFileException {
            if (!(m.get(key) instanceof String s)) {
                throw fail(where, "'" + key + "' must be a string, got " + m.get(key));
            }
            return s;
        }

        private boolean bool(Map<String, Object> m, String key, String where) throws ModelFileException {
            if (!(m.get(key) instanceof Boolean b)) {
                throw fail(where, "'" + key + "' must be true or false, got " + m.get(key));
            }
            return b;
        }

        private long lng(Map<String, Object> m, String key, String where) throws ModelFileException {
            return toLong(m.get(key), key, where);
        }

        private long toLong(Object v, String key, String where) throws ModelFileException {
            Long l = v instanceof Json.Num n ? n.asLong() : null;
            if (l == null) {
                throw fail(where, "'" + key + "' must be an integer, got " + v);
            }
            return l;
        }

        private int integer(Map<String, Object> m, String key, String where) throws ModelFileException {
            long l = lng(m, key, where);
            if (l != (int) l) {
                throw fail(where, "'" + key + "' is out of range: " + l);
            }
            return (int) l;
        }

        private float flt(Map<String, Object> m, String key, String where) throws ModelFileException {
            if (!(m.get(key) instanceof Json.Num n)) {
                throw fail(where, "'" + key + "' must be a number, got " + m.get(key));
            }
            return (float) n.asDouble();
        }

        private double dbl(Map<String, Object> m, String key, String where) throws ModelFileException {
            if (!(m.get(key) instanceof Json.Num n)) {
                throw fail(where, "'" + key + "' must be a number, got " + m.get(key));
            }
            return n.asDouble();
        }

        private long[] longs(Map<String, Object> m, String key, String where) throws ModelFileException {
            if (!(m.get(key) instanceof List<?> list) || list.size() > SafeTensors.MAX_RANK) {
                throw fail(where, "'" + key + "' must be an array of at most " + SafeTensors.MAX_RANK + " integers");
            }
            long[] out = new long[list.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = toLong(list.get(i), key, where);
            }
            return out;
        }

        private int[] ints(Map<String, Object> m, String key, String where) throws ModelFileException {
            long[] l = longs(m, key, where);
            int[] out = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                if (l[i] != (int) l[i]) {
                    throw fail(where, "'" + key + "' is out of range: " + l[i]);
                }
                out[i] = (int) l[i];
            }
            return out;
        }
    }
}
