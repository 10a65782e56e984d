package dev.gatun.nn;

import dev.gatun.ops.Activation;
import dev.gatun.ops.Loss;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;

/**
 * A variational autoencoder with a Bernoulli decoder (Kingma and Welling, 2014), the MLP of PyTorch's
 * example: encoder {@code fc1} (inputs → hidden, ReLU) to the mean ({@code fc_mu}) and log-variance
 * ({@code fc_logvar}) of a diagonal Gaussian q(z|x) over {@code latent} dimensions; decoder {@code fc3}
 * (latent → hidden, ReLU) and {@code fc4} (hidden → inputs) to the logits of independent Bernoulli
 * pixels. {@code new VAE(784, 400, 20)} is the MNIST model.
 *
 * <p>Training minimises the negative evidence lower bound per sample, {@link #loss}: the reconstruction
 * term −log p(x|z), binary cross-entropy with logits summed over the pixels, at one sample
 * z = μ + σ·ε (the reparameterisation, {@link #reparameterize}, ε drawn from this module's seeded
 * {@link Generator}), plus the KL divergence of q(z|x) from the prior N(0, I) in closed form,
 * {@link #klDivergence}. Inputs are pixel intensities in [0, 1].
 */
public final class VAE extends Module implements RandomModule {

    private final long inputs;
    private final long hidden;
    private final long latent;
    private final Linear fc1;
    private final Linear fcMu;
    private final Linear fcLogvar;
    private final Linear fc3;
    private final Linear fc4;
    private final Generator noise;

    /**
     * A VAE initialised, and its ε generator seeded, from the default generator ({@link Init#generator()}).
     *
     * @param inputs the pixels of a sample, e.g. 784
     * @param hidden the hidden layer's width on both sides, e.g. 400
     * @param latent the latent dimensions, e.g. 20
     * @throws IllegalArgumentException if a size is below 1
     */
    public VAE(long inputs, long hidden, long latent) {
        if (inputs < 1 || hidden < 1 || latent < 1) {
            throw new IllegalArgumentException("VAE sizes must be positive, got inputs=" + inputs + " hidden=" + hidden
                    + " latent=" + latent);
        }
        this.inputs = inputs;
        this.hidden = hidden;
        this.latent = latent;
        fc1 = addModule("fc1", new Linear(inputs, hidden));
        fcMu = addModule("fc_mu", new Linear(hidden, latent));
        fcLogvar = addModule("fc_logvar", new Linear(hidden, latent));
        fc3 = addModule("fc3", new Linear(latent, hidden));
        fc4 = addModule("fc4", new Linear(hidden, inputs));
        noise = new Generator(Init.generator().nextLong());
    }

    /** The generator ε is drawn from, whose state checkpoints save. */
    @Override
    public Generator generator() {
        return noise;
    }

    /**
     * The latent dimensions.
     *
     * @return the size of z
     */
    public long latent() {
        return latent;
    }

    /**
     * The pixels of a sample.
     *
     * @return the size of x
     */
    public long inputs() {
        return inputs;
    }

    /**
     * q(z|x): the mean and log-variance of each sample's Gaussian.
     *
     * @param mu     the means [N, latent]
     * @param logvar the log-variances log σ² [N, latent]
     */
    public record Encoding(Tensor mu, Tensor logvar) {}

    /**
     * A forward pass: the decoder's logits at the sampled z, with q(z|x) and z itself.
     *
     * @param logits the Bernoulli logits of the reconstruction [N, inputs]
     * @param mu     q's means [N, latent]
     * @param logvar q's log-variances [N, latent]
     * @param z      the sample the logits were decoded from [N, latent]
     */
    public record Output(Tensor logits, Tensor mu, Tensor logvar, Tensor z) {}

    /**
     * The loss of a batch, per sample: {@code total = reconstruction + kl}, each the mean over the batch.
     *
     * @param total          the negative ELBO per sample, in nats
     * @param reconstruction −log p(x|z): binary cross-entropy with logits summed over the pixels
     * @param kl             KL(q(z|x) ‖ N(0, I)) summed over the latent dimensions
     * @param output         the forward pass the terms were computed from
     */
    public record Terms(Tensor total, Tensor reconstruction, Tensor kl, Output output) {}

    /**
     * Encodes a batch.
     *
     * @param x [N, inputs] (or [N, ...] with that many elements a sample, flattened)
     * @return q(z|x)'s means and log-variances
     * @throws IllegalArgumentException if a sample does not have {@code inputs} elements
     */
    public Encoding encode(Tensor x) {
        Tensor h = Activation.relu(fc1.forward(flat(x)));
        return new Encoding(fcMu.forward(h), fcLogvar.forward(h));
    }

    /**
     * Decodes latent points to Bernoulli logits.
     *
     * @param z [N, latent]
     * @return the logits [N, inputs]; their sigmoid is the pixel probabilities
     * @throws IllegalArgumentException if z is not [N, latent]
     */
    public Tensor decode(Tensor z) {
        if (z.dim() != 2 || z.size(1) != latent) {
            throw new IllegalArgumentException("VAE.decode expects z [N, " + latent + "], got "
                    + Arrays.toString(z.shape()));
        }
        return fc4.forward(Activation.relu(fc3.forward(z)));
    }

    /**
     * The reparameterised sample z = μ + exp(log σ² / 2)·ε, differentiable in μ and log σ²
     * (∂z/∂μ = 1, ∂z/∂log σ² = σ·ε/2).
     *
     * @param mu     the means [N, latent]
     * @param logvar the log-variances, of mu's shape
     * @param eps    standard normal draws, of mu's shape
     * @return z, of mu's shape
     * @throws IllegalArgumentException if the shapes differ
     */
    public static Tensor reparameterize(Tensor mu, Tensor logvar, Tensor eps) {
        if (!Arrays.equals(mu.shape(), logvar.shape()) || !Arrays.equals(mu.shape(), eps.shape())) {
            throw new IllegalArgumentException("reparameterize needs mu, logvar and eps of one shape, got "
                    + Arrays.toString(mu.shape()) + ", " + Arrays.toString(logvar.shape()) + " and "
                    + Arrays.toString(eps.shape()));
        }
        return mu.add(logvar.mul(0.5f).exp().mul(eps));
    }

    /**
     * The reparameterised sample with ε drawn from this module's generator.
     *
     * @param mu     the means [N, latent]
     * @param logvar the log-variances, of mu's shape
     * @return z, of mu's shape
     * @throws IllegalArgumentException if the shapes differ
     */
    public Tensor reparameterize(Tensor mu, Tensor logvar) {
        return reparameterize(mu, logvar, Tensor.randn(noise, mu.shape()));
    }

    /**
     * KL(N(μ, σ²) ‖ N(0, 1)) in closed form, −½·Σ(1 + log σ² − μ² − σ²) over the latent dimensions, the
     * mean over the batch. Its gradients are μ/N and (σ² − 1)/(2N).
     *
     * @param mu     the means [N, latent]
     * @param logvar the log-variances [N, latent]
     * @return the mean KL divergence per sample, a 0-d tensor
     * @throws IllegalArgumentException if the shapes differ or are not [N, latent] with N ≥ 1
     */
    public static Tensor klDivergence(Tensor mu, Tensor logvar) {
        if (mu.dim() != 2 || !Arrays.equals(mu.shape(), logvar.shape()) || mu.size(0) < 1) {
            throw new IllegalArgumentException("klDivergence needs mu and logvar [N, latent] of one shape, got "
                    + Arrays.toString(mu.shape()) + " and " + Arrays.toString(logvar.shape()));
        }
        Tensor perDim = logvar.add(1f).sub(mu.square()).sub(logvar.exp());
        return perDim.sum().mul(-0.5f / mu.size(0));
    }

    /**
     * A forward pass at one sample of z.
     *
     * @param x [N, inputs] (or [N, ...] with that many elements a sample)
     * @return the logits, q's parameters and z
     * @throws IllegalArgumentException if a sample does not have {@code inputs} elements
     */
    public Output run(Tensor x) {
        Encoding e = encode(x);
        Tensor z = reparameterize(e.mu(), e.logvar());
        return new Output(decode(z), e.mu(), e.logvar(), z);
    }

    /**
     * The reconstruction logits at one sample of z ({@link #run}'s logits), of x's shape.
     *
     * @param x [N, inputs] (or [N, ...] with that many elements a sample)
     * @return the logits, shaped as x
     * @throws IllegalArgumentException if a sample does not have {@code inputs} elements
     */
    @Override
    public Tensor forward(Tensor x) {
        return run(x).logits().reshape(x.shape());
    }

    /**
     * The negative ELBO of a batch at one sample of z: reconstruction (binary cross-entropy with logits,
     * summed over the pixels) plus the KL term, each the mean over the batch.
     *
     * @param x the batch [N, inputs] (or [N, ...]), pixels in [0, 1]
     * @return the terms, recorded for autograd
     * @throws IllegalArgumentException if a sample does not have {@code inputs} elements
     */
    public Terms loss(Tensor x) {
        return loss(x, run(x));
    }

    /**
     * The negative ELBO of a batch from a forward pass already made ({@link #run}).
     *
     * @param x      the batch the pass was made on, pixels in [0, 1]
     * @param output its forward pass
     * @return the terms
     * @throws IllegalArgumentException if the shapes do not match
     */
    public static Terms loss(Tensor x, Output output) {
        Tensor target = flat(x, output.logits().size(1));
        // bceWithLogits is the mean over N·D elements: times D it is the sum over pixels, mean over samples.
        Tensor reconstruction = Loss.bceWithLogits(output.logits(), target).mul((float) output.logits().size(1));
        Tensor kl = klDivergence(output.mu(), output.logvar());
        return new Terms(reconstruction.add(kl), reconstruction, kl, output);
    }

    /**
     * Pixel probabilities of samples from the prior: σ(decode(z)) for z ~ N(0, I) drawn from {@code rng}.
     *
     * @param n   the number of samples, at least 1
     * @param rng the generator to draw z from
     * @return the probabilities [n, inputs]
     * @throws IllegalArgumentException if n is below 1 or rng is null
     */
    public Tensor sample(int n, Generator rng) {
        if (n < 1) {
            throw new IllegalArgumentException("VAE.sample needs at least one sample, got " + n);
        }
        return Activation.sigmoid(decode(Tensor.randn(rng, n, latent)));
    }

    /**
     * A walk over a 2-d slice of the latent space: a {@code steps}×{@code steps} grid over latent
     * dimensions 0 and 1 at the standard normal's quantiles (as in Kingma and Welling's figure, so that the
     * grid covers the prior's mass evenly), the other dimensions at 0; row by row, dimension 1 downwards
     * and dimension 0 across. With {@code latent = 2} it is the whole learned manifold.
     *
     * @param steps the points per side, at least 2
     * @return the pixel probabilities [steps·steps, inputs]
     * @throws IllegalArgumentException if steps is below 2, or the model has fewer than 2 latent dimensions
     */
    public Tensor latentWalk(int steps) {
        if (steps < 2 || steps > 1000) {
            throw new IllegalArgumentException("a latent walk needs 2 to 1000 points per side, got " + steps);
        }
        if (latent < 2) {
            throw new IllegalArgumentException("a latent walk needs 2 latent dimensions, the model has " + latent);
        }
        double[] q = walkCoordinates(steps);
        float[] z = new float[Math.toIntExact(steps * steps * latent)];
        for (int i = 0; i < steps; i++) {
            for (int j = 0; j < steps; j++) {
                int k = (i * steps + j) * (int) latent;
                z[k] = (float) q[j];
                z[k + 1] = (float) q[i];
            }
        }
        return Activation.sigmoid(decode(Tensor.fromArray(z, (long) steps * steps, latent)));
    }

    /**
     * The coordinates of {@link #latentWalk}'s grid along each of its two dimensions: the standard
     * normal's quantiles at (k + ½)/steps.
     *
     * @param steps the points per side, at least 1
     * @return the {@code steps} coordinates, increasing
     * @throws IllegalArgumentException if steps is below 1
     */
    public static double[] walkCoordinates(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("a latent walk needs at least one point per side, got " + steps);
        }
        double[] q = new double[steps];
        for (int k = 0; k < steps; k++) q[k] = normalQuantile((k + 0.5) / steps);
        return q;
    }

    /**
     * The standard normal's quantile function, by Acklam's rational approximation (relative error
     * below 1.2e-9).
     */
    static double normalQuantile(double p) {
        double[] a = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
        double[] b = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01};
        double[] c = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
        double[] d = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
        double low = 0.02425;
        if (p < low) {
            double q = Math.sqrt(-2 * Math.log(p));
            return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                    / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - low) {
            return -normalQuantile(1 - p);
        }
        double q = p - 0.5;
        double r = q * q;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }

    private Tensor flat(Tensor x) {
        return flat(x, inputs);
    }

    private static Tensor flat(Tensor x, long inputs) {
        if (x.dim() < 2 || x.numel() != x.size(0) * inputs) {
            throw new IllegalArgumentException("the VAE expects [N, " + inputs + "] (or [N, ...] with " + inputs
                    + " elements a sample), got " + Arrays.toString(x.shape()));
        }
        return x.dim() == 2 ? x : x.reshape(x.size(0), inputs);
    }

    @Override
    public Map<String, Object> spec() {
        return spec("VAE", "inputs", inputs, "hidden", hidden, "latent", latent);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code inputs=784, hidden=400, latent=20}
     */
    @Override
    protected String extraRepr() {
        return "inputs=" + inputs + ", hidden=" + hidden + ", latent=" + latent;
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code VAE(784-400-20)}
     */
    @Override
    public String describe() {
        return "VAE(" + inputs + "-" + hidden + "-" + latent + ")";
    }
}
