package dev.gatun.backend;

import dev.gatun.bindings.dnnl.Dnnl;
import java.util.Set;

/**
 * The channel block of the blocked activation layout that batch norm and pooling compute in:
 * {@code nChw16c} where oneDNN's kernels use AVX-512 (its convolutions then choose 16-channel blocks
 * too), {@code nChw8c} otherwise (AVX2). Computing in the layout the neighbouring convolutions produce
 * saves a reorder through plain NCHW on each side of every such op.
 *
 * <p>Decided once per process: system property {@code gatun.channel.block} (8 or 16) if set, else from
 * oneDNN's effective instruction set ({@code dnnl_get_effective_cpu_isa}, which honours
 * {@code ONEDNN_MAX_CPU_ISA}).
 */
public final class ChannelBlock {

    private static volatile int size;

    private ChannelBlock() {}

    /** 8 or 16: the channels interleaved innermost in the blocked layout. */
    public static int size() {
        int s = size;
        if (s == 0) {
            synchronized (ChannelBlock.class) {
                if (size == 0) {
                    size = initialSize();
                }
                s = size;
            }
        }
        return s;
    }

    /** The oneDNN format tag of the blocked 4-d layout: {@code dnnl_nChw8c} or {@code dnnl_nChw16c}. */
    static int formatTag() {
        return size() == 16 ? Dnnl.dnnl_nChw16c() : Dnnl.dnnl_nChw8c();
    }

    private static int initialSize() {
        String v = System.getProperty("gatun.channel.block");
        if (v != null && !v.isBlank()) {
            return switch (v.trim()) {
                case "8" -> 8;
                case "16" -> 16;
                default -> throw new IllegalArgumentException("gatun.channel.block must be 8 or 16, got '" + v + "'");
            };
        }
        NativeLibraries.load();
        int isa = Dnnl.dnnl_get_effective_cpu_isa();
        Set<Integer> avx512 = Set.of(Dnnl.dnnl_cpu_isa_avx512_core(), Dnnl.dnnl_cpu_isa_avx512_core_vnni(),
                Dnnl.dnnl_cpu_isa_avx512_core_bf16(), Dnnl.dnnl_cpu_isa_avx512_core_amx(),
                Dnnl.dnnl_cpu_isa_avx512_mic(), Dnnl.dnnl_cpu_isa_avx512_mic_4ops());
        return avx512.contains(isa) ? 16 : 8;
    }
}
