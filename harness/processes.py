"""Server processes started in the background for a test or a benchmark, and always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

_LOG_TAIL = 2000


def exited(process: subprocess.Popen[bytes], log: Path | None = None) -> Callable[[], str | None]:
    """A `give_up` for the waits in harness.waiting: the reason, once `process` has exited."""

    def reason() -> str | None:
        code = process.poll()
        if code is None:
            return None
        tail = ""
        if log is not None and log.exists():
            tail = log.read_text(errors="replace")[-_LOG_TAIL:]
        return f"{Path(str(process.args[0])).name} exited with code {code}" + (
            f"; its log ends:\n{tail}" if tail else ""
        )

    return reason


def _signal(process: subprocess.Popen[bytes], sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except ProcessLookupError:
        pass


@contextmanager
def background(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
    own_group: bool = False,
    stop_timeout_s: float = 10,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` while the block runs; stop it with SIGTERM, and SIGKILL if it does not stop.

    Output goes to `log` (both streams), or nowhere. With `own_group` the process leads a
    process group of its own and the signals go to the whole group, so no child it forked
    outlives it.
    """
    out = log.open("wb") if log is not None else None
    try:
        process = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=out if out is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                _signal(process, signal.SIGTERM, own_group)
                try:
                    process.wait(timeout=stop_timeout_s)
                except subprocess.TimeoutExpired:
                    _signal(process, signal.SIGKILL, own_group)
                    process.wait(timeout=30)
    finally:
        if out is not None:
            out.close()
