package dev.gatun.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Builds IDX files byte by byte for the tests, well-formed or broken on purpose. */
public final class IdxFiles {

    private IdxFiles() {}

    /** Header (magic with {@code type}, {@code shape.length} dimensions, sizes) followed by {@code data}. */
    public static byte[] idx(int type, int[] shape, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * shape.length + data.length); // big-endian, as IDX
        b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) shape.length);
        for (int s : shape) {
            b.putInt(s);
        }
        return b.put(data).array();
    }

    /** A well-formed unsigned-byte IDX file's bytes. */
    public static byte[] ubyte(int[] shape, byte[] data) {
        return idx(Idx.UNSIGNED_BYTE, shape, data);
    }

    /** {@code n} bytes {@code 0, 1, ..., n-1} (mod 256). */
    public static byte[] counting(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    public static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    public static Path write(Path file, byte[] bytes) throws IOException {
        Files.createDirectories(file.getParent());
        return Files.write(file, bytes);
    }

    /**
     * Writes {@code n} MNIST-shaped samples as {@code PREFIX-images-idx3-ubyte} and
     * {@code PREFIX-labels-idx1-ubyte} in {@code dir}: images of class c have a bright 7×7 block at a
     * class-specific place, plus noise, so that a small network learns them in an epoch or two.
     */
    public static void writeDigits(Path dir, String prefix, int n, long seed) throws IOException {
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
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
                images[i * 784 + p] = (byte) ((block ? 200 : 0) + rng.nextInt(40));
            }
        }
        write(dir.resolve(prefix + "-images-idx3-ubyte"), ubyte(new int[] {n, 28, 28}, images));
        write(dir.resolve(prefix + "-labels-idx1-ubyte"), ubyte(new int[] {n}, labels));
    }
}
