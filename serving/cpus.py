"""How many CPUs this container may use: the cgroup's CPU quota and the affinity mask.

`os.cpu_count()` is the host's count. Under `docker run --cpus=1` on a 32-core machine
it says 32, and sizing workers and thread pools from it runs 32 of each on one CPU's
worth of time. The quota (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us` over
`cpu.cfs_period_us`) and the CPUs the process may be scheduled on (`--cpuset-cpus`)
are what the container actually gets.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
# Where v1 mounts the cpu controller: `cpu` is usually a link to the joint directory.
V1_CPU_DIRS = ("cpu", "cpu,cpuacct")


@dataclass(frozen=True)
class Cpus:
    """What the container may use: `available` CPUs of time (0.5 under `--cpus=0.5`) and
    `count`, the whole number to size workers and thread pools from."""

    available: float
    count: int
    source: str  # where `count` came from: the cgroup quota, the affinity mask or the host

    def describe(self) -> str:
        return f"{self.count} CPU{'s' if self.count != 1 else ''} from {self.source}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _ratio(quota: str, period: str) -> float | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    # v1 writes -1 for "no quota"; a zero period would be a broken file, not a limit.
    if quota_us <= 0 or period_us <= 0:
        return None
    return quota_us / period_us


def cgroup_quota(root: Path = CGROUP) -> float | None:
    """The CPU quota in CPUs (1.5 for 150000 over 100000), or None without one."""
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        # "max 100000" is no quota; "50000 100000" is half a CPU.
        quota, _, period = v2.partition(" ")
        return None if quota == "max" else _ratio(quota, period or "100000")
    for name in V1_CPU_DIRS:
        quota = _read(root / name / "cpu.cfs_quota_us")
        period = _read(root / name / "cpu.cfs_period_us")
        if quota is not None and period is not None:
            return _ratio(quota, period)
    return None


def affinity_count() -> int | None:
    """CPUs this process may be scheduled on; None where the platform does not say."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is None:
        return None
    return len(getaffinity(0)) or None


def usable(root: Path = CGROUP, affinity: int | None = None) -> Cpus:
    """The CPUs this container may use: min(affinity, quota), at least 1.

    `affinity` stands in for the process's affinity mask (tests); None reads it.
    """
    host = os.cpu_count() or 1
    scheduled = affinity if affinity is not None else (affinity_count() or host)
    quota = cgroup_quota(root)
    # A quota of 1.5 CPUs is two CPUs busy part of the time: size for 2, not 1.
    if quota is not None and math.ceil(quota) <= scheduled:
        return Cpus(quota, max(1, math.ceil(quota)), f"the cgroup quota {quota:g}")
    if scheduled < host:
        return Cpus(float(scheduled), scheduled, "the CPU affinity")
    return Cpus(float(scheduled), max(1, scheduled), "the host")
