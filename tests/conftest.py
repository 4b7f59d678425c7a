"""What every test directory shares: the image, built once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import docker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def image() -> str:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.fail("the container tests need a running Docker engine")
    tag = os.environ.get("TEST_IMAGE", "sklearn-sagemaker:test")
    if os.environ.get("TEST_IMAGE_PREBUILT") != "1":
        subprocess.run([str(ROOT / "container" / "build-image.sh"), tag], check=True, timeout=1800)
    return tag
