package dev.gatun.testing;

import java.io.File;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/** What a test needs to run a program of the test classes in a JVM of its own. */
public final class ChildJvm {

    private ChildJvm() {}

    /** The {@code java} launcher of the running JVM. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * The test JVM's module path and class path, as one class path: everything a child JVM needs to run
     * the engine and the test classes (which are patched into the engine module on the module path).
     */
    public static String classPath() {
        Set<String> entries = new LinkedHashSet<>();
        for (String prop : new String[] {"jdk.module.path", "java.class.path"}) {
            String v = System.getProperty(prop);
            if (v != null) {
                for (String e : v.split(File.pathSeparator)) {
                    if (!e.isBlank()) {
                        entries.add(e);
                    }
                }
            }
        }
        entries.add(Path.of("target", "test-classes").toAbsolutePath().toString());
        return String.join(File.pathSeparator, entries);
    }
}
