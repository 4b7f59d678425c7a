"""The real `serve` command on the host, as the server tests start and stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
    log = open(base_dir / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [SERVE], env=environ, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        # Stop as SageMaker does, so the log is complete and serve removes its state
        # directory; kill only what does not stop.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


def workers_of(pid: int) -> set[int]:
    """The worker processes gunicorn has forked for the serve process `pid`."""
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
