package dev.gatun.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.data.DataLoader.Batch;
import dev.gatun.tensor.DType;
import dev.gatun.tensor.Scope;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The layout of language-model batches for truncated backpropagation through time. */
class TokenStreamsTest {

    @Test
    void eachRowContinuesTheSameRowOfTheBatchBefore() {
        // 0..30: 30 (input, next) pairs, 3 streams of 10, sequences of 4: 2 batches, 2 pairs per stream left out
        int[] tokens = IntStream.rangeClosed(0, 30).toArray();
        DataLoader loader = TokenStreams.loader(tokens, 3, 4);
        assertEquals(2, loader.numBatches());
        assertEquals(2, TokenStreams.batches(tokens.length, 3, 4));
        List<long[]> inputs = new ArrayList<>();
        List<long[]> targets = new ArrayList<>();
        try (Scope s = Scope.open()) {
            for (Batch b : loader.epoch(0)) {
                assertArrayEquals(new long[] {3, 4}, b.inputs().shape());
                assertEquals(DType.INT64, b.inputs().dtype());
                assertEquals(DType.INT64, b.targets().dtype());
                inputs.add(b.inputs().toLongArray());
                targets.add(b.targets().toLongArray());
            }
        }
        assertArrayEquals(new long[] {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23}, inputs.get(0));
        assertArrayEquals(new long[] {4, 5, 6, 7, 14, 15, 16, 17, 24, 25, 26, 27}, inputs.get(1));
        for (int j = 0; j < 2; j++) {
            for (int k = 0; k < 12; k++) {
                assertEquals(inputs.get(j)[k] + 1, targets.get(j)[k], "the target is the next token");
            }
        }
    }

    @Test
    void badSizesAndTokensAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TokenStreams.dataset(new int[12], 3, 4));
        assertEquals("12 tokens are too few for 3 streams of sequences of 4: one batch needs 13 tokens",
                e.getMessage());
        TokenStreams.dataset(new int[13], 3, 4);
        e = assertThrows(IllegalArgumentException.class, () -> TokenStreams.dataset(new int[] {1, 2, -3, 4}, 1, 2));
        assertEquals("token 2 is negative: -3", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TokenStreams.dataset(new int[10], 0, 2));
        assertThrows(IllegalArgumentException.class, () -> TokenStreams.dataset(new int[10], 2, 0));
        assertEquals(0, TokenStreams.batches(1, 1, 1));
        assertTrue(TokenStreams.dataset(new int[13], 3, 4).toString().contains("[4] and [4]"));
    }
}
