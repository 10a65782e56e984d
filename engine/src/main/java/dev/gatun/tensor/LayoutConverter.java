package dev.gatun.tensor;

import java.lang.foreign.MemorySegment;
import java.util.function.BiConsumer;

/**
 * Converts a tensor's contents between a backend layout (e.g. oneDNN's channel-blocked {@code nChw8c})
 * and its plain row-major storage. Supplied by the op that made the tensor in that layout (see
 * {@link Tensor#emptyInLayout(long[], Object, long, LayoutConverter)}); the tensor calls it when plain
 * data is read or written. Both segments are float32 storage owned by the tensor; the converter only reads
 * one and writes the other, and must not keep either. It is called on the thread that uses the tensor.
 */
public interface LayoutConverter {

    /**
     * Converts the backend-layout data into plain row-major data.
     *
     * @param laid  the tensor's data in the backend layout (read)
     * @param plain the whole tensor in row-major order (written); its size is the tensor's element
     *              count times 4 bytes
     */
    void toPlain(MemorySegment laid, MemorySegment plain);

    /**
     * Converts plain row-major data into the backend layout.
     *
     * @param plain the whole tensor in row-major order (read)
     * @param laid  the tensor's data in the backend layout (written), including any padding the layout
     *              has
     */
    void fromPlain(MemorySegment plain, MemorySegment laid);

    /**
     * A converter made of two functions.
     *
     * @param toPlain   called as {@code toPlain(laid, plain)} by {@link #toPlain(MemorySegment, MemorySegment)}
     * @param fromPlain called as {@code fromPlain(plain, laid)} by
     *                  {@link #fromPlain(MemorySegment, MemorySegment)}
     * @return a converter that delegates to the two functions
     */
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
