package dev.gatun.nn;

import dev.gatun.ops.Pool;
import dev.gatun.tensor.Tensor;

/** Pooling layers over [N, C, H, W], thin modules around {@link Pool}. */
public final class Pooling2d {

    private Pooling2d() {}

    /** {@code nn.MaxPool2d}: stride defaults to the kernel, padding to 0, dilation to 1. */
    public static final class MaxPool2d extends Module {
        private final int[] kernel;
        private final int[] stride;
        private final int[] padding;
        private final int[] dilation;

        public MaxPool2d(int kernel) {
            this(kernel, kernel, 0, 1);
        }

        public MaxPool2d(int kernel, int stride, int padding, int dilation) {
            this.kernel = new int[] {kernel, kernel};
            this.stride = new int[] {stride, stride};
            this.padding = new int[] {padding, padding};
            this.dilation = new int[] {dilation, dilation};
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

        public AvgPool2d(int kernel) {
            this(kernel, kernel, 0, true);
        }

        public AvgPool2d(int kernel, int stride, int padding, boolean countIncludePad) {
            this.kernel = new int[] {kernel, kernel};
            this.stride = new int[] {stride, stride};
            this.padding = new int[] {padding, padding};
            this.countIncludePad = countIncludePad;
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
        public Tensor forward(Tensor x) {
            return Pool.globalAvgPool2d(x);
        }
    }
}
