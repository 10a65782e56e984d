package dev.gatun.data;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * A labelled classification dataset held on the heap: N samples, each a float feature array of a
 * fixed shape (e.g. {@code [1, 28, 28]} for an MNIST image, {@code [784]} flattened) and an integer
 * label in {@code 0..numClasses-1}.
 *
 * <p>Layout: {@code features} is {@code [N, featureSize]} row-major, {@code featureSize} being the
 * product of the feature shape; sample {@code i} occupies {@code features[i·featureSize ..
 * (i+1)·featureSize)}. {@code labels} is {@code [N]}.
 *
 * <p>A dataset is immutable: {@link #of} copies its arguments, accessors return copies, and every
 * transformation ({@link #subset}, {@link #split}, {@link #normalize}, {@link #reshape}) returns a new
 * dataset (a reshape shares the feature array, which nobody can change). Tensors are made from it
 * batch by batch by a {@link DataLoader}. For samples that are not features with a class label, see
 * {@link TensorDataset}.
 */
public final class Dataset implements Samples {

    private final float[] features; // [N, featureSize]
    private final long[] featureShape;
    private final int featureSize;
    private final int[] labels; // [N]
    private final int numClasses;

    /** Takes the arrays as they are (callers in this package hand over arrays nobody else holds). */
    Dataset(float[] features, int[] labels, int numClasses, long[] featureShape) {
        Objects.requireNonNull(features, "features");
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(featureShape, "featureShape");
        this.featureSize = checkFeatureShape(featureShape);
        if (numClasses < 1) {
            throw new IllegalArgumentException("numClasses must be at least 1, got " + numClasses);
        }
        if ((long) labels.length * featureSize != features.length) {
            throw new IllegalArgumentException(features.length + " feature values do not make " + labels.length
                    + " samples of shape " + Arrays.toString(featureShape) + " (" + featureSize + " values each)");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is outside 0.."
                        + (numClasses - 1));
            }
        }
        this.features = features;
        this.labels = labels;
        this.numClasses = numClasses;
        this.featureShape = featureShape.clone();
    }

    /**
     * A dataset of {@code labels.length} samples with features of {@code featureShape} (copies of the
     * arrays are taken).
     *
     * @param features     the features of every sample, {@code [N, featureSize]} row-major
     * @param labels       the class of every sample, {@code [N]}
     * @param numClasses   the number of classes, at least 1
     * @param featureShape the shape of one sample's features, e.g. {@code 1, 28, 28}
     * @return the dataset
     *
     * @throws IllegalArgumentException if {@code features.length} is not {@code labels.length ×
     *     featureSize}, a size of {@code featureShape} is below 1, {@code numClasses < 1} or a label lies
     *     outside {@code 0..numClasses-1} (the message names the sample and the label)
     */
    public static Dataset of(float[] features, int[] labels, int numClasses, long... featureShape) {
        return new Dataset(features.clone(), labels.clone(), numClasses, featureShape);
    }

    private static int checkFeatureShape(long[] shape) {
        if (shape.length == 0) {
            throw new IllegalArgumentException("the feature shape needs at least one dimension, e.g. [784]");
        }
        long size = 1;
        for (long s : shape) {
            if (s < 1) {
                throw new IllegalArgumentException("feature shape " + Arrays.toString(shape) + " has a size below 1");
            }
            size *= s;
            if (size > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("feature shape " + Arrays.toString(shape) + " is too large");
            }
        }
        return (int) size;
    }

    // ---------------------------------------------------------------- accessors

    /**
     * The number of samples, N.
     *
     * @return N
     */
    @Override
    public int size() {
        return labels.length;
    }

    /**
     * The shape of one sample's features.
     *
     * @return a copy of the shape
     */
    public long[] featureShape() {
        return featureShape.clone();
    }

    /**
     * The number of feature values per sample: the product of {@link #featureShape()}.
     *
     * @return the feature size
     */
    public int featureSize() {
        return featureSize;
    }

    /**
     * The number of classes; labels lie in {@code 0..numClasses-1}.
     *
     * @return the number of classes
     */
    public int numClasses() {
        return numClasses;
    }

    /**
     * The label of sample {@code i}.
     *
     * @param i the sample's index
     * @return its class
     * @throws IndexOutOfBoundsException if {@code i} lies outside {@code 0..N-1}
     */
    public int label(int i) {
        return labels[Objects.checkIndex(i, labels.length)];
    }

    /**
     * All labels.
     *
     * @return a copy, {@code [N]}
     */
    public int[] labels() {
        return labels.clone();
    }

    /**
     * The features of sample {@code i}.
     *
     * @param i the sample's index
     * @return a copy, row-major, of {@link #featureSize()} values
     * @throws IndexOutOfBoundsException if {@code i} lies outside {@code 0..N-1}
     */
    public float[] features(int i) {
        int from = Objects.checkIndex(i, labels.length) * featureSize;
        return Arrays.copyOfRange(features, from, from + featureSize);
    }

    /**
     * All features.
     *
     * @return a copy, {@code [N, featureSize]} row-major
     */
    public float[] features() {
        return features.clone();
    }

    /** The feature array itself, for {@link DataLoader}; never modified. */
    float[] featureArray() {
        return features;
    }

    // ---------------------------------------------------------------- transformations

    /**
     * The same samples with another feature shape of the same size, e.g. {@code [1, 28, 28]} to
     * {@code [784]}; the feature values are shared, not copied.
     *
     * @param newFeatureShape the new shape of one sample's features
     * @return the reshaped dataset
     * @throws IllegalArgumentException if the new shape has a size below 1 or another number of values
     */
    public Dataset reshape(long... newFeatureShape) {
        int size = checkFeatureShape(newFeatureShape);
        if (size != featureSize) {
            throw new IllegalArgumentException("cannot reshape features of shape " + Arrays.toString(featureShape)
                    + " (" + featureSize + " values) to " + Arrays.toString(newFeatureShape) + " (" + size
                    + " values)");
        }
        return new Dataset(features, labels, numClasses, newFeatureShape);
    }

    /**
     * The samples at {@code indices}, in that order (an index may repeat).
     *
     * @param indices sample indices in {@code 0..N-1}
     * @return a new dataset of {@code indices.length} samples
     * @throws IndexOutOfBoundsException if an index lies outside {@code 0..N-1}, naming it and its position
     */
    public Dataset subset(int[] indices) {
        float[] f = new float[Math.multiplyExact(indices.length, featureSize)];
        int[] l = new int[indices.length];
        for (int k = 0; k < indices.length; k++) {
            int i = indices[k];
            if (i < 0 || i >= labels.length) {
                throw new IndexOutOfBoundsException("subset: index " + i + " at position " + k
                        + " is outside 0.." + (labels.length - 1));
            }
            l[k] = labels[i];
        }
        Rows.gather(MemorySegment.ofArray(features), (long) featureSize * Float.BYTES, indices, 0, indices.length,
                MemorySegment.ofArray(f), 0);
        return new Dataset(f, l, numClasses, featureShape);
    }

    /**
     * A training part and a held-out validation part of a dataset.
     *
     * @param train      the samples to train on
     * @param validation the samples held out
     */
    public record Split(Dataset train, Dataset validation) {}

    /**
     * Splits off {@code round(validationFraction × N)} samples, picked by a permutation seeded with
     * {@code seed}, as a validation set; the rest is the training set. Both parts keep the original
     * order of their samples. The same seed gives the same split.
     *
     * @param validationFraction the share of samples to hold out, strictly between 0 and 1
     * @param seed               the seed of the permutation
     * @return the two parts
     *
     * @throws IllegalArgumentException unless {@code 0 < validationFraction < 1} and both parts get at
     *     least one sample
     */
    public Split split(double validationFraction, long seed) {
        int[][] parts = splitIndices(size(), validationFraction, seed);
        return new Split(subset(parts[0]), subset(parts[1]));
    }

    /**
     * The sample indices of a split of n samples: the training part, then the validation part, each in
     * increasing order (shared with {@link TensorDataset#split}, so that both split alike).
     */
    static int[][] splitIndices(int n, double validationFraction, long seed) {
        if (!(validationFraction > 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("validation fraction must lie strictly between 0 and 1, got "
                    + validationFraction);
        }
        long validation = Math.round(validationFraction * n);
        if (validation < 1 || validation > n - 1) {
            throw new IllegalArgumentException("validation fraction " + validationFraction + " of " + n
                    + " samples leaves " + validation + " for validation and " + (n - validation)
                    + " for training; each needs at least one");
        }
        int[] order = Shuffle.permutation(n, seed);
        int[] validationIndices = Arrays.copyOfRange(order, 0, (int) validation);
        int[] trainIndices = Arrays.copyOfRange(order, (int) validation, n);
        Arrays.sort(validationIndices);
        Arrays.sort(trainIndices);
        return new int[][] {trainIndices, validationIndices};
    }

    /**
     * The mean and (population) standard deviation of a set of feature values.
     *
     * @param mean the mean
     * @param std  the population standard deviation
     */
    public record Stats(double mean, double std) {}

    /**
     * The mean and population standard deviation over every feature value of every sample
     * (computed in double, two passes). Compute them on the training set and normalise every set with
     * them; for MNIST pixels in [0, 1] they are about 0.1307 and 0.3081.
     *
     * @return the mean and standard deviation
     * @throws IllegalStateException if the dataset is empty
     */
    public Stats stats() {
        if (features.length == 0) {
            throw new IllegalStateException("stats of an empty dataset");
        }
        double sum = 0;
        for (float x : features) {
            sum += x;
        }
        double mean = sum / features.length;
        double squares = 0;
        for (float x : features) {
            double d = x - mean;
            squares += d * d;
        }
        return new Stats(mean, Math.sqrt(squares / features.length));
    }

    /**
     * {@link #normalize(double, double)} with the given statistics.
     *
     * @param stats the mean and standard deviation to normalise with
     * @return the normalised dataset
     * @throws IllegalArgumentException if the mean is not finite or the std not finite and positive
     */
    public Dataset normalize(Stats stats) {
        return normalize(stats.mean(), stats.std());
    }

    /**
     * A dataset whose every feature value {@code x} is replaced by {@code (x − mean) / std}, computed in
     * float32 as {@code torchvision.transforms.Normalize} does.
     *
     * @param mean the value subtracted
     * @param std  the value divided by
     * @return the normalised dataset
     *
     * @throws IllegalArgumentException if {@code mean} is not finite or {@code std} is not finite and positive
     */
    public Dataset normalize(double mean, double std) {
        if (!Double.isFinite(mean) || !Double.isFinite(std) || std <= 0) {
            throw new IllegalArgumentException("normalize needs a finite mean and a finite positive std, got mean="
                    + mean + " std=" + std);
        }
        float m = (float) mean;
        float s = (float) std;
        float[] out = new float[features.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (features[i] - m) / s;
        }
        return new Dataset(out, labels, numClasses, featureShape);
    }

    @Override
    public String toString() {
        return "Dataset(" + size() + " samples of " + Arrays.toString(featureShape) + ", " + numClasses + " classes)";
    }
}
