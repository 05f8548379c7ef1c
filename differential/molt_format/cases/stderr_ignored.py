# stderr is ignored by default: only stdout and the exit code count.
import os
import sys
print("candidate" if os.environ.get("MC_COMPILED") else "cpython", file=sys.stderr)
print("same stdout")
