package dev.gatun.backend;

import java.lang.foreign.MemorySegment;

/**
 * The layouts in which a primitive reads and writes its two activation arguments (src-like and
 * dst-like: src and dst, or diff_src and diff_dst), as interned memory descriptors that compare equal
 * exactly when the layouts are the same; null where the primitive uses the caller's plain NCHW buffer.
 * With the plain descriptors, the sizes of buffers in those layouts and conversions between the two.
 */
public record ActivationLayouts(MemorySegment src, MemorySegment dst, MemorySegment plainSrc, MemorySegment plainDst) {

    /** Bytes a buffer in the src layout takes (with its padding); 0 when plain. */
    public long srcBytes() {
        return src == null ? 0 : Primitives.bytes(src);
    }

    /** Bytes a buffer in the dst layout takes (with its padding); 0 when plain. */
    public long dstBytes() {
        return dst == null ? 0 : Primitives.bytes(dst);
    }

    /** Writes {@code laid} (src layout) into the plain buffer {@code plain}. */
    public void srcToPlain(MemorySegment laid, MemorySegment plain) {
        Primitives.reorder(src, laid, plainSrc, plain);
    }

    /** Writes {@code laid} (dst layout) into the plain buffer {@code plain}. */
    public void dstToPlain(MemorySegment laid, MemorySegment plain) {
        Primitives.reorder(dst, laid, plainDst, plain);
    }

    /** Writes the plain buffer {@code plain} into {@code laid} (src layout). */
    public void srcFromPlain(MemorySegment plain, MemorySegment laid) {
        Primitives.reorder(plainSrc, plain, src, laid);
    }

    /** Writes the plain buffer {@code plain} into {@code laid} (dst layout). */
    public void dstFromPlain(MemorySegment plain, MemorySegment laid) {
        Primitives.reorder(plainDst, plain, dst, laid);
    }
}
