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
}
