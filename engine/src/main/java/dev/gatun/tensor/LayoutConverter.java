package dev.gatun.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Writes a tensor's contents, held in a backend layout (e.g. oneDNN's channel-blocked {@code nChw8c}),
 * into its plain row-major storage. Supplied by the op that made the tensor in that layout.
 */
@FunctionalInterface
public interface LayoutConverter {

    /** Converts {@code laid} (the backend layout) into {@code plain} (row-major, the whole tensor). */
    void toPlain(MemorySegment laid, MemorySegment plain);
}
