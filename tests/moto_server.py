"""A real moto server on loopback: the AWS APIs the project calls, without AWS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support import free_port

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
def moto_server(deadline_s: float = 30) -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yield its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **AWS_ENV},
    )
    try:
        end = time.monotonic() + deadline_s
        while True:
            try:
                if requests.get(f"{endpoint}/moto-api/", timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"moto_server did not start on {endpoint}")
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
