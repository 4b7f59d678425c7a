"""sagemaker-local started for a test or a benchmark: a real process on a loopback port."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from harness.net import LOOPBACK, free_port
from harness.processes import background, exited
from harness.waiting import wait_for_http


@contextmanager
def local_sagemaker(
    work_dir: Path,
    *,
    s3_endpoint_url: str | None = None,
    memory: str | None = None,
    env: Mapping[str, str] | None = None,
    deadline_s: float = 60,
) -> Iterator[str]:
    """Run `sagemaker-local` while the block runs; yield its URL. Its log is work_dir/server.log."""
    port = free_port()
    argv = [sys.executable, "-m", "sagemaker_local", "--work-dir", str(work_dir), "--port", str(port)]
    if s3_endpoint_url:
        argv += ["--s3-endpoint-url", s3_endpoint_url]
    if memory:
        argv += ["--memory", memory]
    log = work_dir / "server.log"
    work_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://{LOOPBACK}:{port}"
    # Stopping it removes its containers, which can take a while on a busy machine.
    with background(argv, env={**os.environ, **(env or {})}, log=log, stop_timeout_s=120) as process:
        wait_for_http(
            f"{url}/",
            deadline_s,
            f"sagemaker-local on {url} to answer",
            ok=lambda response: response.status_code < 500,
            give_up=exited(process, log),
        )
        yield url
