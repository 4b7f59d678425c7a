"""The README's main job, shortened: two cities, small data, the real image."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.docker
def test_demo_trains_serves_and_predicts_per_city(image: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--image",
            image,
            "--cities",
            "2",
            "--rows",
            "600",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.count("trained in") == 2
    assert "AE-at-50th-percentile:" in out
    rows = re.findall(
        r"^\s+(NewYork_NY|LosAngeles_CA)\s+\S+\s+([\d,]+)\s+([\d,]+)\s+[\d.]+", out, re.MULTILINE
    )
    assert len(rows) == 6, out
    for _, actual, predicted in rows:
        actual_price, predicted_price = (int(v.replace(",", "")) for v in (actual, predicted))
        # A trained model, not a constant: within 30 % of the synthetic price.
        assert abs(predicted_price - actual_price) < 0.3 * actual_price
    assert "server exited with code 0" in out
