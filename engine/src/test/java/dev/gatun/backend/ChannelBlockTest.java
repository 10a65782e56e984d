package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which channel block each channel count and each convolution compute in. On AVX-512 in two halves (or
 * with {@code gatun.channel.block=pad}) a count takes the block that pads it least, 16 on a tie; on
 * full-width AVX-512 every count takes 16; on AVX2 every count takes 8.
 */
class ChannelBlockTest {

    /** {channels, block on AVX-512}: with the padded sizes at 16 and at 8 that decide it. */
    private static final long[][] AVX512 = {
        {16, 16}, // 16 against 16
        {32, 16},
        {64, 16},
        {12, 16}, // 16 against 16: a tie
        {25, 16}, // 32 against 32
        {1, 8}, // 16 against 8
        {3, 8},
        {20, 8}, // 32 against 24
        {50, 8}, // 64 against 56
        {120, 8}, // 128 against 120
    };

    /** The rule under test is a machine's: {@code gatun.channel.block} unset, {@code auto} or {@code pad}. */
    private static void assumeAuto() {
        String v = System.getProperty("gatun.channel.block");
        assumeTrue(v == null || v.isBlank() || v.trim().equals("auto") || v.trim().equals("pad"),
                "gatun.channel.block is set");
    }

    /** The block a count of channels takes where oneDNN has AVX-512, under this process's rule. */
    private static long onAvx512(long[] c) {
        return ChannelBlock.padsLeast() ? c[1] : 16;
    }

    @Test
    void eachCountTakesTheBlockThatPadsItLeast() {
        assumeAuto();
        int widest = ChannelBlock.widest();
        assertTrue(widest == 8 || widest == 16, "widest block " + widest);
        for (long[] c : AVX512) {
            long want = widest == 16 ? onAvx512(c) : 8;
            assertEquals(want, ChannelBlock.forChannels(c[0]), c[0] + " channels");
        }
    }

    @Test
    void aConvolutionTakesTheNarrowerBlockOfItsTwoSides() {
        assumeAuto();
        int widest = ChannelBlock.widest();
        int narrowed = widest == 16 && !ChannelBlock.padsLeast() ? 16 : 8;
        // LeNet-5's second convolution: both sides take 8 where blocks pad least.
        assertEquals(narrowed, Convolution.block(conv(20, 50)));
        // 50 channels in take 8 there, so 64 out follow them.
        assertEquals(narrowed, Convolution.block(conv(50, 64)));
        // A first layer's few input channels stay plain in oneDNN: the output decides.
        assertEquals(widest, Convolution.block(conv(3, 32)));
        assertEquals(narrowed, Convolution.block(conv(1, 20)));
        assertEquals(widest, Convolution.block(conv(32, 64)));
    }

    @Test
    void noChannelsIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChannelBlock.forChannels(0));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
    }

    @Test
    void onlyAmdFamily25SplitsItsAvx512(@TempDir Path dir) throws IOException {
        String zen4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n\n"
                + "processor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n";
        String zen5 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n";
        String intel = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 106\n";
        assertTrue(ChannelBlock.halfWidthAvx512(Files.writeString(dir.resolve("zen4"), zen4)));
        assertFalse(ChannelBlock.halfWidthAvx512(Files.writeString(dir.resolve("zen5"), zen5)));
        assertFalse(ChannelBlock.halfWidthAvx512(Files.writeString(dir.resolve("intel"), intel)));
        assertFalse(ChannelBlock.halfWidthAvx512(Files.writeString(dir.resolve("empty"), "")));
        assertFalse(ChannelBlock.halfWidthAvx512(dir.resolve("missing")));
    }

    private static Convolution.Geometry conv(long in, long out) {
        return new Convolution.Geometry(4, in, 14, 14, out, 5, 5, 1, 1, 2, 2, 1, 1, 1, true);
    }
}
