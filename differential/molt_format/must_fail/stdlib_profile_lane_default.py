# No stdlib_profile: molt-native builds it with its default profile (full), so its
# program reports full where CPython and molt-wasm report micro.
import os
print(os.environ.get("MC_STDLIB_PROFILE", "micro"))
