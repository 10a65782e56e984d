package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.io.ModelFile;
import dev.gatun.io.ModelFileException;
import dev.gatun.io.SafeTensors;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.random.RandomGenerator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A character-level language model: an {@link Embedding} of the V characters, a stack of recurrent
 * layers ({@link LSTM}, {@link GRU} or {@link RNN}, batch first), and a {@link Linear} head that gives
 * the logits of the next character at every step. As PyTorch's
 * {@code nn.Sequential(nn.Embedding(V, E), nn.LSTM(E, H, L, batch_first=True), nn.Linear(H, V))}, with
 * the parameters named {@code embedding.weight}, {@code rnn.weight_ih_l0} ..., {@code head.weight} and
 * {@code head.bias}.
 *
 * <p>{@link #forward(Tensor, RecurrentLayer.State)} continues from a state and returns the state it ends
 * in, so that training with truncated backpropagation through time carries the state from one batch to
 * the next, and {@link #sample} generates text one forward step per character.
 *
 * <pre>{@code
 * CharRnn model = new CharRnn(CharRnn.Cell.LSTM, vocabulary.size(), 64, 256, 2, 0f);
 * CharRnn.Output out = model.forward(tokens, null);   // tokens [B, T] int64 -> logits [B, T, V]
 * Tensor loss = Loss.crossEntropy(out.logits().reshape(-1, vocabulary.size()), targets.reshape(-1));
 * }</pre>
 */
public final class CharRnn extends Module {

    /** The kind of recurrent layer. */
    public enum Cell {
        /** {@link LSTM}. */
        LSTM,
        /** {@link GRU}. */
        GRU,
        /** {@link RNN} with tanh. */
        RNN;

        /**
         * A batch-first stack of layers of this cell.
         *
         * @param inputSize  the width of each step's input
         * @param hiddenSize the hidden size of each layer
         * @param numLayers  the number of layers
         * @param dropout    dropout between the layers, in [0, 1) (none with one layer)
         * @return the new layer, freshly initialised
         * @throws IllegalArgumentException if a size is below 1 or dropout is out of range
         */
        public RecurrentLayer layer(int inputSize, int hiddenSize, int numLayers, float dropout) {
            RecurrentLayer.Options options = RecurrentLayer.Options.defaults().withLayers(numLayers)
                    .withBatchFirst(true).withDropout(numLayers > 1 ? dropout : 0f);
            return switch (this) {
                case LSTM -> new LSTM(inputSize, hiddenSize, options);
                case GRU -> new GRU(inputSize, hiddenSize, options);
                case RNN -> new RNN(inputSize, hiddenSize, options);
            };
        }
    }

    /**
     * A forward pass's results.
     *
     * @param logits the next-character logits, [B, T, V]
     * @param state  the recurrent layers' state after the last step, to continue from
     */
    public record Output(Tensor logits, RecurrentLayer.State state) {}

    private final Cell cell;
    private final int vocabularySize;
    private final int embeddingDim;
    private final int hiddenSize;
    private final int numLayers;
    private final float dropout;
    private final Embedding embedding;
    private final RecurrentLayer rnn;
    private final Dropout outputDropout; // null without dropout
    private final Linear head;

    /**
     * Builds the model, its weights drawn from {@link Init#generator()} as each layer does.
     *
     * @param cell           the recurrent layers' kind
     * @param vocabularySize the number of characters V
     * @param embeddingDim   the width E of each character's vector
     * @param hiddenSize     the recurrent layers' hidden size H
     * @param numLayers      the number of stacked recurrent layers L
     * @param dropout        the dropout probability between the recurrent layers and before the head, in
     *                       [0, 1) (training mode only)
     * @throws IllegalArgumentException if a size is below 1 or {@code dropout} lies outside [0, 1)
     * @throws NullPointerException     if {@code cell} is null
     */
    public CharRnn(Cell cell, int vocabularySize, int embeddingDim, int hiddenSize, int numLayers, float dropout) {
        Objects.requireNonNull(cell, "cell");
        if (vocabularySize < 1 || embeddingDim < 1 || hiddenSize < 1 || numLayers < 1) {
            throw new IllegalArgumentException("CharRnn needs positive sizes, got vocabulary=" + vocabularySize
                    + " embedding=" + embeddingDim + " hidden=" + hiddenSize + " layers=" + numLayers);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("CharRnn: dropout must be in [0, 1), got " + dropout);
        }
        this.cell = cell;
        this.vocabularySize = vocabularySize;
        this.embeddingDim = embeddingDim;
        this.hiddenSize = hiddenSize;
        this.numLayers = numLayers;
        this.dropout = dropout;
        this.embedding = addModule("embedding", new Embedding(vocabularySize, embeddingDim));
        this.rnn = addModule("rnn", cell.layer(embeddingDim, hiddenSize, numLayers, dropout));
        this.outputDropout = dropout > 0 ? addModule("dropout", new Dropout(dropout)) : null;
        this.head = addModule("head", new Linear(hiddenSize, vocabularySize));
    }

    /**
     * The recurrent layers' kind.
     *
     * @return LSTM, GRU or RNN
     */
    public Cell cell() {
        return cell;
    }

    /**
     * The number of characters.
     *
     * @return V
     */
    public int vocabularySize() {
        return vocabularySize;
    }

    /**
     * The recurrent layers.
     *
     * @return the stack of L layers
     */
    public RecurrentLayer rnn() {
        return rnn;
    }

    /**
     * The logits of the next character after every position, from a zero state.
     *
     * @param tokens character ids [B, T], int64 (or float32 whole numbers), each in [0, V)
     * @return the logits [B, T, V]
     * @throws IllegalArgumentException if the tokens are not [B, T] or an id is out of range
     */
    @Override
    public Tensor forward(Tensor tokens) {
        return forward(tokens, null).logits();
    }

    /**
     * The logits of the next character after every position, continuing from {@code state}, and the
     * state after the last position.
     *
     * @param tokens character ids [B, T], int64 (or float32 whole numbers), each in [0, V)
     * @param state  the state to start from (h, and c for an LSTM, each [L, B, H]), or null for zeros
     * @return the logits [B, T, V] and the final state
     * @throws IllegalArgumentException if the tokens are not [B, T], an id is out of range, or the state
     *     does not fit (see {@link RecurrentLayer#forward(Tensor, RecurrentLayer.State)})
     */
    public Output forward(Tensor tokens, RecurrentLayer.State state) {
        tokens.checkAlive();
        if (tokens.dim() != 2) {
            throw new IllegalArgumentException("CharRnn: tokens must be [B, T], got shape "
                    + Arrays.toString(tokens.shape()));
        }
        RecurrentLayer.Output r = rnn.forward(embedding.forward(tokens), state);
        Tensor h = r.output();
        if (outputDropout != null) {
            h = outputDropout.forward(h);
        }
        return new Output(head.forward(h), r.state());
    }

    /**
     * Generates text: feeds the prompt, then draws each next character from the model's distribution,
     * sharpened or flattened by {@code temperature} and limited to the {@code topK} likeliest characters,
     * and feeds it back, one forward step (T = 1) per character with the state kept between steps. Runs
     * in evaluation mode without recording (the mode is restored after).
     *
     * @param prompt      the ids to start from, at least one
     * @param length      how many characters to generate, at least 0
     * @param temperature the logits are divided by it before the softmax; 0 picks the likeliest character
     *                    every time (greedy)
     * @param topK        draw among the k likeliest characters only; 0 for all
     * @param rng         the random numbers to draw with
     * @return the generated ids (without the prompt), {@code length} of them
     * @throws IllegalArgumentException if the prompt is empty or holds an id outside [0, V), {@code length} or
     *     {@code topK} is negative, or {@code temperature} is negative or not finite
     */
    public int[] sample(int[] prompt, int length, double temperature, int topK, RandomGenerator rng) {
        Objects.requireNonNull(rng, "rng");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("sample: the prompt needs at least one character");
        }
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= vocabularySize) {
                throw new IllegalArgumentException("sample: prompt id " + prompt[i] + " at position " + i
                        + " is outside [0, " + vocabularySize + ")");
            }
        }
        if (length < 0) {
            throw new IllegalArgumentException("sample: length must be >= 0, got " + length);
        }
        if (!(temperature >= 0 && Double.isFinite(temperature))) {
            throw new IllegalArgumentException("sample: temperature must be finite and >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("sample: top-k must be >= 0 (0: all characters), got " + topK);
        }
        int[] out = new int[length];
        boolean wasTraining = isTraining();
        eval();
        try (Scope outer = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
            long[] stateShape = {numLayers, 1, hiddenSize};
            Tensor h = Tensor.zeros(stateShape);
            Tensor c = cell == Cell.LSTM ? Tensor.zeros(stateShape) : null;
            float[] logits;
            long[] ids = Arrays.stream(prompt).asLongStream().toArray();
            // Each step's tensors are freed with its scope; the state is copied into h and c, which outlive it.
            try (Scope step = Scope.open()) {
                logits = last(stepFrom(Tensor.fromLongs(ids, 1, ids.length), h, c));
            }
            for (int i = 0; i < length; i++) {
                out[i] = pick(logits, temperature, topK, rng);
                if (i == length - 1) {
                    break;
                }
                try (Scope step = Scope.open()) {
                    logits = last(stepFrom(Tensor.fromLongs(new long[] {out[i]}, 1, 1), h, c));
                }
            }
        } finally {
            if (wasTraining) {
                train();
            }
        }
        return out;
    }

    /** Runs from the state in h and c, copies the final state back into them, and returns the logits. */
    private Tensor stepFrom(Tensor tokens, Tensor h, Tensor c) {
        Output o = forward(tokens, new RecurrentLayer.State(h, c));
        h.copyFrom(o.state().h());
        if (c != null) {
            c.copyFrom(o.state().c());
        }
        return o.logits();
    }

    /** The logits of the last position of a [1, T, V] output. */
    private static float[] last(Tensor logits) {
        long t = logits.size(1);
        return logits.select(1, t - 1).contiguous().toArray();
    }

    /**
     * Draws an id from logits: the likeliest with temperature 0, else softmax(logits / temperature) over
     * the {@code topK} largest (all for 0), ties broken towards the lower id.
     *
     * @param logits      the scores of the V characters
     * @param temperature the divisor of the logits, or 0 for the likeliest
     * @param topK        how many of the likeliest to draw among, or 0 for all
     * @param rng         the random numbers
     * @return the id drawn
     * @throws IllegalArgumentException if {@code logits} is empty
     */
    public static int pick(float[] logits, double temperature, int topK, RandomGenerator rng) {
        int v = logits.length;
        if (v == 0) {
            throw new IllegalArgumentException("pick: no logits");
        }
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) order[i] = i;
        // Descending by logit, NaN last, ties by id: a stable order, so the same draw picks the same id.
        Arrays.sort(order, (a, b) -> {
            float x = logits[a];
            float y = logits[b];
            if (Float.isNaN(x) != Float.isNaN(y)) return Float.isNaN(x) ? 1 : -1;
            int cmp = Float.compare(y, x);
            return cmp != 0 ? cmp : Integer.compare(a, b);
        });
        if (temperature == 0) {
            return order[0];
        }
        int k = topK == 0 ? v : Math.min(topK, v);
        double max = logits[order[0]];
        double[] weights = new double[k];
        double total = 0;
        for (int i = 0; i < k; i++) {
            double w = Math.exp((logits[order[i]] - max) / temperature);
            weights[i] = Double.isNaN(w) ? 0 : w;
            total += weights[i];
        }
        if (!(total > 0) || Double.isInfinite(total)) {
            return order[0];
        }
        double u = rng.nextDouble() * total;
        for (int i = 0; i < k; i++) {
            u -= weights[i];
            if (u < 0) {
                return order[i];
            }
        }
        return order[k - 1];
    }

    @Override
    protected Tensor summarize(Tensor input, String name, List<String[]> rows) {
        String prefix = name.isEmpty() ? "" : name + ".";
        Tensor x = embedding.summarize(input, prefix + "embedding", rows);
        x = rnn.summarize(x, prefix + "rnn", rows);
        if (outputDropout != null) {
            x = outputDropout.summarize(x, prefix + "dropout", rows);
        }
        return head.summarize(x, prefix + "head", rows);
    }

    /**
     * {@inheritDoc}
     *
     * @return the type {@code "CharRnn"}, the cell, the sizes and the dropout
     */
    @Override
    public Map<String, Object> spec() {
        return spec("CharRnn", "cell", cell.name(), "vocabulary", vocabularySize, "embedding", embeddingDim,
                "hidden", hiddenSize, "numLayers", numLayers, "dropout", dropout);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code CharRnn(LSTM, 80 chars, embedding 64, 2 × 256)}
     */
    @Override
    public String describe() {
        return String.format(Locale.ROOT, "CharRnn(%s, %d chars, embedding %d, %d × %d%s)", cell, vocabularySize,
                embeddingDim, numLayers, hiddenSize, dropout > 0 ? ", dropout " + dropout : "");
    }

    /**
     * Writes the model to a safetensors file, atomically: the weights under their PyTorch names, the
     * architecture ({@link #spec()} as JSON) under {@link ModelFile#ARCHITECTURE_KEY}, and
     * {@code metadata} (e.g. the vocabulary under {@code dev.gatun.data.Vocabulary.METADATA_KEY}).
     * {@link #load} reads it back; PyTorch's {@code safetensors.torch.load_file} reads the weights.
     *
     * @param file     the file to write; an existing file is replaced, missing directories are made
     * @param metadata more metadata entries to record (not the architecture's key)
     * @throws IllegalArgumentException if {@code metadata} holds the architecture's key
     * @throws IOException              if the file cannot be written
     */
    public void save(Path file, Map<String, String> metadata) throws IOException {
        if (metadata.containsKey(ModelFile.ARCHITECTURE_KEY)) {
            throw new IllegalArgumentException("the metadata may not replace " + ModelFile.ARCHITECTURE_KEY);
        }
        SafeTensors.Writer w = new SafeTensors.Writer().metadata("format", "pt")
                .metadata(ModelFile.ARCHITECTURE_KEY, ModelFile.architecture(this));
        metadata.forEach(w::metadata);
        stateDict().forEach(w::add);
        w.write(file);
    }

    /**
     * Reads a model written by {@link #save}: builds it from the architecture in the file's metadata and
     * loads its weights. The model is in training mode; call {@link #eval()} to generate.
     *
     * @param file a safetensors file written by {@link #save}
     * @return the model; the caller closes it
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws ModelFileException naming the file if it has no CharRnn architecture, the architecture is
     *     malformed or larger than the weights the file holds, or the weights do not fit it
     * @throws IOException if the file cannot be read
     */
    public static CharRnn load(Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            String arch = st.metadata().get(ModelFile.ARCHITECTURE_KEY);
            if (arch == null) {
                throw new ModelFileException(file, "no '" + ModelFile.ARCHITECTURE_KEY + "' in the metadata: the"
                        + " file holds no CharRnn");
            }
            Map<String, String> m = flatJson(file, arch);
            if (!"CharRnn".equals(m.get("type"))) {
                throw new ModelFileException(file, ModelFile.ARCHITECTURE_KEY + ": the file holds a "
                        + m.get("type") + ", not a CharRnn");
            }
            Cell cell;
            try {
                cell = Cell.valueOf(m.getOrDefault("cell", ""));
            } catch (IllegalArgumentException e) {
                throw new ModelFileException(file, ModelFile.ARCHITECTURE_KEY + ": 'cell' must be one of "
                        + Arrays.toString(Cell.values()) + ", got " + m.get("cell"));
            }
            int v = positive(file, m, "vocabulary");
            int e = positive(file, m, "embedding");
            int h = positive(file, m, "hidden");
            int l = positive(file, m, "numLayers");
            float dropout;
            try {
                dropout = Float.parseFloat(m.getOrDefault("dropout", "x"));
            } catch (NumberFormatException ex) {
                throw new ModelFileException(file, ModelFile.ARCHITECTURE_KEY + ": 'dropout' must be a number, got "
                        + m.get("dropout"));
            }
            // Refuse, before allocating, sizes whose weights the file cannot hold (2 bytes per element at least).
            long dataBytes = 0;
            for (SafeTensors.Entry en : st.entries().values()) dataBytes += en.end() - en.begin();
            double gates = switch (cell) {
                case LSTM -> 4;
                case GRU -> 3;
                case RNN -> 1;
            };
            double elements = (double) v * e + gates * h * (e + h + 2) + (l - 1) * gates * h * (2.0 * h + 2)
                    + (double) h * v + v;
            if (elements > dataBytes / 2.0) {
                throw new ModelFileException(file, String.format(Locale.ROOT, "%s: the CharRnn described needs"
                        + " %,.0f weights, more than the %,d bytes of data the file holds",
                        ModelFile.ARCHITECTURE_KEY, elements, dataBytes));
            }
            CharRnn model;
            try {
                model = new CharRnn(cell, v, e, h, l, dropout);
            } catch (IllegalArgumentException ex) {
                throw new ModelFileException(file, ModelFile.ARCHITECTURE_KEY + ": " + ex.getMessage(), ex);
            }
            try {
                ModelFile.loadInto(model, st);
            } catch (IOException | RuntimeException ex) {
                model.close();
                throw ex;
            }
            return model;
        }
    }

    private static int positive(Path file, Map<String, String> m, String key) throws ModelFileException {
        String s = m.get(key);
        long n;
        try {
            n = s == null ? -1 : Long.parseLong(s);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 1 || n > Integer.MAX_VALUE) {
            throw new ModelFileException(file, ModelFile.ARCHITECTURE_KEY + ": '" + key + "' must be a positive"
                    + " integer, got " + s);
        }
        return (int) n;
    }

    private static final Pattern ENTRY = Pattern.compile(
            "\\s*\"([A-Za-z]+)\"\\s*:\\s*(\"[A-Za-z]*\"|-?[0-9][0-9.eE+-]*|true|false)\\s*(,|$)");

    /** The entries of a flat JSON object of names, numbers and booleans, as CharRnn's spec is written. */
    private static Map<String, String> flatJson(Path file, String json) throws ModelFileException {
        String s = json.strip();
        if (s.length() < 2 || s.charAt(0) != '{' || s.charAt(s.length() - 1) != '}') {
            throw new ModelFileException(file, ModelFile.ARCHITECTURE_KEY + ": expected a JSON object, got "
                    + abbreviate(s));
        }
        String body = s.substring(1, s.length() - 1);
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = ENTRY.matcher(body);
        int at = 0;
        while (at < body.length()) {
            if (!m.find(at) || m.start() != at) {
                throw new ModelFileException(file, ModelFile.ARCHITECTURE_KEY + ": not a CharRnn architecture"
                        + " (a flat object of names, numbers and booleans): " + abbreviate(s));
            }
            String value = m.group(2);
            out.put(m.group(1), value.startsWith("\"") ? value.substring(1, value.length() - 1) : value);
            at = m.end();
        }
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
