"""The real `serve` command on the host, as the server tests start and stop it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.processes import background
from harness.waiting import wait_until
from tests.support import free_port

SERVE = str(Path(sys.executable).with_name("serve"))


@contextmanager
def serve(base_dir: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`serve` on a free loopback port with two workers; its log in base_dir/serve.log."""
    port = free_port()
    environ = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(base_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    # Stopped as SageMaker stops it (SIGTERM to the group, SIGKILL only if it does not stop),
    # so the log is complete and serve removes its state directory.
    with background([SERVE], env=environ, log=base_dir / "serve.log", own_group=True, stop_timeout_s=60) as p:
        yield f"http://127.0.0.1:{port}", p


def workers_of(pid: int) -> set[int]:
    """The worker processes gunicorn has forked for the serve process `pid`."""
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def started_workers(process: subprocess.Popen[bytes], count: int = 2, deadline_s: float = 120) -> set[int]:
    """gunicorn's workers of `process`, once `count` of them have started."""
    return wait_until(
        lambda: workers_of(process.pid),
        deadline_s,
        f"{count} workers of serve (pid {process.pid}) to start",
        ready=lambda workers: len(workers) >= count,
    )
