package dev.gatun.data;

import dev.gatun.io.SafeTensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Locale;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The characters a character-level model knows, each with an id 0..V−1: the tokens of a character
 * language model. Characters are Unicode code points, so a character outside the Basic Multilingual Plane
 * is one token, not two.
 *
 * <p>A model is only usable with the vocabulary it was trained with, so the vocabulary travels with it:
 * {@link #toJson()} gives a JSON array of the code points in id order (e.g. {@code [10,32,33]}), which a
 * model file stores in its metadata under {@value #METADATA_KEY}, and {@link #fromJson} and
 * {@link #read(Path)} read back.
 */
public final class Vocabulary {

    /** The metadata key under which a model file keeps its vocabulary. */
    public static final String METADATA_KEY = "gatun.vocabulary";

    /** The most characters a vocabulary may have; far beyond what a character model uses. */
    public static final int MAX_SIZE = 1 << 20;

    private final int[] codePoints; // id -> code point, increasing for of(...), in the given order for ofSymbols
    private final int[] sorted;     // the code points sorted
    private final int[] sortedIds;  // the id of sorted[i]

    private Vocabulary(int[] codePoints) {
        this.codePoints = codePoints;
        Integer[] order = new Integer[codePoints.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Integer.compare(codePoints[a], codePoints[b]));
        this.sorted = new int[codePoints.length];
        this.sortedIds = new int[codePoints.length];
        for (int i = 0; i < order.length; i++) {
            sorted[i] = codePoints[order[i]];
            sortedIds[i] = order[i];
        }
    }

    /**
     * The characters that occur in {@code texts}, with ids in increasing order of their code points.
     *
     * @param texts the texts, e.g. a whole corpus
     * @return the vocabulary
     * @throws IllegalArgumentException if the texts hold no character
     */
    public static Vocabulary of(CharSequence... texts) {
        return of(Arrays.asList(texts));
    }

    /**
     * The characters that occur in {@code texts}, with ids in increasing order of their code points.
     *
     * @param texts the texts
     * @return the vocabulary
     * @throws IllegalArgumentException if the texts hold no character
     */
    public static Vocabulary of(Collection<? extends CharSequence> texts) {
        TreeSet<Integer> seen = new TreeSet<>();
        boolean[] ascii = new boolean[128];
        for (CharSequence t : texts) {
            Objects.requireNonNull(t, "text");
            t.codePoints().forEach(cp -> {
                if (cp < 128) {
                    ascii[cp] = true;
                } else {
                    seen.add(cp);
                }
            });
        }
        for (int c = 0; c < 128; c++) {
            if (ascii[c]) seen.add(c);
        }
        if (seen.isEmpty()) {
            throw new IllegalArgumentException("a vocabulary needs at least one character; the texts are empty");
        }
        return new Vocabulary(seen.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * The characters of {@code symbols} with ids in their order there: {@code ofSymbols("helo")} gives h the
     * id 0, e 1, l 2 and o 3.
     *
     * @param symbols distinct characters
     * @return the vocabulary
     * @throws IllegalArgumentException if {@code symbols} is empty or a character repeats (naming it)
     */
    public static Vocabulary ofSymbols(String symbols) {
        int[] cps = symbols.codePoints().toArray();
        if (cps.length == 0) {
            throw new IllegalArgumentException("a vocabulary needs at least one character");
        }
        checkDistinct(cps);
        return new Vocabulary(cps);
    }

    private static void checkDistinct(int[] cps) {
        int[] s = cps.clone();
        Arrays.sort(s);
        for (int i = 1; i < s.length; i++) {
            if (s[i] == s[i - 1]) {
                throw new IllegalArgumentException("character " + describe(s[i]) + " appears twice in the vocabulary");
            }
        }
    }

    /**
     * The number of characters, V.
     *
     * @return V
     */
    public int size() {
        return codePoints.length;
    }

    /**
     * Whether a character has an id.
     *
     * @param codePoint a Unicode code point
     * @return true if it is in the vocabulary
     */
    public boolean contains(int codePoint) {
        return Arrays.binarySearch(sorted, codePoint) >= 0;
    }

    /**
     * The id of a character.
     *
     * @param codePoint a Unicode code point
     * @return its id in 0..V−1
     * @throws IllegalArgumentException if the character is not in the vocabulary, naming it
     */
    public int id(int codePoint) {
        int i = Arrays.binarySearch(sorted, codePoint);
        if (i < 0) {
            throw new IllegalArgumentException("character " + describe(codePoint) + " is not in the vocabulary of "
                    + size() + " characters");
        }
        return sortedIds[i];
    }

    /**
     * The character of an id.
     *
     * @param id an id in 0..V−1
     * @return its code point
     * @throws IndexOutOfBoundsException if {@code id} is outside 0..V−1
     */
    public int codePoint(int id) {
        return codePoints[Objects.checkIndex(id, codePoints.length)];
    }

    /**
     * The ids of the characters of {@code text}, in order.
     *
     * @param text the text
     * @return one id per code point
     * @throws IllegalArgumentException if a character is not in the vocabulary, naming it and its position
     *     (in chars from the start)
     */
    public int[] encode(CharSequence text) {
        int[] out = new int[(int) text.codePoints().count()];
        int k = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = Character.codePointAt(text, i);
            int s = Arrays.binarySearch(sorted, cp);
            if (s < 0) {
                throw new IllegalArgumentException("character " + describe(cp) + " at position " + i
                        + " is not in the vocabulary of " + size() + " characters");
            }
            out[k++] = sortedIds[s];
            i += Character.charCount(cp);
        }
        return out;
    }

    /**
     * The text of a sequence of ids.
     *
     * @param ids ids in 0..V−1
     * @return the characters, in order
     * @throws IndexOutOfBoundsException if an id is outside 0..V−1
     */
    public String decode(int... ids) {
        StringBuilder sb = new StringBuilder(ids.length);
        for (int id : ids) {
            sb.appendCodePoint(codePoint(id));
        }
        return sb.toString();
    }

    /**
     * The characters in id order, as a string.
     *
     * @return character 0, character 1, ...
     */
    public String symbols() {
        return decode(java.util.stream.IntStream.range(0, size()).toArray());
    }

    /**
     * The vocabulary as JSON: the code points in id order, e.g. {@code [10,32,33]}.
     *
     * @return a JSON array of integers
     */
    public String toJson() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < codePoints.length; i++) {
            sb.append(i == 0 ? "" : ",").append(codePoints[i]);
        }
        return sb.append(']').toString();
    }

    /**
     * Reads a vocabulary written by {@link #toJson()}.
     *
     * @param json a JSON array of distinct Unicode code points, at most {@value #MAX_SIZE}
     * @return the vocabulary, with ids in the array's order
     * @throws IllegalArgumentException if the text is not such an array (the message names the bad element),
     *     it is empty or too long, or a code point repeats
     */
    public static Vocabulary fromJson(String json) {
        Objects.requireNonNull(json, "json");
        String s = json.strip();
        if (s.length() < 2 || s.charAt(0) != '[' || s.charAt(s.length() - 1) != ']') {
            throw new IllegalArgumentException("a vocabulary must be a JSON array of code points, got '"
                    + abbreviate(s) + "'");
        }
        String body = s.substring(1, s.length() - 1).strip();
        if (body.isEmpty()) {
            throw new IllegalArgumentException("a vocabulary needs at least one character, got []");
        }
        String[] parts = body.split(",", -1);
        if (parts.length > MAX_SIZE) {
            throw new IllegalArgumentException("a vocabulary has at most " + MAX_SIZE + " characters, got "
                    + parts.length);
        }
        int[] cps = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            int cp;
            try {
                cp = p.length() <= 8 && p.chars().allMatch(Character::isDigit) ? Integer.parseInt(p) : -1;
            } catch (NumberFormatException e) {
                cp = -1;
            }
            if (cp < 0 || !Character.isValidCodePoint(cp)) {
                throw new IllegalArgumentException("vocabulary element " + i + " must be a Unicode code point"
                        + " (0 to 1114111), got '" + abbreviate(p) + "'");
            }
            cps[i] = cp;
        }
        checkDistinct(cps);
        return new Vocabulary(cps);
    }

    /**
     * Reads the vocabulary a model file keeps in its metadata under {@value #METADATA_KEY}; only the
     * file's header is read.
     *
     * @param modelFile a safetensors file
     * @return the vocabulary
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws DataFileException naming the file if it has no vocabulary or a malformed one
     * @throws IOException if the file cannot be read or is not a safetensors file
     */
    public static Vocabulary read(Path modelFile) throws IOException {
        String json;
        try (SafeTensors st = SafeTensors.open(modelFile)) {
            json = st.metadata().get(METADATA_KEY);
        }
        if (json == null) {
            throw new DataFileException(modelFile, "no '" + METADATA_KEY + "' in the metadata: the file holds no"
                    + " vocabulary (it was not saved from a character model with its vocabulary)");
        }
        try {
            return fromJson(json);
        } catch (IllegalArgumentException e) {
            throw new DataFileException(modelFile, METADATA_KEY + ": " + e.getMessage(), e);
        }
    }

    /** A character for messages: itself in quotes when printable, and its code point. */
    static String describe(int cp) {
        String code = String.format(Locale.ROOT, "U+%04X", cp);
        if (Character.isISOControl(cp) || Character.isWhitespace(cp) || !Character.isDefined(cp)) {
            return code;
        }
        return "'" + new String(Character.toChars(cp)) + "' (" + code + ")";
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /**
     * Whether {@code o} is a vocabulary with the same characters and ids.
     *
     * @param o another object
     * @return true for the same characters in the same order
     */
    @Override
    public boolean equals(Object o) {
        return o instanceof Vocabulary v && Arrays.equals(codePoints, v.codePoints);
    }

    /**
     * A hash of the characters in order.
     *
     * @return the hash code
     */
    @Override
    public int hashCode() {
        return Arrays.hashCode(codePoints);
    }

    /**
     * The size and the characters, control characters escaped.
     *
     * @return e.g. {@code Vocabulary(4: "helo")}
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Vocabulary(").append(size()).append(": \"");
        for (int cp : codePoints) {
            switch (cp) {
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (Character.isISOControl(cp)) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", cp));
                    } else {
                        sb.appendCodePoint(cp);
                    }
                }
            }
        }
        return sb.append("\")").toString();
    }
}
