"""The forest fast path gives exactly what predict gives, or is not used."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from serving.inference import fast_paths
from tests.support import features

X = features(400, seed=3)
y = X @ np.arange(1, 7) + np.cos(X[:, 1] * 7)
labels = np.array(["low", "mid", "high"], dtype=object)[np.digitize(y, np.quantile(y, [0.33, 0.66]))]


@pytest.mark.parametrize(
    "model",
    [
        RandomForestRegressor(n_estimators=40, min_samples_leaf=3, random_state=0).fit(X, y),
        ExtraTreesRegressor(n_estimators=25, random_state=1).fit(X, y),
        RandomForestClassifier(n_estimators=30, random_state=2).fit(X, labels),
        ExtraTreesClassifier(n_estimators=20, random_state=3).fit(X, (y > y.mean()).astype(int)),
    ],
    ids=["rf-regressor", "et-regressor", "rf-classifier-strings", "et-classifier-ints"],
)
def test_fast_path_is_bit_for_bit_predict(model) -> None:
    predict = fast_paths.predictor(model)
    assert predict is not model.predict
    for rows in (features(1, seed=7), features(33, seed=8), features(500, seed=9) * 3 - 1):
        fast, slow = predict(rows), model.predict(rows)
        assert fast.dtype == slow.dtype
        assert fast.tobytes() == slow.tobytes() if fast.dtype.kind != "O" else fast.tolist() == slow.tolist()


def test_rejects_what_predict_rejects() -> None:
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fast_paths.predictor(model)(features(2)[:, :4])


@pytest.mark.parametrize(
    "model",
    [
        RandomForestRegressor(n_estimators=5, n_jobs=2, random_state=0).fit(X, y),
        RandomForestRegressor(n_estimators=5, random_state=0).fit(X, np.c_[y, y]),
        GradientBoostingRegressor(n_estimators=5).fit(X, y),
    ],
    ids=["parallel-forest", "multi-output", "not-a-forest"],
)
def test_other_models_use_their_own_predict(model) -> None:
    assert fast_paths.predictor(model) == model.predict
