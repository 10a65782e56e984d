package dev.gatun.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.io.SafeTensors;
import dev.gatun.tensor.Scope;
import dev.gatun.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Character vocabularies: ids, encoding, and the JSON a model file keeps them in. */
class VocabularyTest {

    @Test
    void idsFollowCodePointOrderAndRoundTrip() {
        Vocabulary v = Vocabulary.of("hello\n", "world é😀");
        assertEquals("\n deh\u00e9lorw😀".codePoints().count(), v.size());
        assertEquals(0, v.id('\n'));
        assertEquals(1, v.id(' '));
        assertEquals(v.size() - 1, v.id("😀".codePointAt(0)), "a supplementary character is one token");
        int[] ids = v.encode("hello world😀");
        assertEquals(12, ids.length);
        assertEquals("hello world😀", v.decode(ids));
        assertTrue(v.contains('w'));
        assertFalse(v.contains('z'));
    }

    @Test
    void symbolsKeepTheGivenOrder() {
        Vocabulary v = Vocabulary.ofSymbols("helo");
        assertArrayEquals(new int[] {0, 1, 2, 2, 3}, v.encode("hello"));
        assertEquals("helo", v.symbols());
        assertEquals("Vocabulary(4: \"helo\")", v.toString());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Vocabulary.ofSymbols("hell"));
        assertTrue(e.getMessage().contains("'l' (U+006C) appears twice"), e.getMessage());
    }

    @Test
    void unknownCharactersAreNamedWithTheirPosition() {
        Vocabulary v = Vocabulary.ofSymbols("ab");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> v.encode("abba\tb"));
        assertEquals("character U+0009 at position 4 is not in the vocabulary of 2 characters", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> v.id('c'));
        assertTrue(e.getMessage().startsWith("character 'c' (U+0063)"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> v.decode(2));
        assertThrows(IllegalArgumentException.class, () -> Vocabulary.of(""));
    }

    @Test
    void jsonRoundTripsAndMalformedJsonIsRefused() {
        Vocabulary v = Vocabulary.of("Hi there!\n\"quoted\" \\ é");
        assertEquals(v, Vocabulary.fromJson(v.toJson()));
        assertEquals("[104,101,108,111]", Vocabulary.ofSymbols("helo").toJson());
        assertEquals(Vocabulary.ofSymbols("helo"), Vocabulary.fromJson(" [104, 101,108 ,111] "));
        for (String bad : new String[] {"", "[]", "104,101", "[104,,101]", "[104,-1]", "[1.5]", "[1114112]",
                "[104,104]", "[99999999999]", "{\"a\":1}"}) {
            assertThrows(IllegalArgumentException.class, () -> Vocabulary.fromJson(bad), bad);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Vocabulary.fromJson("[104,x]"));
        assertEquals("vocabulary element 1 must be a Unicode code point (0 to 1114111), got 'x'", e.getMessage());
    }

    @Test
    void readsTheVocabularyOfAModelFile(@TempDir Path dir) throws IOException {
        Vocabulary v = Vocabulary.ofSymbols("helo");
        Path with = dir.resolve("with.safetensors");
        Path without = dir.resolve("without.safetensors");
        Path broken = dir.resolve("broken.safetensors");
        try (Scope s = Scope.open()) {
            Tensor w = Tensor.zeros(2);
            new SafeTensors.Writer().metadata(Vocabulary.METADATA_KEY, v.toJson()).add("w", w).write(with);
            new SafeTensors.Writer().add("w", w).write(without);
            new SafeTensors.Writer().metadata(Vocabulary.METADATA_KEY, "[1,1]").add("w", w).write(broken);
        }
        assertEquals(v, Vocabulary.read(with));
        DataFileException e = assertThrows(DataFileException.class, () -> Vocabulary.read(without));
        assertTrue(e.getMessage().startsWith(without + ": no 'gatun.vocabulary'"), e.getMessage());
        e = assertThrows(DataFileException.class, () -> Vocabulary.read(broken));
        assertTrue(e.getMessage().contains("appears twice"), e.getMessage());
    }
}
