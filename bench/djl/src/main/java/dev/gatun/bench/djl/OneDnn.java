package dev.gatun.bench.djl;

import ai.djl.pytorch.jni.LibUtils;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * libtorch's switch for its oneDNN (MKL-DNN) path, {@code at::globalContext().setUserEnabledMkldnn(bool)}:
 * what {@code torch.backends.mkldnn.enabled} sets in Python. DJL has no call for it, so it is called here
 * through the FFM API in the libtorch_cpu.so that DJL has loaded. With it off, convolutions take libtorch's
 * own kernels (im2col and the BLAS), as on a build without oneDNN.
 */
final class OneDnn {

    private static final String GLOBAL_CONTEXT = "_ZN2at13globalContextEv";
    private static final String SET = "_ZN2at7Context20setUserEnabledMkldnnEb";
    private static final String GET = "_ZNK2at7Context17userEnabledMkldnnEv";

    private OneDnn() {}

    /**
     * Turns libtorch's oneDNN path on or off; DJL's engine must be loaded.
     *
     * @param enabled whether libtorch may use oneDNN
     * @throws IllegalStateException when the switch did not take
     */
    static void setEnabled(boolean enabled) {
        try {
            call(SET, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_BOOLEAN), enabled);
        } catch (Throwable e) {
            throw new IllegalStateException("cannot set libtorch's oneDNN switch to " + enabled, e);
        }
        if (enabled() != enabled) {
            throw new IllegalStateException("libtorch's oneDNN switch stays " + enabled() + " after setting "
                    + enabled);
        }
    }

    /**
     * Whether libtorch's oneDNN path is on.
     *
     * @return {@code at::globalContext().userEnabledMkldnn()}
     */
    static boolean enabled() {
        try {
            return (boolean) call(GET, FunctionDescriptor.of(ValueLayout.JAVA_BOOLEAN, ValueLayout.ADDRESS));
        } catch (Throwable e) {
            throw new IllegalStateException("cannot read libtorch's oneDNN switch", e);
        }
    }

    private static Object call(String symbol, FunctionDescriptor descriptor, Object... args) throws Throwable {
        Linker linker = Linker.nativeLinker();
        // Already loaded by DJL from this path: the lookup gets the same library, not a second copy.
        SymbolLookup torch = SymbolLookup.libraryLookup(Path.of(LibUtils.getLibtorchPath(), "libtorch_cpu.so"),
                Arena.global());
        MemorySegment context = (MemorySegment) linker.downcallHandle(find(torch, GLOBAL_CONTEXT),
                FunctionDescriptor.of(ValueLayout.ADDRESS)).invokeExact();
        MethodHandle method = linker.downcallHandle(find(torch, symbol), descriptor);
        Object[] all = new Object[args.length + 1];
        all[0] = context;
        System.arraycopy(args, 0, all, 1, args.length);
        return method.invokeWithArguments(all);
    }

    private static MemorySegment find(SymbolLookup lookup, String symbol) {
        return lookup.find(symbol).orElseThrow(() -> new IllegalStateException("libtorch_cpu.so has no " + symbol));
    }
}
