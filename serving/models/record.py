"""Which models are loaded: one record for the whole server, shared by every worker.

The record is a small JSON file in a directory the server creates before it forks its
workers. Changes are made under an exclusive file lock and published by an atomic
rename, so a reader never sees half a record and can tell a change by the file's inode.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    name: str
    url: str
    path: str
    footprint: int


class Record:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.file = directory / "models.json"
        self._lock_file = directory / "models.lock"
        # (file stamp, entries) as one value, so threads never pair one with the other's.
        self._snapshot: tuple[tuple[int, int] | None, dict[str, Entry]] = (None, {})

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.file.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def entries(self) -> dict[str, Entry]:
        """The current record; re-read only when the file changed (one stat per call)."""
        stamp = self._stamp()
        seen, entries = self._snapshot
        if stamp != seen:
            entries = self._read()
            self._snapshot = (stamp, entries)
        return entries

    def _read(self) -> dict[str, Entry]:
        try:
            raw = json.loads(self.file.read_text())
        except FileNotFoundError:
            return {}
        return {name: Entry(**fields) for name, fields in raw.items()}

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Entry]]:
        """Exclusive access: yields a mutable copy that is published when the block ends."""
        with open(self._lock_file, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            models = self._read()
            before = dict(models)
            yield models
            if models != before:
                self._write(models)

    # --- which worker holds which model, so an unload can wait until memory is freed --

    def _holdings(self, pid: int) -> Path:
        return self.directory / f"holds-{pid}.json"

    def publish_holdings(self, pid: int, names: set[str]) -> None:
        path = self._holdings(pid)
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".holds-")
        with os.fdopen(fd, "w") as out:
            json.dump(sorted(names), out)
        os.replace(temp, path)

    def holders(self, name: str) -> list[int]:
        """Live worker processes that still hold `name`."""
        found = []
        for path in self.directory.glob("holds-*.json"):
            pid = int(path.stem.split("-", 1)[1])
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                path.unlink(missing_ok=True)  # a worker that died holds nothing
                continue
            try:
                if name in json.loads(path.read_text()):
                    found.append(pid)
            except (OSError, ValueError):
                continue
        return found

    def forget_holder(self, pid: int) -> None:
        """A worker has exited: it holds nothing, even if its pid is reused."""
        self._holdings(pid).unlink(missing_ok=True)

    def _write(self, models: dict[str, Entry]) -> None:
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".models-")
        with os.fdopen(fd, "w") as out:
            json.dump({name: asdict(entry) for name, entry in models.items()}, out)
        os.replace(temp, self.file)
