"""Built-in rule plugins. Each module exposes `RULES`; they use only `molt_build.api`."""
