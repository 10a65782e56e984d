package dev.gatun.tensor;

import java.lang.foreign.MemorySegment;
import java.util.function.BiConsumer;

/**
 * Converts a tensor's contents between a backend layout (e.g. oneDNN's channel-blocked {@code nChw8c})
 * and its plain row-major storage. Supplied by the op that made the tensor in that layout.
 */
public interface LayoutConverter {

    /** Converts {@code laid} (the backend layout) into {@code plain} (row-major, the whole tensor). */
    void toPlain(MemorySegment laid, MemorySegment plain);

    /** Converts {@code plain} (row-major, the whole tensor) into {@code laid} (the backend layout). */
    void fromPlain(MemorySegment plain, MemorySegment laid);

    /** The converter of the two functions: {@code toPlain(laid, plain)} and {@code fromPlain(plain, laid)}. */
    static LayoutConverter of(BiConsumer<MemorySegment, MemorySegment> toPlain,
                              BiConsumer<MemorySegment, MemorySegment> fromPlain) {
        return new LayoutConverter() {
            @Override
            public void toPlain(MemorySegment laid, MemorySegment plain) {
                toPlain.accept(laid, plain);
            }

            @Override
            public void fromPlain(MemorySegment plain, MemorySegment laid) {
                fromPlain.accept(plain, laid);
            }
        };
    }
}
