package dev.gatun.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.nn.BatchNorm;
import dev.gatun.nn.BatchNorm1d;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.Allocation;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.AssertionFailedError;

/**
 * Hostile safetensors files, made here: each must be rejected with a {@link ModelFileException} that names
 * the file (never another throwable, never an {@link OutOfMemoryError}), and reading it may allocate on the
 * heap only a small multiple of the file's real size, whatever sizes it declares. Allocation is measured with
 * the current thread's allocation counter, as IdxFuzzTest does.
 */
class SafeTensorsFuzzTest {

    /** What a read may allocate whatever the file: the header's JSON objects, messages, class data. */
    private static final long OVERHEAD = 2L << 20;
    /** What it may allocate per byte of the file: the header as bytes, chars and parsed strings. */
    private static final long PER_BYTE = 16;

    @TempDir
    Path dir;

    private int count;

    // ---------------------------------------------------------------- helpers

    private static long allocated() {
        return Allocation.allocated();
    }

    /** Reads everything in the file: every tensor into a float tensor or longs, as a loader would. */
    private static void readAll(Path file) throws IOException {
        try (Scope s = Scope.open(); SafeTensors st = SafeTensors.open(file)) {
            for (SafeTensors.Entry e : st.entries().values()) {
                if (e.dtype().isFloating()) {
                    st.toTensor(e.name());
                } else {
                    try {
                        st.toLongs(e.name());
                    } catch (ModelFileException ignored) {
                        // U64 and the like: rejected clearly, which is what is asked
                    }
                }
            }
        }
    }

    private Path write(byte[] bytes) throws IOException {
        return Files.write(dir.resolve("f" + (count++) + ".safetensors"), bytes);
    }

    /**
     * Reads {@code bytes} as a file: returns null when it was accepted, the exception when it was rejected
     * with a ModelFileException naming the file; fails on any other throwable or on too much allocation.
     */
    private ModelFileException outcome(byte[] bytes) throws IOException {
        Path file = write(bytes);
        long before = allocated();
        Throwable thrown = null;
        try {
            readAll(file);
            try (BatchNorm bn = new BatchNorm1d(3)) {
                ModelFile.loadInto(bn, file);
            }
        } catch (Throwable t) {
            thrown = t;
        }
        long used = allocated() - before;
        if (thrown != null && !(thrown instanceof ModelFileException)) {
            throw new AssertionFailedError("reading " + file + " threw " + thrown + ", not a ModelFileException",
                    thrown);
        }
        long allowed = OVERHEAD + PER_BYTE * bytes.length;
        assertTrue(used <= allowed, () -> "reading " + file + " of " + bytes.length + " bytes allocated " + used
                + " bytes, more than " + allowed);
        if (thrown instanceof ModelFileException e) {
            assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
            assertTrue(file.equals(e.file()), e.getMessage());
            return e;
        }
        return null;
    }

    /** {@code bytes} must be rejected, with a message containing {@code expected}. */
    private void rejected(byte[] bytes, String expected) throws IOException {
        ModelFileException e = outcome(bytes);
        if (e == null) {
            throw new AssertionFailedError("a file was accepted; expected a rejection mentioning '" + expected + "'");
        }
        assertTrue(e.getMessage().contains(expected), () -> "'" + e.getMessage() + "' does not mention '" + expected
                + "'");
    }

    /** A file with the given header bytes (length prefixed, not padded) and data. */
    private static byte[] file(byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        return b.array();
    }

    private static byte[] file(String header, int dataBytes) {
        return file(header.getBytes(StandardCharsets.UTF_8), new byte[dataBytes]);
    }

    /** A header with one F32 tensor "w" of the given shape and offsets. */
    private static String one(String dtype, String shape, long begin, long end) {
        return "{\"w\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end
                + "]}}";
    }

    /** A small valid file written by the writer: the state of a BatchNorm1d(3), its count as an I64, metadata. */
    private byte[] valid() throws IOException {
        Path p = dir.resolve("valid.safetensors");
        try (Scope s = Scope.open()) {
            new SafeTensors.Writer().metadata("format", "pt")
                    .add("weight", Tensor.fromArray(new float[] {1, 2, 3}, 3))
                    .add("bias", Tensor.fromArray(new float[] {7, 8, 9}, 3))
                    .add("running_mean", Tensor.fromArray(new float[] {-1, 0, 1}, 3))
                    .add("running_var", Tensor.fromArray(new float[] {2, 3, 4}, 3))
                    .addLongs("num_batches_tracked", new long[0], new long[] {5}).write(p);
        }
        return Files.readAllBytes(p);
    }

    @BeforeEach
    void warmUp() throws IOException {
        // Loads the classes involved so that their loading does not count as the reads' allocation.
        outcome(valid());
        outcome(new byte[3]);
        outcome(file("{\"a\":[1,{\"b\":\"\\u00e9\"}],\"c\":tru}", 0));
        allocated();
    }

    // ---------------------------------------------------------------- cases

    @Test
    void theValidFileIsAcceptedAndLoadsIntoAMatchingModel() throws IOException {
        assertTrue(outcome(valid()) == null, "the valid file was rejected");
    }

    @Test
    void everyTruncationIsRejected() throws IOException {
        byte[] v = valid();
        for (int len = 0; len < v.length; len++) {
            byte[] cut = java.util.Arrays.copyOf(v, len);
            rejected(cut, len < 8 ? "shorter than the 8-byte header length"
                    : len < 8 + headerLength(v) ? "goes past the end of the file" : "holds");
        }
    }

    private static long headerLength(byte[] v) {
        return ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    @Test
    void headerLengthsPastTheEndOrHugeAreRejected() throws IOException {
        byte[] v = valid();
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
        long n = b.getLong(0);
        b.putLong(0, v.length - 8 + 1);
        rejected(v, "goes past the end");
        b.putLong(0, SafeTensors.MAX_HEADER_BYTES + 1);
        rejected(v, "exceeds the limit");
        b.putLong(0, -1L); // 2^64 - 1 as unsigned
        rejected(v, "18446744073709551615");
        b.putLong(0, Long.MAX_VALUE);
        rejected(v, "exceeds the limit");
        b.putLong(0, 0);
        rejected(v, "too short");
        b.putLong(0, n - 1); // the header's JSON cut, the rest read as data
        assertTrue(outcome(v) != null);
    }

    @Test
    void offsetsOutOfRangeOverlappingOrWithGapsAreRejected() throws IOException {
        rejected(file(one("F32", "[2]", 0, 8), 4), "holds 4 bytes");
        rejected(file(one("F32", "[2]", 8, 16), 16), "(a gap)");
        rejected(file(one("F32", "[2]", 0, 8), 12), "holds 12 bytes");
        rejected(file(one("F32", "[2]", 8, 0), 8), "before it begins");
        rejected(file(one("F32", "[2]", 0, Long.MAX_VALUE), 8), "needs 8 bytes");
        rejected(file(one("F32", "[2]", -8, 0), 8), "non-negative integer");
        rejected(file(one("F32", "[2]", 0, 1e3 > 0 ? 8 : 0).replace("8]", "8.0]"), 8), "non-negative integer");
        rejected(file(one("F32", "[2]", 0, 8).replace("[0,8]", "[0,8,9]"), 8), "data_offsets [begin, end]");
        String two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        rejected(file(two, 12), "overlaps");
        String gap = two.replace("[4,12]", "[12,20]");
        rejected(file(gap, 20), "(a gap)");
        String touching = two.replace("[4,12]", "[8,16]");
        assertTrue(outcome(file(touching, 16)) != null); // valid layout, but not a BatchNorm1d(3): "does not fit"
    }

    @Test
    void wrongDtypesAndShapesAreRejected() throws IOException {
        rejected(file(one("F99", "[2]", 0, 8), 8), "unknown dtype 'F99'");
        rejected(file(one("f32", "[2]", 0, 8), 8), "unknown dtype 'f32'");
        rejected(file(one("F32", "[3]", 0, 8), 8), "needs 12 bytes");
        rejected(file(one("F64", "[2]", 0, 8), 8), "needs 16 bytes");
        rejected(file(one("F32", "2", 0, 8), 8), "shape array");
        rejected(file(one("F32", "[2.5]", 0, 8), 8), "non-negative integer");
        rejected(file(one("F32", "[-2]", 0, 8), 8), "non-negative integer");
        rejected(file(one("F32", "[\"2\"]", 0, 8), 8), "non-negative integer");
        rejected(file(one("F32", "[1" + ",1".repeat(SafeTensors.MAX_RANK) + "]", 0, 4), 4), "dimensions");
        rejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0), "data_offsets");
        rejected(file("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"x\":1}}", 0), "unknown field");
        rejected(file("{\"w\":[1,2]}", 0), "must be described by an object");
        rejected(file("{\"__metadata__\":{\"k\":1}}", 0), "must be a string");
        rejected(file("{\"__metadata__\":[]}", 0), "must be an object of strings");
        // Integer data cannot become a float tensor: rejected when loaded into a model.
        rejected(file(one("I32", "[2]", 0, 8).replace("\"w\"", "\"weight\""), 8), "does not fit");
    }

    @Test
    void hugeDeclaredShapesAreRejectedWithoutAllocating() throws IOException {
        rejected(file(one("F32", "[4294967296,4294967296]", 0, 8), 8), "more elements than fit in 64 bits");
        rejected(file(one("F64", "[9223372036854775807]", 0, 8), 8), "more elements than fit in 64 bits");
        rejected(file(one("F32", "[9223372036854775808]", 0, 8), 8), "non-negative integer");
        rejected(file(one("F32", "[1099511627776]", 0, 4398046511104L), 8), "holds 8 bytes");
        rejected(file(one("F32", "[268435456]", 0, 1073741824), 64), "holds 64 bytes");
        rejected(file(one("F32", "[1,1,1,1,4294967296,4294967296,4294967296]", 0, 8), 8), "64 bits");
        // An architecture that would allocate far more than the file holds, refused before building it.
        String arch = "{\"type\":\"Linear\",\"in\":1048576,\"out\":1048576,\"bias\":true}";
        byte[] bytes = file(("{\"__metadata__\":{\"gatun.architecture\":" + Json.quote(arch) + "},"
                + one("F32", "[2]", 0, 8).substring(1)).getBytes(StandardCharsets.UTF_8), new byte[8]);
        Path p = write(bytes);
        long before = allocated();
        ModelFileException e = org.junit.jupiter.api.Assertions.assertThrows(ModelFileException.class,
                () -> ModelFile.load(p));
        assertTrue(e.getMessage().contains("more than the file holds"), e.getMessage());
        assertTrue(allocated() - before < OVERHEAD, "the refused architecture allocated");
    }

    @Test
    void invalidUtf8IsRejected() throws IOException {
        byte[][] bad = {{(byte) 0xc3, 0x28}, {(byte) 0xc0, (byte) 0xaf}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
                {(byte) 0xff}, {(byte) 0xe2, (byte) 0x82}, {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}};
        for (byte[] b : bad) {
            byte[] header = ("{\"__metadata__\":{\"k\":\"" + "x".repeat(b.length) + "\"}}")
                    .getBytes(StandardCharsets.UTF_8);
            System.arraycopy(b, 0, header, 22, b.length);
            rejected(file(header, new byte[0]), "not valid UTF-8");
        }
    }

    @Test
    void invalidJsonIsRejected() throws IOException {
        String[] bad = {
            "{\"a\":1,}", "{'a':1}", "{\"a\":NaN}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}",
            "{\"a\":\"x\ty\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\\u12\"}", "{\"a\":tru}", "{\"a\":1}/**/", "{\"a\":1} x", "{\"a\" 1}", "{\"a\":[1 2]}",
            "{\"a\":\"unterminated}", "{1:2}", "{\"a\":1}\u00a0", "[]", "{\"a\":1", "\"{\"",
        };
        for (String s : bad) {
            ModelFileException e = outcome(file(s, 0));
            assertTrue(e != null, () -> "accepted " + s);
        }
        for (String s : bad) {
            if (s.startsWith("{") && !s.equals("{\"a\":1}\u00a0") && !s.contains("\"a\":1}")) {
                rejected(file(s, 0), "invalid JSON");
            }
        }
        // Nesting far past the limit, in a metadata value and in the top level: refused, no stack overflow.
        String deep = "{\"__metadata__\":{\"k\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}}";
        rejected(file(deep, 0), "nested deeper than " + Json.MAX_DEPTH);
        String deepObjects = "{\"a\":" + "{\"a\":".repeat(50_000) + "1" + "}".repeat(50_001);
        rejected(file(deepObjects, 0), "nested deeper");
    }

    @Test
    void duplicateNamesAreRejected() throws IOException {
        String dup = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        rejected(file(dup, 8), "duplicate key \"w\"");
        String dupEscaped = dup.replaceFirst("\"w\"", "\"\\\\u0077\"");
        rejected(file(dupEscaped, 8), "duplicate key \"w\"");
        rejected(file("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0), "duplicate key \"a\"");
        rejected(file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0),
                "duplicate key \"dtype\"");
    }

    @Test
    void aDirectoryOrADeviceIsNoModelFile() {
        ModelFileException e = assertThrows(ModelFileException.class, () -> SafeTensors.open(dir));
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
        Path device = Path.of("/dev/null");
        if (Files.exists(device)) {
            e = assertThrows(ModelFileException.class, () -> SafeTensors.open(device));
            assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        }
    }

    /**
     * The writer refuses what its reader would refuse, when it is added rather than at write time: a file
     * already there is never replaced by one that cannot be read back.
     */
    @Test
    void theWriterRefusesWhatCouldNotBeReadBack() throws IOException {
        Path p = dir.resolve("kept.safetensors");
        SafeTensors.Writer w = new SafeTensors.Writer();
        String[][] cases = {
            {"negative", "negative size"}, {"overflow", "do not fill shape"}, {"nulls", "must be given"},
            {"float", "writes float32"}, {"metaNull", "is null"}, {"surrogate", "lone surrogate"},
            {"name", "lone surrogate"}, {"closed", "is closed"}};
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
                switch (c[0]) {
                    case "negative" -> w.addLongs("a", new long[] {-1, -2}, new long[] {1, 2});
                    case "overflow" -> w.addLongs("b", new long[] {1L << 32, 1L << 32}, new long[0]);
                    case "nulls" -> w.addLongs("c", null, new long[0]);
                    case "float" -> w.add("d", Tensor.fromLongs(new long[] {1, 2}));
                    case "metaNull" -> w.metadata("k", null);
                    case "surrogate" -> w.metadata("k", "a\ud800b");
                    case "name" -> w.addLongs("\udc00", new long[0], new long[] {1});
                    default -> {
                        Tensor t = Tensor.zeros(2);
                        t.close();
                        w.add("e", t);
                    }
                }
            }, c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
        }
        w.metadata("ok", "\ud83d\ude00").addLongs("z", new long[] {0, 1L << 40}, new long[0]).write(p);
        try (SafeTensors st = SafeTensors.open(p)) {
            assertEquals("\ud83d\ude00", st.metadata().get("ok"), "a pair of surrogates is one character");
            assertEquals(0, st.toLongs("z").length);
        }
    }

    @Test
    void randomByteFlipsAreRejectedOrReadSafely() throws IOException {
        byte[] v = valid();
        SplittableRandom rng = new SplittableRandom(20261204);
        int rejectedCount = 0;
        for (int round = 0; round < 3000; round++) {
            byte[] f = v.clone();
            int flips = 1 + rng.nextInt(4);
            for (int k = 0; k < flips; k++) {
                int at = rng.nextInt(f.length);
                f[at] = rng.nextInt(3) == 0 ? (byte) rng.nextInt(256) : (byte) (f[at] ^ (1 << rng.nextInt(8)));
            }
            if (outcome(f) != null) {
                rejectedCount++;
            }
            Files.delete(dir.resolve("f" + (count - 1) + ".safetensors"));
        }
        // Most flips land in the header or break the model's fit; data flips read as other floats.
        assertTrue(rejectedCount > 1000, "only " + rejectedCount + " of 3000 mutated files were rejected");
    }
}
