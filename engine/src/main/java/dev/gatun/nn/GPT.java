package dev.gatun.nn;

import dev.gatun.autograd.Autograd;
import dev.gatun.ops.Attention;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * A decoder-only Transformer language model in the manner of GPT: token embedding plus learned position
 * embedding, a stack of pre-norm layers of causal self-attention and feed-forward network (no
 * cross-attention), a final layer norm and a linear head giving the logits of the next token at every
 * position. The layers are {@link TransformerEncoderLayer}s with {@code norm_first}, GELU, batch first and
 * a causal mask, so a PyTorch model of the same parts loads unchanged:
 *
 * <pre>{@code
 * class GPT(nn.Module):                                  # the PyTorch equivalent, parameter for parameter
 *     def __init__(self, V, block, d, L, H, ff, p):
 *         self.tok_emb = nn.Embedding(V, d)
 *         self.pos_emb = LearnedPositionalEmbedding(d, block, p)   # weight [block, d]; x + weight[:T], dropout
 *         self.layers = nn.ModuleList(nn.TransformerEncoderLayer(d, H, ff, p, activation="gelu",
 *                                     batch_first=True, norm_first=True) for _ in range(L))
 *         self.ln_f = nn.LayerNorm(d)
 *         self.head = nn.Linear(d, V)
 *     def forward(self, idx):                            # idx [B, T] -> logits [B, T, V]
 *         x = self.pos_emb(self.tok_emb(idx))
 *         mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
 *         for layer in self.layers: x = layer(x, src_mask=mask)
 *         return self.head(self.ln_f(x))
 * }</pre>
 *
 * {@link Config#charGpt()} is the character model of the benchmark workloads (96 symbols, 128 positions,
 * d_model 128, 4 layers of 4 heads, FFN 512, dropout 0.1). Weights start as GPT-2's: embeddings and
 * projection weights N(0, 0.02), the projections that end a residual branch ({@code out_proj},
 * {@code linear2}) N(0, 0.02/√(2·layers)), biases zero, layer norms one and zero.
 *
 * <p>{@link #generate} extends a prompt token by token, greedily or by sampling, with a cache of the keys
 * and values of earlier positions ({@link MultiheadAttention.KVCache}) so that each new token costs one
 * position's work. The cache serves while the sequence fits in {@code blockSize} positions; past that,
 * every new token re-reads the last blockSize tokens as uncached generation does (learned positions cannot
 * slide), so choose blockSize to cover prompt plus new tokens when speed matters.
 */
public final class GPT extends Module {

    /**
     * The sizes of a {@link GPT}.
     *
     * @param vocabSize      the number of token ids V
     * @param blockSize      the most positions a sequence may have (the position table's length)
     * @param dModel         the width d of every position's vector
     * @param numLayers      the number of layers
     * @param numHeads       the attention heads per layer, dividing dModel
     * @param dimFeedforward the hidden width of each feed-forward network
     * @param dropout        the dropout probability everywhere (embeddings, attention weights, residual
     *                       branches, feed-forward), in [0, 1)
     */
    public record Config(long vocabSize, long blockSize, long dModel, int numLayers, long numHeads,
                         long dimFeedforward, float dropout) {

        /**
         * Checks the sizes.
         *
         * @throws IllegalArgumentException if a size is not positive, numHeads does not divide dModel, or the
         *                                  dropout is out of range
         */
        public Config {
            if (vocabSize < 1 || blockSize < 1 || dModel < 1 || numLayers < 1 || numHeads < 1 || dimFeedforward < 1) {
                throw new IllegalArgumentException("GPT needs positive sizes, got vocab_size=" + vocabSize
                        + " block_size=" + blockSize + " d_model=" + dModel + " num_layers=" + numLayers
                        + " num_heads=" + numHeads + " dim_feedforward=" + dimFeedforward);
            }
            if (dModel % numHeads != 0) {
                throw new IllegalArgumentException("GPT: d_model " + dModel + " is not divisible by num_heads "
                        + numHeads);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException("GPT: dropout probability must be in [0, 1), got " + dropout);
            }
        }

        /**
         * The character model of the {@code chargpt} workloads: 96 symbols, 128 positions, d_model 128,
         * 4 layers of 4 heads, FFN 512, dropout 0.1.
         *
         * @return the sizes
         */
        public static Config charGpt() {
            return new Config(96, 128, 128, 4, 4, 512, 0.1f);
        }

        /**
         * These sizes with another position count.
         *
         * @param v the most positions a sequence may have
         * @return the new sizes
         * @throws IllegalArgumentException if v is not positive
         */
        public Config withBlockSize(long v) {
            return new Config(vocabSize, v, dModel, numLayers, numHeads, dimFeedforward, dropout);
        }

        /**
         * These sizes with another dropout probability.
         *
         * @param v the probability, in [0, 1)
         * @return the new sizes
         * @throws IllegalArgumentException if v is out of range
         */
        public Config withDropout(float v) {
            return new Config(vocabSize, blockSize, dModel, numLayers, numHeads, dimFeedforward, v);
        }
    }

    /**
     * How {@link #generate} picks each new token from the logits of the last position.
     *
     * @param temperature 0 for greedy decoding (the most likely token, the lowest id on a tie); above 0, the
     *                    logits are divided by it and a token is drawn from their softmax
     * @param topK        when sampling, only the topK most likely tokens may be drawn (and those tied with
     *                    the k-th); 0 for no limit
     */
    public record Sampling(float temperature, int topK) {

        /**
         * Checks the settings.
         *
         * @throws IllegalArgumentException if the temperature is negative or not finite, or topK is negative
         */
        public Sampling {
            if (!(temperature >= 0 && temperature < Float.POSITIVE_INFINITY)) {
                throw new IllegalArgumentException("Sampling: temperature must be 0 (greedy) or positive and finite,"
                        + " got " + temperature);
            }
            if (topK < 0) {
                throw new IllegalArgumentException("Sampling: top_k must be 0 (no limit) or positive, got " + topK);
            }
        }

        /**
         * Greedy decoding.
         *
         * @return temperature 0
         */
        public static Sampling greedy() {
            return new Sampling(0f, 0);
        }

        /**
         * Sampling at a temperature, among the topK most likely tokens.
         *
         * @param temperature the divisor of the logits, positive
         * @param topK        the number of candidates, 0 for all
         * @return the settings
         * @throws IllegalArgumentException if the temperature is not positive and finite or topK is negative
         */
        public static Sampling sample(float temperature, int topK) {
            if (!(temperature > 0)) {
                throw new IllegalArgumentException("Sampling: a sampling temperature must be positive, got "
                        + temperature);
            }
            return new Sampling(temperature, topK);
        }

        /**
         * Whether this is greedy decoding.
         *
         * @return true for temperature 0
         */
        public boolean isGreedy() {
            return temperature == 0;
        }
    }

    private final Config config;
    private final Embedding tokEmb;
    private final LearnedPositionalEmbedding posEmb;
    private final ModuleList<TransformerEncoderLayer> layers;
    private final LayerNorm lnF;
    private final Linear head;

    /**
     * A model of the given sizes, weights drawn from {@link Init#generator()} as the class comment says.
     *
     * @param config the sizes
     * @throws IllegalArgumentException if config is null
     */
    public GPT(Config config) {
        if (config == null) {
            throw new IllegalArgumentException("GPT: config is null");
        }
        this.config = config;
        long d = config.dModel();
        tokEmb = addModule("tok_emb", new Embedding(config.vocabSize(), d));
        posEmb = addModule("pos_emb", new LearnedPositionalEmbedding(d, config.blockSize(), config.dropout(), true));
        TransformerEncoderLayer.Options options = new TransformerEncoderLayer.Options(config.dimFeedforward(),
                config.dropout(), TransformerEncoderLayer.FeedForwardActivation.GELU, 1e-5f, true, true);
        List<TransformerEncoderLayer> blocks = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            blocks.add(new TransformerEncoderLayer(d, config.numHeads(), options));
        }
        layers = addModule("layers", new ModuleList<>(blocks));
        lnF = addModule("ln_f", new LayerNorm(d));
        head = addModule("head", new Linear(d, config.vocabSize()));
        resetParameters();
    }

    /** GPT-2's initialisation (see the class comment). */
    private void resetParameters() {
        var rng = Init.generator();
        double residualStd = 0.02 / Math.sqrt(2.0 * config.numLayers());
        for (var e : namedParameters().entrySet()) {
            String name = e.getKey();
            Tensor p = e.getValue();
            if (name.startsWith("ln_f.") || name.contains(".norm")) {
                continue;  // LayerNorm: ones and zeros already
            }
            if (p.dim() == 1) {
                p.fill(0f);
            } else if (name.endsWith("out_proj.weight") || name.endsWith("linear2.weight")) {
                Init.normal(p, 0, residualStd, rng);
            } else {
                Init.normal(p, 0, 0.02, rng);
            }
        }
    }

    /**
     * The sizes.
     *
     * @return the config
     */
    public Config config() {
        return config;
    }

    /**
     * The token embedding.
     *
     * @return {@code tok_emb}, V → d
     */
    public Embedding tokEmb() {
        return tokEmb;
    }

    /**
     * The position embedding (with the embedding dropout).
     *
     * @return {@code pos_emb}
     */
    public LearnedPositionalEmbedding posEmb() {
        return posEmb;
    }

    /**
     * The layers.
     *
     * @return {@code layers}: pre-norm, GELU, batch-first encoder layers used with a causal mask
     */
    public ModuleList<TransformerEncoderLayer> layers() {
        return layers;
    }

    /**
     * The final layer norm.
     *
     * @return {@code ln_f}
     */
    public LayerNorm lnF() {
        return lnF;
    }

    /**
     * The output layer.
     *
     * @return {@code head}, d → V
     */
    public Linear head() {
        return head;
    }

    /**
     * The logits of the next token at every position; position t sees tokens 0..t only.
     *
     * @param idx token ids [B, T] or [T], int64 (or float32 holding whole numbers), each in [0, V), with
     *            T at most blockSize
     * @return the logits [B, T, V] ([T, V] for [T] ids)
     * @throws IllegalArgumentException if idx is not 1-d or 2-d, is longer than blockSize, is empty, or holds
     *                                  an id out of range
     */
    @Override
    public Tensor forward(Tensor idx) {
        idx.checkAlive();
        if (idx.dim() != 1 && idx.dim() != 2) {
            throw new IllegalArgumentException("GPT: token ids must be [B, T] or [T], got shape "
                    + Arrays.toString(idx.shape()));
        }
        long t = idx.size(-1);
        if (t < 1 || t > config.blockSize()) {
            throw new IllegalArgumentException("GPT: " + t + " positions (ids of shape " + Arrays.toString(idx.shape())
                    + ") must be between 1 and block_size " + config.blockSize());
        }
        Tensor x = posEmb.forward(tokEmb.forward(idx));
        // One additive mask for every layer rather than a conversion of a bool one in each.
        Tensor mask = Attention.additiveCausalMask(t, t);
        for (TransformerEncoderLayer layer : layers) {
            x = layer.forward(x, mask);
        }
        return head.forward(lnF.forward(x));
    }

    /**
     * Greedy generation with the KV cache: {@code generate(prompt, maxNewTokens, Sampling.greedy(), null,
     * true)}.
     *
     * @param prompt       the token ids to start from, at least one, each in [0, V)
     * @param maxNewTokens how many tokens to add, at least 0
     * @return the prompt followed by the new tokens
     * @throws IllegalArgumentException if the prompt is empty or holds an id out of range, or maxNewTokens is
     *                                  negative
     */
    public long[] generate(long[] prompt, int maxNewTokens) {
        return generate(prompt, maxNewTokens, Sampling.greedy(), null, true);
    }

    /**
     * Generation with the KV cache: {@code generate(prompt, maxNewTokens, sampling, rng, true)}.
     *
     * @param prompt       the token ids to start from, at least one, each in [0, V)
     * @param maxNewTokens how many tokens to add, at least 0
     * @param sampling     greedy or sampling settings
     * @param rng          the generator of the draws; may be null for greedy decoding
     * @return the prompt followed by the new tokens
     * @throws IllegalArgumentException if the prompt is empty or holds an id out of range, maxNewTokens is
     *                                  negative, sampling is null, or sampling has no generator
     */
    public long[] generate(long[] prompt, int maxNewTokens, Sampling sampling, RandomGenerator rng) {
        return generate(prompt, maxNewTokens, sampling, rng, true);
    }

    /**
     * Extends {@code prompt} by {@code maxNewTokens} tokens, each picked from the logits of the last
     * position as {@code sampling} says (a draw takes one {@code rng.nextDouble()}). Runs in evaluation mode
     * (no dropout; the module's mode is restored after) and records nothing for autograd.
     *
     * <p>With {@code useCache}, the prompt goes through the layers once and each new token then goes through
     * alone, attending to the cached keys and values of the positions before it; without, every token
     * re-reads the whole sequence. Both give the same logits up to float rounding, so the same tokens (bar a
     * near-tie of two logits). Once the sequence is longer than blockSize, the model sees its last blockSize
     * tokens, re-read for every new token (with or without the cache).
     *
     * @param prompt       the token ids to start from, at least one, each in [0, V)
     * @param maxNewTokens how many tokens to add, at least 0
     * @param sampling     greedy or sampling settings
     * @param rng          the generator of the draws; may be null for greedy decoding
     * @param useCache     whether to cache keys and values
     * @return a new array: the prompt followed by the new tokens
     * @throws IllegalArgumentException if the prompt is empty or holds an id out of range, maxNewTokens is
     *                                  negative, sampling is null, or sampling has no generator
     */
    public long[] generate(long[] prompt, int maxNewTokens, Sampling sampling, RandomGenerator rng,
                           boolean useCache) {
        if (prompt == null || prompt.length == 0) {
            throw new IllegalArgumentException("GPT.generate: the prompt must hold at least one token");
        }
        for (int i = 0; i < prompt.length; i++) {
            if (prompt[i] < 0 || prompt[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("GPT.generate: prompt token " + prompt[i] + " at " + i
                        + " is out of range [0, " + config.vocabSize() + ")");
            }
        }
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("GPT.generate: maxNewTokens must not be negative, got " + maxNewTokens);
        }
        if (sampling == null) {
            throw new IllegalArgumentException("GPT.generate: sampling is null (Sampling.greedy() for greedy)");
        }
        if (!sampling.isGreedy() && rng == null) {
            throw new IllegalArgumentException("GPT.generate: sampling at temperature " + sampling.temperature()
                    + " needs a random generator");
        }
        long[] seq = Arrays.copyOf(prompt, Math.addExact(prompt.length, maxNewTokens));
        int len = prompt.length;
        boolean wasTraining = isTraining();
        eval();
        List<MultiheadAttention.KVCache> caches = new ArrayList<>();
        try (var ignored = Autograd.noGrad()) {
            if (useCache) {
                for (TransformerEncoderLayer layer : layers) {
                    caches.add(layer.selfAttn().newKVCache(1, config.blockSize()));
                }
            }
            long cached = 0;
            for (int step = 0; step < maxNewTokens; step++) {
                try (Scope s = Scope.open()) {
                    float[] logits;
                    if (useCache && len <= config.blockSize()) {
                        logits = lastLogitsCached(seq, cached, len, caches);
                        cached = len;
                    } else {
                        int from = (int) Math.max(0, len - config.blockSize());
                        Tensor out = forward(Tensor.fromLongs(Arrays.copyOfRange(seq, from, len)));  // [T, V]
                        logits = out.select(0, out.size(0) - 1).toArray();
                    }
                    seq[len++] = pick(logits, sampling, rng);
                }
            }
        } finally {
            for (MultiheadAttention.KVCache c : caches) {
                c.close();
            }
            if (wasTraining) {
                train();
            }
        }
        return seq;
    }

    /**
     * The attention weights of every layer's heads over a sequence, in evaluation mode and without
     * recording: row i of a head's map is how position i spreads its attention over positions 0..i.
     *
     * @param ids the token ids, 1 to blockSize of them, each in [0, V)
     * @return one tensor [numHeads, T, T] per layer, in order
     * @throws IllegalArgumentException if ids is empty, longer than blockSize, or holds an id out of range
     */
    public List<Tensor> attentionWeights(long[] ids) {
        if (ids == null || ids.length == 0 || ids.length > config.blockSize()) {
            throw new IllegalArgumentException("GPT.attentionWeights: between 1 and block_size "
                    + config.blockSize() + " ids, got " + (ids == null ? "null" : ids.length));
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("GPT.attentionWeights: token " + ids[i] + " at " + i
                        + " is out of range [0, " + config.vocabSize() + ")");
            }
        }
        boolean wasTraining = isTraining();
        eval();
        List<Tensor> out = new ArrayList<>();
        try (var ignored = Autograd.noGrad()) {
            Tensor x = posEmb.forward(tokEmb.forward(Tensor.fromLongs(ids)));          // [T, d]
            Tensor mask = Attention.additiveCausalMask(ids.length, ids.length);
            for (TransformerEncoderLayer layer : layers) {
                out.add(layer.selfAttentionWeights(x, mask));
                x = layer.forward(x, mask);
            }
        } finally {
            if (wasTraining) {
                train();
            }
        }
        return out;
    }

    /** The logits after position len − 1, feeding positions from..len − 1 through the cached layers. */
    private float[] lastLogitsCached(long[] seq, long from, int len, List<MultiheadAttention.KVCache> caches) {
        Tensor ids = Tensor.fromLongs(Arrays.copyOfRange(seq, (int) from, len));     // [n]
        Tensor x = posEmb.forward(tokEmb.forward(ids), from);                         // [n, d]
        for (int i = 0; i < layers.size(); i++) {
            x = layers.get(i).forwardCached(x, caches.get(i));
        }
        Tensor last = x.slice(0, x.size(0) - 1, x.size(0));                          // [1, d]
        return head.forward(lnF.forward(last)).toArray();
    }

    /** The next token from one position's logits. */
    private static long pick(float[] logits, Sampling sampling, RandomGenerator rng) {
        if (sampling.isGreedy()) {
            int best = 0;
            for (int i = 1; i < logits.length; i++) {
                if (logits[i] > logits[best]) best = i;
            }
            return best;
        }
        float[] z = new float[logits.length];
        for (int i = 0; i < z.length; i++) z[i] = logits[i] / sampling.temperature();
        if (sampling.topK() > 0 && sampling.topK() < z.length) {
            // As minGPT: every logit below the k-th largest is dropped (ties with it stay).
            float[] sorted = z.clone();
            Arrays.sort(sorted);
            float kth = sorted[sorted.length - sampling.topK()];
            for (int i = 0; i < z.length; i++) {
                if (z[i] < kth) z[i] = Float.NEGATIVE_INFINITY;
            }
        }
        float max = Float.NEGATIVE_INFINITY;
        for (float v : z) max = Math.max(max, v);
        double[] p = new double[z.length];
        double sum = 0;
        for (int i = 0; i < z.length; i++) {
            p[i] = Math.exp(z[i] - max);
            sum += p[i];
        }
        double u = rng.nextDouble() * sum;
        double acc = 0;
        int last = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == 0) continue;
            last = i;
            acc += p[i];
            if (u < acc) return i;
        }
        return last;  // u fell past the end by rounding
    }

    /**
     * The settings a model file records to rebuild this model.
     *
     * @return the type and the sizes
     */
    @Override
    public Map<String, Object> spec() {
        return spec("GPT", "vocabSize", config.vocabSize(), "blockSize", config.blockSize(), "dModel",
                config.dModel(), "numLayers", config.numLayers(), "numHeads", config.numHeads(), "dimFeedforward",
                config.dimFeedforward(), "dropout", config.dropout());
    }

    /**
     * A one-line description for summaries.
     *
     * @return e.g. {@code GPT(vocab 96, 4 layers, d 128, heads 4)}
     */
    @Override
    public String describe() {
        return "GPT(vocab " + config.vocabSize() + ", " + config.numLayers() + " layers, d " + config.dModel()
                + ", heads " + config.numHeads() + ")";
    }
}
