"""A python-only module: no intrinsics yet."""


def indent(text: str, prefix: str) -> str:
    return "".join(prefix + line for line in text.splitlines(True))
