package dev.gatun.ops;

import dev.gatun.autograd.Autograd;
import dev.gatun.tensor.Tensor;
import java.util.Arrays;
import java.util.Locale;

/**
 * Spatial resampling of [N, C, H, W] tensors with {@code torch.nn.functional.interpolate} semantics, modes
 * {@code 'nearest'} and {@code 'bilinear'}, to a given size ({@link #interpolateToSize}) or by scale factors
 * ({@link #interpolateByScale}), forward and backward.
 *
 * <p>By scale factor s the output size is ⌊H·s⌋ (and likewise across), and, as PyTorch does when
 * {@code recompute_scale_factor} is not set, the coordinates map with 1/s itself rather than with the
 * ratio of the sizes (they differ when H·s is not whole). By size, they map with H/OH.
 *
 * <pre>
 *   nearest                       src = min(⌊dst · scale⌋, H − 1)    (dst itself when OH = H)
 *   bilinear, align_corners false src = max((dst + ½) · scale − ½, 0)
 *   bilinear, align_corners true  src = dst · (H − 1)/(OH − 1)       (0 when OH = 1)
 * </pre>
 *
 * <p>Bilinear mixes the two rows ⌊src⌋ and ⌊src⌋ + 1 (clamped at the last) with weights 1 − λ and λ,
 * λ = src − ⌊src⌋, and likewise the columns. Coordinates are computed in float32 as PyTorch's CPU
 * kernels do. The backward pass sends each output gradient back to the input elements it was made
 * of, with the same weights. Computed in Java over arrays, so a tensor holds at most 2³¹ − 9 elements.
 */
public final class Resample {

    /** How output elements are made from the input's. */
    public enum Mode {
        /** The nearest input element below the mapped coordinate ({@code mode='nearest'}). */
        NEAREST,
        /** Linear interpolation between the two nearest rows and columns ({@code mode='bilinear'}). */
        BILINEAR;

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** The largest Java array, and so the largest tensor this class resamples. */
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private Resample() {}

    /**
     * Resamples to a given size: {@code F.interpolate(input, size=(height, width), mode=mode,
     * align_corners=alignCorners)}.
     *
     * @param input        the input [N, C, H, W], float32
     * @param height       the output's height, at least 1
     * @param width        the output's width, at least 1
     * @param mode         nearest or bilinear
     * @param alignCorners for bilinear, whether the corner pixels' centres of input and output coincide;
     *                     must be false for nearest (PyTorch refuses it there too)
     * @return the output [N, C, height, width], recording its backward pass when the input requires a
     *     gradient
     * @throws IllegalArgumentException if the input is not a 4-d float32 tensor with positive sizes, a size
     *     is below 1, {@code mode} is null, {@code alignCorners} is set for nearest, or the output has more
     *     elements than a Java array holds
     * @throws IllegalStateException    if the input is closed
     */
    public static Tensor interpolateToSize(Tensor input, long height, long width, Mode mode,
                                           boolean alignCorners) {
        check(input, mode, alignCorners);
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("interpolate: the output size must be positive, got " + height + "×"
                    + width);
        }
        return resample(input, height, width, Double.NaN, Double.NaN, mode, alignCorners);
    }

    /**
     * Resamples by scale factors: {@code F.interpolate(input, scale_factor=(scaleHeight, scaleWidth),
     * mode=mode, align_corners=alignCorners)}; the output is ⌊H·scaleHeight⌋ × ⌊W·scaleWidth⌋.
     *
     * @param input        the input [N, C, H, W], float32
     * @param scaleHeight  the factor of the height, finite and above 0
     * @param scaleWidth   the factor of the width, finite and above 0
     * @param mode         nearest or bilinear
     * @param alignCorners for bilinear, whether the corner pixels' centres of input and output coincide
     *                     (the coordinates then map with the ratio of the sizes); false for nearest
     * @return the output, recording its backward pass when the input requires a gradient
     * @throws IllegalArgumentException if the input is not a 4-d float32 tensor with positive sizes, a
     *     factor is not finite and positive or makes an output size below 1, {@code mode} is null,
     *     {@code alignCorners} is set for nearest, or the output has more elements than a Java array holds
     * @throws IllegalStateException    if the input is closed
     */
    public static Tensor interpolateByScale(Tensor input, double scaleHeight, double scaleWidth, Mode mode,
                                            boolean alignCorners) {
        check(input, mode, alignCorners);
        if (!(scaleHeight > 0 && scaleHeight < Double.POSITIVE_INFINITY && scaleWidth > 0
                && scaleWidth < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("interpolate: scale factors must be finite and above 0, got "
                    + scaleHeight + "×" + scaleWidth);
        }
        double h = Math.floor(input.size(2) * scaleHeight);
        double w = Math.floor(input.size(3) * scaleWidth);
        if (h < 1 || w < 1) {
            throw new IllegalArgumentException("interpolate: scale factors " + scaleHeight + "×" + scaleWidth
                    + " make an empty output from " + input.size(2) + "×" + input.size(3) + ": " + (long) h + "×"
                    + (long) w);
        }
        if (h * w > MAX_ELEMENTS) {
            throw tooLarge(input, h, w);
        }
        return resample(input, (long) h, (long) w, scaleHeight, scaleWidth, mode, alignCorners);
    }

    private static void check(Tensor input, Mode mode, boolean alignCorners) {
        input.checkAlive();
        if (mode == null) {
            throw new IllegalArgumentException("interpolate: mode is null");
        }
        if (input.dim() != 4) {
            throw new IllegalArgumentException("interpolate: input must be [N, C, H, W], got shape "
                    + Arrays.toString(input.shape()));
        }
        if (!input.isFloatingPoint()) {
            throw new IllegalArgumentException("interpolate: input must be float32, got " + input.dtype());
        }
        for (long s : input.shape()) {
            if (s < 1) {
                throw new IllegalArgumentException("interpolate: input sizes must be positive, got shape "
                        + Arrays.toString(input.shape()));
            }
        }
        if (alignCorners && mode == Mode.NEAREST) {
            throw new IllegalArgumentException("interpolate: align_corners applies to bilinear only, not nearest");
        }
    }

    private static IllegalArgumentException tooLarge(Tensor input, double h, double w) {
        return new IllegalArgumentException(String.format(Locale.ROOT, "interpolate: an output of [%d, %d, %.0f,"
                + " %.0f] has more elements than this op holds (%,d)", input.size(0), input.size(1), h, w,
                MAX_ELEMENTS));
    }

    /** Source indices and weights of one dimension: dst i mixes lo[i]·(1 − lambda[i]) and hi[i]·lambda[i]. */
    private record Axis(int[] lo, int[] hi, float[] lambda) {}

    /**
     * One dimension's map, in float32 as PyTorch's CPU kernels ({@code area_pixel_compute_scale},
     * {@code nearest_idx}, {@code area_pixel_compute_source_index}). {@code scale} is the user's factor or
     * NaN when the size was given.
     */
    static Axis axis(int in, int out, double scale, Mode mode, boolean alignCorners) {
        int[] lo = new int[out];
        int[] hi = new int[out];
        float[] lambda = new float[out];
        // The ratio from output to input coordinates.
        float ratio;
        if (mode == Mode.BILINEAR && alignCorners) {
            ratio = out > 1 ? (float) (in - 1) / (out - 1) : 0f;
        } else {
            ratio = !Double.isNaN(scale) ? (float) (1.0 / scale) : (float) in / out;
        }
        for (int i = 0; i < out; i++) {
            if (mode == Mode.NEAREST) {
                lo[i] = in == out ? i : Math.min((int) Math.floor((float) i * ratio), in - 1);
                hi[i] = lo[i];
            } else {
                // PyTorch's (dst + 0.5) is a double: the product is rounded to float32 once, at the end.
                float src = alignCorners ? ratio * i : Math.max((float) (ratio * (i + 0.5) - 0.5), 0f);
                int i0 = Math.min((int) src, in - 1);
                lo[i] = i0;
                hi[i] = i0 + (i0 < in - 1 ? 1 : 0);
                lambda[i] = Math.min(Math.max(src - i0, 0f), 1f);
            }
        }
        return new Axis(lo, hi, lambda);
    }

    private static Tensor resample(Tensor input, long height, long width, double scaleHeight, double scaleWidth,
                                   Mode mode, boolean alignCorners) {
        long planes = input.size(0) * input.size(1);
        if ((double) planes * height * width > MAX_ELEMENTS) {
            throw tooLarge(input, height, width);
        }
        if (input.numel() > MAX_ELEMENTS) {
            throw new IllegalArgumentException("interpolate: an input of shape " + Arrays.toString(input.shape())
                    + " has more elements than this op holds (" + MAX_ELEMENTS + ")");
        }
        int h = (int) input.size(2), w = (int) input.size(3), oh = (int) height, ow = (int) width;
        Axis rows = axis(h, oh, scaleHeight, mode, alignCorners);
        Axis cols = axis(w, ow, scaleWidth, mode, alignCorners);
        float[] x = input.toArray();
        float[] y = new float[Math.toIntExact(planes * oh * ow)];
        for (int p = 0; p < planes; p++) {
            int in = p * h * w;
            int out = p * oh * ow;
            for (int i = 0; i < oh; i++) {
                int r0 = in + rows.lo()[i] * w, r1 = in + rows.hi()[i] * w;
                float b = rows.lambda()[i], a = 1 - b;
                for (int j = 0; j < ow; j++) {
                    int c0 = cols.lo()[j], c1 = cols.hi()[j];
                    if (mode == Mode.NEAREST) {
                        y[out + i * ow + j] = x[r0 + c0];
                    } else {
                        float d = cols.lambda()[j], c = 1 - d;
                        y[out + i * ow + j] = a * (c * x[r0 + c0] + d * x[r0 + c1])
                                + b * (c * x[r1 + c0] + d * x[r1 + c1]);
                    }
                }
            }
        }
        long[] shape = {input.size(0), input.size(1), height, width};
        Tensor result = Tensor.fromArray(y, shape);
        return Autograd.record(result, "upsample" + (mode == Mode.NEAREST ? "Nearest2d" : "Bilinear2d"),
                g -> new Tensor[] {backward(g, input.shape(), (int) planes, rows, cols, mode)}, input);
    }

    /** The input gradient: each output gradient sent back to its sources with their weights. */
    private static Tensor backward(Tensor grad, long[] inputShape, int planes, Axis rows, Axis cols, Mode mode) {
        int h = (int) inputShape[2], w = (int) inputShape[3];
        int oh = rows.lo().length, ow = cols.lo().length;
        float[] g = grad.contiguous().toArray();
        float[] dx = new float[planes * h * w];
        for (int p = 0; p < planes; p++) {
            int in = p * h * w;
            int out = p * oh * ow;
            for (int i = 0; i < oh; i++) {
                int r0 = in + rows.lo()[i] * w, r1 = in + rows.hi()[i] * w;
                float b = rows.lambda()[i], a = 1 - b;
                for (int j = 0; j < ow; j++) {
                    int c0 = cols.lo()[j], c1 = cols.hi()[j];
                    float v = g[out + i * ow + j];
                    if (mode == Mode.NEAREST) {
                        dx[r0 + c0] += v;
                    } else {
                        float d = cols.lambda()[j], c = 1 - d;
                        dx[r0 + c0] += a * c * v;
                        dx[r0 + c1] += a * d * v;
                        dx[r1 + c0] += b * c * v;
                        dx[r1 + c1] += b * d * v;
                    }
                }
            }
        }
        return Tensor.fromArray(dx, inputShape);
    }
}
