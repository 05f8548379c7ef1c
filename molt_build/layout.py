"""Names of the workspace's on-disk layout (import-light: the no-op path uses them)."""
import re

BUILD_FILE = "BUILD.toml"
OUT_DIR = "moltb-out"
LOG_DIR = "logs/moltb"
STATE_DIR = "moltb-out/.moltb"
TESTLOGS_DIR = "moltb-out/testlogs"

# The line that makes a BUILD.toml the workspace root.
WORKSPACE_LINE = re.compile(rb"^(?:\xef\xbb\xbf)?\s*\[\s*workspace\s*\]", re.MULTILINE)
