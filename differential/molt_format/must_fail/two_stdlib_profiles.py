# MOLT_META: stdlib_profile=micro
# MOLT_META: stdlib_profile=full
# Two stdlib profiles: a malformed header, a clear per-case error.
print("never compared")
