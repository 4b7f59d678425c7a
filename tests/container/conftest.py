"""Containers from the real image, each removed after its test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import docker

LABEL = "sklearn-sagemaker-test=1"


@dataclass
class Container:
    id: str
    url: str

    def logs(self) -> str:
        result = docker("logs", self.id, check=False)
        return result.stdout + result.stderr

    def pids(self) -> set[str]:
        top = docker("top", self.id, "-eo", "pid").stdout.split()[1:]
        return set(top)


@contextmanager
def run_container(
    image: str,
    *command: str,
    volumes: dict[Path, str] | None = None,
    env: dict[str, str] | None = None,
    port: int = 8080,
    extra: tuple[str, ...] = (),
) -> Iterator[Container]:
    name = f"skl-test-{uuid.uuid4().hex[:10]}"
    args = ["run", "-d", "--name", name, "--label", LABEL, "-p", f"127.0.0.1::{port}"]
    for host, target in (volumes or {}).items():
        args += ["-v", f"{host}:{target}"]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    args += [*extra, image, *command]
    container_id = docker(*args).stdout.strip()
    try:
        mapped = docker("port", container_id, f"{port}/tcp").stdout.split("\n")[0].strip()
        host_port = mapped.rsplit(":", 1)[1]
        yield Container(container_id, f"http://127.0.0.1:{host_port}")
    finally:
        docker("rm", "-f", container_id, check=False)


@pytest.fixture(scope="session", autouse=True)
def _remove_leftover_containers() -> Iterator[None]:
    yield
    if shutil.which("docker"):
        leftovers = docker("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
        if leftovers:
            docker("rm", "-f", *leftovers, check=False)
