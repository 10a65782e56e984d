package dev.gatun.data;

import java.lang.foreign.MemorySegment;

/**
 * Copies whole rows (one sample's values each) between memory, byte for byte: the one place where
 * batches and subsets are assembled, so that a new element type needs only its size in bytes.
 */
final class Rows {

    private Rows() {}

    /**
     * Copies rows {@code indices[from], ..., indices[from + count − 1]} of {@code src} (rows of
     * {@code rowBytes} bytes from offset 0) one after another into {@code dst} from byte {@code dstOffset}.
     * The callers have checked every index and size.
     */
    static void gather(MemorySegment src, long rowBytes, int[] indices, int from, int count, MemorySegment dst,
                       long dstOffset) {
        for (int k = 0; k < count; k++) {
            MemorySegment.copy(src, indices[from + k] * rowBytes, dst, dstOffset + k * rowBytes, rowBytes);
        }
    }
}
