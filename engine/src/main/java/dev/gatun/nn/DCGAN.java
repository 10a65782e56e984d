package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Optimizer;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A DCGAN-style generative adversarial network for 1×28×28 images (Radford et al., 2016; Goodfellow et
 * al., 2014). The generator maps noise z ~ N(0, I) of {@code noise} dimensions to an image in [−1, 1]:
 * linear to 128·7·7, batch norm, ReLU, unflatten, transposed conv 128 → 64 (4×4, stride 2, padding 1:
 * 14×14), batch norm, ReLU, transposed conv 64 → 1 (28×28), tanh. The discriminator maps an image to a
 * logit, real against generated: conv 1 → 64 (4×4, stride 2, padding 1), LeakyReLU 0.2, conv 64 → 128,
 * batch norm, LeakyReLU 0.2, flatten, linear 128·7·7 → 1.
 *
 * <p>Convolution weights start from N(0, 0.02) and batch-norm scales from N(1, 0.02), as in the DCGAN
 * paper; linear layers from PyTorch's defaults. {@link #trainStep} is one round of the standard
 * alternating updates. The model's own {@link #forward} is the generator.
 */
public final class DCGAN extends Module implements RandomModule {

    /** The noise dimensions of the usual MNIST DCGAN. */
    public static final int DEFAULT_NOISE = 100;

    private final long noise;
    private final Sequential generator;
    private final Sequential discriminator;
    private final Generator rng;

    /**
     * The DCGAN with {@link #DEFAULT_NOISE} noise dimensions.
     */
    public DCGAN() {
        this(DEFAULT_NOISE);
    }

    /**
     * A DCGAN initialised, and its noise generator seeded, from the default generator
     * ({@link Init#generator()}).
     *
     * @param noise the dimensions of z, at least 1
     * @throws IllegalArgumentException if {@code noise} is below 1
     */
    public DCGAN(long noise) {
        if (noise < 1) {
            throw new IllegalArgumentException("DCGAN needs at least one noise dimension, got " + noise);
        }
        this.noise = noise;
        int[] k = {4, 4};
        int[] s = {2, 2};
        int[] p = {1, 1};
        int[] none = {0, 0};
        int[] dense = {1, 1};
        generator = addModule("generator", new Sequential(new Linear(noise, 128 * 7 * 7), new BatchNorm1d(128 * 7 * 7),
                new ReLU(), new Unflatten(128, 7, 7), new ConvTranspose2d(128, 64, k, s, p, none, 1, true, dense),
                new BatchNorm2d(64), new ReLU(), new ConvTranspose2d(64, 1, k, s, p, none, 1, true, dense),
                new Tanh()));
        discriminator = addModule("discriminator", new Sequential(new Conv2d(1, 64, 4, 2, 1), new LeakyReLU(0.2f),
                new Conv2d(64, 128, 4, 2, 1), new BatchNorm2d(128), new LeakyReLU(0.2f), new Flatten(),
                new Linear(128 * 7 * 7, 1)));
        Generator init = Init.generator();
        for (Sequential half : List.of(generator, discriminator)) {
            for (int i = 0; i < half.size(); i++) {
                Module m = half.get(i);
                if (m instanceof Conv2d c) {
                    Init.normal(c.weight(), 0, 0.02, init);
                    Init.zeros(c.bias());
                } else if (m instanceof ConvTranspose2d c) {
                    Init.normal(c.weight(), 0, 0.02, init);
                    Init.zeros(c.bias());
                } else if (m instanceof BatchNorm b) {
                    Init.normal(b.namedParameters().get("weight"), 1, 0.02, init);
                    Init.zeros(b.namedParameters().get("bias"));
                }
            }
        }
        rng = new Generator(init.nextLong());
    }

    /** The generator z is drawn from in {@link #trainStep} and {@link #sample}, whose state checkpoints save. */
    @Override
    public Generator generator() {
        return rng;
    }

    /**
     * The noise dimensions.
     *
     * @return the size of z
     */
    public long noise() {
        return noise;
    }

    /**
     * The generator network G: z [N, noise] → images [N, 1, 28, 28] in [−1, 1].
     *
     * @return the model's own half
     */
    public Sequential generatorNetwork() {
        return generator;
    }

    /**
     * The discriminator network D: images [N, 1, 28, 28] → logits [N, 1], high for real.
     *
     * @return the model's own half
     */
    public Sequential discriminatorNetwork() {
        return discriminator;
    }

    /**
     * Generates images from noise.
     *
     * @param z [N, noise]
     * @return G(z) [N, 1, 28, 28], in [−1, 1]
     * @throws IllegalArgumentException if z is not [N, noise]
     */
    @Override
    public Tensor forward(Tensor z) {
        if (z.dim() != 2 || z.size(1) != noise) {
            throw new IllegalArgumentException("the DCGAN's generator expects z [N, " + noise + "], got "
                    + Arrays.toString(z.shape()));
        }
        return generator.forward(z);
    }

    /**
     * The discriminator's logits.
     *
     * @param images [N, 1, 28, 28], scaled to [−1, 1] as the generator's
     * @return D(x) [N, 1], logits of "real"
     * @throws IllegalArgumentException if images are not [N, 1, 28, 28]
     */
    public Tensor discriminate(Tensor images) {
        if (images.dim() != 4 || images.size(1) != 1 || images.size(2) != 28 || images.size(3) != 28) {
            throw new IllegalArgumentException("the DCGAN's discriminator expects images [N, 1, 28, 28], got "
                    + Arrays.toString(images.shape()));
        }
        return discriminator.forward(images);
    }

    /**
     * Images from fresh noise drawn from {@code from}.
     *
     * @param n    the number of images, at least 1
     * @param from the generator to draw z from
     * @return G(z) [n, 1, 28, 28]
     * @throws IllegalArgumentException if n is below 1 or from is null
     */
    public Tensor sample(int n, Generator from) {
        if (n < 1) {
            throw new IllegalArgumentException("DCGAN.sample needs at least one image, got " + n);
        }
        return forward(Tensor.randn(from, n, noise));
    }

    /**
     * What one round of updates did.
     *
     * @param discriminatorLoss the discriminator's loss, BCE on real plus BCE on generated images (a 0-d
     *                          tensor, detached)
     * @param generatorLoss     the generator's loss, BCE of its images against "real"
     * @param realScore         the mean σ(D(x)) over the real images, before the updates
     * @param fakeScore         the mean σ(D(G(z))) over the generated images, before the updates
     * @param correct           the discriminator's right calls among the 2N images (logit above 0 for a
     *                          real one, not above for a generated one), before the updates
     */
    public record Step(Tensor discriminatorLoss, float generatorLoss, double realScore, double fakeScore,
                       long correct) {}

    /**
     * One round of the standard alternating updates on a batch of real images: draws z from this module's
     * generator and makes G(z); updates the discriminator once on the real batch (target 1) and on G(z),
     * detached (target 0), by {@code discriminatorOptimizer}; then updates the generator once through the
     * updated, frozen discriminator (its parameters take no gradient) with the non-saturating loss, BCE of
     * D(G(z)) against 1, by {@code generatorOptimizer}. Binary cross-entropy on logits throughout; each
     * optimizer's gradients are zeroed before its backward pass.
     *
     * @param real                   real images [N, 1, 28, 28], scaled to [−1, 1]
     * @param discriminatorOptimizer the optimizer of {@link #discriminatorNetwork()}'s parameters
     * @param generatorOptimizer     the optimizer of {@link #generatorNetwork()}'s parameters
     * @return the losses and the discriminator's scores
     * @throws IllegalArgumentException if the images are not [N, 1, 28, 28] or an optimizer is null
     */
    public Step trainStep(Tensor real, Optimizer discriminatorOptimizer, Optimizer generatorOptimizer) {
        if (discriminatorOptimizer == null || generatorOptimizer == null) {
            throw new IllegalArgumentException("a GAN step needs the discriminator's and the generator's optimizer");
        }
        return trainStep(real, Tensor.randn(rng, real.size(0), noise), discriminatorOptimizer, generatorOptimizer);
    }

    /**
     * One round of {@link #trainStep(Tensor, Optimizer, Optimizer) the alternating updates} from given noise
     * instead of noise drawn from this module's generator (e.g. a benchmark's fixed noise, shared with another
     * system).
     *
     * @param real                   real images [N, 1, 28, 28], scaled to [−1, 1]
     * @param z                      the generator's noise [N, noise]
     * @param discriminatorOptimizer the optimizer of {@link #discriminatorNetwork()}'s parameters
     * @param generatorOptimizer     the optimizer of {@link #generatorNetwork()}'s parameters
     * @return the losses and the discriminator's scores
     * @throws IllegalArgumentException if the images are not [N, 1, 28, 28], z is not [N, noise] or an optimizer
     *                                  is null
     */
    public Step trainStep(Tensor real, Tensor z, Optimizer discriminatorOptimizer, Optimizer generatorOptimizer) {
        if (discriminatorOptimizer == null || generatorOptimizer == null) {
            throw new IllegalArgumentException("a GAN step needs the discriminator's and the generator's optimizer");
        }
        long n = real.size(0);
        if (z.dim() != 2 || z.size(0) != n) {
            throw new IllegalArgumentException("a GAN step needs noise [" + n + ", " + noise + "] for " + n
                    + " real images, got " + Arrays.toString(z.shape()));
        }
        Tensor fake = forward(z);
        Tensor ones = Tensor.ones(n, 1);
        Tensor zeros = Tensor.zeros(n, 1);

        discriminatorOptimizer.zeroGrad();
        Tensor realLogits = discriminate(real);
        Tensor fakeLogits = discriminate(fake.detach());
        Tensor dLoss = Loss.bceWithLogits(realLogits, ones).add(Loss.bceWithLogits(fakeLogits, zeros));
        dLoss.backward();
        discriminatorOptimizer.step();

        generatorOptimizer.zeroGrad();
        List<Tensor> frozen = discriminator.parameters();
        for (Tensor t : frozen) t.requiresGrad(false);
        float gLoss;
        try {
            Tensor loss = Loss.bceWithLogits(discriminate(fake), ones);
            gLoss = loss.item();
            loss.backward();
        } finally {
            for (Tensor t : frozen) t.requiresGrad(true);
        }
        generatorOptimizer.step();

        float[] r = realLogits.toArray();
        float[] f = fakeLogits.toArray();
        double realScore = 0, fakeScore = 0;
        long correct = 0;
        for (int i = 0; i < n; i++) {
            realScore += sigmoid(r[i]);
            fakeScore += sigmoid(f[i]);
            correct += (r[i] > 0 ? 1 : 0) + (f[i] <= 0 ? 1 : 0);
        }
        return new Step(dLoss.detach(), gLoss, realScore / n, fakeScore / n, correct);
    }

    /**
     * The two losses without any update (for evaluation): the discriminator's on {@code real} and on G(z),
     * and the generator's, with z drawn from {@code from}.
     *
     * @param real real images [N, 1, 28, 28], scaled to [−1, 1]
     * @param from the generator to draw z from
     * @return the losses and scores, as {@link #trainStep} reports them
     * @throws IllegalArgumentException if the images are not [N, 1, 28, 28]
     */
    public Step losses(Tensor real, Generator from) {
        long n = real.size(0);
        Tensor fakeLogits = discriminate(sample((int) n, from));
        Tensor realLogits = discriminate(real);
        Tensor ones = Tensor.ones(n, 1);
        Tensor dLoss = Loss.bceWithLogits(realLogits, ones).add(Loss.bceWithLogits(fakeLogits, Tensor.zeros(n, 1)));
        float gLoss = Loss.bceWithLogits(fakeLogits, ones).item();
        Tensor rs = Activation.sigmoid(realLogits);
        Tensor fs = Activation.sigmoid(fakeLogits);
        float[] r = realLogits.toArray();
        float[] f = fakeLogits.toArray();
        long correct = 0;
        for (int i = 0; i < n; i++) correct += (r[i] > 0 ? 1 : 0) + (f[i] <= 0 ? 1 : 0);
        return new Step(dLoss.detach(), gLoss, rs.mean().item(), fs.mean().item(), correct);
    }

    private static double sigmoid(double z) {
        return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    }

    @Override
    public Map<String, Object> spec() {
        return spec("DCGAN", "noise", noise);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code DCGAN(z 100)}
     */
    @Override
    public String describe() {
        return "DCGAN(z " + noise + ")";
    }

    @Override
    protected Tensor summarize(Tensor input, String name, List<String[]> rows) {
        // The generator's table, then the discriminator's on what it made.
        Tensor images = generator.summarize(input, name.isEmpty() ? "generator" : name + ".generator", rows);
        discriminator.summarize(images, name.isEmpty() ? "discriminator" : name + ".discriminator", rows);
        return images;
    }
}
