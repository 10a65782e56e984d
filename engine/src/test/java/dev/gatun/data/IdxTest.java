package dev.gatun.data;

import static dev.gatun.data.IdxFiles.counting;
import static dev.gatun.data.IdxFiles.gzip;
import static dev.gatun.data.IdxFiles.idx;
import static dev.gatun.data.IdxFiles.ubyte;
import static dev.gatun.data.IdxFiles.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {

    @TempDir
    Path dir;

    /** Reads {@code bytes} as an IDX file and returns the failure's message, which must name the file. */
    private String failure(String name, byte[] bytes) throws IOException {
        Path file = write(dir.resolve(name), bytes);
        DataFileException e = assertThrows(DataFileException.class, () -> Idx.read(file));
        assertEquals(file, e.file());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        return e.getMessage();
    }

    private static void assertContains(String message, String... parts) {
        for (String part : parts) {
            assertTrue(message.contains(part), () -> "expected '" + part + "' in: " + message);
        }
    }

    @Test
    void readsRawAndGzipByContentNotName() throws IOException {
        byte[] data = counting(3 * 4 * 5);
        data[7] = (byte) 255;
        byte[] file = ubyte(new int[] {3, 4, 5}, data);
        // The names lie on purpose: the gzip magic decides.
        for (Path p : new Path[] {write(dir.resolve("raw.gz"), file), write(dir.resolve("packed"), gzip(file))}) {
            Idx idx = Idx.read(p);
            assertArrayEquals(new int[] {3, 4, 5}, idx.shape());
            assertEquals(3, idx.dim());
            assertEquals(4, idx.size(1));
            assertArrayEquals(data, idx.data());
            assertEquals(255, idx.data()[7] & 0xff);
            assertEquals(p, idx.source());
        }
    }

    @Test
    void readsOneDimensionalAndEmpty() throws IOException {
        assertArrayEquals(new byte[] {9, 8}, Idx.read(write(dir.resolve("l"), ubyte(new int[] {2}, new byte[] {9, 8}))).data());
        assertEquals(0, Idx.read(write(dir.resolve("e"), ubyte(new int[] {0, 28, 28}, new byte[0]))).data().length);
    }

    @Test
    void truncatedDataSaysExpectedAndFound() throws IOException {
        byte[] whole = ubyte(new int[] {3, 28, 28}, counting(3 * 28 * 28));
        byte[] cut = Arrays.copyOf(whole, 16 + 1000);
        assertContains(failure("cut", cut), "truncated", "[3, 28, 28]", "needs 2352 data bytes", "found 1000");
        assertContains(failure("cut.gz", gzip(cut)), "needs 2352 data bytes", "found 1000 after gzip decompression");
    }

    @Test
    void truncatedHeader() throws IOException {
        assertContains(failure("two", new byte[] {0, 0}), "truncated header", "found 2 bytes");
        byte[] header = ubyte(new int[] {3, 28, 28}, new byte[0]);
        assertContains(failure("sizes", Arrays.copyOf(header, 10)), "truncated header", "3 dimensions need 12 size bytes",
                "found 6");
        assertContains(failure("empty", new byte[0]), "found 0 bytes");
    }

    @Test
    void truncatedGzipStream() throws IOException {
        byte[] packed = gzip(ubyte(new int[] {100, 28, 28}, counting(100 * 28 * 28)));
        assertContains(failure("broken.gz", Arrays.copyOf(packed, packed.length / 2)), "gzip data is corrupt or truncated");
    }

    @Test
    void trailingBytes() throws IOException {
        byte[] file = ubyte(new int[] {2, 2}, counting(4));
        byte[] longer = Arrays.copyOf(file, file.length + 3);
        assertContains(failure("trailing", longer), "3 unexpected bytes after the 4 data bytes of shape [2, 2]");
        assertContains(failure("trailing.gz", gzip(longer)), "3 unexpected bytes", "after gzip decompression");
    }

    @Test
    void foreignFileIsNotIdx() throws IOException {
        byte[] zip = {'P', 'K', 3, 4, 20, 0, 0, 0};
        assertContains(failure("archive.zip", zip), "not an IDX file", "starts with 50 4b 03 04", "00 00");
    }

    @Test
    void unsupportedElementType() throws IOException {
        assertContains(failure("floats", idx(0x0d, new int[] {1}, new byte[4])),
                "element type 0x0d (float32) is not supported, only 0x08 (unsigned byte)");
        assertContains(failure("odd", idx(0x42, new int[] {1}, new byte[1])), "element type 0x42 (unknown)");
    }

    @Test
    void dimensionCountOutOfRange() throws IOException {
        assertContains(failure("zero", idx(8, new int[0], new byte[1])), "dimension count 0", "outside 1..8");
        assertContains(failure("nine", idx(8, new int[9], new byte[0])), "dimension count 9", "outside 1..8");
    }

    @Test
    void absurdSizesFailWithoutAllocating() throws IOException {
        // A header that claims 2^31 - 1 images of 28×28 must not make the reader allocate 1.6 TB.
        assertContains(failure("huge", ubyte(new int[] {Integer.MAX_VALUE, 28, 28}, new byte[16])),
                "the header claims shape [2147483647, 28, 28], 1683627179248 data bytes (1.5 TiB), beyond the 1 GiB"
                + " limit (gatun.data.limit)");
        assertContains(failure("huge.gz", gzip(ubyte(new int[] {60000, 60000, 60000}, new byte[16]))),
                "claims shape [60000, 60000, 60000]");
        assertContains(failure("negative", ubyte(new int[] {-1}, new byte[0])),
                "size 4294967295 of dimension 0 does not fit a signed int32");
    }

    @Test
    void missingFile() {
        Path absent = dir.resolve("absent");
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Idx.read(absent));
        assertTrue(e.getMessage().contains("absent"), e.getMessage());
    }
}
