package dev.gatun.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Brown corpus reader on small synthetic files in the corpus's tagged form. */
class BrownCorpusTest {

    private static final String TAGGED = """


            \tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd ``/`` no/at evidence/nn ''/'' ,/, \
            that/cs any/dti irregularities/nns took/vbd place/nn ./.
            It/pps cost/vbd 1-1/2/cd dollars/nns (/( or/cc so/rb )/) ;/. wasn't/bedz* it/pps ?/.


            \tMerger/nn-hl proposed/vbn-hl
            """;

    @Test
    void tagsAreStrippedAndPunctuationAttached() {
        assertEquals("The Fulton County Grand Jury said \"no evidence\", that any irregularities took place. It cost"
                + " 1-1/2 dollars (or so); wasn't it?\nMerger proposed\n", BrownCorpus.plainText(TAGGED));
    }

    private static void write(Path dir, String name, String content) throws IOException {
        Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    @Test
    void loadsTextsWithTheirGenresInNameOrder(@TempDir Path dir) throws IOException {
        write(dir, "cb02", "\n\n\tA/at b/nn ./.\n");
        write(dir, "ca01", TAGGED);
        write(dir, "cats.txt", "ca01 news\ncb02 editorial\n"); // not a text: left alone
        write(dir, "README", "not/a text\n");
        BrownCorpus c = BrownCorpus.load(dir);
        assertEquals(List.of("ca01", "cb02"), c.texts().stream().map(BrownCorpus.Text::name).toList());
        assertEquals('a', c.texts().get(0).genre());
        assertEquals("press: reportage", c.texts().get(0).genreName());
        assertEquals("press: editorial", c.texts().get(1).genreName());
        assertEquals("A b.\n", c.texts().get(1).text());
        assertEquals(List.of(c.texts().get(1)), c.genre('b'));
        assertEquals(c.texts().get(0).text() + "A b.\n", BrownCorpus.join(c.texts()));
    }

    @Test
    void findsTheFilesInThePackageDirectoryOfTheTarball(@TempDir Path dir) throws IOException {
        Files.createDirectory(dir.resolve("package"));
        write(dir.resolve("package"), "cr09", "Ha/uh !/.\n");
        assertEquals("Ha!\n", BrownCorpus.load(dir).texts().getFirst().text());
    }

    private static String failure(Path dir, String name, byte[] content) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, content);
        DataFileException e = assertThrows(DataFileException.class, () -> BrownCorpus.load(dir));
        assertEquals(f, e.file());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        Files.delete(f);
        return e.getMessage();
    }

    @Test
    void malformedFilesFailNamingTheFileAndTheLine(@TempDir Path dir) throws IOException {
        write(dir, "ca01", "Good/jj ./.\n");
        String m = failure(dir, "ca02", "Fine/jj\n\nno-tag here/rb\n".getBytes(StandardCharsets.UTF_8));
        assertTrue(m.contains("line 3: token 'no-tag' has no /tag"), m);
        m = failure(dir, "ca03", "word/\n".getBytes(StandardCharsets.UTF_8));
        assertTrue(m.contains("line 1: token 'word/' has no /tag"), m);
        m = failure(dir, "ca04", "/nn\n".getBytes(StandardCharsets.UTF_8));
        assertTrue(m.contains("empty word"), m);
        m = failure(dir, "ca05", new byte[] {'a', '/', 'b', ' ', (byte) 0xff, (byte) 0xfe, '\n'});
        assertTrue(m.contains("is not UTF-8 text"), m);
        m = failure(dir, "ca06", "a/at\nb/nn\u0000/x\n".getBytes(StandardCharsets.UTF_8));
        assertTrue(m.contains("line 2: control character U+0000 at column 5"), m);
        m = failure(dir, "ca07", "\n\n\t\n".getBytes(StandardCharsets.UTF_8));
        assertTrue(m.contains("holds no words"), m);
        m = failure(dir, "ci01", "a/at\n".getBytes(StandardCharsets.UTF_8));
        assertTrue(m.contains("genre letter 'i' of the name is not one of abcdefghjklmnpr"), m);
        assertEquals(1, BrownCorpus.load(dir).texts().size(), "the good file alone loads again");
    }

    @Test
    void oversizedFilesAreRefusedBeforeReading(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("ca01");
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {'x'}), BrownCorpus.MAX_FILE_BYTES); // sparse
        }
        DataFileException e = assertThrows(DataFileException.class, () -> BrownCorpus.load(dir));
        assertTrue(e.getMessage().contains("is " + (BrownCorpus.MAX_FILE_BYTES + 1) + " bytes"), e.getMessage());
    }

    @Test
    void aMissingOrEmptyDirectorySaysHowToFetchTheCorpus(@TempDir Path dir) {
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> BrownCorpus.load(dir.resolve("no")));
        assertTrue(e.getMessage().contains("scripts/fetch-data brown"), e.getMessage());
        e = assertThrows(NoSuchFileException.class, () -> BrownCorpus.load(dir));
        assertTrue(e.getMessage().contains("no Brown corpus texts"), e.getMessage());
    }

    /** A corpus of {@code perGenre[g]} texts in each genre, each text naming itself. */
    private static BrownCorpus synthetic(int... perGenre) {
        List<BrownCorpus.Text> texts = new ArrayList<>();
        List<Character> genres = new ArrayList<>(BrownCorpus.GENRES.keySet());
        for (int g = 0; g < perGenre.length; g++) {
            for (int i = 1; i <= perGenre[g]; i++) {
                String name = String.format("c%c%02d", genres.get(g), i);
                texts.add(new BrownCorpus.Text(name, genres.get(g), name + "\n"));
            }
        }
        return BrownCorpus.of(texts);
    }

    @Test
    void theSplitIsByWholeTextsPerGenreAndSeeded() {
        BrownCorpus c = synthetic(44, 27, 17, 6);
        BrownCorpus.Split s = c.split(0.1, 0.2, 7);
        Set<String> all = new HashSet<>();
        for (List<BrownCorpus.Text> part : List.of(s.train(), s.validation(), s.test())) {
            for (BrownCorpus.Text t : part) {
                assertTrue(all.add(t.name()), "a text is in one set only: " + t.name());
            }
        }
        assertEquals(c.texts().size(), all.size(), "every text is in a set");
        // per genre: round(0.1 n) validation and round(0.2 n) test texts
        assertEquals(4 + 3 + 2 + 1, s.validation().size());
        assertEquals(9 + 5 + 3 + 1, s.test().size());
        assertEquals(1, s.validation().stream().filter(t -> t.genre() == 'd').count());
        assertEquals(s, c.split(0.1, 0.2, 7), "the same seed, the same split");
        assertNotEquals(s.validation(), c.split(0.1, 0.2, 8).validation(), "another seed, another split");
        List<String> names = s.train().stream().map(BrownCorpus.Text::name).toList();
        assertEquals(names.stream().sorted().toList(), names, "each set keeps the corpus's order");
        assertTrue(c.split(0, 0, 1).validation().isEmpty());
        assertEquals(c.texts(), c.split(0, 0, 1).train());
    }

    @Test
    void splitsThatLeaveASetEmptyAreRefused() {
        BrownCorpus c = synthetic(3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.split(0.1, 0.1, 1));
        assertTrue(e.getMessage().contains("leave 3 for training, 0 for validation"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> c.split(0.5, 0.5, 1));
        assertThrows(IllegalArgumentException.class, () -> c.split(-0.1, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> c.split(Double.NaN, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new BrownCorpus.Text("ci01", 'i', "x"));
        assertThrows(IllegalArgumentException.class, () -> BrownCorpus.of(List.of()));
        BrownCorpus.Text t = new BrownCorpus.Text("ca01", 'a', "x");
        assertThrows(IllegalArgumentException.class, () -> BrownCorpus.of(List.of(t, t)));
        assertFalse(c.toString().isEmpty());
    }
}
