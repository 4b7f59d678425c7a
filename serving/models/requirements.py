"""Installing a model's code/requirements.txt before its code is imported.

Every worker process starts the same model, but pip must run once: the first worker
to get the lock installs and records the outcome; the others, and any worker started
later, read that record instead of running pip again.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serving.errors import ModelLoadError

log = logging.getLogger(__name__)


def _record_path(digest: str) -> Path:
    return Path(tempfile.gettempdir()) / f"requirements-{digest}.json"


def install(code_dir: Path, timeout: float) -> None:
    """pip install -r code_dir/requirements.txt once per content; raise with pip's error."""
    requirements = code_dir / "requirements.txt"
    if not requirements.is_file():
        return
    digest = hashlib.sha256(str(requirements.resolve()).encode() + requirements.read_bytes()).hexdigest()[:16]
    record = _record_path(digest)
    with open(record.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if record.exists():
            outcome = json.loads(record.read_text())
        else:
            outcome = _run_pip(requirements, code_dir, timeout)
            record.write_text(json.dumps(outcome))
    if not outcome["ok"]:
        raise ModelLoadError(f"pip install -r {requirements} failed: {outcome['error']}")
    importlib.invalidate_caches()


def _run_pip(requirements: Path, code_dir: Path, timeout: float) -> dict[str, object]:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "-r",
        str(requirements),
    ]
    log.info("installing %s", requirements)
    started = time.monotonic()
    try:
        # Relative paths in requirements.txt (local wheels) resolve against the code dir.
        done = subprocess.run(command, cwd=code_dir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        log.info("pip: %s", line)
    for line in done.stderr.splitlines():
        log.warning("pip: %s", line)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        error = " ".join(lines[-5:]) or f"exit code {done.returncode}"
        return {"ok": False, "error": error[-1500:]}
    log.info("installed %s in %.1f s", requirements, time.monotonic() - started)
    return {"ok": True, "error": ""}
