"""Unpacking .tar.gz archives that come from users: regular files and directories only.

Written out rather than `tarfile`'s extraction filters: the image's Debian Python is
3.11.2, and the filters arrived in 3.11.4.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path


class UnsafeArchive(Exception):
    """The archive cannot be read, or a member would land outside the destination."""


def safe_extract(archive: Path, destination: Path) -> None:
    """Regular files and directories only, every one inside destination."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                shown = f"archive {archive.name!r}"
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise UnsafeArchive(f"{shown} has an unsafe path {member.name[:100]!r}")
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchive(f"{shown} has a link or device {member.name[:100]!r}")
            for member in members:
                target = destination / member.name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out)
                # Scripts keep their execute bit: a shell entry point must run.
                target.chmod(member.mode & 0o777 | 0o600)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UnsafeArchive(f"archive {archive.name!r} cannot be read: {exc}") from None
