package dev.gatun.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Padded variable-length sequences with labels, and passages cut from a text. */
class PaddedSequencesTest extends ScopedTest {

    @Test
    void padsToTheLongestAndKeepsLengthsAndLabelsThroughTheLoader() {
        TensorDataset d = PaddedSequences.of(List.of(new int[] {1, 2, 3}, new int[] {4}, new int[] {5, 6}),
                new int[] {2, 0, 1}, 3, 9);
        assertEquals(3, d.size());
        assertArrayEquals(new long[] {1, 2, 3, 4, 9, 9, 5, 6, 9}, d.tensor(0).toLongArray());
        assertArrayEquals(new long[] {3, 1, 2}, d.tensor(1).toLongArray());
        assertArrayEquals(new long[] {2, 0, 1}, d.tensor(2).toLongArray());
        DataLoader loader = new DataLoader(d, 2, DataLoader.Order.sequential(), DataLoader.LastBatch.KEEP);
        List<long[]> trimmed = new ArrayList<>();
        for (DataLoader.Batch b : loader.epoch(0)) {
            try (b) {
                Tensor t = PaddedSequences.trim(b.tensor(0), b.tensor(1));
                trimmed.add(t.shape());
            }
        }
        assertArrayEquals(new long[] {2, 3}, trimmed.get(0));
        assertArrayEquals(new long[] {1, 2}, trimmed.get(1)); // the last batch's only row is 2 long
    }

    @Test
    void refusesWhatCannotBePadded() {
        assertEquals("sequence 1 is empty; each needs at least one token", assertThrows(
                IllegalArgumentException.class, () -> PaddedSequences.of(List.of(new int[] {1}, new int[0]),
                        new int[] {0, 0}, 1, 0)).getMessage());
        assertEquals("sequence 0 holds the negative id -4 at position 1", assertThrows(IllegalArgumentException.class,
                () -> PaddedSequences.of(List.of(new int[] {1, -4}), new int[] {0}, 1, 0)).getMessage());
        assertEquals("label 3 of sequence 0 is outside [0, 3)", assertThrows(IllegalArgumentException.class,
                () -> PaddedSequences.of(List.of(new int[] {1}), new int[] {3}, 3, 0)).getMessage());
        assertEquals("2 sequences but 1 labels", assertThrows(IllegalArgumentException.class,
                () -> PaddedSequences.of(List.of(new int[] {1}, new int[] {2}), new int[] {0}, 1, 0)).getMessage());
        List<int[]> huge = new ArrayList<>();
        huge.add(new int[(int) (PaddedSequences.MAX_TOKENS / 2 + 1)]);
        huge.add(new int[] {1});
        String m = assertThrows(IllegalArgumentException.class,
                () -> PaddedSequences.of(huge, new int[] {0, 0}, 1, 0)).getMessage();
        assertTrue(m.contains("more than " + PaddedSequences.MAX_TOKENS), m);
    }

    @Test
    void passagesAreWholeWordsWithinTheBoundsAndCoverTheText() {
        String text = "The jury said it did find that many of the voters were not registered.\nIt also said that"
                + " the city hall was in order and that the election was conducted well.\n";
        for (long seed = 0; seed < 5; seed++) {
            List<String> ps = BrownCorpus.passages(text, 20, 40, seed);
            assertEquals(ps, BrownCorpus.passages(text, 20, 40, seed), "same seed, same passages");
            StringBuilder joined = new StringBuilder();
            for (String p : ps) {
                assertTrue(p.length() >= 1 && p.length() <= 40, p);
                assertEquals(p.strip(), p);
                assertTrue(text.contains(p), p);
                joined.append(p).append(' ');
            }
            // Only whitespace and a final rest shorter than 20 characters are left out.
            String words = text.replaceAll("\\s+", " ").strip();
            String got = joined.toString().replaceAll("\\s+", " ").strip();
            assertTrue(words.startsWith(got), got);
            assertTrue(words.length() - got.length() < 21, words.length() + " vs " + got.length());
        }
        // A word longer than the passage is cut at the length; the rest, shorter than the minimum, is left out.
        assertEquals(List.of("abcdefghij"), BrownCorpus.passages("abcdefghijklmno", 10, 10, 1));
        assertThrows(IllegalArgumentException.class, () -> BrownCorpus.passages("x", 0, 3, 1));
        assertThrows(IllegalArgumentException.class, () -> BrownCorpus.passages("x", 4, 3, 1));
    }
}
