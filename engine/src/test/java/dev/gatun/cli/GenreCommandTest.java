package dev.gatun.cli;

import static dev.gatun.cli.CliRun.gatun;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gatun train genre} end to end on a small corpus in the Brown form whose genres use other words. */
class GenreCommandTest {

    /** Texts of three genres, each with words of its own, in unequal numbers (so that a majority exists). */
    private static void writeCorpus(Path dir) throws IOException {
        String[][] words = {{"the/at", "cat/nn", "sat/vbd", "mat/nn"}, {"a/at", "dog/nn", "ran/vbd", "far/rb"},
            {"my/pp$", "bird/nn", "flew/vbd", "up/rp"}};
        char[] genres = {'a', 'k', 'r'};
        int[] texts = {10, 8, 6};
        SplittableRandom rng = new SplittableRandom(1);
        for (int g = 0; g < 3; g++) {
            for (int i = 1; i <= texts[g]; i++) {
                StringBuilder sb = new StringBuilder();
                for (int s = 0; s < 20; s++) {
                    for (int w = 0; w < 5; w++) sb.append(words[g][rng.nextInt(4)]).append(' ');
                    sb.append("./.\n");
                }
                Files.writeString(dir.resolve(String.format("c%c%02d", genres[g], i)), sb.toString());
            }
        }
    }

    @Test
    void learnsTheGenresWellAboveTheMajorityAndPrintsTheConfusionMatrix(@TempDir Path dir) throws IOException {
        writeCorpus(dir);
        Path csv = dir.resolve("log.csv");
        CliRun r = gatun("train", "genre", "--data", dir.toString(), "--embedding", "8", "--hidden", "16",
                "--min-chars", "20", "--max-chars", "40", "--batch-size", "16", "--epochs", "4", "--lr", "0.02",
                "--validation", "0.2", "--test", "0.3", "--threads", "1", "--csv", csv.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        String out = r.out();
        assertTrue(out.contains("Brown corpus: 24 texts in 3 genres; passages of 20 to 40 chars"), out);
        Matcher m = Pattern.compile("test passages: accuracy ([0-9.]+)% on ([0-9,]+); majority class \\(a press:"
                + " reportage\\) ([0-9.]+)%").matcher(out);
        assertTrue(m.find(), out);
        double accuracy = Double.parseDouble(m.group(1));
        double majority = Double.parseDouble(m.group(3));
        assertTrue(majority > 30 && majority < 50, out);
        assertTrue(accuracy > 90, "each genre has words of its own: " + out);
        Matcher texts = Pattern.compile("test texts: accuracy ([0-9.]+)% on (\\d+) ").matcher(out);
        assertTrue(texts.find(), out);
        assertEquals(7, Integer.parseInt(texts.group(2))); // 3 + 2 + 2: 0.3 of 10, 8 and 6 texts, rounded
        assertTrue(out.contains("confusion matrix of the test passages"), out);
        // One row per genre, whose counts add up to the row's total.
        Matcher row = Pattern.compile("(?m)^(\\w [^|]+)\\|([ 0-9]+)\\| +(\\d+) +[0-9.]+%$").matcher(out);
        int rows = 0;
        long all = 0;
        while (row.find()) {
            long sum = 0;
            for (String v : row.group(2).trim().split(" +")) sum += Long.parseLong(v);
            assertEquals(Long.parseLong(row.group(3)), sum, row.group());
            all += sum;
            rows++;
        }
        assertEquals(3, rows, out);
        assertEquals(Long.parseLong(m.group(2).replace(",", "")), all);
        assertEquals(5, Files.readAllLines(csv).size());
    }

    @Test
    void badOptionsAreRefusedBeforeAnythingRuns(@TempDir Path dir) {
        CliRun r = gatun("train", "genre", "--data", dir.toString(), "--min-chars", "50", "--max-chars", "10",
                "--hidden", "0");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--max-chars 10 is below --min-chars 50"), r.err());
        assertTrue(r.err().contains("--hidden"), r.err());
        CliRun missing = gatun("train", "genre", "--data", dir.resolve("nothing").toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().startsWith("gatun: "), missing.err());
    }
}
