package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.backend.Pooling.Config;
import dev.gatun.backend.Pooling.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The backend's own check of a pooling's geometry ({@link Pooling.Config}, which every backend call
 * takes): no caller can hand oneDNN or gatun's kernel a window whose sizes leave the ranges they
 * compute in. Only records are built here, nothing native runs.
 */
class PoolingConfigTest {

    private static void rejects(Executable build, String... words) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build);
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "\"" + w + "\" not in: " + e.getMessage());
        }
    }

    private static Config max(long n, long c, long h, long w, int k, int s, int p, int d) {
        return new Config(Kind.MAX, n, c, h, w, k, k, s, s, p, p, d, d);
    }

    @Test
    void sizesThatOverflowAreRejected() {
        // n·c·h·w = 2^80 elements.
        rejects(() -> max(1L << 20, 1L << 20, 1L << 20, 1L << 20, 2, 2, 0, 1), "input [1048576, 1048576, 1048576, "
                + "1048576]");
        // A plane side past 2^31 − 1: oneDNN reads pooling sizes as 32-bit integers.
        rejects(() -> max(1, 1, 1L << 31, 1, 1, 1, 0, 1), "input height 2147483648");
        rejects(() -> max(1, 1, Long.MAX_VALUE, 1, 1, 1, 0, 1), "9223372036854775807");
        // The padded input past 2^31 − 1.
        rejects(() -> max(1, 1, Integer.MAX_VALUE - 1, 4, 2, 1, 1, 1), "padded input 2147483648");
        // Padded input plus stride past 2^31 − 1.
        rejects(() -> max(1, 1, 10, 10, 2, Integer.MAX_VALUE - 11, 1, 1), "stride 2147483636");
        // A window of 50000 × 50000 = 2.5·10^9 positions over an input as large: its positions are 32-bit.
        rejects(() -> max(1, 1, 50000, 50000, 50000, 1, 0, 1), "kernel 50000×50000", "2500000000");
        // A dilated extent of 2·2^30 + 1, past 32 bits (oneDNN's int arithmetic would wrap it).
        rejects(() -> max(1, 1, 4, 4, 3, 1, 1, 1 << 30), "dilation 1073741824", "padded input 6×6");
    }

    @Test
    void hugeWindowsAreRejected() {
        rejects(() -> max(1, 1, 4, 4, 1 << 30, 1, 1 << 29, 1), "kernel 1073741824×1073741824");
        rejects(() -> new Config(Kind.AVG_INCLUDE_PADDING, 1, 1, 4, 4, 65536, 65536, 1, 1, 32768, 32768, 1, 1),
                "kernel 65536×65536");
        rejects(() -> new Config(Kind.AVG_EXCLUDE_PADDING, 1, 1, 4, 4, 65536, 1, 1, 1, 32768, 0, 1, 1),
                "padding 32768×0", "input 4×4");
    }

    @Test
    void edgesOfTheRulesAreAccepted() {
        // Padding as large as the input; a window as large as the padded input; a stride far past it.
        assertEquals(1, max(1, 1, 1, 1, 3, 1, 1, 1).outH());
        assertEquals(1, max(1, 1, 4, 4, 6, Integer.MAX_VALUE - 6, 1, 1).outH());
        assertEquals(1, max(1, 1, 4, 4, 4, 1, 0, 1).outW());
        // The largest window a 46340² input allows without padding: 46340² < 2^31 positions.
        assertEquals(1, max(1, 1, 46340, 46340, 46340, 1, 0, 1).outW());
        // PyTorch's shape of a dilated window: 1 + 2·(3 − 1) = 5 over 4 + 2.
        assertEquals(2, max(1, 1, 4, 4, 3, 1, 1, 2).outH());
    }
}
