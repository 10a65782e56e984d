package dev.gatun.io;

/**
 * The element types of the safetensors format, by their names in the header, with their sizes in bytes.
 * This is the file format's type; a tensor's own element type is {@link dev.gatun.tensor.DType}.
 */
public enum StorageType {
    /** Boolean, one byte. */
    BOOL(1),
    /** Unsigned 8-bit integer. */
    U8(1),
    /** Signed 8-bit integer. */
    I8(1),
    /** 8-bit float with 5 exponent and 2 mantissa bits. */
    F8_E5M2(1),
    /** 8-bit float with 4 exponent and 3 mantissa bits. */
    F8_E4M3(1),
    /** Signed 16-bit integer. */
    I16(2),
    /** Unsigned 16-bit integer. */
    U16(2),
    /** IEEE 754 half precision. */
    F16(2),
    /** bfloat16: float32's exponent with a 7-bit mantissa. */
    BF16(2),
    /** Signed 32-bit integer. */
    I32(4),
    /** Unsigned 32-bit integer. */
    U32(4),
    /** IEEE 754 single precision. */
    F32(4),
    /** IEEE 754 double precision. */
    F64(8),
    /** Signed 64-bit integer. */
    I64(8),
    /** Unsigned 64-bit integer. */
    U64(8);

    private final int size;

    StorageType(int size) {
        this.size = size;
    }

    /**
     * Bytes per element.
     *
     * @return 1, 2, 4 or 8
     */
    public int size() {
        return size;
    }

    /**
     * Whether elements of this type convert to float32 when loaded into a tensor (F64, F32, F16, BF16).
     *
     * @return true for the floating-point types
     */
    public boolean isFloating() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /** The type named {@code name} in a header, or null when the format has no such type. */
    static StorageType byName(String name) {
        for (StorageType d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }
}
