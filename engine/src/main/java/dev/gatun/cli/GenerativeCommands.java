package dev.gatun.cli;

import dev.gatun.autograd.Autograd;
import dev.gatun.backend.Threads;
import dev.gatun.data.DataLoader;
import dev.gatun.data.DataLoader.Batch;
import dev.gatun.data.DataLoader.LastBatch;
import dev.gatun.data.DataLoader.Order;
import dev.gatun.data.Dataset;
import dev.gatun.data.Mnist;
import dev.gatun.io.ModelFile;
import dev.gatun.nn.Autoencoder;
import dev.gatun.nn.DCGAN;
import dev.gatun.nn.Init;
import dev.gatun.nn.Module;
import dev.gatun.nn.VAE;
import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.optim.CosineAnnealingLR;
import dev.gatun.optim.ExponentialLR;
import dev.gatun.optim.LearningRateSchedule;
import dev.gatun.optim.Optimizer;
import dev.gatun.optim.Optimizers;
import dev.gatun.optim.StepLR;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.train.Checkpoint;
import dev.gatun.train.Trainer;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gatun train ae|dae|vae|gan}: generative models on MNIST, trained through the common fit loop
 * ({@link Trainer}) with its progress line, CSV log and curves, each drawing labelled PNG grids of what
 * it makes: reconstructions beside the originals (and the noisy inputs), samples from the prior, a walk
 * over the latent space, and a GAN's samples as training goes.
 *
 * <p>The autoencoders' and the VAE's losses are reported per pixel (their accuracy is the share of
 * pixels the reconstruction puts on the right side of ½), so that the curves compare; each command also
 * prints its own figures per image: the VAE's negative ELBO in nats with its reconstruction and KL
 * terms, the denoiser's error against the noise's own, the GAN's two losses and scores.
 */
final class GenerativeCommands {

    private GenerativeCommands() {}

    /** Validation and test sets are evaluated in batches of this many images. */
    static final int EVALUATION_BATCH = 1000;

    /** The options every generative command shares; unset ones take the command's defaults. */
    static final class Options {
        @Option(names = "--data", description = "Directory with the MNIST IDX files (default: ${DEFAULT-VALUE}).")
        Path data = Mnist.defaultDirectory();

        @Option(names = "--epochs", description = "Epochs (default: the model's).")
        Integer epochs;

        @Option(names = "--batch-size", description = "Mini-batch size (default: the model's).")
        Integer batchSize;

        /** The batch size in use: --batch-size or the command's default, set by {@link #check}. */
        int batch = 128;

        @Option(names = "--lr", description = "Adam's learning rate (default: the model's).")
        Double lr;

        @Option(names = "--schedule", description = "Learning-rate schedule per epoch: ${COMPLETION-CANDIDATES}"
                + " (cosine: to 0 over --epochs; step: ×0.1 every third of --epochs; exponential: ×0.9; default:"
                + " the model's).")
        TrainCommand.ScheduleKind schedule;

        @Option(names = "--validation", description = "Fraction of the training set held out, in [0, 1)"
                + " (default: ${DEFAULT-VALUE}; gan trains on all of it).")
        double validation = 1.0 / 12;

        @Option(names = "--seed", description = "Seed for initialisation, shuffling and noise (default:"
                + " ${DEFAULT-VALUE}).")
        long seed = 1;

        @Option(names = "--threads", description = "Threads for OpenBLAS and oneDNN (default: gatun.threads).")
        Integer threads;

        @Option(names = "--csv", description = "Write per-epoch figures to this CSV file (to FILE.partial as the"
                + " run goes, moved over FILE when it finishes).")
        Path csv;

        @Option(names = "--chart", description = "Draw the loss and accuracy curves into this PNG file; a name not"
                + " ending in .png gets it appended.")
        Path chart;

        @Option(names = "--images", paramLabel = "DIR", description = "Directory for the PNG grids (default:"
                + " runs/<model>).")
        Path images;

        @Option(names = "--save", description = "Write the trained model (architecture and weights) to this"
                + " safetensors file; ModelFile.load reads it back and PyTorch reads its weights.")
        Path save;

        /** The chart's file as the chart writer names it. */
        Path chartFile() {
            return chart == null || chart.toString().toLowerCase(Locale.ROOT).endsWith(".png") ? chart
                    : Path.of(chart + ".png");
        }

        /** The grid directory: --images or runs/NAME. */
        Path imageDirectory(String name) {
            return images != null ? images : Path.of("runs", name);
        }

        /** Checks the shared options, adding each problem to {@code checks}. */
        Integer check(Checks checks, int defaultEpochs, int defaultBatch, String name, boolean validated) {
            int e = epochs != null ? epochs : defaultEpochs;
            batch = batchSize != null ? batchSize : defaultBatch;
            Path chartFile = chartFile();
            Path dir = imageDirectory(name);
            List<Path> inputs = Mnist.inputFiles(data); // what no output may replace
            checks.atLeast("--epochs", e, 1)
                    .atLeast("--batch-size", batch, 1)
                    .require(lr == null || (lr > 0 && lr < Double.POSITIVE_INFINITY), "--lr must be a finite number"
                            + " > 0, got " + lr)
                    .fraction("--validation", validation)
                    .require(validated || validation == 1.0 / 12 || validation == 0, "--validation does not apply"
                            + " to " + name + ", which trains on the whole training set")
                    .writable("--csv", String.valueOf(csv), csv)
                    .writable("--chart", String.valueOf(chart), chartFile)
                    .writable("--save", String.valueOf(save), save)
                    .notAnInput("--csv", csv, inputs)
                    .notAnInput("--chart", chartFile, inputs)
                    .notAnInput("--save", save, inputs)
                    .require(!Files.exists(dir) || Files.isDirectory(dir), "--images " + dir
                            + " is a file, not a directory");
            if (!Files.exists(dir) || Files.isDirectory(dir)) {
                checks.writable("--images", String.valueOf(dir), dir.resolve("samples.png"));
            }
            checks.require(!Checks.sameFile(csv, chartFile), "--csv and --chart name the"
                    + " same file, " + csv);
            return checks.threads("--threads", threads);
        }

        /** Loads MNIST in the given sample shape, checks it, and splits off validation (when asked). */
        Data load(long[] sampleShape, boolean validated, Checks checks) throws IOException {
            Mnist mnist = Mnist.load(data);
            if (mnist.train().size() == 0) {
                throw new IllegalArgumentException("the training set in " + data + " has no samples");
            }
            if (mnist.test().size() == 0) {
                throw new IllegalArgumentException("the test set in " + data + " has no samples");
            }
            Dataset train = mnist.train().reshape(sampleShape);
            Dataset test = mnist.test().reshape(sampleShape);
            Dataset val = null;
            double fraction = validated ? validation : 0;
            if (fraction > 0) {
                long held = Math.round(fraction * train.size());
                checks.require(held >= 1 && held <= train.size() - 1, "--validation " + fraction + " of the "
                        + train.size() + " training images leaves " + held + " for validation and "
                        + (train.size() - held) + " for training; each needs at least one (--validation 0 trains on"
                        + " all)");
                checks.throwIfAny();
                Dataset.Split split = train.split(fraction, seed);
                train = split.train();
                val = split.validation();
            }
            return new Data(train, val, test);
        }

        /**
         * The fit's configuration: epochs, output, CSV, chart, and a listener that runs {@code listener}, then
         * steps the learning-rate schedule (--schedule, else {@code byDefault}) of each optimizer.
         */
        Trainer.Config config(int epochs, PrintStream out, Trainer.EpochListener listener,
                              TrainCommand.ScheduleKind byDefault, Optimizer... optimizers) {
            return config(epochs, out, listener, schedules(epochs, byDefault, optimizers));
        }

        /** The fit's configuration with a listener that runs {@code listener}, then steps {@code schedules}. */
        Trainer.Config config(int epochs, PrintStream out, Trainer.EpochListener listener,
                              List<LearningRateSchedule> schedules) {
            return Trainer.Config.of(epochs).withOut(out).withCsvLog(csv).withChart(chartFile()).withListener(r -> {
                listener.epochEnded(r);
                schedules.forEach(LearningRateSchedule::step);
            });
        }

        /** The learning-rate schedule (--schedule, else {@code byDefault}) of each optimizer; none for NONE. */
        List<LearningRateSchedule> schedules(int epochs, TrainCommand.ScheduleKind byDefault, Optimizer... optimizers) {
            TrainCommand.ScheduleKind kind = schedule != null ? schedule : byDefault;
            List<LearningRateSchedule> schedules = new ArrayList<>();
            for (Optimizer opt : optimizers) {
                switch (kind) {
                    case NONE -> { }
                    case COSINE -> schedules.add(new CosineAnnealingLR(opt, epochs));
                    case STEP -> schedules.add(new StepLR(opt, Math.max(1, epochs / 3), 0.1));
                    case EXPONENTIAL -> schedules.add(new ExponentialLR(opt, 0.9));
                }
            }
            return schedules;
        }

        /** The schedule's name for the run's header line. */
        String scheduleName(TrainCommand.ScheduleKind byDefault) {
            TrainCommand.ScheduleKind kind = schedule != null ? schedule : byDefault;
            return kind == TrainCommand.ScheduleKind.NONE ? "" : ", " + kind.name().toLowerCase(Locale.ROOT)
                    + " schedule";
        }

        /** The loaders: training shuffled by the seed, validation and test in order. */
        Loaders loaders(Data d) {
            return new Loaders(new DataLoader(d.train(), batch, Order.shuffled(seed), LastBatch.KEEP),
                    d.validation() == null ? null
                            : new DataLoader(d.validation(), EVALUATION_BATCH, Order.sequential(), LastBatch.KEEP),
                    new DataLoader(d.test(), EVALUATION_BATCH, Order.sequential(), LastBatch.KEEP));
        }

        /** Applies --threads and seeds the default generator, after every check. */
        void start(Integer useThreads) {
            if (useThreads != null) {
                Threads.set(useThreads);
            }
            Init.manualSeed(seed);
        }

        /**
         * Prints where the logs and the saved model went, and saves the model with the shape of its input sample
         * (the autoencoders' and the VAE's images, the GAN's noise).
         */
        void finish(Module model, PrintStream out, long... sampleShape) throws IOException {
            if (csv != null) out.println("per-epoch log: " + csv);
            if (chart != null) out.println("curves: " + chartFile());
            if (save != null) {
                ModelFile.save(model, save, sampleShape);
                out.println("model: " + save);
            }
        }
    }

    /** The sets of a run: training, validation (or null) and test. */
    record Data(Dataset train, Dataset validation, Dataset test) {}

    /** The loaders of a run. */
    record Loaders(DataLoader train, DataLoader validation, DataLoader test) {}

    /** The first {@code n} images of a set, as a batch of the set's sample shape. */
    static Tensor firstImages(Dataset set, int n) {
        int k = Math.min(n, set.size());
        long[] shape = new long[set.featureShape().length + 1];
        shape[0] = k;
        System.arraycopy(set.featureShape(), 0, shape, 1, set.featureShape().length);
        float[] all = new float[k * set.featureSize()];
        for (int i = 0; i < k; i++) {
            System.arraycopy(set.features(i), 0, all, i * set.featureSize(), set.featureSize());
        }
        return Tensor.fromArray(all, shape);
    }

    /** Whether each pixel of a reconstruction lies on the same side of ½ as the original's. */
    static long pixelsRight(Tensor reconstruction, Tensor original, float threshold) {
        float[] y = reconstruction.contiguous().toArray();
        float[] x = original.contiguous().toArray();
        long right = 0;
        for (int i = 0; i < x.length; i++) {
            if ((y[i] > threshold) == (x[i] > 0.5f)) right++;
        }
        return right;
    }

    // ---------------------------------------------------------------- per-pass figures of a task

    /**
     * Sums of named figures per image over the last training pass and the last evaluation pass (the fit
     * loop evaluates after each epoch, before the epoch listener runs, so both are there for it).
     */
    static final class Figures {
        private final Map<String, double[]> training = new LinkedHashMap<>();
        private final Map<String, double[]> evaluation = new LinkedHashMap<>();
        private Map<String, double[]> current = training;
        private long trainingImages;
        private long evaluationImages;

        void start(Module model) {
            current = model.isTraining() ? training : evaluation;
            current.clear();
            if (model.isTraining()) trainingImages = 0;
            else evaluationImages = 0;
        }

        void add(long images, String name, double meanPerImage) {
            current.computeIfAbsent(name, k -> new double[1])[0] += meanPerImage * images;
        }

        void count(Module model, long images) {
            if (model.isTraining()) trainingImages += images;
            else evaluationImages += images;
        }

        /** The mean per image of a figure over the last pass of that kind, NaN if none. */
        double mean(boolean train, String name) {
            double[] s = (train ? training : evaluation).get(name);
            long n = train ? trainingImages : evaluationImages;
            return s == null || n == 0 ? Double.NaN : s[0] / n;
        }
    }

    // ---------------------------------------------------------------- tasks

    /**
     * An autoencoder's task: the mean squared error of the reconstruction against the clean input, per
     * pixel, from the input itself or, denoising, from a copy with Gaussian noise of {@code noise}
     * standard deviation (clipped to [0, 1]). Training draws fresh noise every batch; each evaluation
     * pass draws the same noise again, so that evaluations compare.
     */
    static final class Reconstruction extends Trainer.Task {
        final double noise;
        final long seed;
        final Figures figures = new Figures();
        private final Generator trainingNoise;
        private Generator evaluationNoise;

        Reconstruction(double noise, long seed) {
            this.noise = noise;
            this.seed = seed;
            this.trainingNoise = new Generator(seed * 31 + 7);
        }

        @Override
        public void startPass(Module model) {
            figures.start(model);
            evaluationNoise = new Generator(seed * 31 + 11);
        }

        /** The input the model sees for clean images x: x itself, or a noisy copy. */
        Tensor corrupt(Module model, Tensor x) {
            return noise == 0 ? x : Autoencoder.addNoise(x, noise, model.isTraining() ? trainingNoise
                    : evaluationNoise);
        }

        @Override
        public Trainer.BatchLoss step(Module model, Batch batch) {
            Tensor x = batch.inputs();
            Tensor in = corrupt(model, x);
            Tensor y = model.forward(in);
            Tensor loss = Loss.mse(y, x);
            long n = x.size(0);
            figures.count(model, n);
            if (noise > 0) {
                long pixels = x.numel() / n;
                figures.add(n, "noise", Loss.mse(in, x).item() * pixels);
                figures.add(n, "error", loss.item() * pixels);
            }
            return new Trainer.BatchLoss(loss, x.numel(), pixelsRight(y, x, 0.5f));
        }

        @Override
        public String unit() {
            return "pixel";
        }
    }

    /**
     * The VAE's task: the negative ELBO (reconstruction + KL) at one sample of z, reported per pixel
     * (its mean per image is that times the pixels) so that the loss reads in nats and bits per pixel;
     * a pixel is right when its probability is on the same side of ½ as the original.
     */
    static final class Elbo extends Trainer.Task {
        final Figures figures = new Figures();

        @Override
        public void startPass(Module model) {
            figures.start(model);
        }

        @Override
        public Trainer.BatchLoss step(Module model, Batch batch) {
            VAE vae = (VAE) model;
            Tensor x = batch.inputs();
            VAE.Terms t = vae.loss(x);
            long n = x.size(0);
            figures.count(model, n);
            figures.add(n, "reconstruction", t.reconstruction().item());
            figures.add(n, "kl", t.kl().item());
            float pixels = vae.inputs();
            return new Trainer.BatchLoss(t.total().div(pixels), n * vae.inputs(),
                    pixelsRight(t.output().logits(), x.reshape(n, vae.inputs()), 0f));
        }

        @Override
        public String unit() {
            return "pixel";
        }

        @Override
        public boolean inNats() {
            return true;
        }
    }

    /**
     * The GAN's task: each training batch is one round of {@link DCGAN#trainStep} with the two optimizers;
     * the loss the loop reports is the discriminator's per judged image (real or generated), its accuracy
     * the discriminator's right calls. The generator's loss and the scores are kept per pass.
     */
    static final class Adversarial extends Trainer.Task {
        final Optimizer discriminator;
        final Optimizer generator;
        final Figures figures = new Figures();
        private final long seed;
        private Generator evaluationNoise;

        Adversarial(Optimizer discriminator, Optimizer generator, long seed) {
            this.discriminator = discriminator;
            this.generator = generator;
            this.seed = seed;
        }

        @Override
        public void startPass(Module model) {
            figures.start(model);
            evaluationNoise = new Generator(seed * 31 + 13);
        }

        @Override
        public boolean updatesItself() {
            return true;
        }

        /** Both optimizers, so that the fit's checkpoints hold both. */
        @Override
        public Map<String, Optimizer> optimizers() {
            Map<String, Optimizer> out = new LinkedHashMap<>();
            out.put("discriminator", discriminator);
            out.put("generator", generator);
            return out;
        }

        @Override
        public Trainer.BatchLoss update(Module model, Batch batch) {
            return report(model, ((DCGAN) model).trainStep(batch.inputs(), discriminator, generator), batch);
        }

        @Override
        public Trainer.BatchLoss step(Module model, Batch batch) {
            return report(model, ((DCGAN) model).losses(batch.inputs(), evaluationNoise), batch);
        }

        private Trainer.BatchLoss report(Module model, DCGAN.Step s, Batch batch) {
            long n = batch.size();
            figures.count(model, n);
            figures.add(n, "discriminator", s.discriminatorLoss().item());
            figures.add(n, "generator", s.generatorLoss());
            figures.add(n, "real", s.realScore());
            figures.add(n, "fake", s.fakeScore());
            return new Trainer.BatchLoss(s.discriminatorLoss().mul(0.5f), 2 * n, s.correct());
        }

        @Override
        public String unit() {
            return "judged image";
        }
    }

    // ---------------------------------------------------------------- labelled image grids

    /**
     * A labelled grid of grayscale images, drawn with java.awt and written as PNG: a title, optional
     * column labels, and rows of tiles, each row with its label on the left. Pixel values map linearly
     * from [low, high] to black..white, clamped.
     */
    static final class ImageGrid {
        private static final int SCALE = 2;
        private static final int GAP = 2;
        private final String title;
        private final int height;
        private final int width;
        private final List<String> labels = new ArrayList<>();
        private final List<float[][]> rows = new ArrayList<>();
        private List<String> columnLabels = List.of();

        ImageGrid(String title, int height, int width) {
            this.title = title;
            this.height = height;
            this.width = width;
        }

        /** Adds a row of images [k, ...] (each height·width values), mapped from [low, high]. */
        ImageGrid row(String label, Tensor images, float low, float high) {
            int k = (int) images.size(0);
            int pixels = height * width;
            float[] v = images.contiguous().toArray();
            if (v.length != k * pixels) {
                throw new IllegalArgumentException("a grid row of " + height + "×" + width + " images got shape "
                        + java.util.Arrays.toString(images.shape()));
            }
            float[][] tiles = new float[k][pixels];
            for (int i = 0; i < k; i++) {
                for (int p = 0; p < pixels; p++) {
                    tiles[i][p] = Math.min(1f, Math.max(0f, (v[i * pixels + p] - low) / (high - low)));
                }
            }
            labels.add(label);
            rows.add(tiles);
            return this;
        }

        /** Adds {@code images} as rows of {@code perRow}, labelled by {@code label(r)}. */
        ImageGrid rows(Tensor images, int perRow, java.util.function.IntFunction<String> label, float low,
                       float high) {
            for (int r = 0; r * perRow < images.size(0); r++) {
                long end = Math.min(images.size(0), (long) (r + 1) * perRow);
                row(label.apply(r), images.slice(0, (long) r * perRow, end), low, high);
            }
            return this;
        }

        ImageGrid columns(List<String> labels) {
            this.columnLabels = List.copyOf(labels);
            return this;
        }

        /** Draws the grid and writes it to {@code png}, making missing directories. */
        void write(Path png) throws IOException {
            Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
            Font bold = font.deriveFont(Font.BOLD, 13f);
            BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
            Graphics2D pg = probe.createGraphics();
            FontMetrics fm = pg.getFontMetrics(font);
            int labelWidth = 0;
            for (String l : labels) labelWidth = Math.max(labelWidth, fm.stringWidth(l));
            int titleWidth = pg.getFontMetrics(bold).stringWidth(title);
            pg.dispose();
            labelWidth += labelWidth > 0 ? 10 : 6;
            int columns = 0;
            for (float[][] r : rows) columns = Math.max(columns, r.length);
            int tileW = width * SCALE;
            int tileH = height * SCALE;
            int top = 24 + (columnLabels.isEmpty() ? 0 : 16);
            int w = Math.max(labelWidth + columns * (tileW + GAP) + 8, titleWidth + 16);
            int h = top + rows.size() * (tileH + GAP) + 6;
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, w, h);
            g.setColor(Color.BLACK);
            g.setFont(bold);
            g.drawString(title, 6, 17);
            g.setFont(font);
            for (int c = 0; c < columnLabels.size() && c < columns; c++) {
                String s = columnLabels.get(c);
                g.drawString(s, labelWidth + c * (tileW + GAP) + (tileW - fm.stringWidth(s)) / 2, top - 4);
            }
            for (int r = 0; r < rows.size(); r++) {
                int y0 = top + r * (tileH + GAP);
                g.setColor(Color.BLACK);
                g.drawString(labels.get(r), 4, y0 + tileH / 2 + fm.getAscent() / 2 - 1);
                float[][] tiles = rows.get(r);
                for (int c = 0; c < tiles.length; c++) {
                    int x0 = labelWidth + c * (tileW + GAP);
                    for (int y = 0; y < height; y++) {
                        for (int x = 0; x < width; x++) {
                            int gray = Math.round(255 * tiles[c][y * width + x]);
                            int rgb = gray << 16 | gray << 8 | gray;
                            for (int dy = 0; dy < SCALE; dy++) {
                                for (int dx = 0; dx < SCALE; dx++) {
                                    img.setRGB(x0 + x * SCALE + dx, y0 + y * SCALE + dy, rgb);
                                }
                            }
                        }
                    }
                }
            }
            g.dispose();
            Path parent = png.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            if (!ImageIO.write(img, "png", png.toFile())) {
                throw new IOException("no PNG writer for " + png);
            }
        }
    }

    // ---------------------------------------------------------------- footprints

    /** The footprint of a model for {@link TrainCommand.Network#tooLarge}: parameters, largest, activations. */
    static TrainCommand.Network network(String name, String sizeOption, Supplier<Module> build, long[] sampleShape,
                                        double parameters, double largest, double activations) {
        return new TrainCommand.Network(name, sizeOption, build, sampleShape, parameters, largest, activations);
    }

    /** Refuses, with one line naming the options, a model or batch this machine cannot hold. */
    static void checkFootprint(Checks checks, TrainCommand.Network n, int batch, boolean validated) {
        checks.add(n.tooLarge(Optimizers.Kind.ADAM, 2, Math.max(1, batch), validated ? EVALUATION_BATCH : 0, false,
                batch));
        checks.throwIfAny();
    }

    /** Adam with the given learning rate and PyTorch's other defaults. */
    static Adam adam(List<Tensor> parameters, double lr) {
        return new Adam(parameters, Adam.Options.DEFAULTS.withLearningRate(lr));
    }

    private static String epochLine(String what, double... values) {
        return String.format(Locale.ROOT, what, (Object[]) java.util.Arrays.stream(values).boxed()
                .toArray(Double[]::new));
    }

    // ---------------------------------------------------------------- ae and dae

    /** What ae and dae share: the architecture options and the run. */
    abstract static class AutoencoderCommand implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Options options;

        /** The two architectures. */
        enum Arch { MLP, CONV }

        @Option(names = "--arch", description = "mlp (784-hidden-latent-hidden-784) or conv (strided convolutions"
                + " down, transposed convolutions up) (default: the command's).")
        Arch arch;

        @Option(names = "--latent", description = "The code's size (default: ${DEFAULT-VALUE}).")
        int latent = 32;

        @Option(names = "--hidden", description = "The MLP's hidden width (default: ${DEFAULT-VALUE}).")
        int hidden = 256;

        /** The autoencoders' learning-rate schedule unless --schedule says otherwise. */
        static final TrainCommand.ScheduleKind SCHEDULE = TrainCommand.ScheduleKind.NONE;

        abstract String name();

        abstract Arch defaultArch();

        /** The autoencoder of {@code arch} with its footprint, counted without building it. */
        static TrainCommand.Network network(Arch arch, int hidden, int latent) {
            double h = hidden, l = latent;
            if (arch == Arch.MLP) {
                return GenerativeCommands.network("the MLP autoencoder", "--hidden " + hidden + " --latent " + latent,
                        () -> Autoencoder.mlp(784, hidden, latent), new long[] {784},
                        2 * 784 * h + 2 * h * l + 2 * h + l + 784, 784 * h, 4 * h + 2 * l + 2 * 784);
            }
            // conv 1 → 16 and 16 → 32 (3×3), linear 1568 → latent and back, transposed conv 32 → 16 and 16 → 1
            double parameters = (16 * 9 + 16) + (32 * 16 * 9 + 32) + (1568 * l + l) + (1568 * l + 1568)
                    + (32 * 16 * 9 + 16) + (16 * 9 + 1);
            return GenerativeCommands.network("the convolutional autoencoder", "--latent " + latent,
                    () -> Autoencoder.conv(1, 28, 28, latent), new long[] {1, 28, 28}, parameters,
                    Math.max(1568 * l, 32 * 16 * 9), 4 * (16 * 196 + 32 * 49) + 2 * 1568 + l + 2 * 784);
        }

        abstract double noise();

        @Override
        public Integer call() throws Exception {
            PrintStream out = System.out;
            Checks checks = new Checks(spec.commandLine());
            Arch a = arch != null ? arch : defaultArch();
            checks.atLeast("--latent", latent, 1).atLeast("--hidden", hidden, 1);
            checks.require(Double.isFinite(noise()) && noise() >= 0, "--noise must be a finite number >= 0, got "
                    + noise());
            Integer useThreads = options.check(checks, 10, 128, name(), true);
            checks.throwIfAny();
            TrainCommand.Network net = network(a, hidden, latent);
            long[] shape = net.sampleShape();
            checkFootprint(checks, net, options.batch, options.validation > 0);

            Data data = options.load(shape, true, checks);
            options.start(useThreads);
            double lr = options.lr != null ? options.lr : 1e-3;
            int epochs = options.epochs != null ? options.epochs : 10;
            Reconstruction task = new Reconstruction(noise(), options.seed);
            Path dir = options.imageDirectory(name());
            try (Module model = net.build().get(); Optimizer opt = adam(model.parameters(), lr)) {
                long[] summary = new long[shape.length + 1];
                summary[0] = 1;
                System.arraycopy(shape, 0, summary, 1, shape.length);
                out.print(model.summary(summary));
                Loaders loaders = options.loaders(data);
                out.printf(Locale.ROOT, "training on %,d images, validating on %,d, testing on %,d; adam lr %s%s,"
                        + " batch %d, %d threads%s%n", data.train().size(), data.validation() == null ? 0
                        : data.validation().size(), data.test().size(), lr, options.scheduleName(SCHEDULE),
                        options.batch, Threads.get(), noise() > 0 ? String.format(Locale.ROOT, "; inputs with Gaussian noise of std %s, clipped to"
                                + " [0, 1]", noise()) : "");
                Trainer.Config config = options.config(epochs, out, r -> {
                    if (noise() > 0) {
                        out.println(epochLine("  per image: train squared error %.2f (noise %.2f)"
                                + (Double.isNaN(task.figures.mean(false, "error")) ? ""
                                        : " | validation %.2f (noise %.2f)"),
                                task.figures.mean(true, "error"), task.figures.mean(true, "noise"),
                                task.figures.mean(false, "error"), task.figures.mean(false, "noise")));
                    }
                }, SCHEDULE, opt);
                Trainer.History history = Trainer.fit(model, opt, task, loaders.train(), loaders.validation(), config);
                Trainer.Evaluation test = Trainer.evaluate(model, task, loaders.test());
                if (noise() > 0) {
                    double error = test.loss();
                    double noiseMse = task.figures.mean(false, "noise") / 784;
                    out.printf(Locale.ROOT, "test MSE %.5f per pixel from the noisy inputs, whose own MSE is %.5f:"
                            + " %.3f of it; pixels on the right side of 1/2: %.2f%%%n", error, noiseMse,
                            error / noiseMse, 100 * test.accuracy());
                } else {
                    out.printf(Locale.ROOT, "test MSE %.5f per pixel (%.2f per image); pixels on the right side of"
                            + " 1/2: %.2f%%%n", test.loss(), test.loss() * 784, 100 * test.accuracy());
                }
                out.printf(Locale.ROOT, "speed: %.1f s per epoch of training, %,.0f images/s%n", history.epochs()
                        .stream().mapToDouble(Trainer.EpochResult::seconds).average().orElse(0), history.epochs()
                        .stream().mapToDouble(Trainer.EpochResult::samplesPerSecond).average().orElse(0) / 784);
                Path png = dir.resolve("reconstructions.png");
                drawReconstructions(model, task, data.test(), shape, png);
                out.println("images: " + png);
                options.finish(model, out, shape);
            }
            return 0;
        }

        private void drawReconstructions(Module model, Reconstruction task, Dataset test, long[] shape, Path png)
                throws IOException {
            try (Scope s = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
                model.eval();
                Tensor x = firstImages(test, 12);
                task.startPass(model); // the evaluation's noise
                Tensor in = task.corrupt(model, x);
                Tensor y = model.forward(in);
                ImageGrid grid = new ImageGrid(noise() > 0 ? "Denoising autoencoder: test images, noisy (std "
                        + noise() + "), denoised" : "Autoencoder: test images and their reconstructions", 28, 28)
                        .row("original", x, 0, 1);
                if (noise() > 0) grid.row("noisy input", in, 0, 1);
                grid.row(noise() > 0 ? "denoised" : "reconstruction", y, 0, 1).write(png);
            }
        }
    }

    @Command(name = "ae", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train an autoencoder on MNIST and report the test reconstruction error; draws"
                    + " reconstructions beside the originals (<images>/reconstructions.png).",
                    "Default: --arch mlp (784-256-32-256-784, ReLU, sigmoid output), mean squared error, Adam 1e-3,"
                    + " batch 128, 10 epochs."})
    static final class Ae extends AutoencoderCommand {
        @Override
        String name() {
            return "ae";
        }

        @Override
        Arch defaultArch() {
            return Arch.MLP;
        }

        @Override
        double noise() {
            return 0;
        }
    }

    @Command(name = "dae", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train a denoising autoencoder on MNIST: Gaussian noise added to the inputs (clipped to"
                    + " [0, 1]), the clean images as targets. Reports the test error from noisy inputs against the"
                    + " noise's own; draws originals, noisy inputs and their denoised reconstructions"
                    + " (<images>/reconstructions.png).",
                    "Default: --arch conv (conv 3×3 stride 2 to 16 and 32 channels, linear to the code, and back"
                    + " with transposed convolutions), --noise 0.5, Adam 1e-3, batch 128, 10 epochs."})
    static final class Dae extends AutoencoderCommand {
        @Option(names = "--noise", description = "Standard deviation of the Gaussian noise on the inputs"
                + " (default: ${DEFAULT-VALUE}).")
        double noise = 0.5;

        @Override
        String name() {
            return "dae";
        }

        @Override
        Arch defaultArch() {
            return Arch.CONV;
        }

        @Override
        double noise() {
            return noise;
        }
    }

    // ---------------------------------------------------------------- vae

    @Command(name = "vae", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train a variational autoencoder on MNIST (784-400-20: encoder to the mean and"
                    + " log-variance of q(z|x), a reparameterised sample, a Bernoulli decoder on logits) and report"
                    + " the test negative ELBO in nats per image, its reconstruction (binary cross-entropy summed"
                    + " over the pixels) and KL terms. Per epoch the loss is shown per pixel.",
                    "Draws <images>/reconstructions.png, samples from the prior (<images>/samples.png) and a walk"
                    + " over latent dimensions 0 and 1 at the normal quantiles (<images>/latent-walk.png; with"
                    + " --latent 2 the whole learned manifold).",
                    "Default: Adam 2e-3 with a cosine schedule to 0, batch 64, 10 epochs: a test negative ELBO of"
                    + " 103.7 nats on MNIST (PyTorch's example, Adam 1e-3 and batch 128 without a schedule, gives"
                    + " about 106 here)."})
    static final class Vae implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Options options;

        @Option(names = "--hidden", description = "Hidden width of encoder and decoder (default: ${DEFAULT-VALUE}).")
        int hidden = 400;

        @Option(names = "--latent", description = "Latent dimensions (default: ${DEFAULT-VALUE}).")
        int latent = 20;

        @Option(names = "--walk-steps", description = "Points per side of the latent walk (default:"
                + " ${DEFAULT-VALUE}).")
        int walkSteps = 15;

        /** The VAE's learning-rate schedule unless --schedule says otherwise. */
        static final TrainCommand.ScheduleKind SCHEDULE = TrainCommand.ScheduleKind.COSINE;

        @Override
        public Integer call() throws Exception {
            PrintStream out = System.out;
            Checks checks = new Checks(spec.commandLine());
            checks.atLeast("--hidden", hidden, 1).atLeast("--latent", latent, 1)
                    .require(latent >= 2 || walkSteps == 15, "--walk-steps needs --latent 2 or more")
                    .require(walkSteps >= 2 && walkSteps <= 100, "--walk-steps must be in [2, 100], got " + walkSteps);
            Integer useThreads = options.check(checks, 10, 64, "vae", true);
            checks.throwIfAny();
            long[] shape = {784};
            TrainCommand.Network net = network(hidden, latent);
            checkFootprint(checks, net, options.batch, options.validation > 0);

            Data data = options.load(shape, true, checks);
            options.start(useThreads);
            double lr = options.lr != null ? options.lr : 2e-3;
            int epochs = options.epochs != null ? options.epochs : 10;
            Elbo task = new Elbo();
            Path dir = options.imageDirectory("vae");
            try (VAE model = (VAE) net.build().get(); Optimizer opt = adam(model.parameters(), lr)) {
                out.print(model.summary(1, 784));
                Loaders loaders = options.loaders(data);
                out.printf(Locale.ROOT, "training on %,d images, validating on %,d, testing on %,d; adam lr %s%s,"
                        + " batch %d, %d threads%n", data.train().size(), data.validation() == null ? 0
                        : data.validation().size(), data.test().size(), lr, options.scheduleName(SCHEDULE),
                        options.batch, Threads.get());
                Trainer.Config config = options.config(epochs, out, r -> out.println("  " + terms(task, "train", true)
                        + (Double.isNaN(r.validationLoss()) ? "" : " | " + terms(task, "validation", false))),
                        SCHEDULE, opt);
                Trainer.History history = Trainer.fit(model, opt, task, loaders.train(), loaders.validation(), config);
                Trainer.evaluate(model, task, loaders.test());
                out.printf(Locale.ROOT, "test negative ELBO %.2f nats per image (reconstruction %.2f + KL %.2f)"
                        + " after %d epochs%n", task.figures.mean(false, "reconstruction")
                        + task.figures.mean(false, "kl"), task.figures.mean(false, "reconstruction"),
                        task.figures.mean(false, "kl"), history.epochs().size());
                out.printf(Locale.ROOT, "speed: %.1f s per epoch of training, %,.0f images/s%n", history.epochs()
                        .stream().mapToDouble(Trainer.EpochResult::seconds).average().orElse(0), history.epochs()
                        .stream().mapToDouble(Trainer.EpochResult::samplesPerSecond).average().orElse(0) / 784);
                try (Scope s = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
                    model.eval();
                    Tensor x = firstImages(data.test(), 12);
                    VAE.Output o = model.run(x);
                    new ImageGrid("VAE: test images and their reconstructions (pixel probabilities at one sample of"
                            + " z)", 28, 28).row("original", x, 0, 1).row("reconstruction", o.logits().sigmoid(), 0, 1)
                            .write(dir.resolve("reconstructions.png"));
                    new ImageGrid("VAE: 64 samples from the prior, σ(decoder(z)) for z ~ N(0, I)", 28, 28)
                            .rows(model.sample(64, new Generator(options.seed)), 8, r -> "", 0, 1)
                            .write(dir.resolve("samples.png"));
                    int steps = Math.min(walkSteps, 100);
                    List<String> z0 = new ArrayList<>();
                    for (int j = 0; j < steps; j++) z0.add(quantile(j, steps));
                    new ImageGrid("VAE: latent walk, z0 across and z1 down at normal quantiles"
                            + (latent > 2 ? ", other dimensions 0" : ""), 28, 28).columns(z0)
                            .rows(model.latentWalk(steps), steps, r -> "z1 " + quantile(r, steps), 0, 1)
                            .write(dir.resolve("latent-walk.png"));
                }
                out.println("images: " + dir.resolve("reconstructions.png") + ", " + dir.resolve("samples.png") + ", "
                        + dir.resolve("latent-walk.png"));
                options.finish(model, out, shape);
            }
            return 0;
        }

        /** The VAE 784-hidden-latent with its footprint, counted without building it. */
        static TrainCommand.Network network(int hidden, int latent) {
            double h = hidden, l = latent;
            // fc1 784 → h, fc_mu and fc_logvar h → l, fc3 l → h, fc4 h → 784
            return GenerativeCommands.network("the VAE", "--hidden " + hidden + " --latent " + latent,
                    () -> new VAE(784, hidden, latent), new long[] {784}, 2 * 784 * h + 3 * h * l + 2 * h + 2 * l + 784,
                    Math.max(784 * h, h * l), 4 * h + 6 * l + 3 * 784);
        }

        private static String quantile(int i, int steps) {
            return String.format(Locale.ROOT, "%+.2f", VAE.walkCoordinates(steps)[i]);
        }

        private static String terms(Elbo task, String what, boolean train) {
            double rec = task.figures.mean(train, "reconstruction");
            double kl = task.figures.mean(train, "kl");
            return String.format(Locale.ROOT, "%s negative ELBO %.2f nats/image = reconstruction %.2f + KL %.2f",
                    what, rec + kl, rec, kl);
        }
    }

    // ---------------------------------------------------------------- gan

    @Command(name = "gan", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Train a DCGAN on MNIST (generator: linear 100 → 128·7·7, batch norm, ReLU, transposed"
                    + " convolutions 128 → 64 → 1 (4×4, stride 2), tanh; discriminator: convolutions 1 → 64 → 128"
                    + " (4×4, stride 2) with LeakyReLU 0.2 and batch norm, linear to one logit). Each step updates"
                    + " the discriminator once on real and generated images, then the generator once through the"
                    + " frozen discriminator; Adam for each, binary cross-entropy on logits. Images are scaled to"
                    + " [-1, 1]; the whole training set is used.",
                    "Per epoch: the discriminator's loss per judged image and its accuracy, the generator's loss,"
                    + " D(x) and D(G(z)); every --sample-every epochs a grid of 64 samples from the same noise"
                    + " (<images>/samples-epoch-N.png), and <images>/samples.png at the end.",
                    "Default: Adam 2e-4 with betas (0.5, 0.999), batch 128, 5 epochs."})
    static final class Gan implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Options options;

        @Option(names = "--noise-dim", description = "Dimensions of the generator's noise z (default:"
                + " ${DEFAULT-VALUE}).")
        int noiseDim = DCGAN.DEFAULT_NOISE;

        @Option(names = "--beta1", description = "Adam's beta1 for both networks (default: ${DEFAULT-VALUE}).")
        double beta1 = 0.5;

        @Option(names = "--sample-every", description = "Epochs between sample grids (default: ${DEFAULT-VALUE}).")
        int sampleEvery = 1;

        @Option(names = "--checkpoint-dir", paramLabel = "DIR", description = "Write a checkpoint (weights, both"
                + " optimizers, schedules, random generators, the epochs so far) into this directory as"
                + " ckpt-<step>.safetensors at the end of each epoch, keeping the newest 3.")
        Path checkpointDir;

        @Option(names = "--resume", paramLabel = "FILE|DIR", description = "Continue the run a checkpoint was written"
                + " by (same options and --seed): a checkpoint file, or a directory to take its newest good one. The"
                + " result is bit-identical to a run that was never stopped.")
        Path resume;

        @Override
        public Integer call() throws Exception {
            PrintStream out = System.out;
            Checks checks = new Checks(spec.commandLine());
            checks.atLeast("--noise-dim", noiseDim, 1)
                    .require(beta1 >= 0 && beta1 < 1, "--beta1 must be in [0, 1), got " + beta1)
                    .atLeast("--sample-every", sampleEvery, 1)
                    .require(checkpointDir == null || !Files.exists(checkpointDir) || Files.isDirectory(checkpointDir),
                            "--checkpoint-dir " + checkpointDir + " is a file, not a directory")
                    .require(resume == null || Files.exists(resume), "--resume " + resume
                            + ": no such checkpoint file or directory");
            Integer useThreads = options.check(checks, 5, 128, "gan", false);
            checks.throwIfAny();
            long[] shape = {1, 28, 28};
            TrainCommand.Network net = network(noiseDim);
            checkFootprint(checks, net, options.batch, false);

            Data raw = options.load(shape, false, checks);
            // tanh's range: pixels from [0, 1] to [-1, 1].
            Data data = new Data(raw.train().normalize(0.5, 0.5), null, raw.test().normalize(0.5, 0.5));
            options.start(useThreads);
            double lr = options.lr != null ? options.lr : 2e-4;
            int epochs = options.epochs != null ? options.epochs : 5;
            Path dir = options.imageDirectory("gan");
            try (DCGAN model = (DCGAN) net.build().get();
                 Optimizer dOpt = new Adam(model.discriminatorNetwork().parameters(),
                         Adam.Options.DEFAULTS.withLearningRate(lr).withBetas(beta1, 0.999));
                 Optimizer gOpt = new Adam(model.generatorNetwork().parameters(),
                         Adam.Options.DEFAULTS.withLearningRate(lr).withBetas(beta1, 0.999))) {
                out.print(model.summary(1, noiseDim));
                Loaders loaders = options.loaders(data);
                out.printf(Locale.ROOT, "training on %,d images; adam lr %s betas (%s, 0.999)%s for each network,"
                        + " batch %d, %d threads%n", data.train().size(), lr, beta1,
                        options.scheduleName(TrainCommand.ScheduleKind.NONE), options.batch, Threads.get());
                Adversarial task = new Adversarial(dOpt, gOpt, options.seed);
                // The same noise for every grid, so that the grids show one set of samples improving.
                Tensor fixed = Tensor.randn(new Generator(options.seed * 31 + 17), 64, noiseDim);
                List<Path> written = new ArrayList<>();
                List<LearningRateSchedule> schedules = options.schedules(epochs, TrainCommand.ScheduleKind.NONE, dOpt,
                        gOpt);
                Trainer.Config config = options.config(epochs, out, r -> {
                    out.println(epochLine("  discriminator loss (real + generated) %.4f, generator loss %.4f,"
                            + " D(x) %.3f, D(G(z)) %.3f", task.figures.mean(true, "discriminator"),
                            task.figures.mean(true, "generator"), task.figures.mean(true, "real"),
                            task.figures.mean(true, "fake")));
                    if (r.epoch() % sampleEvery == 0 || r.epoch() == epochs) {
                        Path png = dir.resolve("samples-epoch-" + r.epoch() + ".png");
                        try {
                            drawSamples(model, fixed, "DCGAN: 64 samples from fixed noise after epoch " + r.epoch(),
                                    png);
                        } catch (IOException e) {
                            throw new UncheckedIOException("cannot write " + png + ": " + e.getMessage(), e);
                        }
                        written.add(png);
                    }
                }, schedules);
                Trainer.History history;
                // Resuming: the model, optimizers and schedules are made from the options and seed as in the first
                // run, then the checkpoint puts back what training had changed: the weights, both optimizers (the
                // task names them to the fit), the schedules and the random generators.
                try (Checkpoint from = resume == null ? null : Checkpoint.resolve(resume, System.err)) {
                    if (checkpointDir != null || from != null) {
                        config = config.withCheckpointing(new Trainer.Checkpointing(checkpointDir, 0, 3, schedules,
                                from));
                    }
                    // The fit's optimizer is the generator's: its learning rate is the one the epochs report.
                    history = Trainer.fit(model, gOpt, task, loaders.train(), null, config);
                }
                Path last = dir.resolve("samples.png");
                drawSamples(model, fixed, "DCGAN: 64 samples from fixed noise after " + history.epochs().size()
                        + " epochs", last);
                out.printf(Locale.ROOT, "speed: %.1f s per epoch of training, %,.0f images/s%n", history.epochs()
                        .stream().mapToDouble(Trainer.EpochResult::seconds).average().orElse(0), history.epochs()
                        .stream().mapToDouble(Trainer.EpochResult::samplesPerSecond).average().orElse(0) / 2);
                out.println("images: " + last + (written.isEmpty() ? "" : " and " + written.size()
                        + " per-epoch grids in " + dir));
                options.finish(model, out, noiseDim);
            }
            return 0;
        }

        /** The DCGAN with its footprint, counted without building it. */
        static TrainCommand.Network network(int noiseDim) {
            // G: linear z → 6272, batch norm 6272, transposed convs 128 → 64 → 1 (4×4), batch norm 64.
            double g = noiseDim * 6272.0 + 6272 + 2 * 6272 + 128 * 64 * 16 + 64 + 2 * 64 + 64 * 16 + 1;
            // D: convs 1 → 64 → 128 (4×4), batch norm 128, linear 6272 → 1.
            double d = 64 * 16 + 64 + 128 * 64 * 16 + 128 + 2 * 128 + 6272 + 1;
            return GenerativeCommands.network("the DCGAN", "--noise-dim " + noiseDim, () -> new DCGAN(noiseDim),
                    new long[] {1, 28, 28}, g + d, Math.max(noiseDim * 6272.0, 128 * 64 * 16),
                    4 * 6272 + 4 * 64 * 196 + 3 * 784 + 2 * (64 * 196 + 3 * 6272));
        }

        private static void drawSamples(DCGAN model, Tensor z, String title, Path png) throws IOException {
            boolean training = model.isTraining();
            try (Scope s = Scope.open(); Autograd.NoGrad ignored = Autograd.noGrad()) {
                model.eval();
                new ImageGrid(title, 28, 28).rows(model.forward(z), 8, r -> "", -1, 1).write(png);
            } finally {
                if (training) model.train();
            }
        }
    }
}
