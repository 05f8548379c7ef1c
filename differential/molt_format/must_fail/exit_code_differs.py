import os
import sys
sys.exit(2 if os.environ.get("MC_COMPILED") else 0)
