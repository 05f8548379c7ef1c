# MOLT_META: stderr=exception_signature
import os
if os.environ.get("MC_COMPILED"):
    raise KeyError("candidate")
raise ValueError("reference")
