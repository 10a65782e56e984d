package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.util.Set;

/**
 * The channel block of the blocked activation layouts convolutions, batch norm and pooling compute in:
 * {@code nChw8c} or {@code nChw16c}. Keeping a C-channel activation in one block from the convolution
 * that writes it to the ops that read it saves a reorder through plain NCHW on each side of each op.
 *
 * <p>Where oneDNN's kernels use AVX-512 both blocks have kernels, and each channel count takes the block
 * that pads it least, 16 on a tie ({@link #forChannels}): 16, 32, 64 or 12 channels take 16, while 20
 * (padded to 32 in 16-blocks, to 24 in 8-blocks) and 50 (64 against 56) take 8. A convolution between
 * such counts then computes on 8-lane (AVX2) kernels: LeNet-5's 20→50 convolution does 1,344 padded
 * channel pairs per pixel and tap instead of 2,048. Where oneDNN stops at AVX2 every count takes 8.
 *
 * <p>Decided per process: system property {@code gatun.channel.block} ({@code 8}, {@code 16} or
 * {@code auto}, the default) fixes the block of every count; the instruction set comes from oneDNN
 * ({@code dnnl_get_effective_cpu_isa}, which honours {@code ONEDNN_MAX_CPU_ISA}).
 */
public final class ChannelBlock {

    /** 0 until decided; then 8 or 16 (the block of every count) or {@link #AUTO}. */
    private static volatile int setting;
    private static volatile int widest;

    private static final int AUTO = -1;

    private ChannelBlock() {}

    /** 8 or 16: the block of {@code channels} channels (any positive count). */
    public static int forChannels(long channels) {
        if (channels < 1) {
            throw new IllegalArgumentException("channel block: channels must be positive, got " + channels);
        }
        int s = decided();
        if (s != AUTO) {
            return s;
        }
        if (widest == 8) {
            return 8;
        }
        long rest = channels % 16;
        return rest == 0 || rest > 8 ? 16 : 8;
    }

    /** The widest block oneDNN's kernels compute in on this machine: 16 on AVX-512, else 8. */
    public static int widest() {
        decided();
        return widest;
    }

    /** What decides the block, in words, for {@code gatun info}. */
    public static String describe() {
        int s = decided();
        if (s != AUTO) {
            return s + " (nChw" + s + "c), set by gatun.channel.block";
        }
        return widest == 8 ? "8 (nChw8c)" : "16 (nChw16c), or 8 where that pads the channels less";
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
            case "8" -> 8;
            case "16" -> 16;
            default -> throw new IllegalArgumentException("gatun.channel.block must be 8, 16 or auto, got '" + v + "'");
        };
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
