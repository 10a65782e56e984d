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
 * Two switches of libtorch's global context that DJL has no call for, called through the FFM API in the
 * libtorch_cpu.so that DJL has loaded:
 * <ul>
 *   <li>{@code at::globalContext().setUserEnabledMkldnn(bool)}, what {@code torch.backends.mkldnn.enabled}
 *       sets in Python: with it off, convolutions take libtorch's own kernels (im2col and the BLAS);</li>
 *   <li>{@code setUserEnabledNNPACK(false)} where NNPACK cannot initialise (on this machine: "Unsupported
 *       hardware"). libtorch then takes the same kernels as before, but without trying NNPACK again and
 *       logging the failure at every convolution it would have given to NNPACK.</li>
 * </ul>
 */
final class TorchContext {

    private static final String GLOBAL_CONTEXT = "_ZN2at13globalContextEv";
    private static final String SET_MKLDNN = "_ZN2at7Context20setUserEnabledMkldnnEb";
    private static final String GET_MKLDNN = "_ZNK2at7Context17userEnabledMkldnnEv";
    private static final String SET_NNPACK = "_ZN2at7Context20setUserEnabledNNPACKEb";
    private static final String NNPACK_AVAILABLE = "_ZN2at6native17_nnpack_availableEv";

    private TorchContext() {}

    /**
     * Turns libtorch's oneDNN path on or off; DJL's engine must be loaded.
     *
     * @param enabled whether libtorch may use oneDNN
     * @throws IllegalStateException when the switch did not take
     */
    static void setMkldnnEnabled(boolean enabled) {
        try {
            onContext(SET_MKLDNN, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_BOOLEAN), enabled);
        } catch (Throwable e) {
            throw new IllegalStateException("cannot set libtorch's oneDNN switch to " + enabled, e);
        }
        if (mkldnnEnabled() != enabled) {
            throw new IllegalStateException("libtorch's oneDNN switch stays " + mkldnnEnabled() + " after setting "
                    + enabled);
        }
    }

    /**
     * Whether libtorch's oneDNN path is on.
     *
     * @return {@code at::globalContext().userEnabledMkldnn()}
     */
    static boolean mkldnnEnabled() {
        try {
            return (boolean) onContext(GET_MKLDNN, FunctionDescriptor.of(ValueLayout.JAVA_BOOLEAN,
                    ValueLayout.ADDRESS));
        } catch (Throwable e) {
            throw new IllegalStateException("cannot read libtorch's oneDNN switch", e);
        }
    }

    /**
     * Asks libtorch whether NNPACK initialises (it logs the reason once when not) and, when not, switches it
     * off so that libtorch stops asking at every convolution.
     *
     * @return whether NNPACK is available
     */
    static boolean disableNnpackUnlessAvailable() {
        try {
            boolean available = (boolean) Linker.nativeLinker().downcallHandle(find(NNPACK_AVAILABLE),
                    FunctionDescriptor.of(ValueLayout.JAVA_BOOLEAN)).invokeExact();
            if (!available) {
                onContext(SET_NNPACK, FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_BOOLEAN), false);
            }
            return available;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot query libtorch's NNPACK", e);
        }
    }

    /** Calls a member function of {@code at::Context} on {@code at::globalContext()}. */
    private static Object onContext(String symbol, FunctionDescriptor descriptor, Object... args) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MemorySegment context = (MemorySegment) linker.downcallHandle(find(GLOBAL_CONTEXT),
                FunctionDescriptor.of(ValueLayout.ADDRESS)).invokeExact();
        MethodHandle method = linker.downcallHandle(find(symbol), descriptor);
        Object[] all = new Object[args.length + 1];
        all[0] = context;
        System.arraycopy(args, 0, all, 1, args.length);
        return method.invokeWithArguments(all);
    }

    private static MemorySegment find(String symbol) {
        return Torch.LOOKUP.find(symbol).orElseThrow(() -> new IllegalStateException("libtorch_cpu.so has no "
                + symbol));
    }

    /** The symbols of libtorch_cpu.so, looked up once DJL has loaded it. */
    private static final class Torch {
        // Already loaded by DJL from this path: the lookup gets the same library, not a second copy.
        static final SymbolLookup LOOKUP = SymbolLookup.libraryLookup(
                Path.of(LibUtils.getLibtorchPath(), "libtorch_cpu.so"), Arena.global());
    }
}
