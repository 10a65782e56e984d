package dev.gatun.cli;

import static dev.gatun.cli.CliRun.gatun;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.IdxFiles;
import dev.gatun.io.ModelFile;
import dev.gatun.nn.Autoencoder;
import dev.gatun.nn.DCGAN;
import dev.gatun.nn.Module;
import dev.gatun.nn.VAE;
import dev.gatun.tensor.Tensor;
import dev.gatun.train.Checkpoint;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gatun train ae|dae|vae|gan} end to end on a small MNIST-shaped data set made here (a bright
 * block per class, plus noise): each trains, reports its figures, writes its log, curves and labelled
 * PNG grids; bad options are one-line usage errors before any data is read.
 */
class GenerativeCommandsTest {

    private static void digits(Path dir, int train, int test) throws IOException {
        IdxFiles.writeDigits(dir, "train", train, 1);
        IdxFiles.writeDigits(dir, "t10k", test, 2);
    }

    private static double number(String out, String regex) {
        Matcher m = Pattern.compile(regex).matcher(out);
        assertTrue(m.find(), regex + " in:\n" + out);
        return Double.parseDouble(m.group(1));
    }

    /** Reads a PNG and checks its size: a title band, then rows of 56-pixel tiles (28 doubled) 2 apart. */
    private static BufferedImage png(Path file, int rows, int minColumns) throws IOException {
        assertTrue(Files.isRegularFile(file), file + " written");
        BufferedImage img = ImageIO.read(file.toFile());
        assertTrue(img.getHeight() >= 24 + rows * 58 && img.getHeight() <= 24 + 16 + rows * 58 + 6,
                file + ": height " + img.getHeight() + " for " + rows + " rows");
        assertTrue(img.getWidth() >= minColumns * 58, file + ": width " + img.getWidth());
        return img;
    }

    @Test
    void aeTrainsReportsAndDrawsReconstructions(@TempDir Path dir) throws IOException {
        digits(dir, 300, 60);
        Path images = dir.resolve("images");
        Path csv = dir.resolve("log.csv");
        Path chart = dir.resolve("curves.png");
        CliRun r = gatun("train", "ae", "--data", dir.toString(), "--epochs", "10", "--batch-size", "16",
                "--hidden", "64", "--latent", "8", "--lr", "0.003", "--images", images.toString(), "--csv",
                csv.toString(), "--chart", chart.toString());
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("Linear(64 → 8)") && r.out().contains("total parameters: 102,296"),
                r.out()); // 2·784·64 + 2·64·8 + 2·64 + 8 + 784
        // The blocks are learnt: the error is well below the images' own spread around their mean.
        double mse = number(r.out(), "test MSE ([0-9.]+) per pixel");
        assertTrue(mse < 0.02, r.out());
        assertTrue(number(r.out(), "right side of 1/2: ([0-9.]+)%") > 90, r.out());
        assertTrue(r.out().contains("pixels/s"), r.out());
        assertEquals(11, Files.readAllLines(csv).size(), "header and ten epochs");
        assertTrue(Files.size(chart) > 1000);
        png(images.resolve("reconstructions.png"), 2, 12);
    }

    @Test
    void daeDenoisesBelowTheNoise(@TempDir Path dir) throws IOException {
        digits(dir, 300, 60);
        Path images = dir.resolve("out");
        CliRun r = gatun("train", "dae", "--data", dir.toString(), "--epochs", "3", "--batch-size", "32",
                "--latent", "16", "--lr", "0.003", "--images", images.toString(), "--validation", "0.2", "--save",
                dir.resolve("dae.safetensors").toString());
        assertEquals(0, r.code(), r.err() + r.out());
        try (Module saved = ModelFile.load(dir.resolve("dae.safetensors"))) {
            assertInstanceOf(Autoencoder.class, saved);
            assertEquals("convolutional autoencoder 1×28×28 → 16", saved.describe());
        }
        assertArrayEquals(new long[] {1, 28, 28}, ModelFile.sampleShape(dir.resolve("dae.safetensors")));
        assertTrue(r.out().contains("ConvTranspose2d(32 → 16, 3×3, stride 2, padding 1, output padding 1)"), r.out());
        assertTrue(r.out().contains("validating on 60"), r.out());
        double error = number(r.out(), "test MSE ([0-9.]+) per pixel from the noisy inputs");
        double noise = number(r.out(), "whose own MSE is ([0-9.]+)");
        assertTrue(noise > 0.05 && error < 0.5 * noise, r.out());
        assertTrue(r.out().contains("per image: train squared error"), r.out());
        png(images.resolve("reconstructions.png"), 3, 12); // original, noisy, denoised
    }

    @Test
    void vaeReportsItsTermsAndDrawsSamplesAndTheWalk(@TempDir Path dir) throws IOException {
        digits(dir, 300, 60);
        Path images = dir.resolve("vae");
        Path csv = dir.resolve("vae.csv");
        CliRun r = gatun("train", "vae", "--data", dir.toString(), "--epochs", "3", "--batch-size", "32",
                "--hidden", "64", "--latent", "2", "--walk-steps", "6", "--images", images.toString(), "--csv",
                csv.toString(), "--save", dir.resolve("vae.safetensors").toString());
        assertEquals(0, r.code(), r.err() + r.out());
        try (Module saved = ModelFile.load(dir.resolve("vae.safetensors"))) {
            assertEquals("VAE(784-64-2)", assertInstanceOf(VAE.class, saved).describe());
        }
        assertArrayEquals(new long[] {784}, ModelFile.sampleShape(dir.resolve("vae.safetensors")));
        assertTrue(r.out().contains("VAE(784-64-2)"), r.out());
        assertTrue(r.out().contains("bits/pixel") && r.out().contains("train negative ELBO"), r.out());
        double elbo = number(r.out(), "test negative ELBO ([0-9.]+) nats per image");
        double rec = number(r.out(), "\\(reconstruction ([0-9.]+) \\+");
        double kl = number(r.out(), "\\+ KL ([0-9.]+)\\)");
        assertEquals(elbo, rec + kl, 0.011);
        assertTrue(kl > 0 && elbo < 500, r.out()); // 784·log 2 = 543 nats would be a coin per pixel
        assertEquals(4, Files.readAllLines(csv).size());
        png(images.resolve("reconstructions.png"), 2, 12);
        png(images.resolve("samples.png"), 8, 8);
        png(images.resolve("latent-walk.png"), 6, 6);
    }

    @Test
    void ganTrainsAndDrawsSamplesEveryEpoch(@TempDir Path dir) throws IOException {
        digits(dir, 96, 10);
        Path images = dir.resolve("gan");
        CliRun r = gatun("train", "gan", "--data", dir.toString(), "--epochs", "2", "--batch-size", "32",
                "--noise-dim", "16", "--images", images.toString());
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("training on 96 images"), r.out());
        assertTrue(r.out().contains("ConvTranspose2d(128 → 64, 4×4, stride 2, padding 1)")
                && r.out().contains("LeakyReLU(0.2)"), r.out());
        assertTrue(r.out().contains("epoch 2/2") && r.out().contains("judged images/s"), r.out());
        double real = number(r.out(), "D\\(x\\) ([0-9.]+)");
        assertTrue(real > 0 && real < 1, r.out());
        png(images.resolve("samples-epoch-1.png"), 8, 8);
        png(images.resolve("samples-epoch-2.png"), 8, 8);
        png(images.resolve("samples.png"), 8, 8);
    }

    /**
     * A GAN run stopped after 2 epochs and resumed from its checkpoint for a third ends with the weights, batch
     * norm statistics and per-epoch figures of a run of 3 epochs never stopped, bit for bit (with a schedule, so
     * that its state is restored too); a checkpoint that does not fit the run is refused.
     */
    @Test
    void ganResumedFromItsCheckpointEqualsARunNeverStopped(@TempDir Path dir) throws IOException {
        digits(dir, 64, 8);
        Path checkpoints = dir.resolve("checkpoints");
        Path whole = dir.resolve("whole.safetensors");
        Path resumed = dir.resolve("resumed.safetensors");
        Path wholeCsv = dir.resolve("whole.csv");
        Path resumedCsv = dir.resolve("resumed.csv");
        List<String> common = List.of("train", "gan", "--data", dir.toString(), "--noise-dim", "8", "--seed", "5",
                "--schedule", "exponential", "--threads", "1", "--images", dir.resolve("img").toString());
        CliRun a = gatun(args(common, "--batch-size", "16", "--epochs", "3", "--save", whole.toString(), "--csv",
                wholeCsv.toString()));
        assertEquals(0, a.code(), a.err() + a.out());
        CliRun first = gatun(args(common, "--batch-size", "16", "--epochs", "2", "--checkpoint-dir",
                checkpoints.toString()));
        assertEquals(0, first.code(), first.err() + first.out());
        // 4 batches of 16 per epoch: the end of epoch 2 is step 8.
        Path afterTwo = checkpoints.resolve(Checkpoint.fileName(8));
        assertTrue(Files.isRegularFile(afterTwo), first.out());
        CliRun b = gatun(args(common, "--batch-size", "16", "--epochs", "3", "--resume", checkpoints.toString(),
                "--save", resumed.toString(), "--csv", resumedCsv.toString(), "--checkpoint-dir",
                checkpoints.toString()));
        assertEquals(0, b.code(), b.err() + b.out());
        assertTrue(b.out().contains("resuming from " + afterTwo + " at epoch 3, batch 0")
                && b.out().contains("epoch 3/3") && !b.out().contains("epoch 2/3"), b.out());
        assertTrue(b.out().contains("generator loss") && b.out().contains("1 per-epoch grids"), b.out());
        try (Module x = ModelFile.load(whole); Module y = ModelFile.load(resumed)) {
            assertInstanceOf(DCGAN.class, y);
            Map<String, Tensor> p = x.stateDict();
            Map<String, Tensor> q = y.stateDict();
            assertEquals(p.keySet(), q.keySet());
            for (String k : p.keySet()) {
                assertArrayEquals(p.get(k).toArray(), q.get(k).toArray(), k);
            }
        }
        assertArrayEquals(new long[] {8}, ModelFile.sampleShape(resumed));
        // The losses, accuracies and learning rates of every epoch (the times differ), the first two epochs'
        // from the checkpoint.
        List<String> w = Files.readAllLines(wholeCsv);
        List<String> r = Files.readAllLines(resumedCsv);
        assertEquals(4, r.size(), String.join("\n", r));
        for (int i = 0; i < w.size(); i++) {
            String[] wc = w.get(i).split(",", -1);
            String[] rc = r.get(i).split(",", -1);
            assertEquals(List.of(wc).subList(0, 6), List.of(rc).subList(0, 6), "line " + i);
        }
        assertTrue(Files.isRegularFile(checkpoints.resolve(Checkpoint.fileName(12))));

        CliRun wrong = gatun(args(common, "--epochs", "3", "--resume", afterTwo.toString(), "--batch-size", "32"));
        assertEquals(1, wrong.code(), wrong.out());
        assertTrue(wrong.err().contains("checkpoint was written for a loader of 64 samples in batches of 16 (4 per"
                + " epoch), this run has 64 samples in batches of 32 (2 per epoch)") && !wrong.err().contains("\tat "),
                wrong.err());
        CliRun otherShapes = gatun(args(List.of("train", "gan", "--data", dir.toString(), "--noise-dim", "4", "--seed",
                "5", "--schedule", "exponential", "--threads", "1", "--images", dir.resolve("img").toString()),
                "--batch-size", "16", "--epochs", "3", "--resume", afterTwo.toString()));
        assertEquals(1, otherShapes.code(), otherShapes.out());
        assertTrue(otherShapes.err().contains("does not fit this run") && !otherShapes.err().contains("\tat "),
                otherShapes.err());
        CliRun notGan = gatun(args(common, "--batch-size", "16", "--epochs", "3", "--resume",
                whole.toString()));
        assertEquals(1, notGan.code(), notGan.out());
        assertTrue(notGan.err().contains("not a gatun checkpoint"), notGan.err());
    }

    private static String[] args(List<String> common, String... more) {
        List<String> all = new java.util.ArrayList<>(common);
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    /** Each bad value is one usage error naming the option, found before the (absent) data is read. */
    @Test
    void badOptionsAreRefusedBeforeReadingData(@TempDir Path dir) throws IOException {
        String absent = dir.resolve("absent").toString();
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        String[][] cases = {
            {"ae", "--latent", "0", "--latent must be >= 1, got 0"},
            {"ae", "--arch", "rnn", "Invalid value for option '--arch'"},
            {"dae", "--noise", "-1", "--noise must be a finite number >= 0, got -1.0"},
            {"dae", "--noise", "NaN", "--noise must be a finite number >= 0, got NaN"},
            {"vae", "--lr", "0", "--lr must be a finite number > 0, got 0.0"},
            {"vae", "--batch-size", "0", "--batch-size must be >= 1, got 0"},
            {"vae", "--walk-steps", "1", "--walk-steps must be in [2, 100], got 1"},
            {"vae", "--validation", "1", "--validation must be in [0, 1), got 1.0"},
            {"vae", "--images", file.toString(), "--images " + file + " is a file, not a directory"},
            {"gan", "--beta1", "1", "--beta1 must be in [0, 1), got 1.0"},
            {"gan", "--validation", "0.5", "--validation does not apply to gan"},
            {"gan", "--epochs", "0", "--epochs must be >= 1, got 0"},
            {"gan", "--threads", "0", "--threads must be >= 1, got 0"},
            {"vae", "--hidden", "2000000000", "--hidden 2000000000 --latent 20 makes a network of"},
            {"ae", "--arch", "conv", "--latent", "2000000000", "--latent 2000000000 makes a network of"},
        };
        for (String[] c : cases) {
            String[] args = new String[c.length + 3];
            args[0] = "train";
            System.arraycopy(c, 0, args, 1, c.length - 1);
            args[c.length] = "--data";
            args[c.length + 1] = absent;
            args[c.length + 2] = "--images=" + (c[1].equals("--images") ? c[2] : dir.resolve("img"));
            if (c[1].equals("--images")) {
                args = java.util.Arrays.copyOf(args, args.length - 1);
            }
            CliRun r = gatun(args);
            GatunTest.assertOneLine(r, 2, "gatun: " + c[c.length - 1]);
            assertEquals("", r.out(), String.join(" ", c));
        }
    }

    /** An output naming one of the MNIST files the run reads is refused before anything is written. */
    @Test
    void anOutputNamingADataFileIsRefused(@TempDir Path dir) throws IOException {
        digits(dir, 20, 10);
        Path labels = dir.resolve("t10k-labels-idx1-ubyte");
        byte[] before = Files.readAllBytes(labels);
        CliRun r = gatun("train", "vae", "--data", dir.toString(), "--images", dir.resolve("img").toString(),
                "--save", labels.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--save " + labels + " is " + labels + ", which this run reads"), r.err());
        assertArrayEquals(before, Files.readAllBytes(labels));
    }

    @Test
    void missingDataSaysHowToFetchIt(@TempDir Path dir) {
        CliRun r = gatun("train", "vae", "--data", dir.resolve("nothing").toString(), "--images",
                dir.resolve("img").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("fetch-data") && !r.err().contains("\tat "), r.err());
    }

    /** The footprints the commands check before building count the parameters of what they build. */
    @Test
    void footprintsCountTheParametersOfTheModelsBuilt() {
        for (TrainCommand.Network n : List.of(GenerativeCommands.AutoencoderCommand.network(
                GenerativeCommands.AutoencoderCommand.Arch.MLP, 48, 6), GenerativeCommands.AutoencoderCommand
                .network(GenerativeCommands.AutoencoderCommand.Arch.CONV, 1, 12), GenerativeCommands.Vae.network(40,
                3), GenerativeCommands.Gan.network(7))) {
            try (Module model = n.build().get()) {
                assertEquals(model.parameterCount(), (long) n.parameters(), n.name());
                long largest = model.parameters().stream().mapToLong(Tensor::numel).max().orElseThrow();
                assertEquals(largest, (long) n.largestParameter(), n.name());
            }
        }
    }
}
