package dev.gatun.ops;

import dev.gatun.tensor.Tensor;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Which tensors are an embedding's rows, for ops that can read the table instead (the LSTM's training pass
 * multiplies the table by its input weights once, rather than every looked-up row). Noted by
 * {@link Indexing#embedding} on the outputs it records for backward; an entry goes when its tensor is
 * collected. A reader must check that the tensor still holds the table's rows (the table may have been
 * changed in place since), as {@link #matching} does.
 */
final class Lookups {

    /** The table [V, D] and the row of each position (each in [0, V)), with the table's padding row. */
    record Lookup(Tensor table, int[] rows, int paddingIdx) {}

    private static final Map<Tensor, Lookup> NOTED = Collections.synchronizedMap(new WeakHashMap<>());

    private Lookups() {}

    static void note(Tensor out, Tensor table, int[] rows, int paddingIdx) {
        NOTED.put(out, new Lookup(table, rows, paddingIdx));
    }

    /**
     * The lookup that made {@code t}, when its table has {@code width} columns and fewer rows than its
     * {@code positions} positions, and t still holds the table's rows ({@link #rowsStillMatch}); else null.
     */
    static Lookup matching(Tensor t, long positions, long width) {
        Lookup lookup = t == null ? null : NOTED.get(t);
        if (lookup == null || lookup.rows().length != positions || lookup.table().dim() != 2
                || lookup.table().size(1) != width || lookup.table().size(0) >= positions) {
            return null;
        }
        return rowsStillMatch(lookup, t) ? lookup : null;
    }

    /**
     * Whether every position p of {@code t} (contiguous, [rows, D]) still holds row rows[p] of the table,
     * bit for bit.
     */
    private static boolean rowsStillMatch(Lookup lookup, Tensor t) {
        Tensor table = lookup.table();
        if (!table.isAlive() || !t.isAlive() || !table.isContiguous() || !t.isContiguous()) {
            return false;
        }
        long d = table.size(1);
        int[] rows = lookup.rows();
        if (t.numel() != rows.length * d) {
            return false;
        }
        var src = BackendTensors.readable(table);
        var dst = BackendTensors.readable(t);
        long rowBytes = d * Float.BYTES;
        for (int p = 0; p < rows.length; p++) {
            if (rows[p] < 0 || rows[p] >= table.size(0)) {
                return false;
            }
            long a = rows[p] * rowBytes;
            long b = p * rowBytes;
            if (java.lang.foreign.MemorySegment.mismatch(src, a, a + rowBytes, dst, b, b + rowBytes) != -1) {
                return false;
            }
        }
        return true;
    }
}
