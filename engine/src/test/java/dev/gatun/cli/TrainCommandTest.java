package dev.gatun.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.IdxFiles;
import dev.gatun.nn.Linear;
import dev.gatun.nn.Module;
import dev.gatun.nn.Sequential;
import dev.gatun.optim.Optimizers;
import dev.gatun.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gatun train mlp} end to end on a small MNIST-shaped data set made here. */
class TrainCommandTest {

    private static void writeDigits(Path dir, String prefix, int n, long seed) throws IOException {
        IdxFiles.writeDigits(dir, prefix, n, seed);
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
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.filter(f -> f.getFileName().toString().startsWith(".gatun-probe")).toList(),
                    "the writability probes leave nothing");
        }
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

    /**
     * Each bad number is one usage error naming the option and the value, found before the data is read
     * (the data directory here does not exist, which would be exit code 1).
     */
    @Test
    void badNumbersAreRefusedBeforeReadingData(@TempDir Path dir) {
        String[][] cases = {
            {"--validation", "NaN", "--validation must be in [0, 1), got NaN"},
            {"--validation", "1", "--validation must be in [0, 1), got 1.0"},
            {"--dropout", "NaN", "--dropout must be in [0, 1), got NaN"},
            {"--dropout", "-1", "--dropout must be in [0, 1), got -1.0"},
            {"--patience", "-1", "--patience must be >= 0, got -1"},
            {"--batch-size", "0", "--batch-size must be >= 1, got 0"},
            {"--epochs", "0", "--epochs must be >= 1, got 0"},
            {"--lr", "NaN", "--lr must be a finite number >= 0, got NaN"},
            {"--weight-decay", "Infinity", "--weight-decay must be a finite number >= 0, got Infinity"},
            {"--momentum", "-0.5", "--momentum must be a finite number >= 0, got -0.5"},
            {"--momentum", "0.9", "--momentum applies to sgd and rmsprop only, not adam, got 0.9"},
            {"--hidden", "64,0", "--hidden sizes must be positive, got 0"},
            {"--threads", "-2", "--threads must be >= 1, got -2"},
        };
        for (String[] c : cases) {
            CliRun r = CliRun.gatun("train", "mlp", "--data", dir.resolve("absent").toString(), c[0], c[1]);
            GatunTest.assertOneLine(r, 2, "gatun: " + c[2]);
            assertEquals("", r.out(), c[0]);
        }
    }

    /** A network larger than the machine is one line naming --hidden, not an OutOfMemoryError mid-way. */
    @Test
    void hugeHiddenLayerIsRefusedUpFront(@TempDir Path dir) {
        CliRun r = CliRun.gatun("train", "mlp", "--data", dir.resolve("absent").toString(), "--hidden", "2000000000");
        GatunTest.assertOneLine(r, 2, "gatun: --hidden 2000000000 makes a network of 1,590,000,000,010 parameters");
        assertEquals("", r.out());
    }

    /** The estimate's parameter counts are those of the networks built. */
    @Test
    void footprintsCountTheParametersOfTheNetworksBuilt() {
        List<Integer> hidden = List.of(48, 24);
        TrainCommand.Network mlp = TrainCommand.Mlp.network(hidden, 0.2f, () -> new Sequential(new Linear(784, 48),
                new Linear(48, 24), new Linear(24, 10)));
        for (TrainCommand.Network n : List.of(mlp, TrainCommand.Lenet5.NETWORK, TrainCommand.Resnet.RESNET,
                TrainCommand.Resnet.RESNET_STAGES)) {
            try (Module model = n.build().get()) {
                assertEquals(model.parameterCount(), (long) n.parameters(), n.name());
                long largest = model.parameters().stream().mapToLong(Tensor::numel).max().orElseThrow();
                assertEquals(largest, (long) n.largestParameter(), n.name());
            }
        }
    }

    @Test
    void batchesTooLargeForTheMachineNameTheBatchSize() {
        TrainCommand.Network lenet = TrainCommand.Lenet5.NETWORK;
        assertNull(lenet.tooLarge(Optimizers.Kind.SGD, 1, 64, 1000, true, 64));
        String why = lenet.tooLarge(Optimizers.Kind.SGD, 1, 1_000_000_000, 1000, true, 1_000_000_000);
        assertTrue(why.startsWith("--batch-size 1000000000 needs 473.7 TiB for a batch's inputs, activations and their"
                + " gradients (508.6 KiB a sample for lenet5) besides 14.4 MiB for the weights, more than the "), why);
    }

    @Test
    void emptyTestSetIsReportedBeforeTraining(@TempDir Path dir) throws IOException {
        writeDigits(dir, "train", 100, 7);
        writeDigits(dir, "t10k", 0, 8);
        CliRun r = CliRun.gatun("train", "mlp", "--data", dir.toString(), "--hidden", "8", "--epochs", "1");
        GatunTest.assertOneLine(r, 1, "gatun: the test set in " + dir + " (t10k-images-idx3-ubyte) has no samples");
        assertFalse(r.out().contains("epoch"), "no training: " + r.out());
    }

    @Test
    void validationThatLeavesNothingIsRefused(@TempDir Path dir) throws IOException {
        writeDigits(dir, "train", 100, 7);
        writeDigits(dir, "t10k", 10, 8);
        CliRun r = CliRun.gatun("train", "mlp", "--data", dir.toString(), "--hidden", "8", "--validation", "0.001");
        GatunTest.assertOneLine(r, 2, "gatun: --validation 0.001 of the 100 training samples leaves 0 for validation");
        assertFalse(r.out().contains("epoch"), "no training: " + r.out());
    }

    /** Output files that cannot be written are found before training, one line each, and nothing is left behind. */
    @Test
    void unwritableOutputsAreRefusedBeforeTraining(@TempDir Path dir) throws IOException {
        writeDigits(dir, "train", 100, 7);
        writeDigits(dir, "t10k", 10, 8);
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        CliRun r = CliRun.gatun("train", "mlp", "--data", dir.toString(), "--hidden", "8", "--epochs", "1",
                "--csv", file.resolve("log.csv").toString(), "--chart", "/proc/gatun-curves.png");
        assertEquals(2, r.code(), r.err());
        assertEquals(List.of("gatun: --csv " + file.resolve("log.csv") + " cannot be created: " + file
                + " is not a directory", "gatun: --chart /proc/gatun-curves.png cannot be created: /proc does not"
                + " accept new files (no such file or directory)"), r.err().strip().lines().toList());
        assertFalse(r.out().contains("epoch"), "no training: " + r.out());

        CliRun directory = CliRun.gatun("train", "mlp", "--data", dir.toString(), "--csv", dir.toString());
        GatunTest.assertOneLine(directory, 2, "gatun: --csv " + dir + " is a directory, not a file");
        CliRun same = CliRun.gatun("train", "mlp", "--data", dir.toString(), "--csv", dir.resolve("x.png").toString(),
                "--chart", dir.resolve("x").toString());
        GatunTest.assertOneLine(same, 2, "gatun: --csv and --chart name the same file");
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(), files.filter(f -> f.getFileName().toString().startsWith(".gatun-probe")).toList());
        }
    }
}
