package dev.gatun.ops;

import dev.gatun.backend.ActivationLayouts;
import dev.gatun.backend.Operand;
import dev.gatun.tensor.LayoutConverter;
import dev.gatun.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * How the ops hand tensors to backend calls and take their results back: inputs read from the
 * blocked copy a tensor holds when it is in the layout the primitive wants, outputs made in that
 * layout (see {@link Tensor#emptyInLayout}), and plain regions otherwise.
 */
final class BackendTensors {

    private BackendTensors() {}

    /**
     * Whether ops hand their outputs on in the layout they computed them in; off, every output is
     * converted to row-major at once (the behaviour the layout-keeping path is tested against).
     */
    static volatile boolean keepLayouts = true;

    /**
     * A contiguous tensor as a backend operand: its copy in {@code layout} when it holds one (no reorder),
     * else its plain storage, only read.
     */
    static Operand input(Tensor t, MemorySegment layout) {
        MemorySegment laid = layout == null ? null : t.layoutData(layout);
        return laid != null ? Operand.laid(laid) : Operand.plain(t.storageForReading(), t.offset());
    }

    /** The operand an op writes its output tensor through: its buffer in {@code layout}, or its storage. */
    static Operand operand(Tensor out, MemorySegment layout) {
        MemorySegment laid = layout == null ? null : out.layoutData(layout);
        return laid != null ? Operand.laid(laid) : Operand.plain(out.storage(), out.offset());
    }

    /**
     * A new tensor for a pass's dst-like output: made in the pass's dst layout (row-major storage written
     * from it when first accessed) when there is one, else plain.
     */
    static Tensor dstOutput(long[] shape, ActivationLayouts l) {
        return output(shape, l.dst(), l.dstBytes(), LayoutConverter.of(l::dstToPlain, l::dstFromPlain));
    }

    /** As {@link #dstOutput}, for a src-like output (a gradient with respect to the pass's input). */
    static Tensor srcOutput(long[] shape, ActivationLayouts l) {
        return output(shape, l.src(), l.srcBytes(), LayoutConverter.of(l::srcToPlain, l::srcFromPlain));
    }

    private static Tensor output(long[] shape, MemorySegment layout, long bytes, LayoutConverter converter) {
        return layout == null || !keepLayouts ? Tensor.empty(shape)
                : Tensor.emptyInLayout(shape, layout, bytes, converter);
    }

    /**
     * The contiguous elements of t as a segment for a backend call that only reads them (a copy t keeps in
     * a backend layout stays valid, and t is not counted as written); as {@link #segment}, for a tensor
     * that is there.
     */
    static MemorySegment readable(Tensor t) {
        return segment(java.util.Objects.requireNonNull(t, "tensor"));
    }

    /**
     * The contiguous elements of t as a segment for a backend call that reads them, or that fills a
     * row-major tensor the op has just made (null for null). Not counted as a write of t
     * ({@link Tensor#version}): an op reading a tensor an earlier op saved must not fail that op's
     * backward. A tensor made in a backend layout is written through its {@link Tensor#layoutData}, never
     * through this.
     */
    static MemorySegment segment(Tensor t) {
        if (t == null) {
            return null;
        }
        t.checkAlive();
        return t.storageForReading().asSlice(t.offset() * Float.BYTES, t.numel() * Float.BYTES);
    }

    /**
     * {@code values} as int32 in a new buffer of the current scope, for a backend call that reads indices: a
     * tensor of as many elements (four bytes each, like float32's), whose segment is {@link #segment}.
     */
    static Tensor int32(int[] values) {
        Tensor buffer = Tensor.empty(values.length);
        MemorySegment.copy(values, 0, segment(buffer), java.lang.foreign.ValueLayout.JAVA_INT, 0, values.length);
        return buffer;
    }
}
