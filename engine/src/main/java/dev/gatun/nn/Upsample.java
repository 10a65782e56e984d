package dev.gatun.nn;

import dev.gatun.ops.Resample;
import dev.gatun.tensor.Tensor;
import java.util.Locale;
import java.util.Map;

/**
 * Upsampling of [N, C, H, W] input ({@code torch.nn.Upsample}), nearest or bilinear, by scale factors
 * ({@link Resample#interpolateByScale}) or to a fixed size ({@link Resample#interpolateToSize}); no
 * parameters. {@code new Upsample(2, Resample.Mode.NEAREST)} doubles the height and width by repeating
 * each pixel.
 */
public final class Upsample extends Module {

    private final long height;
    private final long width;
    private final double scaleHeight;
    private final double scaleWidth;
    private final Resample.Mode mode;
    private final boolean alignCorners;

    private Upsample(long height, long width, double scaleHeight, double scaleWidth, Resample.Mode mode,
                     boolean alignCorners) {
        if (mode == null) {
            throw new IllegalArgumentException("Upsample: mode is null");
        }
        if (alignCorners && mode == Resample.Mode.NEAREST) {
            throw new IllegalArgumentException("Upsample: align_corners applies to bilinear only, not nearest");
        }
        this.height = height;
        this.width = width;
        this.scaleHeight = scaleHeight;
        this.scaleWidth = scaleWidth;
        this.mode = mode;
        this.alignCorners = alignCorners;
    }

    /**
     * Upsampling by the same factor in both dimensions, align_corners false
     * ({@code nn.Upsample(scale_factor=scale, mode=mode)}).
     *
     * @param scale the factor, finite and above 0
     * @param mode  nearest or bilinear
     * @throws IllegalArgumentException if the factor is not finite and positive or the mode is null
     */
    public Upsample(double scale, Resample.Mode mode) {
        this(scale, scale, mode, false);
    }

    /**
     * Upsampling by a factor per dimension ({@code nn.Upsample(scale_factor=(scaleHeight, scaleWidth),
     * mode=mode, align_corners=alignCorners)}).
     *
     * @param scaleHeight  the factor of the height, finite and above 0
     * @param scaleWidth   the factor of the width, finite and above 0
     * @param mode         nearest or bilinear
     * @param alignCorners for bilinear, whether the corner pixels' centres of input and output coincide;
     *                     false for nearest
     * @throws IllegalArgumentException if a factor is not finite and positive, the mode is null, or
     *     {@code alignCorners} is set for nearest
     */
    public Upsample(double scaleHeight, double scaleWidth, Resample.Mode mode, boolean alignCorners) {
        this(0, 0, scaleHeight, scaleWidth, mode, alignCorners);
        if (!(scaleHeight > 0 && scaleHeight < Double.POSITIVE_INFINITY && scaleWidth > 0
                && scaleWidth < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("Upsample: scale factors must be finite and above 0, got "
                    + scaleHeight + "×" + scaleWidth);
        }
    }

    /**
     * Resampling to a fixed size ({@code nn.Upsample(size=(height, width), mode=mode,
     * align_corners=alignCorners)}).
     *
     * @param height       the output's height, at least 1
     * @param width        the output's width, at least 1
     * @param mode         nearest or bilinear
     * @param alignCorners for bilinear, whether the corner pixels' centres of input and output coincide;
     *                     false for nearest
     * @return the layer
     * @throws IllegalArgumentException if a size is below 1, the mode is null, or {@code alignCorners} is set
     *     for nearest
     */
    public static Upsample toSize(long height, long width, Resample.Mode mode, boolean alignCorners) {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("Upsample: the output size must be positive, got " + height + "×"
                    + width);
        }
        return new Upsample(height, width, Double.NaN, Double.NaN, mode, alignCorners);
    }

    /**
     * {@inheritDoc}
     *
     * @return the output size ({@code height}, {@code width}) or the scale factors ({@code scaleHeight},
     *     {@code scaleWidth}), the mode ({@code "nearest"} or {@code "bilinear"}) and {@code alignCorners}
     */
    @Override
    public Map<String, Object> spec() {
        return height > 0
                ? spec("Upsample", "height", height, "width", width, "mode", mode.toString(), "alignCorners",
                        alignCorners)
                : spec("Upsample", "scaleHeight", scaleHeight, "scaleWidth", scaleWidth, "mode", mode.toString(),
                        "alignCorners", alignCorners);
    }

    /**
     * Resamples the input.
     *
     * @param input [N, C, H, W]
     * @return [N, C, OH, OW]: the layer's size, or ⌊H·scale⌋ × ⌊W·scale⌋
     * @throws IllegalArgumentException if the input is not 4-d or the output would be empty or too large
     */
    @Override
    public Tensor forward(Tensor input) {
        return height > 0 ? Resample.interpolateToSize(input, height, width, mode, alignCorners)
                : Resample.interpolateByScale(input, scaleHeight, scaleWidth, mode, alignCorners);
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code scale_factor=2.0, mode='nearest'} or {@code size=(5, 7), mode='bilinear',
     *     align_corners=true}
     */
    @Override
    protected String extraRepr() {
        String what = height > 0 ? "size=(" + height + ", " + width + ")" : "scale_factor=" + scales();
        return what + ", mode='" + mode + "'" + (alignCorners ? ", align_corners=true" : "");
    }

    private String scales() {
        return scaleHeight == scaleWidth ? Double.toString(scaleHeight) : "(" + scaleHeight + ", " + scaleWidth + ")";
    }

    /**
     * {@inheritDoc}
     *
     * @return e.g. {@code Upsample(×2.0, nearest)} or {@code Upsample(5×7, bilinear, align corners)}
     */
    @Override
    public String describe() {
        String what = height > 0 ? height + "×" + width : "×" + scales();
        return String.format(Locale.ROOT, "Upsample(%s, %s%s)", what, mode, alignCorners ? ", align corners" : "");
    }
}
