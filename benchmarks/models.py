"""The benchmark models, built the same way every run."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestRegressor


def housing_like(rows: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((rows, 6))
    y = X @ np.array([150.0, 10, 20, 5, 3, -50]) + rng.normal(0, 1, rows)
    return X, y


def random_forest(directory: Path) -> tuple[RandomForestRegressor, np.ndarray]:
    """RandomForestRegressor(100 trees, min_samples_leaf=3) on six features, saved as model.joblib."""
    X, y = housing_like()
    model = RandomForestRegressor(n_estimators=100, min_samples_leaf=3, n_jobs=1, random_state=0).fit(X, y)
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "model.joblib")
    return model, X[:1]
