"""Helpers the server and container tests share: models, feature arrays, and (from harness)
ports, request bodies, the docker CLI and waiting on /ping."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np

from harness.containers import docker
from harness.net import free_port
from harness.payloads import csv_rows
from harness.waiting import wait_for_ping, wait_until

__all__ = [
    "N_FEATURES",
    "csv_rows",
    "docker",
    "features",
    "free_port",
    "wait_for_ping",
    "wait_until",
    "write_classifier",
    "write_regressor",
]

N_FEATURES = 6


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
