package dev.gatun.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gatun.ops.Arithmetic;
import dev.gatun.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.module.Configuration;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.spi.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Children and parameters that a module holds only in fields are registered, or the module says why not. */
class ModuleRegistrationTest {

    /** A network written as a PyTorch user would: parts in fields, nothing registered by hand. */
    private static final class Net extends Module {
        private final Linear hidden = new Linear(3, 4);
        private final Tanh act = new Tanh();
        private Linear out = new Linear(4, 2);
        private final Tensor scale = Tensor.ones(2).requiresGrad(true);
        private final Tensor constant = Tensor.ones(2);   // no gradient: an attribute, not a parameter
        private final Linear optional = null;

        @Override
        public Tensor forward(Tensor x) {
            return Arithmetic.add(Arithmetic.mul(out.forward(act.forward(hidden.forward(x))), scale), constant);
        }
    }

    @Test
    void fieldsAreRegisteredUnderTheirNames() {
        try (Net net = new Net()) {
            // The module's own parameters come first, then its children's, as in PyTorch.
            assertEquals(List.of("scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"),
                    List.copyOf(net.namedParameters().keySet()));
            assertEquals(List.of("hidden", "act", "out"), List.copyOf(net.children().keySet()));
            assertSame(net.hidden, net.children().get("hidden"));
            assertSame(net.scale, net.namedParameters().get("scale"), "the field's own tensor, not a copy");
            assertEquals(4 * 3 + 4 + 2 * 4 + 2 + 2, net.parameterCount());
            net.eval();
            assertFalse(net.hidden.isTraining(), "the mode reaches children held in fields");
            // Asking again registers nothing twice.
            assertEquals(5, net.parameters().size());
            assertEquals(3, net.children().size());
        }
    }

    @Test
    void aReassignedFieldReplacesWhatItRegistered() {
        try (Net net = new Net()) {
            Linear first = net.out;
            assertSame(first, net.children().get("out"));
            net.out = new Linear(4, 2, false);
            assertSame(net.out, net.children().get("out"));
            assertFalse(net.namedParameters().containsKey("out.bias"));
            first.close();
        }
    }

    /** Explicitly registered parts, and fields that point into the tree, are not registered again. */
    private static final class Explicit extends Module {
        private final Sequential body = addModule("body", new Sequential(new Linear(2, 2), new ReLU()));
        private final Linear first = (Linear) body.get(0);          // a grandchild: already in the tree
        private final Tensor firstWeight = first.weight();         // a grandchild's parameter
        private final Module self = this;
        private final Linear renamed = addModule("head", new Linear(2, 1));

        @Override
        public Tensor forward(Tensor x) {
            return renamed.forward(body.forward(x));
        }
    }

    @Test
    void partsAlreadyInTheTreeAreNotRegisteredAgain() {
        try (Explicit m = new Explicit()) {
            assertEquals(List.of("body.0.weight", "body.0.bias", "head.weight", "head.bias"),
                    List.copyOf(m.namedParameters().keySet()));
            assertEquals(List.of("body", "head"), List.copyOf(m.children().keySet()));
        }
    }

    @Test
    void anAnonymousModuleRegistersItsFieldsToo() {
        Module m = new Module() {
            final Linear fc = new Linear(2, 3);

            @Override
            public Tensor forward(Tensor x) {
                return fc.forward(x);
            }
        };
        try (m) {
            assertEquals(List.of("fc.weight", "fc.bias"), List.copyOf(m.stateDict().keySet()));
        }
    }

    @Test
    void closingFreesChildrenHeldInFields() {
        Net net = new Net();
        Tensor w = net.hidden.weight();
        net.close();
        assertFalse(w.isAlive(), "a child held only in a field is closed with its parent");
    }

    /** Modules in a list have no names: the module fails rather than lose them. */
    private static final class Listed extends Module {
        private final List<Linear> layers = new ArrayList<>(List.of(new Linear(2, 2), new Linear(2, 2)));

        @Override
        public Tensor forward(Tensor x) {
            for (Linear l : layers) x = l.forward(x);
            return x;
        }
    }

    @Test
    void modulesInAnUnregisteredListFailLoudly() {
        try (Listed m = new Listed()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, m::parameters);
            assertTrue(e.getMessage().startsWith("Listed holds modules that are not registered in 'layers' (List)"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("addModule(name, module)"), e.getMessage());
            m.layers.forEach(Linear::close);
        }
    }

    /** A field whose name the subclass registered for something else is a conflict, reported by name. */
    private static final class Clash extends Module {
        private final Linear fc = new Linear(2, 2);

        Clash() {
            addModule("fc", new Linear(2, 2));
        }

        @Override
        public Tensor forward(Tensor x) {
            return fc.forward(x);
        }
    }

    @Test
    void aFieldNamedLikeAnotherRegisteredPartIsAConflict() {
        try (Clash m = new Clash()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, m::namedParameters);
            assertTrue(e.getMessage().contains("field 'fc' holds a module that is not registered"), e.getMessage());
            m.fc.close();
        }
    }

    @Test
    void anExistingTensorCanBeRegisteredAsAParameter() {
        Tensor t = Tensor.zeros(3);
        Module m = new Module() {
            {
                addParameter("w", t);
            }

            @Override
            public Tensor forward(Tensor x) {
                return x;
            }
        };
        assertSame(t, m.namedParameters().get("w"));
        assertTrue(t.requiresGrad());
        Tensor made = Arithmetic.mul(Tensor.ones(2).requiresGrad(true), Tensor.ones(2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Module() {
            {
                addParameter("v", made);
            }

            @Override
            public Tensor forward(Tensor x) {
                return x;
            }
        });
        assertTrue(e.getMessage().contains("parameter 'v' must be a leaf tensor"), e.getMessage());
    }

    /**
     * A module class in a named module whose package is not open to gatun: fields registered under their
     * names are accepted; the others cannot be read, and the module says which and what to do.
     */
    @Test
    void fieldsGatunCannotReadAreNamedInTheFailure(@TempDir Path dir) throws Exception {
        assertTrue(Module.class.getModule().isNamed(), "the tests run on the module path");
        Path src = dir.resolve("src");
        Files.createDirectories(src.resolve("probe"));
        Files.writeString(src.resolve("module-info.java"),
                "module probe { requires dev.gatun.engine; exports probe; }\n");
        Files.writeString(src.resolve("probe/Net.java"), """
                package probe;

                import dev.gatun.nn.Linear;
                import dev.gatun.nn.Module;
                import dev.gatun.tensor.Tensor;

                public final class Net extends Module {
                    private final Linear out = addModule("out", new Linear(2, 2));
                    private final Linear hidden = new Linear(2, 2);
                    private final Tensor w = Tensor.ones(2).requiresGrad(true);

                    public Net(boolean registerAll) {
                        if (registerAll) {
                            addModule("hidden", hidden);
                            addParameter("w", w);
                        }
                    }

                    @Override
                    public Tensor forward(Tensor x) {
                        return dev.gatun.ops.Arithmetic.mul(out.forward(hidden.forward(x)), w);
                    }
                }
                """);
        Path classes = dir.resolve("classes");
        javac("--module-path", System.getProperty("jdk.module.path"), "-d", classes.toString(),
                src.resolve("module-info.java").toString(), src.resolve("probe/Net.java").toString());
        ModuleLayer boot = ModuleLayer.boot();
        Configuration cf = boot.configuration().resolve(ModuleFinder.of(classes), ModuleFinder.of(), Set.of("probe"));
        ModuleLayer layer = boot.defineModulesWithOneLoader(cf, ClassLoader.getSystemClassLoader());
        Class<?> type = layer.findLoader("probe").loadClass("probe.Net");

        try (Module net = (Module) type.getConstructor(boolean.class).newInstance(false)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, net::parameters);
            String msg = e.getMessage();
            assertTrue(msg.startsWith("Net has fields that may hold modules or parameters and that gatun cannot read:"
                    + " 'hidden' (Linear), 'w' (Tensor)."), msg);
            assertFalse(msg.contains("'out'"), "registered under its field's name: " + msg);
            assertTrue(msg.contains("opens probe to dev.gatun.engine;"), msg);
            assertTrue(msg.contains("addModule(\"name\", module), addParameter(\"name\", tensor)"), msg);
        }
        try (Module net = (Module) type.getConstructor(boolean.class).newInstance(true)) {
            assertEquals(List.of("w", "out.weight", "out.bias", "hidden.weight", "hidden.bias"),
                    List.copyOf(net.namedParameters().keySet()));
        }
    }

    private static void javac(String... args) throws IOException, InterruptedException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        var compiler = ToolProvider.findFirst("javac");
        int rc;
        if (compiler.isPresent()) {
            var w = new java.io.PrintStream(log, true, StandardCharsets.UTF_8);
            rc = compiler.get().run(w, w, args);
        } else {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "javac").toString());
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().transferTo(log);
            rc = p.waitFor();
        }
        assertEquals(0, rc, "javac: " + log.toString(StandardCharsets.UTF_8));
    }
}
