"""The images' Python requirements, read from pyproject.toml by container/requirements.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "container" / "requirements.py"


def listed(*args: str) -> list[str]:
    printed = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=True)
    return printed.stdout.split()


def test_the_slim_image_has_no_second_engine_and_the_full_one_adds_only_it() -> None:
    slim = listed()
    assert "scikit-learn>=1.5" in slim and "gunicorn>=23" in slim
    assert not {"multi-model-server", "sagemaker-inference"} & set(slim)
    assert listed("--extra", "mms") == ["multi-model-server", "sagemaker-inference"]


def test_the_wheel_cache_gets_both_images_and_the_build_backend() -> None:
    build = listed("--build")
    assert set(listed()) | set(listed("--extra", "mms")) <= set(build)
    assert "setuptools>=64" in build


def test_an_unknown_extra_is_refused() -> None:
    refused = subprocess.run([sys.executable, str(SCRIPT), "--extra", "gpu"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "invalid choice: 'gpu'" in refused.stderr
