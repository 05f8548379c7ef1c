"""Built-in toolchain plugins. Each module exposes `TOOLCHAINS`; they use only `molt_build.api`."""
