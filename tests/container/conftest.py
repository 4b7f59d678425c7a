"""Containers from the real image, each removed after its test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from harness import containers
from harness.containers import Container
from tests.support import docker

__all__ = ["LABEL", "Container", "run_container"]

LABEL = "sklearn-sagemaker-test=1"
_LABEL_KEY, _, _LABEL_VALUE = LABEL.partition("=")


def run_container(image: str, *command: str, **options: Any) -> AbstractContextManager[Container]:
    """harness.containers.run_container, with the label that lets the session remove leftovers."""
    labels = {**options.pop("labels", {}), _LABEL_KEY: _LABEL_VALUE}
    return containers.run_container(image, *command, labels=labels, name_prefix="skl-test", **options)


@pytest.fixture(scope="session", autouse=True)
def _remove_leftover_containers() -> Iterator[None]:
    yield
    if shutil.which("docker"):
        leftovers = docker("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.split()
        if leftovers:
            docker("rm", "-f", *leftovers, check=False)
