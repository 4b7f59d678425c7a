"""Where models live on disk: resolving names and URLs safely, unpacking archives.

Names come from clients (a load URL, an `X-Amzn-SageMaker-Target-Model` header), so
nothing here reads outside the model roots: absolute names, `..`, URL-encoded
traversal and symlinks that leave a root are refused before any file is opened.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote

from serving.errors import BadRequest, InferenceError, NotFound
from serving.models.files import SUFFIXES
from usercode.archives import UnsafeArchive, safe_extract

MAX_NAME_LENGTH = 1024  # InvokeEndpoint's TargetModel limit
MAX_PART_BYTES = 255  # the longest file name Linux file systems take
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def check_name(name: str, what: str) -> str:
    """A relative name with no way out of its root; returns it URL-decoded."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"{what} must be 1 to {MAX_NAME_LENGTH} characters")
    decoded = unquote(name)
    if decoded.startswith("/") or ".." in Path(decoded).parts:
        raise BadRequest(f"{what} {name[:100]!r} must be a relative name inside the model directory")
    check_parts(decoded, what)
    return decoded


def check_parts(path: str, what: str) -> None:
    """No character or length a file system would refuse: the error stays the client's."""
    if "\x00" in path or "\\" in path or any(ord(c) < 32 for c in path):
        raise BadRequest(f"{what} {path[:100]!r} contains a forbidden character")
    if any(len(part.encode()) > MAX_PART_BYTES for part in path.split("/")):
        raise BadRequest(f"{what} {path[:100]!r}... is too long: a name in it is over {MAX_PART_BYTES} bytes")


def _has_model_file(directory: Path) -> bool:
    return (
        any(p.suffix in SUFFIXES for p in directory.iterdir() if p.is_file()) or (directory / "code").is_dir()
    )


def archives_in(directory: Path) -> list[str]:
    """Model archives in a directory that holds no model file of its own."""
    if not directory.is_dir() or _has_model_file(directory):
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_file() and p.name.endswith(ARCHIVE_SUFFIXES))


def model_root_of(directory: Path) -> Path:
    """SageMaker's MME layout puts the files in <name>/model; accept both layouts."""
    nested = directory / "model"
    if nested.is_dir() and not _has_model_file(directory):
        return nested
    return directory


class ModelLocations:
    def __init__(self, roots: list[Path], unpack_dir: Path) -> None:
        self.roots = [root for root in roots]
        self.unpack_dir = unpack_dir

    def _real_roots(self) -> list[Path]:
        return [Path(os.path.realpath(root)) for root in self.roots if root.exists()]

    def _contained(
        self, candidate: Path, what: str, shown: str, refusal: type[InferenceError] = BadRequest
    ) -> Path:
        real = Path(os.path.realpath(candidate))
        if not any(_inside(real, root) for root in self._real_roots()):
            raise refusal(f"{what} {shown[:100]!r} points outside the model directories")
        return real

    def resolve_url(self, url: str) -> Path:
        """The directory of a `POST /models` URL: a path under a model root.

        Refusals are 404s worded as multi-model-server words them.
        """
        check_parts(unquote(url), "url")
        path = Path(unquote(url))
        if ".." in path.parts:
            raise NotFound(f"Relative path is not allowed in url: {url[:200]}")
        if not path.is_absolute():
            path = self.roots[0] / check_name(url, "url")
        real = self._contained(path, "url", url, NotFound)
        if not real.exists():
            raise NotFound(f"Model not found in model store: {url[:200]}")
        return self._materialize(real)

    def resolve_target(self, target: str) -> Path:
        """The model directory for an `X-Amzn-SageMaker-Target-Model` value."""
        name = check_name(target, "target model")
        stem = next((name[: -len(s)] for s in ARCHIVE_SUFFIXES if name.endswith(s)), None)
        for root in self.roots:
            for candidate in (root / name, *([root / stem] if stem else [])):
                if candidate.exists() or candidate.is_symlink():
                    real = self._contained(candidate, "target model", target)
                    if real.exists():
                        return self._materialize(real)
        searched = ", ".join(str(root) for root in self.roots)
        raise NotFound(f"target model {target[:200]!r} was not found under {searched}")

    def _materialize(self, path: Path) -> Path:
        if path.is_dir():
            return model_root_of(path)
        if path.name.endswith(ARCHIVE_SUFFIXES):
            return model_root_of(self._unpack(path))
        raise BadRequest(f"{path.name!r} is neither a model directory nor a .tar.gz archive")

    def _unpack(self, archive: Path) -> Path:
        """Extract once per archive content, shared by every worker."""
        stat = archive.stat()
        key = hashlib.sha256(f"{archive}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:20]
        target = self.unpack_dir / key
        if target.is_dir():
            return target
        self.unpack_dir.mkdir(parents=True, exist_ok=True)
        with open(self.unpack_dir / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if target.is_dir():
                return target
            staging = Path(tempfile.mkdtemp(dir=self.unpack_dir, prefix=".unpack-"))
            try:
                safe_extract(archive, staging)
                staging.rename(target)
            except UnsafeArchive as exc:
                raise BadRequest(str(exc)) from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return target
