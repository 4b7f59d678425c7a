"""Adaptive batching: merged predictions are exactly the ones each request gets alone."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from serving.config import Settings
from serving.errors import BadRequest
from serving.inference.batching import Batcher
from serving.inference.pipeline import Request
from serving.inference.predictors import default_predict_fn, rowwise_exact
from serving.models import lifecycle
from tests.support import features


class GatedModel:
    """Wraps a model; the first predict waits at a gate so that others pile up behind it."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[int] = []

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.calls.append(rows.shape[0])
        if len(self.calls) == 1:
            self.entered.set()
            assert self.gate.wait(30)
        return self.model.predict(rows)


def fitted(kind: str) -> object:
    X = features(300, seed=2)
    y = X @ np.arange(1, 7) + np.sin(X[:, 0] * 10)
    if kind == "forest":
        return RandomForestRegressor(n_estimators=30, min_samples_leaf=3, random_state=0).fit(X, y)
    if kind == "linear":
        return LinearRegression().fit(X, y)
    if kind == "gradient-boosting":
        return HistGradientBoostingClassifier(max_iter=30).fit(X, (y > np.median(y)).astype(int))
    return DecisionTreeRegressor(random_state=0).fit(X, y)


def run_concurrently(batcher: Batcher, model: GatedModel, requests: list[np.ndarray]) -> list[object]:
    """First request blocks inside predict; the rest queue; then the gate opens."""
    with ThreadPoolExecutor(len(requests)) as pool:
        first = pool.submit(batcher.predict, requests[0])
        assert model.entered.wait(30)
        rest = [pool.submit(batcher.predict, rows) for rows in requests[1:]]
        # Wait until all of them are queued behind the gate before opening it.
        for _ in range(3000):
            if len(batcher._pending) == len(requests) - 1:
                break
            threading.Event().wait(0.001)
        model.gate.set()
        futures = [first, *rest]
        return [f.result(timeout=30) for f in futures]


@pytest.mark.parametrize("kind", ["forest", "gradient-boosting", "tree"])
def test_batched_answers_are_bit_for_bit_the_ones_alone(kind: str) -> None:
    model = GatedModel(fitted(kind))
    sizes: list[int] = []
    batcher = Batcher(model.predict, max_rows=1000, on_batch=sizes.append)
    requests = [features(n, seed=100 + i) for i, n in enumerate([1, 1, 3, 1, 7, 2, 1, 1, 1, 5])]
    answers = run_concurrently(batcher, model, requests)
    for rows, answer in zip(requests, answers, strict=True):
        alone = model.model.predict(rows)
        assert np.asarray(answer).dtype == alone.dtype
        assert np.asarray(answer).tobytes() == alone.tobytes()
    # The queued requests really were merged into one call.
    assert model.calls[0] == 1 and model.calls[1] == sum(r.shape[0] for r in requests[1:])
    assert sizes == [1, len(requests) - 1]


def test_a_bad_request_does_not_fail_the_others() -> None:
    forest = fitted("forest")

    def predict(rows: np.ndarray) -> np.ndarray:
        return default_predict_fn(rows, forest)

    model = GatedModel(type("M", (), {"predict": staticmethod(predict)})())
    batcher = Batcher(model.predict)
    good = features(2, seed=1)
    bad = np.full((1, 6), np.inf)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.predict, good)
        assert model.entered.wait(30)
        queued = [pool.submit(batcher.predict, rows) for rows in (good, bad, good)]
        for _ in range(3000):
            if len(batcher._pending) == 3:
                break
            threading.Event().wait(0.001)
        model.gate.set()
        assert first.result(30).tobytes() == forest.predict(good).tobytes()
        assert queued[0].result(30).tobytes() == forest.predict(good).tobytes()
        with pytest.raises(BadRequest):
            queued[1].result(30)
        assert queued[2].result(30).tobytes() == forest.predict(good).tobytes()


def test_batches_respect_max_rows() -> None:
    model = GatedModel(fitted("forest"))
    batcher = Batcher(model.predict, max_rows=4)
    requests = [features(1, seed=i) for i in range(10)]
    run_concurrently(batcher, model, requests)
    assert max(model.calls) <= 4
    assert sum(model.calls) == 10


def test_different_widths_are_never_merged() -> None:
    seen: list[tuple[int, ...]] = []
    gate, entered = threading.Event(), threading.Event()

    def predict(rows: np.ndarray) -> np.ndarray:
        seen.append(rows.shape)
        if len(seen) == 1:
            entered.set()
            gate.wait(30)
        return rows.sum(axis=1)

    batcher = Batcher(predict)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(batcher.predict, np.ones((1, 3)))
        assert entered.wait(30)
        others = [pool.submit(batcher.predict, np.ones((1, w))) for w in (3, 4, 3)]
        for _ in range(3000):
            if len(batcher._pending) == 3:
                break
            threading.Event().wait(0.001)
        gate.set()
        assert [f.result(30).tolist() for f in [first, *others]] == [[3.0], [3.0], [4.0], [3.0]]
    assert all(len(set(shape[1:])) == 1 for shape in seen)


def test_handler_batches_trees_and_opted_in_predict_fns_only(tmp_path: Path) -> None:
    X = features(50)
    joblib.dump(fitted("forest"), tmp_path / "model.joblib")
    settings = Settings.from_env({})
    assert lifecycle.load("m", tmp_path, settings).batcher is not None
    off = Settings.from_env({"SAGEMAKER_BATCHING": "false"})
    assert lifecycle.load("m", tmp_path, off).batcher is None
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text("def predict_fn(data, model):\n    return model.predict(data) * 2\n")
    assert lifecycle.load("m", tmp_path, settings).batcher is None
    (code / "opted.py").write_text(
        "BATCHABLE_PREDICT_FN = True\ndef predict_fn(data, model):\n    return model.predict(data) * 2\n"
    )
    opted = lifecycle.load("m", tmp_path, Settings.from_env({"SAGEMAKER_PROGRAM": "opted.py"}))
    assert opted.batcher is not None
    answer = opted.invoke(Request(b"1,2,3,4,5,6", "text/csv", "application/json"))
    assert answer.body.startswith(b"[")
    linear = tmp_path / "linear"
    linear.mkdir()
    joblib.dump(LinearRegression().fit(X, X.sum(axis=1)), linear / "model.joblib")
    assert lifecycle.load("m", linear, settings).batcher is None


class GatedMethod(GatedModel):
    """The same gate around any one method of a model (predict_proba, for one)."""

    def __init__(self, model: object, method: str) -> None:
        super().__init__(model)
        self.method = method

    def predict(self, rows):  # type: ignore[no-untyped-def]
        self.calls.append(len(rows))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.gate.wait(30)
        return getattr(self.model, self.method)(rows)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_dataframe_pipelines_batch_bit_for_bit(tmp_path: Path, method: str) -> None:
    from harness import tabular

    model, _ = tabular.write_classifier_pipeline(tmp_path, trees=20)
    assert rowwise_exact(model)
    gated = GatedMethod(model, method)
    batcher = Batcher(gated.predict, max_rows=1000)
    houses = tabular.houses(40, seed=9)
    sizes = [1, 1, 3, 1, 7, 2, 1, 1]
    starts = np.cumsum([0, *sizes])
    requests = [houses.iloc[a:b].reset_index(drop=True) for a, b in itertools.pairwise(starts)]
    answers = run_concurrently(batcher, gated, requests)
    assert gated.calls[1] == sum(sizes[1:])
    for rows, answer in zip(requests, answers, strict=True):
        alone = getattr(model, method)(rows)
        assert np.asarray(answer).tobytes() == alone.tobytes()


def test_regressors_with_missing_values_batch_bit_for_bit(tmp_path: Path) -> None:
    from harness import tabular

    model, frame = tabular.write_regressor_with_missing_values(tmp_path)
    assert rowwise_exact(model)
    gated = GatedModel(model)
    requests = [frame.iloc[i : i + 1].reset_index(drop=True) for i in range(0, 10)]
    answers = run_concurrently(Batcher(gated.predict, max_rows=1000), gated, requests)
    for rows, answer in zip(requests, answers, strict=True):
        assert np.asarray(answer).tobytes() == model.predict(rows).tobytes()


def test_pipelines_with_linear_or_user_steps_are_not_batched() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X = features(40)
    y = (X[:, 0] > 0.5).astype(int)
    assert rowwise_exact(make_pipeline(StandardScaler(), RandomForestRegressor(n_estimators=2)).fit(X, y))
    assert not rowwise_exact(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y))
    assert not rowwise_exact(make_pipeline(FunctionTransformer(np.log1p), RandomForestRegressor()).fit(X, y))
