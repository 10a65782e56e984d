package dev.gatun.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Converts a tensor's contents between a backend layout (e.g. oneDNN's channel-blocked {@code nChw8c})
 * and its plain row-major storage. Supplied by the op that made the tensor in that layout.
 */
public interface LayoutConverter {

    /** Converts {@code laid} (the backend layout) into {@code plain} (row-major, the whole tensor). */
    void toPlain(MemorySegment laid, MemorySegment plain);

    /** Converts {@code plain} (row-major, the whole tensor) into {@code laid} (the backend layout). */
    void fromPlain(MemorySegment plain, MemorySegment laid);
}
