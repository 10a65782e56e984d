package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Loss;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The many-to-one classifier of padded sequences: padding is never read, by the logits or the gradients. */
class SequenceClassifierTest extends ScopedTest {

    private static void assertClose(float[] expected, float[] actual, float tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tolerance, what + " at " + i);
        }
    }

    @Test
    void eachPaddedRowGivesTheLogitsOfItsSequenceAlone() {
        for (CharRnn.Cell cell : CharRnn.Cell.values()) {
            Init.manualSeed(5);
            try (SequenceClassifier m = new SequenceClassifier(cell, 9, 4, 6, 2, 3, 0f)) {
                long[][] seqs = {{1, 2, 3, 4, 5}, {6, 7}, {8, 1, 2}};
                long[] padded = new long[3 * 5];
                java.util.Arrays.fill(padded, 0);
                for (int b = 0; b < 3; b++) System.arraycopy(seqs[b], 0, padded, b * 5, seqs[b].length);
                Tensor logits = m.forward(Tensor.fromLongs(padded, 3, 5), Tensor.fromLongs(new long[] {5, 2, 3}, 3));
                assertArrayEquals(new long[] {3, 3}, logits.shape());
                float[] all = logits.toArray();
                for (int b = 0; b < 3; b++) {
                    float[] alone = m.forward(Tensor.fromLongs(seqs[b], 1, seqs[b].length)).toArray();
                    assertClose(alone, java.util.Arrays.copyOfRange(all, b * 3, b * 3 + 3), 1e-5f, cell + " row " + b);
                }
                // Other padding ids: the same logits.
                long[] other = padded.clone();
                other[5 + 2] = 8;
                other[5 + 4] = 3;
                other[10 + 3] = 7;
                float[] again = m.forward(Tensor.fromLongs(other, 3, 5), Tensor.fromLongs(new long[] {5, 2, 3}, 3))
                        .toArray();
                assertArrayEquals(all, again, cell.toString());
            }
        }
    }

    @Test
    void paddingGetsNoGradientAndTheRealTokensTheirOwn() {
        Init.manualSeed(7);
        try (SequenceClassifier m = new SequenceClassifier(CharRnn.Cell.LSTM, 6, 3, 5, 1, 2, 0f)) {
            // Token 5 only ever appears as padding: its embedding row must get a zero gradient.
            Tensor tokens = Tensor.fromLongs(new long[] {1, 2, 3, 5, 5, 4, 1, 2, 3, 4}, 2, 5);
            Tensor lengths = Tensor.fromLongs(new long[] {3, 5}, 2);
            Tensor loss = Loss.crossEntropy(m.forward(tokens, lengths), new int[] {0, 1});
            loss.backward();
            Map<String, Tensor> p = m.namedParameters();
            float[] g = p.get("embedding.weight").grad().toArray();
            for (int k = 0; k < 3; k++) assertEquals(0f, g[5 * 3 + k], "padding row, column " + k);
            float[] paddedGrad = p.get("rnn.weight_hh_l0").grad().toArray();
            m.zeroGrad();
            // The same two sequences, each alone: the mean loss's gradient is the mean of theirs.
            Tensor a = Loss.crossEntropy(m.forward(Tensor.fromLongs(new long[] {1, 2, 3}, 1, 3)), new int[] {0});
            Tensor b = Loss.crossEntropy(m.forward(Tensor.fromLongs(new long[] {4, 1, 2, 3, 4}, 1, 5)), new int[] {1});
            a.add(b).mul(0.5f).backward();
            assertClose(p.get("rnn.weight_hh_l0").grad().toArray(), paddedGrad, 1e-5f, "weight_hh_l0 gradient");
            assertTrue(java.util.Arrays.stream(new double[] {paddedGrad[0], paddedGrad[1]}).anyMatch(v -> v != 0));
        }
    }

    @Test
    void badInputsAreRefusedNamingWhatIsWrong() {
        try (SequenceClassifier m = new SequenceClassifier(CharRnn.Cell.GRU, 5, 2, 3, 1, 2, 0f)) {
            Tensor tokens = Tensor.fromLongs(new long[] {1, 2, 3, 4}, 2, 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(tokens, Tensor.fromLongs(new long[] {2, 3}, 2)));
            assertEquals("length 3 of row 1 is outside [1, 2]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(tokens, Tensor.fromLongs(new long[] {0, 1}, 2)));
            assertEquals("length 0 of row 0 is outside [1, 2]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> m.forward(tokens, Tensor.fromLongs(new long[] {1, 1, 1}, 3)));
            assertTrue(e.getMessage().startsWith("lengths must be an int64 tensor [2]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(2, 2)));
            assertTrue(e.getMessage().startsWith("SequenceClassifier: tokens must be an int64 tensor"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> m.forward(Tensor.fromLongs(new long[] {1, 9}, 1, 2), Tensor.fromLongs(new long[] {2}, 1)));
            assertThrows(IllegalArgumentException.class, () -> new SequenceClassifier(CharRnn.Cell.GRU, 5, 2, 3, 1, 0,
                    0f));
        }
    }
}
