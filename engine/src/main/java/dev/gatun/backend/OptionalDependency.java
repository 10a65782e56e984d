package dev.gatun.backend;

/**
 * Checks for the optional libraries that some tools in the engine jar need (XChart for PNG curves,
 * jackson-core for the HTTP server, picocli for the command line), so that a program without them gets an
 * exception naming what to add instead of a {@link NoClassDefFoundError} from deep inside a call.
 */
public final class OptionalDependency {

    private OptionalDependency() {}

    /**
     * Throws unless {@code probeClass} can be loaded by the engine.
     *
     * @param probeClass a class of the library, such as {@code org.knowm.xchart.XYChart}
     * @param module the library's module name, for {@code --add-modules} on the module path
     * @param coordinates the library's Maven coordinates, {@code group:artifact:version}
     * @param feature what needs it, for the message
     * @throws IllegalStateException if the library is absent
     */
    public static void require(String probeClass, String module, String coordinates, String feature) {
        try {
            Class.forName(probeClass, false, OptionalDependency.class.getClassLoader());
            Module self = OptionalDependency.class.getModule();
            if (self.isNamed() && self.getLayer() != null && self.getLayer().findModule(module).isEmpty()) {
                throw new ClassNotFoundException(probeClass);
            }
        } catch (ClassNotFoundException | LinkageError e) {
            throw new IllegalStateException(feature + " needs " + coordinates + ", an optional dependency of"
                    + " gatun-engine: add it to the project (on the module path also --add-modules " + module
                    + ")");
        }
    }
}
