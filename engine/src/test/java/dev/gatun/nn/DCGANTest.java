package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.Convolution;
import dev.gatun.backend.Deconvolution;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link DCGAN}: the two networks' shapes and sizes, one round of updates (one discriminator step, one
 * generator step through the frozen discriminator, each with its own optimizer), and the generator's
 * transposed convolutions alike in oneDNN's plain and blocked layouts.
 */
class DCGANTest extends ScopedTest {

    private static Tensor realImages(int n, long seed) {
        Tensor x = Tensor.rand(new Generator(seed), n, 1, 28, 28);
        return x.mul(2f).sub(1f);
    }

    @Test
    void shapesAndParameterCounts() {
        Init.manualSeed(1);
        try (DCGAN gan = new DCGAN()) {
            Tensor images = gan.sample(3, new Generator(2));
            assertArrayEquals(new long[] {3, 1, 28, 28}, images.shape());
            for (float v : images.toArray()) assertTrue(v >= -1 && v <= 1);
            assertArrayEquals(new long[] {3, 1}, gan.discriminate(images).shape());
            // G: linear 100·6272 + 6272, BN 2·6272, convT 128·64·16 + 64, BN 2·64, convT 64·16 + 1.
            long g = 100 * 6272 + 6272 + 2 * 6272 + 128 * 64 * 16 + 64 + 2 * 64 + 64 * 16 + 1;
            // D: conv 64·16 + 64, conv 128·64·16 + 128, BN 2·128, linear 6272 + 1.
            long d = 64 * 16 + 64 + 128 * 64 * 16 + 128 + 2 * 128 + 6272 + 1;
            assertEquals(g, gan.generatorNetwork().parameterCount());
            assertEquals(d, gan.discriminatorNetwork().parameterCount());
            assertEquals(g + d, gan.parameterCount());
            String summary = gan.summary(1, 100);
            assertTrue(summary.contains("ConvTranspose2d(128 → 64, 4×4, stride 2, padding 1)")
                    && summary.contains("[1, 64, 14, 14]") && summary.contains("[1, 1]"), summary);
            String m = assertThrows(IllegalArgumentException.class, () -> gan.forward(Tensor.zeros(2, 99)))
                    .getMessage();
            assertTrue(m.contains("[N, 100]") && m.contains("[2, 99]"), m);
            m = assertThrows(IllegalArgumentException.class, () -> gan.discriminate(Tensor.zeros(2, 1, 32, 32)))
                    .getMessage();
            assertTrue(m.contains("[2, 1, 32, 32]"), m);
        }
    }

    /**
     * With both learning rates 0 the weights stay put, so the gradients a round leaves behind can be
     * recomputed from the same z: the discriminator's are those of its own loss alone (the generator's
     * step reached it not at all: it was frozen), the generator's those of the non-saturating loss.
     */
    @Test
    void oneRoundIsOneDiscriminatorAndOneGeneratorUpdate() {
        Init.manualSeed(3);
        try (DCGAN gan = new DCGAN(8);
             Adam d = new Adam(gan.discriminatorNetwork().parameters(), Adam.Options.DEFAULTS.withLearningRate(0));
             Adam g = new Adam(gan.generatorNetwork().parameters(), Adam.Options.DEFAULTS.withLearningRate(0))) {
            Tensor real = realImages(4, 4);
            long state = gan.generator().state();
            DCGAN.Step step = gan.trainStep(real, d, g);
            assertEquals(1, d.steps());
            assertEquals(1, g.steps());
            for (Tensor p : gan.parameters()) assertTrue(p.requiresGrad(), "unfrozen after the step");
            List<float[]> dGrads = grads(gan.discriminatorNetwork());
            List<float[]> gGrads = grads(gan.generatorNetwork());

            gan.generator().setState(state);
            gan.zeroGrad();
            Tensor fake = gan.sample(4, gan.generator());
            Tensor dLoss = Loss.bceWithLogits(gan.discriminate(real), Tensor.ones(4, 1))
                    .add(Loss.bceWithLogits(gan.discriminate(fake.detach()), Tensor.zeros(4, 1)));
            assertEquals(dLoss.item(), step.discriminatorLoss().item(), 1e-6);
            dLoss.backward();
            assertGradsEqual("discriminator", dGrads, grads(gan.discriminatorNetwork()));
            gan.zeroGrad();
            Tensor gLoss = Loss.bceWithLogits(gan.discriminate(fake), Tensor.ones(4, 1));
            assertEquals(gLoss.item(), step.generatorLoss(), 1e-6);
            gLoss.backward();
            assertGradsEqual("generator", gGrads, grads(gan.generatorNetwork()));
            assertTrue(step.realScore() > 0 && step.realScore() < 1 && step.fakeScore() > 0 && step.fakeScore() < 1);
            assertTrue(step.correct() >= 0 && step.correct() <= 8);
        }
    }

    private static List<float[]> grads(Module m) {
        List<float[]> out = new ArrayList<>();
        for (Tensor p : m.parameters()) {
            assertNotNull(p.grad());
            out.add(p.grad().toArray());
        }
        return out;
    }

    private static void assertGradsEqual(String what, List<float[]> expected, List<float[]> actual) {
        for (int i = 0; i < expected.size(); i++) {
            float[] e = expected.get(i);
            float[] a = actual.get(i);
            for (int j = 0; j < e.length; j++) {
                assertEquals(e[j], a[j], 1e-6 + 1e-4 * Math.abs(e[j]), what + " parameter " + i + "[" + j + "]");
            }
        }
    }

    /** A few rounds with PyTorch's DCGAN settings move both networks and keep the losses finite. */
    @Test
    void roundsWithAdamUpdateBothNetworks() {
        Init.manualSeed(5);
        try (DCGAN gan = new DCGAN(16);
             Adam d = new Adam(gan.discriminatorNetwork().parameters(),
                     Adam.Options.DEFAULTS.withLearningRate(2e-4).withBetas(0.5, 0.999));
             Adam g = new Adam(gan.generatorNetwork().parameters(),
                     Adam.Options.DEFAULTS.withLearningRate(2e-4).withBetas(0.5, 0.999))) {
            float[] d0 = gan.discriminatorNetwork().parameters().getFirst().toArray();
            float[] g0 = gan.generatorNetwork().parameters().getFirst().toArray();
            Tensor real = realImages(8, 6);
            for (int i = 0; i < 3; i++) {
                DCGAN.Step s = gan.trainStep(real, d, g);
                assertTrue(Float.isFinite(s.discriminatorLoss().item()) && Float.isFinite(s.generatorLoss()));
            }
            assertTrue(changed(d0, gan.discriminatorNetwork().parameters().getFirst().toArray()));
            assertTrue(changed(g0, gan.generatorNetwork().parameters().getFirst().toArray()));
        }
    }

    /**
     * A round from given noise is the round that draws the same noise itself: the same losses and weights; noise
     * of the wrong shape is refused.
     */
    @Test
    void aRoundFromGivenNoiseIsTheRoundThatDrawsIt() {
        Tensor real = realImages(4, 3);
        float[][] losses = new float[2][];
        List<List<float[]>> weights = new ArrayList<>();
        for (int run = 0; run < 2; run++) {
            Init.manualSeed(9);
            try (DCGAN gan = new DCGAN(6);
                 Adam d = new Adam(gan.discriminatorNetwork().parameters(), 1e-3);
                 Adam g = new Adam(gan.generatorNetwork().parameters(), 1e-3)) {
                DCGAN.Step s;
                if (run == 0) {
                    s = gan.trainStep(real, d, g);
                } else {
                    Generator copy = new Generator(0);
                    copy.setState(gan.generator().state());
                    s = gan.trainStep(real, Tensor.randn(copy, 4, 6), d, g);
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> gan.trainStep(real, Tensor.randn(copy, 3, 6), d, g));
                    assertTrue(e.getMessage().contains("[4, 6]") && e.getMessage().contains("[3, 6]"), e.getMessage());
                }
                losses[run] = new float[] {s.discriminatorLoss().item(), s.generatorLoss()};
                List<float[]> w = new ArrayList<>();
                for (Tensor p : gan.parameters()) w.add(p.toArray());
                weights.add(w);
            }
        }
        assertArrayEquals(losses[0], losses[1]);
        for (int i = 0; i < weights.get(0).size(); i++) {
            assertArrayEquals(weights.get(0).get(i), weights.get(1).get(i), "parameter " + i);
        }
    }

    private static boolean changed(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) if (a[i] != b[i]) return true;
        return false;
    }

    /**
     * The generator chains transposed convolution, batch norm and ReLU; in oneDNN's blocked layouts each
     * hands the next its blocked output. Both layouts give the same images and gradients (up to rounding;
     * the first transposed convolution's bias feeds a batch norm, so its gradient is zero but for it).
     */
    @Test
    void generatorAgreesInPlainAndBlockedLayouts() {
        Convolution.Layout before = Deconvolution.layout();
        List<List<float[]>> results = new ArrayList<>();
        try {
            for (Convolution.Layout layout : Convolution.Layout.values()) {
                Deconvolution.setLayout(layout);
                Init.manualSeed(7);
                try (DCGAN gan = new DCGAN(10)) {
                    Tensor images = gan.forward(Tensor.randn(new Generator(8), 6, 10));
                    images.mul(Tensor.randn(new Generator(9), images.shape())).sum().backward();
                    List<float[]> r = new ArrayList<>();
                    r.add(images.toArray());
                    r.addAll(grads(gan.generatorNetwork()));
                    results.add(r);
                }
            }
        } finally {
            Deconvolution.setLayout(before);
        }
        for (int i = 0; i < results.get(0).size(); i++) {
            float[] a = results.get(0).get(i);
            float[] b = results.get(1).get(i);
            double scale = 0;
            for (float v : a) scale = Math.max(scale, Math.abs(v));
            for (int j = 0; j < a.length; j++) {
                assertEquals(a[j], b[j], 1e-4 * scale + 1e-5, "tensor " + i + "[" + j + "]");
            }
        }
    }
}
