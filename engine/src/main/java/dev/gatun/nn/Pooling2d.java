package dev.gatun.nn;

import dev.gatun.backend.Pooling;
import dev.gatun.ops.Pool;
import dev.gatun.tensor.Tensor;
import java.util.Map;

/**
 * Pooling layers over [N, C, H, W], thin modules around {@link Pool}. A layer checks its window when
 * built ({@link Pooling.Config#check}: sizes positive, padding at most half the kernel, a kernel of fewer
 * than 2^31 positions) and the rest, which depends on the input, when it runs.
 */
public final class Pooling2d {

    private Pooling2d() {}

    /** {@code nn.MaxPool2d}: stride defaults to the kernel, padding to 0, dilation to 1. */
    public static final class MaxPool2d extends Module {
        private final int[] kernel;
        private final int[] stride;
        private final int[] padding;
        private final int[] dilation;

        /** A square window of side {@code kernel}, stride {@code kernel}. */
        public MaxPool2d(int kernel) {
            this(kernel, kernel, 0, 1);
        }

        /** @throws IllegalArgumentException for a window {@link Pooling.Config#check} rejects, naming the value */
        public MaxPool2d(int kernel, int stride, int padding, int dilation) {
            Pooling.Config.check(Pooling.Kind.MAX, kernel, kernel, stride, stride, padding, padding, dilation,
                    dilation);
            this.kernel = new int[] {kernel, kernel};
            this.stride = new int[] {stride, stride};
            this.padding = new int[] {padding, padding};
            this.dilation = new int[] {dilation, dilation};
        }

        @Override
        public Map<String, Object> spec() {
            return spec("MaxPool2d", "kernel", kernel[0], "stride", stride[0], "padding", padding[0], "dilation",
                    dilation[0]);
        }

        @Override
        public Tensor forward(Tensor x) {
            return Pool.maxPool2d(x, kernel, stride, padding, dilation);
        }

        /** This pooling of relu(x), as one op ({@link Pool#maxPool2dAfterRelu}). */
        Tensor forwardAfterRelu(Tensor x) {
            return Pool.maxPool2dAfterRelu(x, kernel, stride, padding, dilation);
        }

        @Override
        public String describe() {
            return "MaxPool2d(" + kernel[0] + "×" + kernel[1] + (stride[0] != kernel[0] ? ", stride " + stride[0] : "")
                    + (padding[0] != 0 ? ", padding " + padding[0] : "") + ")";
        }
    }

    /** {@code nn.AvgPool2d}: stride defaults to the kernel; padding counts in the average by default. */
    public static final class AvgPool2d extends Module {
        private final int[] kernel;
        private final int[] stride;
        private final int[] padding;
        private final boolean countIncludePad;

        /** A square window of side {@code kernel}, stride {@code kernel}, no padding. */
        public AvgPool2d(int kernel) {
            this(kernel, kernel, 0, true);
        }

        /** @throws IllegalArgumentException for a window {@link Pooling.Config#check} rejects, naming the value */
        public AvgPool2d(int kernel, int stride, int padding, boolean countIncludePad) {
            Pooling.Config.check(countIncludePad ? Pooling.Kind.AVG_INCLUDE_PADDING : Pooling.Kind.AVG_EXCLUDE_PADDING,
                    kernel, kernel, stride, stride, padding, padding, 1, 1);
            this.kernel = new int[] {kernel, kernel};
            this.stride = new int[] {stride, stride};
            this.padding = new int[] {padding, padding};
            this.countIncludePad = countIncludePad;
        }

        @Override
        public Map<String, Object> spec() {
            return spec("AvgPool2d", "kernel", kernel[0], "stride", stride[0], "padding", padding[0],
                    "countIncludePad", countIncludePad);
        }

        @Override
        public Tensor forward(Tensor x) {
            return Pool.avgPool2d(x, kernel, stride, padding, countIncludePad);
        }

        @Override
        public String describe() {
            return "AvgPool2d(" + kernel[0] + "×" + kernel[1] + (stride[0] != kernel[0] ? ", stride " + stride[0] : "")
                    + (padding[0] != 0 ? ", padding " + padding[0] : "") + ")";
        }
    }

    /** The mean of each channel: [N, C, H, W] → [N, C, 1, 1] ({@code nn.AdaptiveAvgPool2d(1)}). */
    public static final class GlobalAvgPool2d extends Module {
        @Override
        public Map<String, Object> spec() {
            return spec("GlobalAvgPool2d");
        }

        @Override
        public Tensor forward(Tensor x) {
            return Pool.globalAvgPool2d(x);
        }
    }
}
