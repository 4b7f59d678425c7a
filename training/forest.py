"""The built-in trainer: a random-forest regressor, fitted in steps so the log shows progress."""

from __future__ import annotations

import time

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from training.hyperparameters import Hyperparameters
from training.log import say

PROGRESS_STEPS = 10


def fit(features: np.ndarray, labels: np.ndarray, hp: Hyperparameters) -> RandomForestRegressor:
    model = RandomForestRegressor(
        n_estimators=0,
        min_samples_leaf=hp.min_samples_leaf,
        random_state=hp.random_state,
        # warm_start grows the same forest a one-shot fit would (sklearn skips the seeds of the
        # trees already built), so fitting in steps only adds the progress lines.
        warm_start=True,
        n_jobs=-1,
    )
    step = max(1, hp.n_estimators // PROGRESS_STEPS)
    say(
        f"{hp.model_name}: fitting {hp.n_estimators} trees (min-samples-leaf {hp.min_samples_leaf}) "
        f"on {features.shape[0]} rows x {features.shape[1]} features"
    )
    started = time.perf_counter()
    for trees in range(step, hp.n_estimators + step, step):
        model.set_params(n_estimators=min(trees, hp.n_estimators))
        model.fit(features, labels)
        elapsed = time.perf_counter() - started
        say(f"{hp.model_name}: {len(model.estimators_)}/{hp.n_estimators} trees, {elapsed:.2f} s")
    # The saved model is served by worker processes that already run in parallel; threads per
    # request would oversubscribe the CPUs, and single-threaded predict sums trees in a fixed
    # order, so metrics repeat exactly run to run.
    model.set_params(warm_start=False, n_jobs=None)
    return model
