package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * The channel block of the blocked activation layouts convolutions, batch norm and pooling compute in:
 * {@code nChw8c} or {@code nChw16c}. Keeping a C-channel activation in one block from the convolution
 * that writes it to the ops that read it saves a reorder through plain NCHW on each side of each op.
 *
 * <p>Where oneDNN's kernels use AVX-512 both blocks have kernels. On a processor that runs a 512-bit
 * FMA as two 256-bit halves (AMD Zen 4, CPU family 25) each channel count takes the block that pads it
 * least, 16 on a tie ({@link #forChannels}): 16, 32, 64 or 12 channels take 16, while 20 (padded to 32
 * in 16-blocks, to 24 in 8-blocks) and 50 (64 against 56) take 8. A convolution between such counts
 * then computes on 8-lane (AVX2) kernels: LeNet-5's 20→50 convolution does 1,344 padded channel pairs
 * per pixel and tap instead of 2,048, and took 12.9 ms for its three passes against 16.8 in 16-blocks
 * there. Where the 512-bit units are full width (Zen 5, Intel) the wider lanes outrun the padding
 * (the same three passes: 23.8 against 31.1 ms on a Zen 5, one thread) and every count takes 16.
 * Where oneDNN stops at AVX2 every count takes 8.
 *
 * <p>Decided per process: system property {@code gatun.channel.block} ({@code 8}, {@code 16},
 * {@code pad} for the pad-least rule on any AVX-512 machine, or {@code auto}, the default) fixes the
 * rule; the instruction set comes from oneDNN ({@code dnnl_get_effective_cpu_isa}, which honours
 * {@code ONEDNN_MAX_CPU_ISA}), the width of its units from {@code /proc/cpuinfo}.
 */
public final class ChannelBlock {

    /** 0 until decided; then 8 or 16 (the block of every count) or {@link #AUTO}. */
    private static volatile int setting;
    private static volatile int widest;
    /** Whether this processor splits 512-bit operations into two halves. */
    private static volatile boolean halfWidth;

    private static final int AUTO = -1;
    private static final int PAD = -2;

    private ChannelBlock() {}

    /** 8 or 16: the block of {@code channels} channels (any positive count). */
    public static int forChannels(long channels) {
        if (channels < 1) {
            throw new IllegalArgumentException("channel block: channels must be positive, got " + channels);
        }
        int s = decided();
        if (s > 0) {
            return s;
        }
        if (widest == 8) {
            return 8;
        }
        if (!padsLeast()) {
            return 16;
        }
        long rest = channels % 16;
        return rest == 0 || rest > 8 ? 16 : 8;
    }

    /**
     * Whether a channel count on AVX-512 takes the block that pads it least (else 16).
     *
     * @return true on AVX-512 in two halves, or with {@code gatun.channel.block=pad}
     */
    public static boolean padsLeast() {
        int s = decided();
        return s == PAD || (s == AUTO && halfWidth);
    }

    /** The widest block oneDNN's kernels compute in on this machine: 16 on AVX-512, else 8. */
    public static int widest() {
        decided();
        return widest;
    }

    /** What decides the block, in words, for {@code gatun info}. */
    public static String describe() {
        int s = decided();
        if (s > 0) {
            return s + " (nChw" + s + "c), set by gatun.channel.block";
        }
        return widest == 8 ? "8 (nChw8c)" : !padsLeast() ? "16 (nChw16c): full-width AVX-512"
                : "16 (nChw16c), or 8 where that pads the channels less"
                        + (s == PAD ? " (set by gatun.channel.block)" : " (AVX-512 in two halves)");
    }

    /** The oneDNN format tag of the 4-d layout in {@code block}s: {@code dnnl_nChw8c} or {@code dnnl_nChw16c}. */
    static int formatTag(int block) {
        return switch (block) {
            case 8 -> Dnnl.dnnl_nChw8c();
            case 16 -> Dnnl.dnnl_nChw16c();
            default -> throw new IllegalArgumentException("channel block must be 8 or 16, got " + block);
        };
    }

    private static int decided() {
        int s = setting;
        if (s == 0) {
            synchronized (ChannelBlock.class) {
                if (setting == 0) {
                    widest = isaWidest();
                    halfWidth = halfWidthAvx512(Path.of("/proc/cpuinfo"));
                    setting = parse(System.getProperty("gatun.channel.block"));
                }
                s = setting;
            }
        }
        return s;
    }

    private static int parse(String v) {
        if (v == null || v.isBlank()) {
            return AUTO;
        }
        return switch (v.trim()) {
            case "auto" -> AUTO;
            case "pad" -> PAD;
            case "8" -> 8;
            case "16" -> 16;
            default -> throw new IllegalArgumentException("gatun.channel.block must be 8, 16, pad or auto, got '"
                    + v + "'");
        };
    }

    /**
     * Whether the processor described by a {@code /proc/cpuinfo} file is one that executes 512-bit
     * instructions as two 256-bit halves: AMD's family 25 (Zen 3 has no AVX-512, Zen 4 splits it). An
     * unreadable file counts as full width.
     */
    static boolean halfWidthAvx512(Path cpuinfo) {
        try (var lines = Files.lines(cpuinfo)) {
            String vendor = null;
            String family = null;
            for (String line : (Iterable<String>) lines::iterator) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    if (vendor != null && family != null) break; // the first processor's block is enough
                    continue;
                }
                String key = line.substring(0, colon).trim();
                String value = line.substring(colon + 1).trim();
                if (key.equals("vendor_id") && vendor == null) vendor = value;
                if (key.equals("cpu family") && family == null) family = value;
            }
            return "AuthenticAMD".equals(vendor) && "25".equals(family);
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    private static int isaWidest() {
        NativeLibraries.load();
        int isa = Dnnl.dnnl_get_effective_cpu_isa();
        Set<Integer> avx512 = Set.of(Dnnl.dnnl_cpu_isa_avx512_core(), Dnnl.dnnl_cpu_isa_avx512_core_vnni(),
                Dnnl.dnnl_cpu_isa_avx512_core_bf16(), Dnnl.dnnl_cpu_isa_avx512_core_amx(),
                Dnnl.dnnl_cpu_isa_avx512_mic(), Dnnl.dnnl_cpu_isa_avx512_mic_4ops());
        return avx512.contains(isa) ? 16 : 8;
    }
}
