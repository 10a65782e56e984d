package dev.gatun.backend;

import java.util.ArrayList;
import java.util.List;

/**
 * Checks for the optional libraries that some tools in the engine jar need (XChart for PNG curves,
 * jackson-core and Netty for the HTTP server, picocli for the command line), so that a program without them
 * gets an exception naming what to add instead of a {@link NoClassDefFoundError} from deep inside a call.
 */
public final class OptionalDependency {

    private OptionalDependency() {}

    /**
     * An optional library.
     *
     * @param probeClass  a class of the library, such as {@code org.knowm.xchart.XYChart}
     * @param module      the library's module name, for {@code --add-modules} on the module path
     * @param coordinates the library's Maven coordinates, {@code group:artifact:version}
     */
    public record Library(String probeClass, String module, String coordinates) {}

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
        require(feature, new Library(probeClass, module, coordinates));
    }

    /**
     * Throws unless every library's probe class can be loaded by the engine, naming all that are absent.
     *
     * @param feature   what needs them, for the message
     * @param libraries the libraries
     * @throws IllegalStateException if a library is absent
     */
    public static void require(String feature, Library... libraries) {
        List<Library> missing = new ArrayList<>();
        for (Library l : libraries) {
            if (!present(l)) missing.add(l);
        }
        if (missing.isEmpty()) return;
        List<String> coordinates = missing.stream().map(Library::coordinates).toList();
        List<String> modules = missing.stream().map(Library::module).toList();
        boolean one = missing.size() == 1;
        throw new IllegalStateException(feature + " needs " + String.join(" and ", coordinates)
                + (one ? ", an optional dependency" : ", optional dependencies") + " of gatun-engine: add "
                + (one ? "it" : "them") + " to the project (on the module path also --add-modules "
                + String.join(",", modules) + ")");
    }

    private static boolean present(Library l) {
        try {
            Class.forName(l.probeClass(), false, OptionalDependency.class.getClassLoader());
            Module self = OptionalDependency.class.getModule();
            return !(self.isNamed() && self.getLayer() != null && self.getLayer().findModule(l.module()).isEmpty());
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
