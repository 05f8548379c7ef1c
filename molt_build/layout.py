"""Names of the workspace's on-disk layout (import-free: the no-op path uses them)."""

BUILD_FILE = "BUILD.toml"
OUT_DIR = "moltb-out"
LOG_DIR = "logs/moltb"
STATE_DIR = "moltb-out/.moltb"
TESTLOGS_DIR = "moltb-out/testlogs"
