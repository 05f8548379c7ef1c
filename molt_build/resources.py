"""Which actions may run together: CPU slots (`-j`) and a RAM budget (`--local-ram-mb`).

An action starts only when its CPU and RAM fit beside what is running (Bazel's
`--local_ram_resources`); one that needs more than the whole budget runs alone. Its RAM
estimate is, in order: the target's declared `resources = {ram_mb = N}`; the peak RSS
measured at its last execution (the scheduler learns); the rule's default for that kind
of action (rustc, links and tests are heavy); else DEFAULT_RAM_MB.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RAM_MB = 64
RAM_SHARE = 0.67             # default budget: this share of MemAvailable when the build starts
FALLBACK_RAM_MB = 8192


def default_ram_mb() -> int:
    """The default `--local-ram-mb`: RAM_SHARE of the memory available right now."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return max(256, int(int(line.split()[1]) / 1024 * RAM_SHARE))
    except (OSError, ValueError, IndexError):
        pass
    return FALLBACK_RAM_MB


@dataclass(frozen=True, slots=True)
class Need:
    ram_mb: int
    cpu: int


class ResourcePool:
    """CPU slots and RAM in use by running actions."""

    def __init__(self, jobs: int, ram_mb: int, learned_kb=None):
        """`learned_kb`: identity -> peak KiB at its last execution, or a callable that
        returns that (read when the first action needs an estimate)."""
        self.jobs = max(1, jobs)
        self.ram_mb = max(1, ram_mb)
        self._learned = learned_kb
        self.cpu_used = 0
        self.ram_used = 0
        self.running = 0

    def need(self, node) -> Need:
        a = node.action
        if callable(self._learned):
            self._learned = self._learned()
        learned = (self._learned or {}).get(node.identity, 0)
        if a.ram_declared:
            ram = a.ram_mb
        elif learned:
            ram = -(-learned // 1024)
        else:
            ram = a.ram_mb or DEFAULT_RAM_MB
        return Need(min(max(1, ram), self.ram_mb), min(max(1, a.cpu), self.jobs))

    def has_cpu(self) -> bool:
        return self.cpu_used < self.jobs

    def fits(self, need: Need) -> bool:
        return self.running == 0 or (self.cpu_used + need.cpu <= self.jobs and
                                     self.ram_used + need.ram_mb <= self.ram_mb)

    def take(self, need: Need) -> None:
        self.running += 1
        self.cpu_used += need.cpu
        self.ram_used += need.ram_mb

    def give(self, need: Need) -> None:
        self.running -= 1
        self.cpu_used -= need.cpu
        self.ram_used -= need.ram_mb
