package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Loss;
import dev.gatun.optim.Adam;
import dev.gatun.tensor.Generator;
import dev.gatun.tensor.Tensor;
import dev.gatun.testing.ScopedTest;
import org.junit.jupiter.api.Test;

/** {@link Autoencoder}, {@link Unflatten}: shapes, that both architectures learn, and the denoising noise. */
class AutoencoderTest extends ScopedTest {

    /** Four 28×28 patterns (a bright square in a corner), two of each. */
    private static Tensor patterns() {
        float[] v = new float[8 * 784];
        for (int n = 0; n < 8; n++) {
            int top = (n % 2) * 14, left = (n / 2 % 2) * 14;
            for (int r = top; r < top + 14; r++) {
                for (int c = left; c < left + 14; c++) v[n * 784 + r * 28 + c] = 1;
            }
        }
        return Tensor.fromArray(v, 8, 1, 28, 28);
    }

    private static float train(Autoencoder model, Tensor x, int steps) {
        float last = 0;
        try (Adam opt = new Adam(model.parameters(), 1e-2)) {
            for (int i = 0; i < steps; i++) {
                opt.zeroGrad();
                Tensor loss = Loss.mse(model.forward(x), x);
                last = loss.item();
                loss.backward();
                opt.step();
            }
        }
        return last;
    }

    @Test
    void bothArchitecturesReconstructWhatTheyLearn() {
        Init.manualSeed(1);
        Tensor images = patterns();
        double variance = Loss.mse(images, Tensor.full(images.mean().item(), images.shape())).item();
        try (Autoencoder conv = Autoencoder.conv(1, 28, 28, 8)) {
            Tensor y = conv.forward(images);
            assertArrayEquals(images.shape(), y.shape());
            for (float v : y.toArray()) assertTrue(v >= 0 && v <= 1);
            assertArrayEquals(new long[] {8, 8}, conv.encode(images).shape());
            float mse = train(conv, images, 40);
            assertTrue(mse < 0.1 * variance, "conv: mse " + mse + " vs the images' variance " + variance);
            String summary = conv.summary(1, 1, 28, 28);
            assertTrue(summary.contains("decoder.3") && summary.contains("ConvTranspose2d(32 → 16, 3×3, stride 2,"
                    + " padding 1, output padding 1)") && summary.contains("[1, 16, 14, 14]"), summary);
        }
        Tensor flat = images.reshape(8, 784);
        try (Autoencoder mlp = Autoencoder.mlp(784, 64, 8)) {
            assertArrayEquals(flat.shape(), mlp.forward(flat).shape());
            float mse = train(mlp, flat, 40);
            assertTrue(mse < 0.1 * variance, "mlp: mse " + mse + " vs the images' variance " + variance);
            assertEquals("MLP autoencoder 784-64-8", mlp.describe());
        }
    }

    @Test
    void noiseIsSeededClippedAndOfTheGivenSpread() {
        Tensor x = Tensor.full(0.5f, 100, 100);
        Tensor a = Autoencoder.addNoise(x, 0.1, new Generator(1));
        assertArrayEquals(a.toArray(), Autoencoder.addNoise(x, 0.1, new Generator(1)).toArray());
        double sq = 0;
        for (float v : a.toArray()) sq += (v - 0.5) * (v - 0.5);
        assertEquals(0.1, Math.sqrt(sq / 10000), 0.005);
        for (float v : Autoencoder.addNoise(x, 5, new Generator(2)).toArray()) assertTrue(v >= 0 && v <= 1);
        assertArrayEquals(x.toArray(), Autoencoder.addNoise(x, 0, new Generator(3)).toArray());
        String m = assertThrows(IllegalArgumentException.class, () -> Autoencoder.addNoise(x, -1, new Generator(1)))
                .getMessage();
        assertTrue(m.contains("-1.0"), m);
    }

    @Test
    void badSizesAreRefused() {
        String m = assertThrows(IllegalArgumentException.class, () -> Autoencoder.conv(1, 30, 28, 8)).getMessage();
        assertTrue(m.contains("30×28"), m);
        m = assertThrows(IllegalArgumentException.class, () -> Autoencoder.mlp(784, 64, 0)).getMessage();
        assertTrue(m.contains("latent=0"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Unflatten(3, 0)).getMessage();
        assertTrue(m.contains("[3, 0]"), m);
        m = assertThrows(IllegalArgumentException.class, () -> new Unflatten(2, 3).forward(Tensor.zeros(4, 5)))
                .getMessage();
        assertTrue(m.contains("[N, 6]") && m.contains("[4, 5]"), m);
        assertArrayEquals(new long[] {4, 2, 3}, new Unflatten(2, 3).forward(Tensor.zeros(4, 6)).shape());
    }
}
