package dev.gatun.backend;

import java.lang.foreign.MemorySegment;

/**
 * An activation argument of a backend call: either a plain row-major region (a segment and a float
 * offset into it) or a buffer already in the layout the primitive computes in ({@link ActivationLayouts}),
 * which the primitive then reads or writes without a reorder.
 */
public record Operand(MemorySegment plain, long offset, MemorySegment laid) {

    public Operand {
        if ((plain == null) == (laid == null)) {
            throw new IllegalArgumentException("an operand is either plain or laid out, not " + (plain == null
                    ? "neither" : "both"));
        }
    }

    /** A plain region starting {@code offset} floats into {@code segment}. */
    public static Operand plain(MemorySegment segment, long offset) {
        if (segment == null) {
            throw new IllegalArgumentException("operand segment is null");
        }
        return new Operand(segment, offset, null);
    }

    /** A buffer in the primitive's own layout. */
    public static Operand laid(MemorySegment buffer) {
        if (buffer == null) {
            throw new IllegalArgumentException("operand buffer is null");
        }
        return new Operand(null, 0, buffer);
    }
}
