package dev.gatun.testing;

import dev.gatun.tensor.Scope;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A test whose every method runs inside its own current {@link Scope}, freed afterwards. */
public abstract class ScopedTest {

    private Scope scope;

    @BeforeEach
    final void openScope() {
        scope = Scope.open();
    }

    @AfterEach
    final void closeScope() {
        scope.close();
    }
}
