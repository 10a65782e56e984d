package dev.gatun.data;

import static dev.gatun.data.IdxFiles.gzip;
import static dev.gatun.data.IdxFiles.ubyte;
import static dev.gatun.data.IdxFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MNIST loading on a miniature MNIST (5 training and 3 test images of 4×3 pixels) written by the test. */
class MnistTest {

    private static final int ROWS = 4;
    private static final int COLS = 3;

    @TempDir
    Path dir;

    /** Images whose pixel {@code p} of image {@code i} is {@code (i * 12 + p) * 4 mod 256}, so 0 and 252 occur. */
    private static byte[] images(int n) {
        byte[] b = new byte[n * ROWS * COLS];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 4);
        }
        return b;
    }

    private void writeMiniMnist(Path where, boolean gzip, int[] trainLabels, int[] testLabels) throws IOException {
        writeFile(where.resolve("train-images-idx3-ubyte"), ubyte(new int[] {trainLabels.length, ROWS, COLS},
                images(trainLabels.length)), gzip);
        writeFile(where.resolve("train-labels-idx1-ubyte"), labelFile(trainLabels), gzip);
        writeFile(where.resolve("t10k-images-idx3-ubyte"), ubyte(new int[] {testLabels.length, ROWS, COLS},
                images(testLabels.length)), gzip);
        writeFile(where.resolve("t10k-labels-idx1-ubyte"), labelFile(testLabels), gzip);
    }

    private static void writeFile(Path file, byte[] bytes, boolean gzip) throws IOException {
        if (gzip) {
            write(file.resolveSibling(file.getFileName() + ".gz"), gzip(bytes));
        } else {
            write(file, bytes);
        }
    }

    private static byte[] labelFile(int[] labels) {
        byte[] b = new byte[labels.length];
        for (int i = 0; i < labels.length; i++) {
            b[i] = (byte) labels[i];
        }
        return ubyte(new int[] {labels.length}, b);
    }

    private static final int[] TRAIN_LABELS = {5, 0, 4, 1, 9};
    private static final int[] TEST_LABELS = {7, 2, 1};

    private static void assertMiniMnist(Mnist mnist) {
        assertEquals(5, mnist.train().size());
        assertEquals(3, mnist.test().size());
        assertArrayEquals(new long[] {1, ROWS, COLS}, mnist.train().featureShape());
        assertEquals(Mnist.CLASSES, mnist.train().numClasses());
        assertArrayEquals(TRAIN_LABELS, mnist.train().labels());
        assertArrayEquals(TEST_LABELS, mnist.test().labels());
        float[] first = mnist.train().features(0);
        assertEquals(0f, first[0]);
        assertEquals(4 / 255f, first[1], 1e-7f);
        float[] image = mnist.train().features(4); // pixels of image 4 start at byte 48 · 4 = 192
        assertEquals(192 / 255f, image[0], 1e-7f);
        assertEquals(((48 + 11) * 4 & 0xff) / 255f, image[11], 1e-7f);
        for (float x : mnist.train().features()) {
            assertTrue(x >= 0 && x <= 1, "pixel " + x + " outside [0, 1]");
        }
    }

    @Test
    void loadsRawFiles() throws IOException {
        writeMiniMnist(dir, false, TRAIN_LABELS, TEST_LABELS);
        assertMiniMnist(Mnist.load(dir));
    }

    @Test
    void loadsGzipFiles() throws IOException {
        writeMiniMnist(dir, true, TRAIN_LABELS, TEST_LABELS);
        assertMiniMnist(Mnist.load(dir));
    }

    @Test
    void loadsTheNpmPackageLayoutAndDottedNames() throws IOException {
        writeMiniMnist(dir.resolve("package/data"), false, TRAIN_LABELS, TEST_LABELS);
        assertMiniMnist(Mnist.load(dir));
        assertMiniMnist(Mnist.load(dir.resolve("package")));

        Path dotted = dir.resolve("mirror");
        writeMiniMnist(dotted, true, TRAIN_LABELS, TEST_LABELS);
        for (String f : Mnist.FILES) {
            Files.move(dotted.resolve(f + ".gz"), dotted.resolve(f.replace("-idx", ".idx") + ".gz"));
        }
        assertMiniMnist(Mnist.load(dotted));
    }

    @Test
    void missingDirectorySaysToFetch() {
        Path absent = dir.resolve("nowhere");
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Mnist.load(absent));
        assertTrue(e.getMessage().startsWith(absent + ": no such directory"), e.getMessage());
        assertTrue(e.getMessage().contains("scripts/fetch-data"), e.getMessage());
    }

    @Test
    void missingFilesAreListed() throws IOException {
        writeMiniMnist(dir, false, TRAIN_LABELS, TEST_LABELS);
        Files.delete(dir.resolve("train-labels-idx1-ubyte"));
        Files.delete(dir.resolve("t10k-images-idx3-ubyte"));
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Mnist.load(dir));
        assertTrue(e.getMessage().contains("missing train-labels-idx1-ubyte, t10k-images-idx3-ubyte (raw or .gz"),
                e.getMessage());
        assertTrue(e.getMessage().contains("scripts/fetch-data"), e.getMessage());
    }

    @Test
    void labelOutOfRangeNamesIndexAndValue() throws IOException {
        writeMiniMnist(dir, false, new int[] {5, 0, 10, 1, 9}, TEST_LABELS);
        DataFileException e = assertThrows(DataFileException.class, () -> Mnist.load(dir));
        assertEquals(dir.resolve("train-labels-idx1-ubyte"), e.file());
        assertTrue(e.getMessage().endsWith("label 10 at index 2 is outside 0..9"), e.getMessage());
    }

    @Test
    void imageAndLabelCountsMustMatch() throws IOException {
        writeMiniMnist(dir, false, TRAIN_LABELS, TEST_LABELS);
        write(dir.resolve("t10k-labels-idx1-ubyte"), labelFile(new int[] {7, 2}));
        DataFileException e = assertThrows(DataFileException.class, () -> Mnist.load(dir));
        assertTrue(e.getMessage().contains("holds 2 labels but " + dir.resolve("t10k-images-idx3-ubyte")
                + " holds 3 images"), e.getMessage());
    }

    @Test
    void shapesMustBeMnistShapes() throws IOException {
        writeMiniMnist(dir, false, TRAIN_LABELS, TEST_LABELS);
        write(dir.resolve("train-images-idx3-ubyte"), ubyte(new int[] {5, 12}, images(5)));
        DataFileException e = assertThrows(DataFileException.class, () -> Mnist.load(dir));
        assertTrue(e.getMessage().contains("images must be 3-d [N, rows, cols]"), e.getMessage());
        assertTrue(e.getMessage().contains("shape [5, 12]"), e.getMessage());

        writeMiniMnist(dir, false, TRAIN_LABELS, TEST_LABELS);
        write(dir.resolve("train-labels-idx1-ubyte"), ubyte(new int[] {5, 1}, new byte[5]));
        e = assertThrows(DataFileException.class, () -> Mnist.load(dir));
        assertTrue(e.getMessage().contains("labels must be 1-d [N], the file holds shape [5, 1]"), e.getMessage());
    }

    @Test
    void truncatedFileIsReportedThroughLoad() throws IOException {
        writeMiniMnist(dir, false, TRAIN_LABELS, TEST_LABELS);
        Path images = dir.resolve("t10k-images-idx3-ubyte");
        byte[] whole = Files.readAllBytes(images);
        write(images, java.util.Arrays.copyOf(whole, whole.length - 5));
        DataFileException e = assertThrows(DataFileException.class, () -> Mnist.load(dir));
        assertTrue(e.getMessage().startsWith(images + ": truncated"), e.getMessage());
        assertTrue(e.getMessage().contains("needs 36 data bytes, found 31"), e.getMessage());
    }

    @Test
    void defaultDirectoryFollowsTheProperty() {
        String before = System.getProperty("gatun.data");
        try {
            System.setProperty("gatun.data", dir.toString());
            assertEquals(dir.resolve("mnist"), Mnist.defaultDirectory());
        } finally {
            if (before == null) {
                System.clearProperty("gatun.data");
            } else {
                System.setProperty("gatun.data", before);
            }
        }
    }
}
