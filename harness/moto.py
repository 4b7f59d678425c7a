"""A real moto server on loopback: the AWS APIs the project calls, without AWS."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from harness.net import LOOPBACK, free_port
from harness.processes import background, exited
from harness.waiting import wait_for_http

# Dummy credentials and a region: boto3 needs them, moto accepts anything.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _moto_server() -> str:
    local = Path(sys.executable).with_name("moto_server")
    return str(local) if local.exists() else shutil.which("moto_server") or "moto_server"


@contextmanager
def moto_server(deadline_s: float = 120, log: Path | None = None) -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yield its endpoint URL."""
    port = free_port()
    endpoint = f"http://{LOOPBACK}:{port}"
    argv = [_moto_server(), "-H", LOOPBACK, "-p", str(port)]
    with background(argv, env={**os.environ, **AWS_ENV}, log=log) as process:
        wait_for_http(
            f"{endpoint}/moto-api/",
            deadline_s,
            f"moto_server on {endpoint} to answer",
            ok=lambda response: response.status_code < 500,
            give_up=exited(process, log),
        )
        yield endpoint


def reset(endpoint: str) -> None:
    """Forget every resource: the next test starts from an empty account."""
    requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
