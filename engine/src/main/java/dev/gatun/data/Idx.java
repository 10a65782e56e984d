package dev.gatun.data;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.function.IntFunction;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

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
 *   4       4·d   the size of each dimension, unsigned int32
 *   4+4·d   n     the elements, row-major, n = the product of the sizes
 * </pre>
 * MNIST images are {@code 0x00000803 [N, 28, 28]}, labels {@code 0x00000801 [N]}.
 *
 * <p>{@link #read} accepts the file raw or gzip-compressed (told apart by the gzip magic
 * {@code 0x1f 0x8b}, not by the file name) and rejects, with a {@link DataFileException} naming the
 * file: a wrong magic number, an element type other than unsigned byte, a dimension count outside
 * 1..{@value #MAX_DIMENSIONS}, a size above {@link Integer#MAX_VALUE}, a header that claims more data
 * than the {@linkplain #limit() limit}, fewer data bytes than the header promises (a truncated file),
 * bytes after the data, and corrupt or truncated gzip data (checked against the gzip CRC and length,
 * with bytes after the last gzip member rejected too).
 *
 * <p>Memory. A file is untrusted input, so what its header claims is checked before anything is
 * allocated: the arrays the reader will build must fit the limit, which is {@value #MAX_BYTES} bytes
 * (1 GiB) unless the system property {@value #LIMIT_PROPERTY} or the environment variable
 * {@code GATUN_DATA_LIMIT} says otherwise. A raw file's length must match its header before its data
 * array is allocated. A gzip file's decompressed length is unknown up front, so its data array starts
 * at 64 Ki elements and doubles as decompressed bytes arrive (while it grows, the old and the new
 * array briefly coexist): a small file that claims a large shape fails as truncated having allocated
 * at most a few times what it really holds, and a gzip bomb is never decompressed beyond what the
 * header claims (plus 1 MiB counted as unexpected trailing bytes). The reader allocates no native
 * memory but zlib's fixed-size state, freed when the read ends.
 */
public final class Idx {

    /** The element type byte of unsigned bytes, the only type MNIST uses. */
    public static final int UNSIGNED_BYTE = 0x08;
    /** The most dimensions a file may declare. */
    public static final int MAX_DIMENSIONS = 8;
    /**
     * The default {@linkplain #limit() limit} on the bytes of the arrays a read allocates: 1 GiB
     * (MNIST's training images take 188 MB as floats).
     */
    public static final long MAX_BYTES = 1L << 30;
    /** The system property that sets the {@linkplain #limit() limit}, e.g. {@code -Dgatun.data.limit=4g}. */
    public static final String LIMIT_PROPERTY = "gatun.data.limit";

    /** The most elements a Java array can hold on common JVMs. */
    static final int MAX_ARRAY = Integer.MAX_VALUE - 8;
    /** The read size, and the first capacity of an array filled from a gzip stream, in elements. */
    private static final int CHUNK = 1 << 16;
    /** Past this many unexpected bytes after the data the reader stops counting (a bomb could go on for GBs). */
    private static final int TRAILING_COUNTED = 1 << 20;

    private final Path source;
    private final int[] shape;
    private final byte[] data;

    private Idx(Path source, int[] shape, byte[] data) {
        this.source = source;
        this.shape = shape;
        this.data = data;
    }

    /**
     * The most bytes the arrays of one read may take ({@link #read(Path)} counts one byte per element,
     * {@link Mnist} four, a float per pixel and an int per label): the system property
     * {@value #LIMIT_PROPERTY}, else the environment variable {@code GATUN_DATA_LIMIT}, else
     * {@link #MAX_BYTES}. A value is a number of bytes with an optional binary suffix {@code k},
     * {@code m}, {@code g} or {@code t}, e.g. {@code 4g}. Read again on every call.
     *
     * @return the limit in bytes, at least 1
     * @throws IllegalArgumentException if the setting is not such a positive size (the message names
     *     the setting and its value)
     */
    public static long limit() {
        String v = System.getProperty(LIMIT_PROPERTY);
        String source = LIMIT_PROPERTY;
        if (v == null || v.isBlank()) {
            v = System.getenv("GATUN_DATA_LIMIT");
            source = "GATUN_DATA_LIMIT";
        }
        if (v == null || v.isBlank()) {
            return MAX_BYTES;
        }
        String s = v.trim().toLowerCase(Locale.ROOT);
        int shift = switch (s.charAt(s.length() - 1)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            case 't' -> 40;
            default -> 0;
        };
        try {
            long n = Long.parseLong(shift == 0 ? s : s.substring(0, s.length() - 1));
            if (n >= 1 && n <= Long.MAX_VALUE >> shift) {
                return n << shift;
            }
        } catch (NumberFormatException e) {
            // reported below with the accepted forms
        }
        throw new IllegalArgumentException(source + " must be a positive size in bytes, e.g. 1073741824, 512m or 4g,"
                + " got '" + v + "'");
    }

    /**
     * Reads an IDX file of unsigned bytes, raw or gzip-compressed, checking it as described in the class
     * comment, with the data array limited to {@link #limit()} bytes.
     *
     * @param file the file to read
     * @return the array, held on the Java heap
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws DataFileException                 if the file is not a valid IDX file of unsigned bytes, its
     *                                           data exceed the limit, or its gzip data are corrupt
     * @throws IOException                       if reading fails otherwise
     * @throws IllegalArgumentException          if the limit setting is malformed (see {@link #limit()})
     */
    public static Idx read(Path file) throws IOException {
        return read(file, limit());
    }

    /**
     * {@link #read(Path)} with the given limit on the bytes of the data array instead of {@link #limit()}.
     *
     * @param file  the file to read
     * @param limit the most bytes the data array may take (one per element)
     * @return the array, held on the Java heap
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws DataFileException                 if the file is not a valid IDX file of unsigned bytes, its
     *                                           data exceed {@code limit}, or its gzip data are corrupt
     * @throws IOException                       if reading fails otherwise
     * @throws IllegalArgumentException          if {@code limit < 1}
     */
    public static Idx read(Path file, long limit) throws IOException {
        checkLimit(limit);
        try (Reader r = Reader.open(file)) {
            long bytes = r.count();
            if (bytes > limit) {
                throw new DataFileException(file, "the header claims shape " + Arrays.toString(r.shape) + ", "
                        + countText(bytes) + " data bytes (" + human(bytes) + "), beyond the " + limitText(limit)
                        + "; not an IDX file?");
            }
            return new Idx(file, r.shape, r.read(byte[]::new, (src, len, dst, at) -> System.arraycopy(src, 0, dst, at,
                    len)));
        }
    }

    static void checkLimit(long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("the data size limit must be at least 1 byte, got " + limit);
        }
    }

    /** "the 1 GiB limit (gatun.data.limit)", for messages. */
    static String limitText(long limit) {
        return human(limit) + " limit (" + LIMIT_PROPERTY + ")";
    }

    /** {@code n} as a decimal number, or "more than 9223372036854775807" for a count that saturated. */
    static String countText(long n) {
        return n == Long.MAX_VALUE ? "more than " + Long.MAX_VALUE : Long.toString(n);
    }

    /** {@code a · b} for non-negative operands, {@link Long#MAX_VALUE} if that does not fit. */
    static long saturatedProduct(long a, long b) {
        return a != 0 && b > Long.MAX_VALUE / a ? Long.MAX_VALUE : a * b;
    }

    /** A byte count in binary units: "512 bytes", "1 GiB", "4.0 GiB". */
    static String human(long bytes) {
        if (bytes == Long.MAX_VALUE) {
            return "more than 8 EiB";
        }
        if (bytes < 1024) {
            return bytes + " bytes";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        int u = Math.min(units.length, (63 - Long.numberOfLeadingZeros(bytes)) / 10);
        long unit = 1L << 10 * u;
        return bytes % unit == 0 ? bytes / unit + " " + units[u - 1]
                : String.format(Locale.ROOT, "%.1f %s", (double) bytes / unit, units[u - 1]);
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

    /**
     * The file this array was read from.
     *
     * @return the path given to {@link #read(Path)}
     */
    public Path source() {
        return source;
    }

    /**
     * The size of each dimension, outermost first (e.g. {@code [60000, 28, 28]} for MNIST images).
     *
     * @return a copy of the shape, of length {@link #dim()}
     */
    public int[] shape() {
        return shape.clone();
    }

    /**
     * The number of dimensions.
     *
     * @return from 1 to {@value #MAX_DIMENSIONS}
     */
    public int dim() {
        return shape.length;
    }

    /**
     * The size of one dimension.
     *
     * @param d the dimension, from 0 to {@link #dim()} - 1
     * @return its size, 0 or more
     * @throws ArrayIndexOutOfBoundsException if {@code d} is not a dimension
     */
    public int size(int d) {
        return shape[d];
    }

    /**
     * The elements, row-major, as stored: read them as unsigned with {@code data()[i] & 0xff}. This is
     * the array itself, not a copy.
     *
     * @return the {@code shape()[0] · ... · shape()[dim() - 1]} elements
     */
    public byte[] data() {
        return data;
    }

    @Override
    public String toString() {
        return "Idx(" + source + ", ubyte " + Arrays.toString(shape) + ")";
    }

    // ---------------------------------------------------------------- reading

    /** Turns {@code len} data bytes from {@code src} into elements of {@code dst} starting at element {@code at}. */
    @FunctionalInterface
    interface Decoder<A> {
        void decode(byte[] src, int len, A dst, int at) throws DataFileException;
    }

    /**
     * An open IDX file whose header has been read and checked, the stream positioned at the data. Lets
     * a caller look at the shapes of several files, and check what they would take against a limit,
     * before it allocates anything for their data.
     */
    static final class Reader implements Closeable {

        final Path file;
        final int[] shape;
        private final long count;
        /** The data bytes a raw regular file holds by its length; -1 for a gzip file or a non-regular one. */
        private final long available;
        private final String where;
        private final InputStream in;

        private Reader(Path file, int[] shape, long count, long available, String where, InputStream in) {
            this.file = file;
            this.shape = shape;
            this.count = count;
            this.available = available;
            this.where = where;
            this.in = in;
        }

        /** Opens {@code file} and checks its header. */
        static Reader open(Path file) throws IOException {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            if (attributes.isDirectory()) {
                throw new DataFileException(file, "is a directory, not an IDX file");
            }
            InputStream raw = new BufferedInputStream(Files.newInputStream(file), CHUNK);
            InputStream in = raw;
            try {
                raw.mark(2);
                boolean gzip = raw.read() == 0x1f && raw.read() == 0x8b;
                raw.reset();
                if (gzip) {
                    in = new GzipInput(file, raw);
                }
                String where = gzip ? " after gzip decompression" : "";
                int[] shape = header(file, in, where);
                long count = 1;
                for (int size : shape) {
                    count = saturatedProduct(count, size);
                }
                // A raw regular file's length tells how many data bytes it really holds (checkLength).
                long available = !gzip && attributes.isRegularFile() ? attributes.size() - (4 + 4L * shape.length) : -1;
                return new Reader(file, shape, count, available, where, in);
            } catch (IOException | RuntimeException | Error e) {
                in.close(); // the gzip stream's close also ends its inflater
                throw e;
            }
        }

        /** Reads and checks the header from {@code in}; {@code where} qualifies byte counts in messages. */
        private static int[] header(Path file, InputStream in, String where) throws IOException {
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
                // Sizes are unsigned; one with the top bit set would be negative as an int.
                shape[d] = (sizes[4 * d] & 0xff) << 24 | (sizes[4 * d + 1] & 0xff) << 16
                        | (sizes[4 * d + 2] & 0xff) << 8 | sizes[4 * d + 3] & 0xff;
                if (shape[d] < 0) {
                    throw new DataFileException(file, "size " + Integer.toUnsignedString(shape[d]) + " of dimension "
                            + d + " does not fit a signed int32; not an IDX file?");
                }
            }
            return shape;
        }

        /**
         * Checks a raw file's length against its header: a truncated file, or one with bytes after the
         * data, fails here without anything allocated. Does nothing for a gzip file, whose length tells
         * nothing; {@link #read} checks it as it decompresses.
         */
        void checkLength() throws DataFileException {
            if (available >= 0 && available < count) {
                throw new DataFileException(file, "truncated: shape " + Arrays.toString(shape) + " needs "
                        + countText(count) + " data bytes, found " + available);
            }
            if (available > count) {
                throw new DataFileException(file, available - count + " unexpected bytes after the " + count
                        + " data bytes of shape " + Arrays.toString(shape));
            }
        }

        /** The number of elements the header claims; {@link Long#MAX_VALUE} if more. */
        long count() {
            return count;
        }

        /**
         * Reads the data into an array made by {@code newArray} and filled by {@code decoder}, then
         * checks that nothing follows it. The caller has checked {@link #count()} against its limit.
         * Unless the file's length vouches for the data ({@link #checkLength}, called first), the array
         * starts at {@value #CHUNK} elements and doubles as data arrives, so a file that lies about its
         * shape fails as truncated having allocated at most about four times what it holds.
         */
        <A> A read(IntFunction<A> newArray, Decoder<A> decoder) throws IOException {
            checkLength();
            if (count > MAX_ARRAY) {
                throw new DataFileException(file, "shape " + Arrays.toString(shape) + " has " + countText(count)
                        + " elements, more than a Java array holds");
            }
            int n = (int) count;
            int capacity = available >= 0 ? n : Math.min(n, CHUNK);
            A data = newArray.apply(capacity);
            byte[] chunk = new byte[Math.min(Math.max(n, 1 << 13), CHUNK)]; // 8 KiB at least, to count trailing bytes
            int filled = 0;
            while (filled < n) {
                int got = in.read(chunk, 0, Math.min(chunk.length, n - filled));
                if (got < 0) {
                    throw new DataFileException(file, "truncated: shape " + Arrays.toString(shape) + " needs " + n
                            + " data bytes, found " + filled + where);
                }
                if (filled + got > capacity) {
                    capacity = (int) Math.min(n, Math.max(filled + got, 2L * capacity));
                    A grown = newArray.apply(capacity);
                    System.arraycopy(data, 0, grown, 0, filled);
                    data = grown;
                }
                decoder.decode(chunk, got, data, filled);
                filled += got;
            }
            long extra = 0;
            for (int got; extra <= TRAILING_COUNTED && (got = in.read(chunk, 0, chunk.length)) >= 0; ) {
                extra += got;
            }
            if (extra > 0) {
                throw new DataFileException(file, (extra > TRAILING_COUNTED ? "more than " + TRAILING_COUNTED : extra)
                        + " unexpected bytes after the " + n + " data bytes of shape " + Arrays.toString(shape)
                        + where);
            }
            return data;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /**
     * The decompressed content of a gzip file (RFC 1952), one or more members. Unlike
     * {@link java.util.zip.GZIPInputStream}, which ignores whatever follows a member when it is not
     * another member, it rejects such bytes: a file with something appended is damaged. Every problem
     * is a {@link DataFileException} naming the file.
     */
    private static final class GzipInput extends InputStream {

        private static final int FHCRC = 2;
        private static final int FEXTRA = 4;
        private static final int FNAME = 8;
        private static final int FCOMMENT = 16;

        private final Path file;
        private final InputStream raw;
        private final byte[] buf = new byte[CHUNK];
        private int pos;
        private int lim;
        /** Compressed bytes read into {@link #buf} before its current content. */
        private long offset;
        private final Inflater inflater = new Inflater(true);
        private final CRC32 crc = new CRC32();
        /** Between a member's header and its trailer. */
        private boolean inMember;
        private boolean eof;

        GzipInput(Path file, InputStream raw) throws IOException {
            this.file = file;
            this.raw = raw;
            try {
                memberHeader(true);
            } catch (IOException | RuntimeException e) {
                inflater.end();
                throw e;
            }
        }

        private DataFileException corrupt(String problem) {
            return new DataFileException(file, "gzip data is corrupt or truncated (" + problem + ", at compressed byte "
                    + (offset + pos) + ")");
        }

        /** Makes input available in {@link #buf}; false at the end of the file. */
        private boolean fill() throws IOException {
            if (pos < lim) {
                return true;
            }
            offset += lim;
            pos = 0;
            lim = 0;
            int n = raw.read(buf, 0, buf.length);
            if (n <= 0) {
                return false;
            }
            lim = n;
            return true;
        }

        /** The next compressed byte of a member header or trailer, added to {@code headerCrc}. */
        private int headerByte(CRC32 headerCrc) throws IOException {
            if (!fill()) {
                throw corrupt("the file ends inside a gzip member's header or trailer");
            }
            headerCrc.update(buf[pos]);
            return buf[pos++] & 0xff;
        }

        /** Reads a member header, the magic bytes included; {@code first} tells the file's first member. */
        private void memberHeader(boolean first) throws IOException {
            CRC32 headerCrc = new CRC32();
            long start = offset + pos;
            if (headerByte(headerCrc) != 0x1f || headerByte(headerCrc) != 0x8b) {
                if (first) {
                    throw corrupt("no gzip magic");
                }
                throw new DataFileException(file, "the bytes from compressed byte " + start + " on, after the end of"
                        + " the gzip data, are not another gzip member (trailing garbage)");
            }
            int method = headerByte(headerCrc);
            if (method != 8) {
                throw corrupt("compression method " + method + " is not deflate (8)");
            }
            int flags = headerByte(headerCrc);
            if ((flags & 0xe0) != 0) {
                throw corrupt("reserved header flags 0x" + Integer.toHexString(flags) + " are set");
            }
            for (int i = 0; i < 6; i++) { // modification time, extra flags, operating system
                headerByte(headerCrc);
            }
            if ((flags & FEXTRA) != 0) {
                int length = headerByte(headerCrc) | headerByte(headerCrc) << 8;
                for (int i = 0; i < length; i++) {
                    headerByte(headerCrc);
                }
            }
            for (int flag : new int[] {FNAME, FCOMMENT}) {
                if ((flags & flag) != 0) {
                    while (headerByte(headerCrc) != 0) {
                        // a zero-terminated name or comment, skipped
                    }
                }
            }
            if ((flags & FHCRC) != 0) {
                int expected = (int) headerCrc.getValue() & 0xffff;
                if ((headerByte(headerCrc) | headerByte(headerCrc) << 8) != expected) {
                    throw corrupt("the gzip header's checksum does not match");
                }
            }
            inflater.reset();
            crc.reset();
            inMember = true;
        }

        /** Reads and checks a member trailer: the CRC-32 and length, modulo 2^32, of the member's content. */
        private void memberTrailer() throws IOException {
            CRC32 unused = new CRC32();
            long storedCrc = 0;
            long storedSize = 0;
            for (int i = 0; i < 4; i++) {
                storedCrc |= (long) headerByte(unused) << 8 * i;
            }
            for (int i = 0; i < 4; i++) {
                storedSize |= (long) headerByte(unused) << 8 * i;
            }
            if (storedCrc != crc.getValue()) {
                throw corrupt("CRC-32 mismatch: the trailer says " + Long.toHexString(storedCrc) + ", the data has "
                        + Long.toHexString(crc.getValue()));
            }
            if (storedSize != (inflater.getBytesWritten() & 0xffffffffL)) {
                throw corrupt("length mismatch: the trailer says " + storedSize + " bytes mod 2^32, the data has "
                        + inflater.getBytesWritten());
            }
            inMember = false;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            while (!eof) {
                if (!inMember) {
                    if (!fill()) {
                        eof = true;
                        break;
                    }
                    memberHeader(false);
                }
                int n;
                try {
                    n = inflater.inflate(b, off, len);
                } catch (DataFormatException e) {
                    throw corrupt(e.getMessage() == null ? "invalid deflate data" : e.getMessage());
                }
                if (n > 0) {
                    crc.update(b, off, n);
                    return n;
                }
                if (inflater.finished()) {
                    pos = lim - inflater.getRemaining();
                    memberTrailer();
                } else if (inflater.needsDictionary()) {
                    throw corrupt("the deflate data asks for a preset dictionary");
                } else if (inflater.needsInput()) {
                    if (!fill()) {
                        throw corrupt("the file ends inside the compressed data");
                    }
                    inflater.setInput(buf, pos, lim - pos);
                    pos = lim; // the inflater holds these bytes now; getRemaining() says what it left
                }
            }
            return -1;
        }

        @Override
        public void close() throws IOException {
            inflater.end(); // frees zlib's native state now rather than at garbage collection
            raw.close();
        }
    }
}
