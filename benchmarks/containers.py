"""Starting the image for a benchmark and timing it until /ping answers 200."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests


@dataclass(frozen=True)
class Running:
    id: str
    url: str
    ready_s: float

    def exec_python(self, code: str) -> str:
        return subprocess.run(
            ["docker", "exec", self.id, "python", "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()

    def memory_used_mb(self) -> float:
        """The container's own working set (its cgroup), whatever else runs on the machine."""
        return float(self.exec_python("from serving import memory; print(memory.working_set() / 2**20)"))


@contextmanager
def started(
    image: str,
    volumes: dict[Path, str],
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    deadline_s: float = 120,
) -> Iterator[Running]:
    args = ["docker", "run", "-d", "-p", "127.0.0.1::8080", *extra]
    for host, target in volumes.items():
        args += ["-v", f"{host}:{target}"]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    began = time.monotonic()
    container = subprocess.run(
        [*args, image, "serve"], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        port = (
            subprocess.run(
                ["docker", "port", container, "8080/tcp"], capture_output=True, text=True, check=True
            )
            .stdout.split("\n")[0]
            .rsplit(":", 1)[1]
        )
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() - began > deadline_s:
                raise RuntimeError(f"{image} did not answer /ping with 200 within {deadline_s} s")
            time.sleep(0.01)
        yield Running(container, url, time.monotonic() - began)
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
