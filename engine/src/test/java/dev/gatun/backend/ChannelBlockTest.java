package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/**
 * Which channel block each channel count and each convolution compute in. On AVX-512 a count takes the
 * block that pads it least, 16 on a tie; on AVX2 every count takes 8.
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

    /** The rule under test is the default one: {@code gatun.channel.block} unset or {@code auto}. */
    private static void assumeAuto() {
        String v = System.getProperty("gatun.channel.block");
        assumeTrue(v == null || v.isBlank() || v.trim().equals("auto"), "gatun.channel.block is set");
    }

    @Test
    void eachCountTakesTheBlockThatPadsItLeast() {
        assumeAuto();
        int widest = ChannelBlock.widest();
        assertTrue(widest == 8 || widest == 16, "widest block " + widest);
        for (long[] c : AVX512) {
            long want = widest == 16 ? c[1] : 8;
            assertEquals(want, ChannelBlock.forChannels(c[0]), c[0] + " channels");
        }
    }

    @Test
    void aConvolutionTakesTheNarrowerBlockOfItsTwoSides() {
        assumeAuto();
        int widest = ChannelBlock.widest();
        // LeNet-5's second convolution: both sides take 8.
        assertEquals(8, Convolution.block(conv(20, 50)));
        // 50 channels in take 8, so 64 out follow them.
        assertEquals(8, Convolution.block(conv(50, 64)));
        // A first layer's few input channels stay plain in oneDNN: the output decides.
        assertEquals(widest, Convolution.block(conv(3, 32)));
        assertEquals(8, Convolution.block(conv(1, 20)));
        assertEquals(widest, Convolution.block(conv(32, 64)));
    }

    @Test
    void noChannelsIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChannelBlock.forChannels(0));
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
    }

    private static Convolution.Geometry conv(long in, long out) {
        return new Convolution.Geometry(4, in, 14, 14, out, 5, 5, 1, 1, 2, 2, 1, 1, 1, true);
    }
}
