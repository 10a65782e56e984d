package dev.gatun.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * An array of unsigned bytes read from an IDX file, the format MNIST is distributed in.
 *
 * <p>The format, all integers big-endian:
 * <pre>
 *   offset  size  content
 *   0       2     0x00 0x00                     magic, part 1
 *   2       1     element type: 0x08 = unsigned byte (0x09 signed byte, 0x0B int16, 0x0C int32,
 *                 0x0D float32, 0x0E float64 exist but are not read here)
 *   3       1     d, the number of dimensions
 *   4       4·d   the size of each dimension, int32
 *   4+4·d   n     the elements, row-major, n = the product of the sizes
 * </pre>
 * MNIST images are {@code 0x00000803 [N, 28, 28]}, labels {@code 0x00000801 [N]}.
 *
 * <p>{@link #read} accepts the file raw or gzip-compressed (told apart by the gzip magic
 * {@code 0x1f 0x8b}, not by the file name) and rejects, with a {@link DataFileException} naming the
 * file: a wrong magic number, an element type other than unsigned byte, a dimension count outside
 * 1..{@value #MAX_DIMENSIONS}, a negative size, a header that claims more than {@link #MAX_BYTES}
 * bytes of data (so a foreign file fails with a message, not an {@link OutOfMemoryError}), fewer
 * data bytes than the header promises (a truncated file), and bytes after the data.
 */
public final class Idx {

    /** The element type byte of unsigned bytes, the only type MNIST uses. */
    public static final int UNSIGNED_BYTE = 0x08;
    /** The most dimensions a file may declare. */
    public static final int MAX_DIMENSIONS = 8;
    /** The most data bytes a file may declare: 1 GiB (MNIST's largest file holds 47 MB). */
    public static final long MAX_BYTES = 1L << 30;

    private final Path source;
    private final int[] shape;
    private final byte[] data;

    private Idx(Path source, int[] shape, byte[] data) {
        this.source = source;
        this.shape = shape;
        this.data = data;
    }

    /** Reads an IDX file of unsigned bytes, raw or gzip-compressed, checking it as described above. */
    public static Idx read(Path file) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            boolean gzip = raw.read() == 0x1f && raw.read() == 0x8b;
            raw.reset();
            if (!gzip) {
                return parse(file, raw, "");
            }
            try (InputStream in = new GZIPInputStream(raw, 1 << 16)) {
                return parse(file, in, " after gzip decompression");
            } catch (ZipException | EOFException e) {
                throw new DataFileException(file, "gzip data is corrupt or truncated (" + e.getMessage() + ")", e);
            }
        }
    }

    /** Parses header and data from {@code in}; {@code where} qualifies byte counts in messages. */
    private static Idx parse(Path file, InputStream in, String where) throws IOException {
        byte[] magic = in.readNBytes(4);
        if (magic.length < 4) {
            throw new DataFileException(file, "truncated header: an IDX file starts with 4 magic bytes, found "
                    + magic.length + " bytes" + where);
        }
        if (magic[0] != 0 || magic[1] != 0) {
            throw new DataFileException(file, "not an IDX file: it starts with " + hex(magic) + where
                    + ", an IDX file with 00 00");
        }
        int type = magic[2] & 0xff;
        if (type != UNSIGNED_BYTE) {
            throw new DataFileException(file, "element type 0x" + HexFormat.of().toHexDigits((byte) type) + " ("
                    + typeName(type) + ") is not supported, only 0x08 (unsigned byte)");
        }
        int dims = magic[3] & 0xff;
        if (dims < 1 || dims > MAX_DIMENSIONS) {
            throw new DataFileException(file, "dimension count " + dims + " in the header is outside 1.."
                    + MAX_DIMENSIONS);
        }
        byte[] sizes = in.readNBytes(4 * dims);
        if (sizes.length < 4 * dims) {
            throw new DataFileException(file, "truncated header: " + dims + " dimensions need " + 4 * dims
                    + " size bytes, found " + sizes.length + where);
        }
        int[] shape = new int[dims];
        for (int d = 0; d < dims; d++) {
            shape[d] = (sizes[4 * d] & 0xff) << 24 | (sizes[4 * d + 1] & 0xff) << 16
                    | (sizes[4 * d + 2] & 0xff) << 8 | sizes[4 * d + 3] & 0xff;
            if (shape[d] < 0) {
                throw new DataFileException(file, "size " + Integer.toUnsignedString(shape[d]) + " of dimension " + d
                        + " does not fit a signed int32; not an IDX file?");
            }
        }
        long bytes = 1;
        for (int size : shape) {
            bytes *= size; // at most 2^30 · (2^31 - 1): fits a long
            if (bytes > MAX_BYTES) {
                throw new DataFileException(file, "the header claims shape " + Arrays.toString(shape)
                        + ", more than the " + MAX_BYTES + " data bytes an IDX file may hold here; not an IDX file?");
            }
        }
        byte[] data = in.readNBytes((int) bytes);
        if (data.length < bytes) {
            throw new DataFileException(file, "truncated: shape " + Arrays.toString(shape) + " needs " + bytes
                    + " data bytes, found " + data.length + where);
        }
        long extra = in.transferTo(OutputStream.nullOutputStream());
        if (extra > 0) {
            throw new DataFileException(file, extra + " unexpected bytes after the " + bytes + " data bytes of shape "
                    + Arrays.toString(shape) + where);
        }
        return new Idx(file, shape, data);
    }

    private static String hex(byte[] bytes) {
        return HexFormat.ofDelimiter(" ").formatHex(bytes);
    }

    private static String typeName(int type) {
        return switch (type) {
            case 0x09 -> "signed byte";
            case 0x0b -> "int16";
            case 0x0c -> "int32";
            case 0x0d -> "float32";
            case 0x0e -> "float64";
            default -> "unknown";
        };
    }

    /** The file this array was read from. */
    public Path source() {
        return source;
    }

    /** The size of each dimension (a copy). */
    public int[] shape() {
        return shape.clone();
    }

    /** The number of dimensions. */
    public int dim() {
        return shape.length;
    }

    /** The size of dimension {@code d}. */
    public int size(int d) {
        return shape[d];
    }

    /**
     * The elements, row-major, as stored: read them as unsigned with {@code data()[i] & 0xff}. This is
     * the array itself, not a copy.
     */
    public byte[] data() {
        return data;
    }

    @Override
    public String toString() {
        return "Idx(" + source + ", ubyte " + Arrays.toString(shape) + ")";
    }
}
