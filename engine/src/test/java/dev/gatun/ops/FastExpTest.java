package dev.gatun.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FastExpTest {

    @Test
    void withinTwoUlpsOfTheExactValue() {
        SplittableRandom rng = new SplittableRandom(1);
        double worst = 0;
        for (int i = 0; i < 1_000_000; i++) {
            float x = (float) (rng.nextDouble() * 175 - 87.3);
            double exact = Math.exp(x);
            float got = FastExp.exp(x);
            double ulps = Math.abs(got - exact) / Math.ulp((float) exact);
            worst = Math.max(worst, ulps);
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulps");
    }

    @Test
    void edgesOfTheRange() {
        assertEquals(1f, FastExp.exp(0f));
        assertEquals(Float.POSITIVE_INFINITY, FastExp.exp(89f));
        assertEquals(Float.POSITIVE_INFINITY, FastExp.exp(Float.POSITIVE_INFINITY));
        assertEquals(0f, FastExp.exp(-100f));
        assertEquals(0f, FastExp.exp(Float.NEGATIVE_INFINITY));
        assertTrue(Float.isNaN(FastExp.exp(Float.NaN)));
        assertEquals((float) Math.exp(88.7f), FastExp.exp(88.7f), Math.ulp((float) Math.exp(88.7f)) * 2);
        assertEquals((float) Math.exp(-87f), FastExp.exp(-87f), Math.ulp((float) Math.exp(-87f)) * 2);
    }
}
