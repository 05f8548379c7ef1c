"""Action keys: XXH3-128 over a canonical encoding of everything that can change an
action's result: argv, the declared environment, each input path with its content
digest, the declared outputs and the toolchain fingerprint. No absolute path of the
checkout enters a key, so a second checkout of the same content shares every entry."""
from __future__ import annotations

import json

import xxhash

KEY_VERSION = "moltb-action-v1"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest date zip files can hold


def declared_env(action_env: tuple[tuple[str, str], ...], toolchain_env: dict | None) -> dict[str, str]:
    """The clean, declared environment an action runs with (and that its key covers)."""
    env = {"PATH": DEFAULT_PATH, "PYTHONHASHSEED": "0", "LC_ALL": "C", "TZ": "UTC",
           "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    if toolchain_env:
        env.update(toolchain_env)
    env.update(action_env)
    return env


def key_components(argv, env: dict[str, str], inputs: list[tuple[str, str]], outputs: list[str],
                   fingerprint: str) -> list:
    return [KEY_VERSION, list(argv), sorted(env.items()), sorted(inputs), sorted(outputs), fingerprint]


def action_key(components: list) -> tuple[str, str]:
    """(key, canonical encoding) for key components."""
    text = json.dumps(components, separators=(",", ":"), ensure_ascii=False)
    return xxhash.xxh3_128_hexdigest(text.encode()), text
