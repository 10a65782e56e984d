package dev.gatun.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The native optimizer kernels against the same formulas written in Java, element for element and bit
 * for bit (the kernels round each operation in the same order), at a size that runs on the OpenMP
 * threads and at an odd one that leaves a vector remainder; and the guards in front of them.
 */
class UpdatesTest {

    private static final int LARGE = 200_003; // above the kernels' parallel threshold, not a multiple of 8

    private static float[] random(Random r, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (r.nextFloat() - 0.5f) * scale;
        return x;
    }

    private static MemorySegment native_(Arena arena, float[] x) {
        return arena.allocateFrom(ValueLayout.JAVA_FLOAT, x);
    }

    @Test
    void adamMatchesTheJavaFormulaWithAndWithoutAmsgrad() {
        for (int n : new int[] {LARGE, 13}) {
            for (boolean amsgrad : new boolean[] {false, true}) {
                Random r = new Random(n + (amsgrad ? 1 : 0));
                float[] p = random(r, n, 2), g = random(r, n, 1), m = random(r, n, 0.1f);
                float[] v = random(r, n, 0.01f), vMax = random(r, n, 0.01f);
                for (int i = 0; i < n; i++) {
                    v[i] = Math.abs(v[i]);
                    vMax[i] = Math.abs(vMax[i]);
                }
                double beta1 = 0.85, beta2 = 0.995;
                float stepSize = 0.013f, invSqrtC2 = 1.7f, eps = 1e-8f, decay = 0.999f, wd = 0.01f;
                float[] wantP = p.clone(), wantM = m.clone(), wantV = v.clone(), wantMax = vMax.clone();
                for (int i = 0; i < n; i++) {
                    float pv = wantP[i] * decay;
                    float gv = g[i] + wd * pv;
                    float mv = (float) beta1 * wantM[i] + (float) (1 - beta1) * gv;
                    float vv = (float) beta2 * wantV[i] + (float) (1 - beta2) * gv * gv;
                    wantM[i] = mv;
                    wantV[i] = vv;
                    if (amsgrad) {
                        vv = Math.max(wantMax[i], vv);
                        wantMax[i] = vv;
                    }
                    wantP[i] = pv - stepSize * mv / ((float) Math.sqrt(vv) * invSqrtC2 + eps);
                }
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment ps = native_(arena, p), ms = native_(arena, m), vs = native_(arena, v);
                    MemorySegment maxs = amsgrad ? native_(arena, vMax) : null;
                    Updates.adam(ps, 0, native_(arena, g), 0, ms, vs, maxs, n, beta1, beta2, stepSize, invSqrtC2,
                            eps, decay, wd);
                    String what = "n=" + n + " amsgrad=" + amsgrad;
                    assertArrayEquals(wantP, ps.toArray(ValueLayout.JAVA_FLOAT), what);
                    assertArrayEquals(wantM, ms.toArray(ValueLayout.JAVA_FLOAT), what);
                    assertArrayEquals(wantV, vs.toArray(ValueLayout.JAVA_FLOAT), what);
                    if (amsgrad) assertArrayEquals(wantMax, maxs.toArray(ValueLayout.JAVA_FLOAT), what);
                }
            }
        }
    }

    @Test
    void sgdMatchesTheJavaFormulaForEveryMomentumVariant() {
        for (int n : new int[] {LARGE, 13}) {
            // variant: 0 plain, 1 momentum first step, 2 momentum later step, 3 Nesterov later step
            for (int variant = 0; variant < 4; variant++) {
                Random r = new Random(31L * n + variant);
                float[] p = random(r, n, 2), g = random(r, n, 1), b = random(r, n, 0.5f);
                float lr = 0.05f, wd = 0.001f, mu = 0.9f, damp = 0.75f;
                boolean momentum = variant > 0, first = variant == 1, nesterov = variant == 3;
                float[] wantP = p.clone(), wantB = b.clone();
                for (int i = 0; i < n; i++) {
                    float pv = wantP[i];
                    float gv = g[i] + wd * pv;
                    if (!momentum) {
                        wantP[i] = pv - lr * gv;
                        continue;
                    }
                    float bv = first ? gv : mu * wantB[i] + damp * gv;
                    wantB[i] = bv;
                    wantP[i] = pv - lr * (nesterov ? gv + mu * bv : bv);
                }
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment ps = native_(arena, p), bs = momentum ? native_(arena, b) : null;
                    Updates.sgd(ps, 0, native_(arena, g), 0, bs, n, lr, wd, mu, damp, first, nesterov);
                    String what = "n=" + n + " variant=" + variant;
                    assertArrayEquals(wantP, ps.toArray(ValueLayout.JAVA_FLOAT), what);
                    if (momentum) assertArrayEquals(wantB, bs.toArray(ValueLayout.JAVA_FLOAT), what);
                }
            }
        }
    }

    @Test
    void offsetsSelectTheUpdatedRegionAndNothingElseIsWritten() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = native_(arena, new float[] {9, 1, 2, 9});
            MemorySegment g = native_(arena, new float[] {7, 7, 1, 1});
            Updates.sgd(p, 1, g, 2, null, 2, 0.5f, 0f, 0f, 1f, false, false);
            assertArrayEquals(new float[] {9, 0.5f, 1.5f, 9}, p.toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    @Test
    void badRegionsAreRejectedBeforeNativeCode() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
            MemorySegment g = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
            MemorySegment m = arena.allocate(ValueLayout.JAVA_FLOAT, 8);
            MemorySegment v = arena.allocate(ValueLayout.JAVA_FLOAT, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Updates.adam(p, 0, g, 0, m, v, null, 8, 0.9, 0.999, 1e-3f, 1f, 1e-8f, 1f, 0f));
            assertTrue(e.getMessage().contains("second moments"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Updates.sgd(p, 4, g, 0, null, 8, 0.1f, 0f, 0f, 1f, false, false));
            assertTrue(e.getMessage().contains("parameter") && e.getMessage().contains("offset 4"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Updates.sgd(p, 0, p, 2, null, 4, 0.1f, 0f, 0f, 1f, false, false));
            assertTrue(e.getMessage().contains("overlap"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Updates.sgd(p, 0, g, 0, m, -1, 0.1f, 0f, 0.9f, 1f, true, false));
            assertTrue(e.getMessage().contains("negative"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Updates.sgd(MemorySegment.ofArray(new float[8]), 0, g, 0, null, 8, 0.1f, 0f, 0f, 1f, false,
                            false));
            assertTrue(e.getMessage().contains("native"), e.getMessage());
        }
        Arena closed = Arena.ofConfined();
        MemorySegment p = closed.allocate(ValueLayout.JAVA_FLOAT, 8);
        MemorySegment g = closed.allocate(ValueLayout.JAVA_FLOAT, 8);
        closed.close();
        assertThrows(IllegalStateException.class,
                () -> Updates.sgd(p, 0, g, 0, null, 8, 0.1f, 0f, 0f, 1f, false, false));
    }
}
