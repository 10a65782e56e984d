package dev.gatun.tensor;

/**
 * The element type of a {@link Tensor}, as {@code torch.dtype}: {@link #FLOAT32} (the default, the only
 * type most ops and autograd compute in), {@link #INT64} (indices, class labels, counts) and
 * {@link #BOOL} (masks, comparison results). {@link #toString()} gives PyTorch's name ({@code float32},
 * {@code int64}, {@code bool}), which messages use.
 */
public enum DType {
    /** 32-bit IEEE 754 floating point ({@code torch.float32}), 4 bytes an element. */
    FLOAT32(4, "float32"),
    /** 64-bit two's complement integer ({@code torch.int64}, {@code torch.long}), 8 bytes an element. */
    INT64(8, "int64"),
    /** Boolean ({@code torch.bool}), one byte an element holding 0 (false) or 1 (true). */
    BOOL(1, "bool");

    private final int elementSize;
    private final String torchName;

    DType(int elementSize, String torchName) {
        this.elementSize = elementSize;
        this.torchName = torchName;
    }

    /**
     * The bytes one element takes in storage ({@code Tensor.element_size()} in PyTorch).
     *
     * @return 4 for {@link #FLOAT32}, 8 for {@link #INT64}, 1 for {@link #BOOL}
     */
    public int elementSize() {
        return elementSize;
    }

    /**
     * Whether this is a floating-point type, the only kind that can require gradients.
     *
     * @return true for {@link #FLOAT32}
     */
    public boolean isFloatingPoint() {
        return this == FLOAT32;
    }

    /**
     * PyTorch's name of the type, without the {@code torch.} prefix.
     *
     * @return {@code "float32"}, {@code "int64"} or {@code "bool"}
     */
    @Override
    public String toString() {
        return torchName;
    }
}
