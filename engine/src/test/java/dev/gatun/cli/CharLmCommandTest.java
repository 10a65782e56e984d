package dev.gatun.cli;

import static dev.gatun.cli.CliRun.gatun;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.Vocabulary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gatun train charlm} and {@code gatun sample} end to end on a small corpus in the Brown form. */
class CharLmCommandTest {

    /** Ten texts in each of two genres, sentences of a few words in the tagged form. */
    private static void writeCorpus(Path dir) throws IOException {
        String[] words = {"the/at", "cat/nn", "sat/vbd", "on/in", "a/at", "mat/nn", "dog/nn", "ran/vbd"};
        SplittableRandom rng = new SplittableRandom(1);
        for (char genre : new char[] {'a', 'k'}) {
            for (int i = 1; i <= 10; i++) {
                StringBuilder sb = new StringBuilder();
                for (int s = 0; s < 20; s++) {
                    sb.append(s % 5 == 0 ? "\n\n\t" : "");
                    for (int w = 0; w < 6; w++) sb.append(words[rng.nextInt(words.length)]).append(' ');
                    sb.append("./.\n");
                }
                Files.writeString(dir.resolve(String.format("c%c%02d", genre, i)), sb.toString());
            }
        }
    }

    @Test
    void trainsReportsBitsPerCharSamplesAndSavesAModelThatGenerates(@TempDir Path dir) throws IOException {
        writeCorpus(dir);
        Path model = dir.resolve("out/charlm.safetensors");
        Path csv = dir.resolve("out/log.csv");
        CliRun r = gatun("train", "charlm", "--data", dir.toString(), "--cell", "gru", "--embedding", "8", "--hidden",
                "32", "--seq-len", "16", "--batch-size", "8", "--epochs", "3", "--lr", "0.01", "--validation", "0.2",
                "--test", "0.2", "--sample-length", "40", "--top-k", "5", "--prompt", "the ", "--csv",
                csv.toString(), "--save", model.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        String out = r.out();
        assertTrue(out.contains("Brown corpus: 20 texts; training on 12"), out);
        Matcher epoch = Pattern.compile("epoch 3/3: loss [0-9.]+ \\(([0-9.]+) bits/char\\) acc [0-9.]+% \\| val loss"
                + " ([0-9.]+) \\(([0-9.]+) bits/char\\)").matcher(out);
        assertTrue(epoch.find(), out);
        double nats = Double.parseDouble(epoch.group(2));
        assertEquals(nats / Math.log(2), Double.parseDouble(epoch.group(3)), 1e-3);
        assertTrue(nats < 2.0, "a few words repeated are easy to predict: " + nats);
        assertEquals(3, Pattern.compile("(?m)^sample: \"the ").matcher(out).results().count(), out);
        Matcher test = Pattern.compile("test loss ([0-9.]+) nats \\(([0-9.]+) bits/char\\)").matcher(out);
        assertTrue(test.find(), out);
        assertEquals(4, Files.readAllLines(csv).size());
        assertEquals(Vocabulary.of(" .\nacdeghmnorst"), Vocabulary.read(model));

        CliRun g = gatun("sample", "--model", model.toString(), "--prompt", "a cat", "--length", "30", "--seed", "2");
        assertEquals(0, g.code(), g.err());
        String text = g.out().strip();
        assertTrue(text.startsWith("a cat") && text.length() >= 30, text);
        CliRun again = gatun("sample", "--model", model.toString(), "--prompt", "a cat", "--length", "30", "--seed",
                "2");
        assertEquals(g.out(), again.out(), "the same seed draws the same text");
        CliRun unknown = gatun("sample", "--model", model.toString(), "--prompt", "xyz");
        assertEquals(1, unknown.code());
        assertTrue(unknown.err().contains("--prompt: character 'x' (U+0078) at position 0 is not in the vocabulary"),
                unknown.err());
    }

    @Test
    void trainsACharacterGptMeasuresGenerationDrawsAttentionAndSavesAModelThatSamples(@TempDir Path dir)
            throws IOException {
        writeCorpus(dir);
        Path model = dir.resolve("gpt.safetensors");
        Path png = dir.resolve("maps/attention.png");
        CliRun r = gatun("train", "chargpt", "--data", dir.toString(), "--d-model", "16", "--layers", "2", "--heads", "2",
                "--ffn", "32", "--seq-len", "24", "--batch-size", "8", "--epochs", "3", "--lr", "0.01",
                "--validation", "0.2", "--test", "0.2", "--sample-length", "20", "--prompt", "the ", "--attention",
                png.toString(), "--attention-text", "the cat sat.", "--speed-runs", "1", "--save", model.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        String out = r.out();
        assertTrue(out.contains("adamw lr 0.01"), out);
        Matcher test = Pattern.compile("test loss ([0-9.]+) nats \\(([0-9.]+) bits/char\\)").matcher(out);
        assertTrue(test.find(), out);
        assertTrue(Double.parseDouble(test.group(1)) < 2.0, "a few words repeated are easy to predict: " + out);
        assertEquals(3, Pattern.compile("(?m)^sample: \"the ").matcher(out).results().count(), out);
        Matcher speed = Pattern.compile("generation, 20 characters after a prompt of 4, greedy: ([0-9,]+) chars/s"
                + " with the KV cache, ([0-9,]+) without").matcher(out);
        assertTrue(speed.find(), out);
        java.awt.image.BufferedImage image = javax.imageio.ImageIO.read(png.toFile());
        assertTrue(image.getWidth() > 100 && image.getHeight() > 100, image.toString());
        assertTrue(out.contains("attention maps: " + png), out);
        assertEquals(Vocabulary.of(" .\nacdeghmnorst"), Vocabulary.read(model));
        CliRun g = gatun("sample", "--model", model.toString(), "--prompt", "a cat", "--length", "15", "--seed", "3");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().strip().startsWith("a cat") && g.out().strip().length() >= 15, g.out());
        assertEquals(g.out(), gatun("sample", "--model", model.toString(), "--prompt", "a cat", "--length", "15",
                "--seed", "3").out(), "the same seed draws the same text");
        CliRun bad = gatun("train", "chargpt", "--data", dir.toString(), "--d-model", "10", "--heads", "3",
                "--attention", dir.resolve("a.png").toString(), "--attention-text", "");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--heads 3 does not divide --d-model 10"), bad.err());
        assertTrue(bad.err().contains("--attention-text must have 1 to 128 characters"), bad.err());
    }

    @Test
    void badOptionsAreRefusedBeforeLoading(@TempDir Path dir) {
        CliRun r = gatun("train", "charlm", "--data", dir.resolve("none").toString(), "--hidden", "0", "--seq-len", "0",
                "--clip", "-1", "--validation", "0.5", "--test", "0.5");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--hidden must be >= 1, got 0"), r.err());
        assertTrue(r.err().contains("--seq-len must be >= 1, got 0"), r.err());
        assertTrue(r.err().contains("--clip must be a finite number >= 0, got -1.0"), r.err());
        assertTrue(r.err().contains("leave no texts for training"), r.err());
        r = gatun("train", "charlm", "--data", dir.resolve("none").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("scripts/fetch-data brown"), r.err());
        // An output named as a text of the corpus, in its directory, would replace one or be read as one.
        r = gatun("train", "charlm", "--data", dir.toString(), "--csv", dir.resolve("ca01").toString(), "--save",
                dir.resolve("cb02").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--csv " + dir.resolve("ca01") + " would be read as a text of the corpus"),
                r.err());
        assertTrue(r.err().contains("--save " + dir.resolve("cb02") + " would be read as a text"), r.err());
    }
}
