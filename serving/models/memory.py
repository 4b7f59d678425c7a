"""How much memory the container may use, how much it uses, and whether a model fits.

The limit is the container's cgroup limit (v2 or v1) or, outside a limited cgroup, the
machine's RAM. Usage is the cgroup's working set (page cache that can be dropped is not
counted), or RAM in use. Loading past `limit - headroom` is refused with 507 so the
platform can unload other models, instead of the kernel killing the container.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from dataclasses import dataclass
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
# cgroup v1 reports "no limit" as a huge number near 2**63.
_UNLIMITED = 1 << 60


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def _meminfo() -> dict[str, int]:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            info[key] = int(parts[0]) * 1024
    return info


def _cgroup_reading() -> tuple[int | None, int] | None:
    """(limit or None, working set) of this cgroup, v2 or v1; None outside one.

    The working set leaves out page cache the kernel can drop.
    """
    current = _read_int(CGROUP / "memory.current")
    if current is not None:
        inactive = _stat(CGROUP / "memory.stat").get("inactive_file", 0)
        return _read_int(CGROUP / "memory.max"), max(current - inactive, 0)
    v1 = CGROUP / "memory"
    usage = _read_int(v1 / "memory.usage_in_bytes")
    if usage is not None:
        limit = _read_int(v1 / "memory.limit_in_bytes")
        inactive = _stat(v1 / "memory.stat").get("total_inactive_file", 0)
        return (limit if limit is not None and limit < _UNLIMITED else None), max(usage - inactive, 0)
    return None


def working_set() -> int | None:
    """This cgroup's own memory in use, limit or not."""
    reading = _cgroup_reading()
    return reading[1] if reading is not None else None


@dataclass(frozen=True)
class MemoryReading:
    limit: int
    used: int
    headroom: int

    @property
    def budget(self) -> int:
        return self.limit - self.headroom

    @property
    def free(self) -> int:
        return self.budget - self.used

    def fits(self, more: int) -> bool:
        return self.used + more <= self.budget

    def describe(self) -> str:
        mb = 1024 * 1024
        return (
            f"{self.used // mb} MB in use of a {self.budget // mb} MB budget "
            f"({self.limit // mb} MB limit less {self.headroom // mb} MB headroom)"
        )


def read(headroom_mb: int | None = None) -> MemoryReading:
    """The current reading; headroom defaults to 10 % of the limit, at least 128 MB."""
    measured = _cgroup_reading()
    if measured is not None and measured[0] is not None:
        limit, used = measured[0], measured[1]
    else:
        info = _meminfo()
        limit = info.get("MemTotal", 0)
        used = limit - info.get("MemAvailable", limit)
    mb = 1024 * 1024
    headroom = max(limit // 10, 128 * mb) if headroom_mb is None else headroom_mb * mb
    return MemoryReading(limit=limit, used=used, headroom=headroom)


# Measured for scikit-learn forests saved with joblib: a loaded model takes about 1.1
# times its file size. Estimate high, so the check errs towards 507, not an OOM kill.
FOOTPRINT_FACTOR = 1.5


def model_footprint(model_dir: Path) -> int:
    """Bytes one loaded copy of a model is expected to take (its files, code excluded).

    The estimate only decides whether to try; a MemoryError during the load is still
    reported as 507.
    """
    total = 0
    for path in model_dir.rglob("*"):
        if path.is_file() and "code" not in path.relative_to(model_dir).parts[:1]:
            total += path.stat().st_size
    return int(total * FOOTPRINT_FACTOR)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()


def release_freed() -> None:
    """Hand memory of dropped models back to the system now.

    Models are loaded on worker threads, whose malloc arenas keep freed pages until
    trimmed; without this, an unloaded model would still count against the budget.
    """
    gc.collect()
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)
