package dev.gatun.nn;

import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * An autoencoder: an encoder to a small code and a decoder back to the input, trained to reproduce its
 * input (or, denoising, the clean input from a corrupted one, {@link #addNoise}). The decoders end in a
 * sigmoid, for pixel intensities in [0, 1]. Two architectures: {@link #mlp} on flattened samples and
 * {@link #conv} on images, with strided convolutions down and transposed convolutions back up.
 */
public final class Autoencoder extends Module {

    private final Sequential encoder;
    private final Sequential decoder;
    private final String description;

    /**
     * An autoencoder of the given halves.
     *
     * @param encoder     the input to the code
     * @param decoder     the code back to the input's shape
     * @param description the one-line description for summaries, e.g. {@code MLP autoencoder 784-256-32}
     * @throws IllegalArgumentException if a half is null
     */
    public Autoencoder(Sequential encoder, Sequential decoder, String description) {
        if (encoder == null || decoder == null) {
            throw new IllegalArgumentException("an autoencoder needs an encoder and a decoder");
        }
        this.encoder = addModule("encoder", encoder);
        this.decoder = addModule("decoder", decoder);
        this.description = description == null ? "Autoencoder" : description;
    }

    /**
     * The MLP autoencoder inputs → hidden → latent → hidden → inputs, ReLU between the layers, a sigmoid at
     * the output; on [N, inputs].
     *
     * @param inputs the features of a sample, e.g. 784
     * @param hidden the hidden layers' width, e.g. 256
     * @param latent the code's size, e.g. 32
     * @return the model, initialised from the default generator
     * @throws IllegalArgumentException if a size is below 1
     */
    public static Autoencoder mlp(long inputs, long hidden, long latent) {
        if (inputs < 1 || hidden < 1 || latent < 1) {
            throw new IllegalArgumentException("autoencoder sizes must be positive, got inputs=" + inputs + " hidden="
                    + hidden + " latent=" + latent);
        }
        return new Autoencoder(new Sequential(new Linear(inputs, hidden), new ReLU(), new Linear(hidden, latent)),
                new Sequential(new Linear(latent, hidden), new ReLU(), new Linear(hidden, inputs), new Sigmoid()),
                "MLP autoencoder " + inputs + "-" + hidden + "-" + latent);
    }

    /**
     * The convolutional autoencoder on [N, channels, height, width] images (height and width divisible by
     * 4): encoder conv 3×3 stride 2 to 16 channels, ReLU, conv 3×3 stride 2 to 32, ReLU, flatten, linear to
     * {@code latent}; decoder linear back, ReLU, unflatten, transposed conv 3×3 stride 2 (output padding 1)
     * to 16, ReLU, transposed conv to {@code channels}, sigmoid. Each stride halves the size, each
     * transposed convolution doubles it.
     *
     * @param channels the images' channels, e.g. 1
     * @param height   their height, divisible by 4, e.g. 28
     * @param width    their width, divisible by 4, e.g. 28
     * @param latent   the code's size, e.g. 32
     * @return the model, initialised from the default generator
     * @throws IllegalArgumentException if a size is below 1 or a side is not divisible by 4
     */
    public static Autoencoder conv(long channels, long height, long width, long latent) {
        if (channels < 1 || latent < 1 || height < 4 || width < 4 || height % 4 != 0 || width % 4 != 0) {
            throw new IllegalArgumentException("the convolutional autoencoder needs positive channels and latent"
                    + " size and sides divisible by 4, got channels=" + channels + " " + height + "×" + width
                    + " latent=" + latent);
        }
        long h = height / 4, w = width / 4, features = 32 * h * w;
        Sequential encoder = new Sequential(new Conv2d(channels, 16, 3, 2, 1), new ReLU(), new Conv2d(16, 32, 3, 2, 1),
                new ReLU(), new Flatten(), new Linear(features, latent));
        int[] k = {3, 3};
        int[] s = {2, 2};
        int[] p = {1, 1};
        int[] op = {1, 1};
        int[] d = {1, 1};
        Sequential decoder = new Sequential(new Linear(latent, features), new ReLU(), new Unflatten(32, h, w),
                new ConvTranspose2d(32, 16, k, s, p, op, 1, true, d), new ReLU(),
                new ConvTranspose2d(16, channels, k, s, p, op, 1, true, d), new Sigmoid());
        return new Autoencoder(encoder, decoder, "convolutional autoencoder " + channels + "×" + height + "×" + width
                + " → " + latent);
    }

    /**
     * The encoder.
     *
     * @return the module's own half
     */
    public Sequential encoder() {
        return encoder;
    }

    /**
     * The decoder.
     *
     * @return the module's own half
     */
    public Sequential decoder() {
        return decoder;
    }

    /**
     * The code of a batch.
     *
     * @param x the inputs
     * @return the encoder's output
     * @throws IllegalArgumentException if x does not fit the encoder
     */
    public Tensor encode(Tensor x) {
        return encoder.forward(x);
    }

    /**
     * The reconstruction of codes.
     *
     * @param code [N, latent]
     * @return the decoder's output, in [0, 1]
     * @throws IllegalArgumentException if code does not fit the decoder
     */
    public Tensor decode(Tensor code) {
        return decoder.forward(code);
    }

    /**
     * The reconstruction of a batch: decode(encode(x)).
     *
     * @param x the inputs
     * @return the reconstruction, of x's shape
     * @throws IllegalArgumentException if x does not fit the model
     */
    @Override
    public Tensor forward(Tensor x) {
        return decoder.forward(encoder.forward(x));
    }

    /**
     * {@inheritDoc}
     *
     * @return the two halves' specs ({@code encoder}, {@code decoder}, each a one-element array) and the
     *     description; null when a layer of either half cannot describe itself
     */
    @Override
    public Map<String, Object> spec() {
        return encoder.spec() == null || decoder.spec() == null ? null
                : spec("Autoencoder", "encoder", List.of(encoder), "decoder", List.of(decoder), "description",
                        description);
    }

    @Override
    protected Tensor summarize(Tensor input, String name, java.util.List<String[]> rows) {
        Tensor code = encoder.summarize(input, name.isEmpty() ? "encoder" : name + ".encoder", rows);
        return decoder.summarize(code, name.isEmpty() ? "decoder" : name + ".decoder", rows);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code MLP autoencoder 784-256-32}
     */
    @Override
    public String describe() {
        return description;
    }

    /**
     * Corrupts a batch for a denoising autoencoder: x + std·ε with ε standard normal, clipped to [0, 1] so
     * that it stays an image. Nothing is recorded.
     *
     * @param x   the clean inputs, pixel intensities in [0, 1]
     * @param std the noise's standard deviation, finite and at least 0
     * @param rng the generator to draw ε from
     * @return a new tensor of x's shape
     * @throws IllegalArgumentException if std is negative or not finite, or rng is null
     */
    public static Tensor addNoise(Tensor x, double std, Generator rng) {
        if (!(std >= 0 && std < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("the noise's standard deviation must be finite and >= 0, got " + std);
        }
        if (rng == null) {
            throw new IllegalArgumentException("addNoise needs a generator, got null");
        }
        float[] v = x.contiguous().toArray();
        float[] e = Tensor.randn(rng, x.shape()).toArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.min(1f, Math.max(0f, v[i] + (float) (std * e[i])));
        }
        return Tensor.fromArray(v, Arrays.copyOf(x.shape(), x.dim()));
    }
}
