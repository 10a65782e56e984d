package dev.gatun.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.IdxFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gatun train mlp} end to end on a small MNIST-shaped data set made here. */
class TrainCommandTest {

    /** Images of class c have a bright 7×7 block at a class-specific place, plus noise. */
    private static void writeDigits(Path dir, String prefix, int n, long seed) throws IOException {
        SplittableRandom rng = new SplittableRandom(seed);
        byte[] images = new byte[n * 784];
        byte[] labels = new byte[n];
        for (int i = 0; i < n; i++) {
            int c = i % 10;
            labels[i] = (byte) c;
            int top = (c / 4) * 9;
            int left = (c % 4) * 7;
            for (int p = 0; p < 784; p++) {
                int row = p / 28;
                int col = p % 28;
                boolean block = row >= top && row < top + 7 && col >= left && col < left + 7;
                int v = (block ? 200 : 0) + rng.nextInt(40);
                images[i * 784 + p] = (byte) v;
            }
        }
        IdxFiles.write(dir.resolve(prefix + "-images-idx3-ubyte"), IdxFiles.ubyte(new int[] {n, 28, 28}, images));
        IdxFiles.write(dir.resolve(prefix + "-labels-idx1-ubyte"), IdxFiles.ubyte(new int[] {n}, labels));
    }

    @Test
    void trainsReportsAndWritesLogAndChart(@TempDir Path dir) throws IOException {
        writeDigits(dir, "train", 600, 1);
        writeDigits(dir, "t10k", 200, 2);
        Path csv = dir.resolve("out/log.csv");
        Path png = dir.resolve("out/curves.png");
        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(System.err, true), "train", "mlp",
                    "--data", dir.toString(), "--hidden", "32", "--epochs", "4", "--batch-size", "32",
                    "--optimizer", "adam", "--lr", "0.01", "--csv", csv.toString(), "--chart", png.toString());
        } finally {
            System.setOut(saved);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, out);
        assertTrue(out.contains("total parameters: 25,450"), out); // 784·32 + 32 + 32·10 + 10
        Matcher m = Pattern.compile("test accuracy ([0-9.]+)%").matcher(out);
        assertTrue(m.find(), out);
        assertTrue(Double.parseDouble(m.group(1)) > 90, out);
        assertTrue(out.contains("samples/s"), out);
        assertEquals(5, Files.readAllLines(csv).size(), "header and four epochs");
        assertTrue(Files.size(png) > 1000);
    }

    /** The seed lecture's LeNet-5 table: output size of every layer, 2450 flattened features. */
    @Test
    void lenet5SummaryMatchesTheLectureAndItTrains(@TempDir Path dir) throws IOException {
        writeDigits(dir, "train", 256, 3);
        writeDigits(dir, "t10k", 64, 4);
        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(System.err, true), "train", "lenet5",
                    "--data", dir.toString(), "--epochs", "2", "--batch-size", "32", "--patience", "0");
        } finally {
            System.setOut(saved);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, out);
        String[] expected = {"[1, 20, 28, 28]", "[1, 20, 14, 14]", "[1, 50, 14, 14]", "[1, 50, 7, 7]", "[1, 2450]",
            "[1, 500]", "[1, 10]"};
        int at = 0;
        for (String shape : expected) {
            at = out.indexOf(shape, at);
            assertTrue(at >= 0, shape + " in order in:\n" + out);
        }
        assertTrue(out.contains("Conv2d(1 → 20, 5×5, padding 2)") && out.contains("1,225,500"), out);
        Matcher m = Pattern.compile("test accuracy ([0-9.]+)%").matcher(out);
        assertTrue(m.find(), out);
        assertTrue(Double.parseDouble(m.group(1)) > 80, out);
    }

    @Test
    void resnetTrains(@TempDir Path dir) throws IOException {
        writeDigits(dir, "train", 128, 5);
        writeDigits(dir, "t10k", 32, 6);
        PrintStream saved = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(System.err, true), "train", "resnet",
                    "--data", dir.toString(), "--epochs", "1", "--patience", "0");
        } finally {
            System.setOut(saved);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, out);
        assertTrue(out.contains("BasicBlock(32 → 32)") && out.contains("[1, 32, 1, 1]") && out.contains("test accuracy"),
                out);
    }

    @Test
    void missingDataSaysHowToFetchIt(@TempDir Path dir) {
        StringWriter err = new StringWriter();
        int code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "train", "mlp", "--data",
                dir.resolve("nothing").toString());
        assertEquals(1, code);
        assertTrue(err.toString().startsWith("gatun: "), err.toString());
        assertTrue(err.toString().contains("fetch-data"), err.toString());
        assertTrue(!err.toString().contains("\tat "), "no stack trace: " + err);
    }

    @Test
    void badOptionsAreMessages(@TempDir Path dir) {
        StringWriter err = new StringWriter();
        int code = Gatun.run(new PrintWriter(new StringWriter()), new PrintWriter(err), "train", "mlp", "--batch-size",
                "0", "--data", dir.toString());
        assertEquals(1, code);
        assertTrue(err.toString().startsWith("gatun: --batch-size must be >= 1, got 0"), err.toString());
    }
}
