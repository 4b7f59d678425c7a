"""What every test directory shares: the images, built once per session, and one moto server."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.containers import image_for
from harness.moto import moto_server
from tests.support import docker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def image() -> str:
    """The default (slim) image; container/build-image.sh builds the full one beside it."""
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.fail("the container tests need a running Docker engine")
    tag = os.environ.get("TEST_IMAGE", "sklearn-sagemaker:test")
    if os.environ.get("TEST_IMAGE_PREBUILT") != "1":
        subprocess.run([str(ROOT / "container" / "build-image.sh"), tag], check=True, timeout=1800)
    return tag


@pytest.fixture(scope="session")
def images(image: str) -> dict[str, str]:
    """The image each engine runs in: ours in the slim image, multi-model-server in the full one."""
    return {engine: image_for(image, engine) for engine in ("flask", "mms")}


@pytest.fixture(scope="session")
def moto_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of a moto server shared by the session's tests (its log in the session's
    temporary directory). Tests that need an empty account reset it (harness.moto.reset)."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with moto_server(log=log) as endpoint:
        yield endpoint
