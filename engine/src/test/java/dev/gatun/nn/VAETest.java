package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gatun.autograd.Autograd;
import dev.gatun.ops.GradCheck;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Fixtures;
import dev.gatun.testing.ScopedTest;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link VAE}: the KL term, the reparameterised sample and a whole small model's loss and gradients
 * against PyTorch ({@code golden/vae.json}), both terms by central differences, the seeded sampling, and
 * that a few steps of training lower the negative ELBO.
 */
class VAETest extends ScopedTest {

    private static final JsonNode GOLDEN = Fixtures.load("vae.json");

    private static Tensor tensor(JsonNode values, long... shape) {
        return Tensor.fromArray(Fixtures.floats(values), shape);
    }

    private static void compare(String what, float[] expected, float[] actual, double atol) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs((double) actual[i] - expected[i]) > atol + 1e-5 * Math.abs(expected[i])) {
                throw new AssertionError(what + "[" + i + "]: gatun " + actual[i] + ", PyTorch " + expected[i]);
            }
        }
    }

    @Test
    void klTermMatchesPyTorch() {
        JsonNode f = GOLDEN.get("kl");
        long[] shape = Fixtures.longs(f.get("shape"));
        Tensor mu = tensor(f.get("mu"), shape).requiresGrad(true);
        Tensor logvar = tensor(f.get("logvar"), shape).requiresGrad(true);
        Tensor kl = VAE.klDivergence(mu, logvar);
        assertEquals(0, kl.dim());
        assertEquals(f.get("kl").asDouble(), kl.item(), 1e-5);
        kl.backward();
        compare("dKL/dmu", Fixtures.floats(f.get("mu_grad")), mu.grad().toArray(), 1e-6);
        compare("dKL/dlogvar", Fixtures.floats(f.get("logvar_grad")), logvar.grad().toArray(), 1e-6);
    }

    @Test
    void reparameterisedSampleMatchesPyTorch() {
        JsonNode f = GOLDEN.get("sample");
        long[] shape = Fixtures.longs(f.get("shape"));
        Tensor mu = tensor(f.get("mu"), shape).requiresGrad(true);
        Tensor logvar = tensor(f.get("logvar"), shape).requiresGrad(true);
        Tensor z = VAE.reparameterize(mu, logvar, tensor(f.get("eps"), shape));
        compare("z", Fixtures.floats(f.get("z")), z.toArray(), 1e-6);
        Autograd.backward(z, tensor(f.get("output_grad"), shape));
        compare("dz/dmu", Fixtures.floats(f.get("mu_grad")), mu.grad().toArray(), 1e-6);
        compare("dz/dlogvar", Fixtures.floats(f.get("logvar_grad")), logvar.grad().toArray(), 1e-6);
    }

    /** A 12-8-3 VAE with PyTorch's weights and ε: logits, both terms, every parameter's gradient. */
    @Test
    void aSmallModelMatchesPyTorch() {
        JsonNode f = GOLDEN.get("model");
        Map<String, Tensor> state = new LinkedHashMap<>();
        f.get("state_dict").properties().forEach(e -> state.put(e.getKey(),
                tensor(e.getValue().get("values"), Fixtures.longs(e.getValue().get("shape")))));
        try (VAE vae = new VAE(f.get("inputs").asLong(), f.get("hidden").asLong(), f.get("latent").asLong())) {
            vae.loadStateDict(state);
            long[] xs = Fixtures.longs(f.get("x_shape"));
            Tensor x = tensor(f.get("x"), xs);
            VAE.Encoding e = vae.encode(x);
            Tensor z = VAE.reparameterize(e.mu(), e.logvar(), tensor(f.get("eps"), xs[0], vae.latent()));
            VAE.Output out = new VAE.Output(vae.decode(z), e.mu(), e.logvar(), z);
            compare("mu", Fixtures.floats(f.get("mu")), e.mu().toArray(), 1e-5);
            compare("logvar", Fixtures.floats(f.get("logvar")), e.logvar().toArray(), 1e-5);
            compare("logits", Fixtures.floats(f.get("logits")), out.logits().toArray(), 1e-5);
            VAE.Terms t = VAE.loss(x, out);
            assertEquals(f.get("reconstruction").asDouble(), t.reconstruction().item(), 1e-4);
            assertEquals(f.get("kl").asDouble(), t.kl().item(), 1e-6);
            assertEquals(t.reconstruction().item() + t.kl().item(), t.total().item(), 1e-5);
            t.total().backward();
            Map<String, Tensor> params = vae.namedParameters();
            assertEquals(10, params.size());
            f.get("grads").properties().forEach(g -> compare("d/d " + g.getKey(), Fixtures.floats(g.getValue()),
                    params.get(g.getKey()).grad().toArray(), 2e-5));
        }
    }

    @Test
    void klAndSampleByCentralDifferences() {
        Tensor mu = GradCheck.leaf(1, 3, 4);
        Tensor logvar = GradCheck.leafIn(2, -1.5, 1.5, 3, 4);
        GradCheck.check("kl", t -> VAE.klDivergence(t[0], t[1]), mu, logvar);
        Tensor eps = Tensor.randn(new Generator(3), 3, 4);
        GradCheck.check("reparameterised sample", t -> VAE.reparameterize(t[0], t[1], eps), mu, logvar);
    }

    @Test
    void klIsZeroAtThePriorAndPositiveElsewhere() {
        assertEquals(0f, VAE.klDivergence(Tensor.zeros(5, 3), Tensor.zeros(5, 3)).item(), 1e-7);
        // One dimension, mu = 1, sigma² = e: ½(e + 1 − 1 − 1) per sample.
        assertEquals(0.5 * (Math.E - 1), VAE.klDivergence(Tensor.ones(2, 1), Tensor.ones(2, 1)).item(), 1e-6);
    }

    /** ε comes from the module's seeded generator: the same seed, the same draws; z − μ ~ N(0, σ²). */
    @Test
    void samplingIsSeededAndHasTheRightMoments() {
        Init.manualSeed(11);
        float[] a;
        try (VAE v = new VAE(6, 5, 2)) {
            a = v.reparameterize(Tensor.zeros(4, 2), Tensor.zeros(4, 2)).toArray();
        }
        Init.manualSeed(11);
        try (VAE v = new VAE(6, 5, 2)) {
            assertArrayEquals(a, v.reparameterize(Tensor.zeros(4, 2), Tensor.zeros(4, 2)).toArray());
            assertNotEquals(a[0], v.reparameterize(Tensor.zeros(4, 2), Tensor.zeros(4, 2)).toArray()[0]);
            float logVar = (float) Math.log(4); // σ = 2
            float[] z = v.reparameterize(Tensor.full(3f, 20000, 2), Tensor.full(logVar, 20000, 2)).toArray();
            double mean = 0, sq = 0;
            for (float x : z) mean += x;
            mean /= z.length;
            for (float x : z) sq += (x - mean) * (x - mean);
            assertEquals(3, mean, 0.05);
            assertEquals(2, Math.sqrt(sq / z.length), 0.05);
            Tensor samples = v.sample(5, new Generator(1));
            assertArrayEquals(new long[] {5, 6}, samples.shape());
            assertArrayEquals(samples.toArray(), v.sample(5, new Generator(1)).toArray());
            for (float p : samples.toArray()) assertTrue(p > 0 && p < 1);
            Tensor walk = v.latentWalk(4);
            assertArrayEquals(new long[] {16, 6}, walk.shape());
        }
    }

    @Test
    void normalQuantiles() {
        assertEquals(0, VAE.normalQuantile(0.5), 1e-12);
        assertEquals(1.959963984540054, VAE.normalQuantile(0.975), 1e-8);
        assertEquals(-2.326347874040841, VAE.normalQuantile(0.01), 1e-8);
    }

    @Test
    void trainingLowersTheNegativeElbo() {
        Init.manualSeed(5);
        Tensor x = Tensor.rand(new Generator(2), 32, 20);
        float[] v = x.toArray();
        for (int i = 0; i < v.length; i++) v[i] = (i / 20) % 2 == 0 ? (i % 2) : 1 - (i % 2); // two patterns
        x.copyFrom(v);
        try (VAE vae = new VAE(20, 16, 2); Adam opt = new Adam(vae.parameters(), 1e-2)) {
            float first = 0, last = 0;
            for (int step = 0; step < 150; step++) {
                opt.zeroGrad();
                VAE.Terms t = vae.loss(x);
                if (step == 0) first = t.total().item();
                last = t.total().item();
                t.total().backward();
                opt.step();
            }
            assertTrue(last < 0.3 * first, "negative ELBO from " + first + " to " + last);
        }
    }

    @Test
    void misuseIsRefusedWithTheShapes() {
        try (VAE vae = new VAE(6, 5, 2)) {
            String m = assertThrows(IllegalArgumentException.class, () -> vae.encode(Tensor.zeros(3, 7))).getMessage();
            assertTrue(m.contains("[N, 6]") && m.contains("[3, 7]"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.decode(Tensor.zeros(3, 3))).getMessage();
            assertTrue(m.contains("[N, 2]") && m.contains("[3, 3]"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.latentWalk(1)).getMessage();
            assertTrue(m.contains("got 1"), m);
            m = assertThrows(IllegalArgumentException.class, () -> vae.sample(0, new Generator(1))).getMessage();
            assertTrue(m.contains("got 0"), m);
        }
        String m = assertThrows(IllegalArgumentException.class,
                () -> VAE.reparameterize(Tensor.zeros(2, 3), Tensor.zeros(2, 3), Tensor.zeros(3, 2))).getMessage();
        assertTrue(m.contains("[3, 2]"), m);
        m = assertThrows(IllegalArgumentException.class,
                () -> VAE.klDivergence(Tensor.zeros(2, 3), Tensor.zeros(2, 2))).getMessage();
        assertTrue(m.contains("[2, 3]") && m.contains("[2, 2]"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new VAE(784, 0, 20)).getMessage();
        assertTrue(m.contains("hidden=0"), m);
        try (VAE one = new VAE(4, 3, 1)) {
            m = assertThrows(IllegalArgumentException.class, () -> one.latentWalk(3)).getMessage();
            assertTrue(m.contains("has 1"), m);
        }
    }
}
