package dev.gatun.bench.workloads;

import dev.gatun.autograd.Autograd;
import dev.gatun.nn.GPT;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * {@code chargpt_generate_t256}: the character GPT ({@link GPT.Config#charGpt()} with room for the prompt and
 * the new tokens, 16 + 256 = 272 positions) in evaluation mode; each step is one greedy generation of 256
 * tokens after the fixed prompt {@code x} of the exchange, keys and values of earlier positions cached
 * ({@link GPT#generate(long[], int)}). The row's figure is characters per second: 256 over a step's time.
 */
final class CharGptGeneration implements Workload {

    /** The new tokens of one generation. */
    static final int NEW_TOKENS = 256;

    private final String name;
    private final GPT model;
    private final long[] prompt;
    private final double flops;

    CharGptGeneration(String name, Exchange init) {
        this.name = name;
        float[] x = init.get("x").values();
        this.prompt = new long[x.length];
        for (int i = 0; i < x.length; i++) prompt[i] = (long) x[i];
        this.model = new GPT(GPT.Config.charGpt().withBlockSize(prompt.length + NEW_TOKENS));
        CharGptTraining.load(model, init);
        model.eval();
        this.flops = generateFlops(model.config(), prompt.length, NEW_TOKENS);
    }

    /**
     * FLOPs of a cached greedy generation, as bench/python/workloads.py counts them: every position fed
     * (the prompt, then every new token but the last) through the layers, attending over itself and the
     * positions before it; the head once per new token.
     */
    static double generateFlops(GPT.Config c, int prompt, int newTokens) {
        double d = c.dModel();
        double total = 0;
        for (int p = 0; p < prompt + newTokens - 1; p++) {
            double attention = 2 * 2.0 * (p + 1) * d;
            total += c.numLayers() * (2 * d * 3 * d + 2 * d * d + attention + 2 * 2 * d * c.dimFeedforward());
        }
        return total + newTokens * 2 * d * c.vocabSize();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public double flops() {
        return flops;
    }

    @Override
    public int tokensPerStep() {
        return NEW_TOKENS;
    }

    /** One cached greedy generation; returns the sum of the new tokens. */
    @Override
    public float step() {
        try (Scope step = Scope.open()) {
            long[] seq = model.generate(prompt, NEW_TOKENS);
            long sum = 0;
            for (int i = prompt.length; i < seq.length; i++) sum += seq[i];
            return sum;
        }
    }

    /**
     * The new tokens; whether greedy generation without the cache gives the same; the logits the first new
     * token was picked from; and for every new token how far its logit stood above the runner-up's (from one
     * causal forward pass over the generated sequence, whose position p holds the logits of the token after
     * p), so that a token that differs between systems can be told a near-tie or a real difference.
     */
    @Override
    public String check() {
        long[] cached;
        long[] uncached;
        float[] logits;
        int v = (int) model.config().vocabSize();
        try (Scope s = Scope.open(); var ignored = Autograd.noGrad()) {
            cached = model.generate(prompt, NEW_TOKENS);
            uncached = model.generate(prompt, NEW_TOKENS, GPT.Sampling.greedy(), null, false);
            Tensor out = model.forward(Tensor.fromLongs(Arrays.copyOf(cached, cached.length - 1)));  // [T, V]
            logits = out.slice(0, prompt.length - 1, cached.length - 1).toArray();                   // [256, V]
        }
        StringJoiner tokens = new StringJoiner(",", "[", "]");
        for (int i = prompt.length; i < cached.length; i++) tokens.add(Long.toString(cached[i]));
        StringJoiner first = new StringJoiner(",", "[", "]");
        for (int j = 0; j < v; j++) first.add(String.format(Locale.ROOT, "%.9g", logits[j]));
        StringJoiner margins = new StringJoiner(",", "[", "]");
        for (int k = 0; k < NEW_TOKENS; k++) {
            float top = Float.NEGATIVE_INFINITY;
            float second = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                float l = logits[k * v + j];
                if (l > top) {
                    second = top;
                    top = l;
                } else if (l > second) {
                    second = l;
                }
            }
            margins.add(String.format(Locale.ROOT, "%.6g", top - second));
        }
        return "\"tokens\":" + tokens + ",\"uncached_same\":" + Arrays.equals(cached, uncached)
                + ",\"first_logits\":" + first + ",\"margins\":" + margins;
    }

    @Override
    public void close() {
        model.close();
    }
}
