package dev.gatun.io;

/** The element types of the safetensors format, by their names in the header, with their sizes in bytes. */
public enum StorageType {
    BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4), F64(8),
    I64(8), U64(8);

    private final int size;

    StorageType(int size) {
        this.size = size;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    /** Whether elements of this type convert to float32 when loaded into a tensor (F64, F32, F16, BF16). */
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
