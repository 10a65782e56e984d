package dev.gatun.data;

import static dev.gatun.data.IdxFiles.counting;
import static dev.gatun.data.IdxFiles.gzip;
import static dev.gatun.data.IdxFiles.idx;
import static dev.gatun.data.IdxFiles.ubyte;
import static dev.gatun.data.IdxFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.cli.Gatun;
import dev.gatun.testing.Allocation;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

/**
 * Hostile IDX files, made here: every one must fail with a {@link DataFileException} that names the
 * file, never with another throwable, and having allocated at most a small multiple of what the file
 * really holds once decompressed. Heap allocation is measured with the current thread's allocation
 * counter; the reader allocates no native memory but zlib's fixed state, so the decisions about
 * size are checked on the heap, and once under a tiny heap in a separate JVM.
 */
class IdxFuzzTest {

    /** What a read may allocate whatever the file: stream buffers, the first chunk of each array, messages. */
    private static final long OVERHEAD = 2L << 20;
    /**
     * What a read may allocate per data byte the file really holds (decompressed): four for a float or
     * an int, twice for arrays that double as data arrives, twice again for the copy while growing.
     */
    private static final long PER_BYTE = 16;
    private static final long GIB = 1L << 30;
    private static final byte[] MIB_OF_ZEROS = gzip(new byte[1 << 20]);

    @TempDir
    Path dir;

    @BeforeEach
    void warmUp() throws IOException {
        // Loads the classes involved, so that their loading does not count as the reads' allocation.
        Path images = write(dir.resolve("warm/i.gz"), gzip(ubyte(new int[] {2, 2, 2}, new byte[8])));
        Path labels = write(dir.resolve("warm/l"), ubyte(new int[] {2}, new byte[2]));
        Mnist.read(images, labels, GIB);
        Idx.read(images, GIB);
        Path bad = write(dir.resolve("warm/bad"), new byte[] {1});
        outcome(bad, 0, () -> Idx.read(bad, GIB));
        allocated();
    }

    // ---------------------------------------------------------------- helpers

    private static long allocated() {
        return Allocation.allocated();
    }

    @FunctionalInterface
    private interface Read {
        Object run() throws Throwable;
    }

    /**
     * Runs {@code read}, which may succeed or throw a {@link DataFileException} naming one of
     * {@code files}; anything else thrown, or more heap allocated than {@link #OVERHEAD} plus
     * {@link #PER_BYTE} per byte of {@code realBytes}, fails the test. Returns the exception, else null.
     */
    private static DataFileException outcome(List<Path> files, long realBytes, Read read) {
        long before = allocated();
        Throwable thrown = null;
        try {
            read.run();
        } catch (Throwable t) {
            thrown = t;
        }
        long used = allocated() - before;
        if (thrown != null && !(thrown instanceof DataFileException)) {
            throw new AssertionFailedError("reading " + files + " threw " + thrown + ", not a DataFileException",
                    thrown);
        }
        long allowed = OVERHEAD + PER_BYTE * realBytes;
        assertTrue(used <= allowed, () -> "reading " + files + " of " + realBytes + " real bytes allocated " + used
                + " bytes, more than " + allowed);
        if (thrown instanceof DataFileException e) {
            assertTrue(files.contains(e.file()), () -> e.getMessage() + " names none of " + files);
            assertTrue(e.getMessage().startsWith(e.file() + ": "), e.getMessage());
            return e;
        }
        return null;
    }

    private static DataFileException outcome(Path file, long realBytes, Read read) {
        return outcome(List.of(file), realBytes, read);
    }

    /** {@code read} must fail with a DataFileException naming {@code file}; returns its message. */
    private static String fails(Path file, long realBytes, Read read) {
        DataFileException e = outcome(file, realBytes, read);
        if (e == null) {
            throw new AssertionFailedError("reading " + file + " succeeded; a DataFileException was expected");
        }
        assertEquals(file, e.file(), e.getMessage());
        return e.getMessage();
    }

    /** {@link Idx#read(Path, long)} with a 1 GiB limit of {@code bytes} written raw, must fail. */
    private String rawFails(String name, byte[] bytes, long realBytes) throws IOException {
        Path file = write(dir.resolve(name), bytes);
        return fails(file, realBytes, () -> Idx.read(file, GIB));
    }

    /** {@link Idx#read(Path, long)} with a 1 GiB limit of {@code bytes} gzip-compressed, must fail. */
    private String gzipFails(String name, byte[] bytes, long realBytes) throws IOException {
        Path file = write(dir.resolve(name + ".gz"), gzip(bytes));
        return fails(file, realBytes, () -> Idx.read(file, GIB));
    }

    private static void assertContains(String message, String... parts) {
        for (String part : parts) {
            assertTrue(message.contains(part), () -> "expected '" + part + "' in: " + message);
        }
    }

    /** The 4 + 4·d header bytes of an unsigned-byte IDX file of {@code shape}. */
    private static byte[] header(int... shape) {
        return ubyte(shape, new byte[0]);
    }

    /**
     * A gzip file whose first member holds {@code head}, followed by members holding {@code zeros} zero
     * bytes in all: a bomb that really decompresses to that much, made in milliseconds (about 1 KB of
     * file per MiB of zeros).
     */
    private static byte[] bomb(byte[] head, long zeros) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(gzip(head));
        for (; zeros >= 1 << 20; zeros -= 1 << 20) {
            out.writeBytes(MIB_OF_ZEROS);
        }
        if (zeros > 0) {
            out.writeBytes(gzip(new byte[(int) zeros]));
        }
        return out.toByteArray();
    }

    // ---------------------------------------------------------------- cases

    @Test
    void truncatedAtEveryByte() throws IOException {
        byte[] whole = ubyte(new int[] {3, 4, 5}, counting(60));
        for (int cut = 0; cut < whole.length; cut++) {
            byte[] part = Arrays.copyOf(whole, cut);
            assertContains(rawFails("cut" + cut, part, cut), "truncated");
            assertContains(gzipFails("cut" + cut, part, cut), "truncated");
        }
        assertContains(rawFails("header", Arrays.copyOf(whole, 9), 9), "3 dimensions need 12 size bytes, found 5");
        assertContains(rawFails("data", Arrays.copyOf(whole, 40), 40), "needs 60 data bytes, found 24");
        assertContains(gzipFails("data", Arrays.copyOf(whole, 40), 40),
                "needs 60 data bytes, found 24 after gzip decompression");
        // The compressed stream itself cut anywhere, its header and trailer included.
        byte[] packed = gzip(whole);
        for (int cut = 2; cut < packed.length; cut++) {
            Path file = write(dir.resolve("packed" + cut), Arrays.copyOf(packed, cut));
            assertContains(fails(file, whole.length, () -> Idx.read(file, GIB)), "gzip data is corrupt or truncated");
        }
    }

    @Test
    void oversizedShapesFailBeforeAllocating() throws IOException {
        int max = Integer.MAX_VALUE;
        int[][] shapes = {{max, 28, 28}, {60000, 60000, 60000}, {max, max, max, max, max, max, max, max},
            {(1 << 30) + 1}, {1 << 30}, {1369000, 28, 28}, {max}};
        for (int[] shape : shapes) {
            byte[] file = ubyte(shape, counting(16));
            long count = Arrays.stream(shape).asLongStream()
                    .reduce(1, (a, b) -> a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b);
            String within = count <= GIB ? "truncated" : "beyond the 1 GiB limit (gatun.data.limit)";
            assertContains(rawFails("raw", file, 16), within, Arrays.toString(shape));
            assertContains(gzipFails("packed", file, 16), within, Arrays.toString(shape));
        }
        assertContains(rawFails("eight", ubyte(shapes[2], new byte[0]), 0),
                "more than 9223372036854775807 data bytes (more than 8 EiB), beyond the 1 GiB limit");
        assertContains(rawFails("gib", ubyte(new int[] {(1 << 30) + 1}, new byte[0]), 0),
                "the header claims shape [1073741825], 1073741825 data bytes (1.0 GiB), beyond the 1 GiB limit");

        // MNIST counts four bytes per pixel and per label: this header, the defect report's, fails at once.
        Path images = write(dir.resolve("mnist/train-images-idx3-ubyte.gz"),
                gzip(ubyte(new int[] {1369000, 28, 28}, new byte[784])));
        Path labels = write(dir.resolve("mnist/train-labels-idx1-ubyte.gz"), gzip(ubyte(new int[] {1369000},
                new byte[1]))); // also lies, but is never read
        assertEquals(images + ": declares 1369000 images of 28x28 (4.0 GiB as floats), beyond the 1 GiB limit"
                + " (gatun.data.limit)", fails(images, 785, () -> Mnist.read(images, labels, GIB)));

        // Two sets that fit the limit each but not together: the one that goes over is named.
        write(dir.resolve("mnist/t10k-images-idx3-ubyte.gz"), gzip(ubyte(new int[] {200000, 28, 28}, new byte[16])));
        write(dir.resolve("mnist/t10k-labels-idx1-ubyte.gz"), gzip(ubyte(new int[] {200000}, new byte[16])));
        write(images, gzip(ubyte(new int[] {200000, 28, 28}, new byte[16])));
        write(labels, gzip(ubyte(new int[] {200000}, new byte[16])));
        Path testImages = dir.resolve("mnist/t10k-images-idx3-ubyte.gz");
        assertContains(fails(testImages, 64, () -> Mnist.load(dir.resolve("mnist"), GIB)),
                "declares 200000 images of 28x28 (598.1 MiB as floats), which with the 598.9 MiB of"
                        + " train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz makes 1.2 GiB,"
                        + " beyond the 1 GiB limit");
    }

    @Test
    void gzipBombs() throws IOException {
        // A small stream that claims a large shape within the limit fails as truncated without
        // allocating what it claims.
        Path liar = write(dir.resolve("liar.gz"), gzip(ubyte(new int[] {1_000_000_000}, counting(1000))));
        assertContains(fails(liar, 1000, () -> Idx.read(liar, GIB)),
                "truncated: shape [1000000000] needs 1000000000 data bytes, found 1000 after gzip decompression");

        // The same for MNIST: real labels, images that stop after 100 of the 300,000 they claim.
        Path images = write(dir.resolve("images.gz"), gzip(ubyte(new int[] {300_000, 28, 28}, counting(78_400))));
        Path labels = write(dir.resolve("labels.gz"), bomb(header(300_000), 300_000));
        assertContains(fails(images, 378_400, () -> Mnist.read(images, labels, GIB)),
                "needs 235200000 data bytes, found 78400 after gzip decompression");

        // Real bombs: zeros that decompress to 64 MiB, claimed by the header, beyond a 16 MiB limit.
        Path real = write(dir.resolve("real.gz"), bomb(header(64 << 20), 64 << 20));
        assertContains(fails(real, 0, () -> Idx.read(real, 16 << 20)),
                "[67108864], 67108864 data bytes (64 MiB), beyond the 16 MiB limit");
        // MNIST images whose bytes fit a 64 MiB limit but whose floats do not: nothing is decompressed.
        int n = (32 << 20) / 784;
        Path zeros = write(dir.resolve("zeros.gz"), bomb(header(n, 28, 28), (long) n * 784));
        Path zeroLabels = write(dir.resolve("zeroLabels.gz"), bomb(header(n), n));
        assertContains(fails(zeros, 0, () -> Mnist.read(zeros, zeroLabels, 64 << 20)),
                "declares 42799 images of 28x28 (128.0 MiB as floats), beyond the 64 MiB limit");
        // A header that claims a little, then 256 MiB of zeros: decompression stops 1 MiB past the data.
        Path tail = write(dir.resolve("tail.gz"), bomb(ubyte(new int[] {1000}, counting(1000)), 256 << 20));
        assertContains(fails(tail, 1000, () -> Idx.read(tail, GIB)),
                "more than 1048576 unexpected bytes after the 1000 data bytes of shape [1000]"
                        + " after gzip decompression");
    }

    @Test
    void wrongMagicAndElementType() throws IOException {
        for (int b : new int[] {0x01, 0x08, 0x1f, 0x80, 0xff}) {
            byte[] first = ubyte(new int[] {2}, new byte[2]);
            first[0] = (byte) b;
            assertContains(rawFails("m0", first, 6), "not an IDX file", "an IDX file with 00 00");
            byte[] second = ubyte(new int[] {2}, new byte[2]);
            second[1] = (byte) b;
            assertContains(rawFails("m1", second, 6), "not an IDX file");
            assertContains(gzipFails("m1", second, 6), "not an IDX file", "after gzip decompression");
        }
        for (int type = 0; type < 256; type++) {
            if (type != Idx.UNSIGNED_BYTE) {
                byte[] file = idx(type, new int[] {2}, new byte[2]);
                assertContains(rawFails("t", file, 6), "element type 0x", "is not supported, only 0x08");
                assertContains(gzipFails("t", file, 6), "element type 0x");
            }
        }
        assertContains(rawFails("d0", idx(8, new int[0], new byte[1]), 5), "dimension count 0");
        Path folder = Files.createDirectories(dir.resolve("folder"));
        assertContains(fails(folder, 0, () -> Idx.read(folder, GIB)), folder + ": is a directory, not an IDX file");
        for (int dims : new int[] {9, 16, 255}) {
            assertContains(rawFails("d", idx(8, new int[dims], new byte[0]), 4 * dims), "dimension count " + dims);
        }
    }

    @Test
    void sizesAreUnsignedAndZeroIsEmpty() throws IOException {
        // 0x80000000 and 0xffffffff look negative as int32; IDX sizes are unsigned.
        for (int size : new int[] {0x80000000, 0xffffffff, 0xfffffff0}) {
            assertContains(rawFails("u", ubyte(new int[] {size}, new byte[0]), 0),
                    "size " + Integer.toUnsignedString(size) + " of dimension 0 does not fit a signed int32");
            assertContains(gzipFails("u", ubyte(new int[] {3, 2, size}, new byte[6]), 6),
                    "of dimension 2 does not fit");
        }
        // A zero size makes an empty array whatever the other sizes.
        Path empty = write(dir.resolve("empty"), ubyte(new int[] {Integer.MAX_VALUE, 0}, new byte[0]));
        assertEquals(0, Idx.read(empty, GIB).data().length);

        Path images = write(dir.resolve("images"), ubyte(new int[] {0, Integer.MAX_VALUE, Integer.MAX_VALUE},
                new byte[0]));
        Path labels = write(dir.resolve("labels"), ubyte(new int[] {0}, new byte[0]));
        assertContains(fails(images, 0, () -> Mnist.read(images, labels, GIB)),
                "images of 2147483647x2147483647 pixels are larger than a Java array holds");
        write(images, ubyte(new int[] {3, 0, 28}, new byte[0]));
        assertContains(fails(images, 0, () -> Mnist.read(images, labels, GIB)),
                "MNIST images must be 3-d [N, rows, cols] with rows, cols >= 1, the file holds shape [3, 0, 28]");
    }

    @Test
    void imageAndLabelCountsAreComparedBeforeReading() throws IOException {
        Path images = write(dir.resolve("images"), ubyte(new int[] {5, 4, 3}, counting(60)));
        Path labels = write(dir.resolve("labels"), ubyte(new int[] {4}, new byte[4]));
        assertEquals(labels + ": holds 4 labels but " + images + " holds 5 images",
                fails(labels, 64, () -> Mnist.read(images, labels, GIB)));
        // A labels file that lies about its count is caught by the comparison, its data never read.
        Path liar = write(dir.resolve("liar.gz"), gzip(ubyte(new int[] {1_000_000_000}, new byte[5])));
        assertContains(fails(liar, 65, () -> Mnist.read(images, liar, GIB)),
                "holds 1000000000 labels but " + images + " holds 5 images");
        // An images file that claims more than it holds, with labels to match.
        Path many = write(dir.resolve("many.gz"), gzip(ubyte(new int[] {100_000, 4, 3}, counting(60))));
        Path manyLabels = write(dir.resolve("manyLabels.gz"), gzip(ubyte(new int[] {100_000}, new byte[100_000])));
        assertContains(fails(many, 100_060, () -> Mnist.read(many, manyLabels, GIB)),
                "needs 1200000 data bytes, found 60 after gzip decompression");
    }

    @Test
    void trailingGarbage() throws IOException {
        byte[] file = ubyte(new int[] {2, 2}, counting(4));
        byte[] longer = Arrays.copyOf(file, file.length + 3);
        assertContains(rawFails("raw", longer, 15), "3 unexpected bytes after the 4 data bytes of shape [2, 2]");
        assertContains(gzipFails("packed", longer, 15), "3 unexpected bytes", "after gzip decompression");
        // Bytes after the gzip data that are not another gzip member: GZIPInputStream would ignore them.
        for (byte[] junk : new byte[][] {{'x'}, "junk appended".getBytes(StandardCharsets.US_ASCII), new byte[512],
            {0x1f}, {0x1f, 0x00, 0x08}}) {
            byte[] packed = gzip(file);
            byte[] appended = Arrays.copyOf(packed, packed.length + junk.length);
            System.arraycopy(junk, 0, appended, packed.length, junk.length);
            Path p = write(dir.resolve("appended"), appended);
            assertContains(fails(p, 8, () -> Idx.read(p, GIB)), junk[0] == 0x1f ? "gzip" : "(trailing garbage)");
        }
        // Concatenated gzip members are one stream (RFC 1952), so this file is fine.
        byte[] whole = ubyte(new int[] {3, 4}, counting(12));
        ByteArrayOutputStream members = new ByteArrayOutputStream();
        members.writeBytes(gzip(Arrays.copyOf(whole, 7)));
        members.writeBytes(gzip(new byte[0]));
        members.writeBytes(gzip(Arrays.copyOfRange(whole, 7, whole.length)));
        Path concatenated = write(dir.resolve("members.gz"), members.toByteArray());
        assertArrayEquals(counting(12), Idx.read(concatenated, GIB).data());
    }

    /** A small MNIST pair: images [6, 4, 3] and labels [6]. */
    private static byte[][] smallPair() {
        byte[] images = ubyte(new int[] {6, 4, 3}, counting(72));
        byte[] labels = ubyte(new int[] {6}, new byte[] {0, 1, 2, 3, 4, 9});
        return new byte[][] {images, labels};
    }

    /**
     * Random damage with a fixed seed to one file of a valid pair, raw or gzip: one to three flipped
     * bytes (which may leave a valid file: a pixel, a gzip time stamp), a cut, or random bytes appended
     * (neither of which may). Each damaged pair is read as MNIST and the damaged file alone as IDX.
     */
    @Test
    void randomDamage() throws IOException {
        SplittableRandom random = new SplittableRandom(20240611);
        byte[][] plain = smallPair();
        byte[][] packed = {gzip(plain[0]), gzip(plain[1])};
        Path images = dir.resolve("images");
        Path labels = dir.resolve("labels");
        int failures = 0;
        int successes = 0;
        for (int round = 0; round < 1000; round++) {
            byte[][] pair = random.nextBoolean() ? plain : packed;
            byte[][] files = {pair[0], pair[1]};
            int which = random.nextInt(2);
            byte[] target = files[which].clone();
            int damage = random.nextInt(4);
            if (damage < 2) {
                for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
                    target[random.nextInt(target.length)] ^= (byte) (1 + random.nextInt(255));
                }
            } else if (damage == 2) {
                target = Arrays.copyOf(target, random.nextInt(target.length));
            } else {
                int length = target.length;
                target = Arrays.copyOf(target, length + 1 + random.nextInt(16));
                for (int i = length; i < target.length; i++) {
                    target[i] = (byte) random.nextInt(256);
                }
                target[length] = 0x42; // not the gzip magic's first byte, which would start another member
            }
            files[which] = target;
            write(images, files[0]);
            write(labels, files[1]);
            long limit = random.nextBoolean() ? GIB : 4096;
            DataFileException e = outcome(List.of(images, labels), plain[0].length + plain[1].length,
                    () -> Mnist.read(images, labels, limit));
            Path one = which == 0 ? images : labels;
            DataFileException alone = outcome(one, plain[0].length, () -> Idx.read(one, limit));
            if (damage >= 2) {
                String what = (damage == 2 ? "cut" : "appended") + " file " + one + " read as";
                assertTrue(e != null, () -> what + " MNIST succeeded");
                assertTrue(alone != null, () -> what + " IDX succeeded");
            }
            if (e == null) {
                successes++;
            } else {
                failures++;
            }
        }
        // Flipped pixels and gzip header fields such as the time stamp leave a valid file.
        assertTrue(failures > 300 && successes > 30, failures + " failures, " + successes + " successes");
    }

    @Test
    void limitIsConfigurable() throws IOException {
        Path file = write(dir.resolve("f"), ubyte(new int[] {2048}, new byte[2048]));
        String before = System.getProperty(Idx.LIMIT_PROPERTY);
        try {
            System.setProperty(Idx.LIMIT_PROPERTY, "1k");
            assertEquals(1024, Idx.limit());
            assertContains(fails(file, 2048, () -> Idx.read(file)),
                    "2048 data bytes (2 KiB), beyond the 1 KiB limit");
            System.setProperty(Idx.LIMIT_PROPERTY, " 4G ");
            assertEquals(4 * GIB, Idx.limit());
            assertEquals(2048, Idx.read(file).data().length);
            System.setProperty(Idx.LIMIT_PROPERTY, "512");
            assertEquals(512, Idx.limit());
            for (String bad : new String[] {"lots", "0", "-5", "9999999999t", "1.5g"}) {
                System.setProperty(Idx.LIMIT_PROPERTY, bad);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Idx::limit);
                assertEquals("gatun.data.limit must be a positive size in bytes, e.g. 1073741824, 512m or 4g, got '"
                        + bad + "'", e.getMessage());
            }
        } finally {
            if (before == null) {
                System.clearProperty(Idx.LIMIT_PROPERTY);
            } else {
                System.setProperty(Idx.LIMIT_PROPERTY, before);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Idx.read(file, 0));
    }

    /** The defect report's file, a gzip bomb that really decompresses to 1.07 GB, with the other three files. */
    private Path bombDirectory() throws IOException {
        Path data = dir.resolve("bomb");
        write(data.resolve("train-images-idx3-ubyte.gz"), bomb(header(1369000, 28, 28), 1369000L * 784));
        write(data.resolve("train-labels-idx1-ubyte.gz"), bomb(header(1369000), 1369000));
        byte[][] pair = smallPair();
        write(data.resolve("t10k-images-idx3-ubyte"), pair[0]);
        write(data.resolve("t10k-labels-idx1-ubyte"), pair[1]);
        return data;
    }

    @Test
    void commandLineReportsTheBombInOneLine() throws IOException {
        Path data = bombDirectory();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Gatun.run(new PrintWriter(out), new PrintWriter(err), "train", "mlp", "--data", data.toString());
        assertEquals(1, code, err.toString());
        assertEquals("gatun: " + data.resolve("train-images-idx3-ubyte.gz") + ": declares 1369000 images of 28x28"
                + " (4.0 GiB as floats), beyond the 1 GiB limit (gatun.data.limit)" + System.lineSeparator(),
                err.toString());
    }

    /** The same in a JVM with a 64 MB heap: the size decision comes before any allocation. */
    @Test
    void bombFailsWithinATinyHeap() throws IOException, InterruptedException {
        Path data = bombDirectory();
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx64m",
                "--enable-native-access=ALL-UNNAMED,dev.gatun.bindings,dev.gatun.engine"));
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath != null && !modulePath.isEmpty()) {
            cmd.addAll(List.of("--module-path", modulePath, "--add-modules", "ALL-MODULE-PATH"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.gatun.cli.Gatun", "train", "mlp",
                "--data", data.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, p.waitFor(), output);
        assertFalse(output.contains("OutOfMemoryError"), output);
        assertEquals(List.of("gatun: " + data.resolve("train-images-idx3-ubyte.gz") + ": declares 1369000 images of"
                + " 28x28 (4.0 GiB as floats), beyond the 1 GiB limit (gatun.data.limit)"), output.lines().toList());
    }

    @Test
    void headerFieldsOfAValidFileStillRead() throws IOException {
        // Guards the fuzz against a reader that rejects everything: a valid pair reads back exactly.
        byte[][] pair = smallPair();
        Path images = write(dir.resolve("ok/images.gz"), gzip(pair[0]));
        Path labels = write(dir.resolve("ok/labels"), pair[1]);
        Dataset d = Mnist.read(images, labels, 6 * 12 * 4 + 6 * 4);
        assertEquals(6, d.size());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 9}, d.labels());
        assertEquals(71 / 255f, d.features(5)[11]);
        assertContains(fails(labels, 100, () -> Mnist.read(images, labels, 6 * 12 * 4 + 6 * 4 - 1)),
                "declares 6 labels (24 bytes as ints), which with the 288 bytes of images.gz makes 312 bytes,"
                        + " beyond the 311 bytes limit");
    }
}
