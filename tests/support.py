"""Helpers the server and container tests share: ports, models, waiting on /ping."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import joblib
import numpy as np
import requests

N_FEATURES = 6


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_ping(
    url: str, deadline_s: float = 60.0, expect: int = 200, error: str | None = None
) -> requests.Response:
    """Poll GET /ping until it answers `expect` (and, if given, that JSON `error`), or fail."""
    end = time.monotonic() + deadline_s
    last: str = "no answer"
    while time.monotonic() < end:
        try:
            response = requests.get(f"{url}/ping", timeout=2)
            if response.status_code == expect and (error is None or response.json().get("error") == error):
                return response
            last = f"{response.status_code} {response.text[:300]}"
        except requests.RequestException as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise AssertionError(f"/ping at {url} did not answer {expect} within {deadline_s} s; last: {last}")


def features(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, N_FEATURES))


def write_regressor(model_dir: Path, trees: int = 10, name: str = "model.joblib") -> object:
    from sklearn.ensemble import RandomForestRegressor

    X = features(200)
    y = X @ np.arange(1, N_FEATURES + 1)
    model = RandomForestRegressor(n_estimators=trees, min_samples_leaf=3, random_state=0).fit(X, y)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / name)
    return model


def write_classifier(model_dir: Path, labels: list[object]) -> object:
    from sklearn.tree import DecisionTreeClassifier

    X = features(120)
    y = np.array(labels * (120 // len(labels)), dtype=object if isinstance(labels[0], str) else None)
    model = DecisionTreeClassifier(random_state=0).fit(X, y)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return model


def csv_rows(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows)
