"""The compiled predict path serves only what it verified, and gives way to scikit-learn for good
when a live answer differs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from prometheus_client import REGISTRY
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVR

from harness import tabular
from serving.compiled import convert, predictor, verify
from serving.compiled.runtime import CompiledModel, known_categories
from serving.config import Settings
from serving.errors import BadRequest, ModelLoadError
from serving.inference.pipeline import ModelHandler, Request
from serving.models import lifecycle
from tests.support import features, wait_until

X = features(300, seed=4)
y = X @ np.arange(1, 7) + np.sin(X[:, 0] * 9)
LABELS = np.array(["low", "high"], dtype=object)[(y > y.mean()).astype(int)]


def save(model_dir: Path, model: object) -> Path:
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    return model_dir


def load(model_dir: Path, mode: str = "require", **env: str) -> ModelHandler:
    return lifecycle.load(
        model_dir.name, model_dir, Settings.from_env({"SAGEMAKER_COMPILED_PREDICT": mode, **env})
    )


def csv(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()


def answers(handler: ModelHandler, rows: np.ndarray) -> list[object]:
    return json.loads(handler.invoke(Request(csv(rows), "text/csv", "application/json")).body)


def predictions(handler: ModelHandler, body: bytes) -> list[dict[str, object]]:
    return json.loads(handler.invoke(Request(body, "application/json", "application/json")).body)[
        "predictions"
    ]


def record_answer(handler: ModelHandler, body: bytes) -> list[object]:
    return json.loads(handler.invoke(Request(body, "application/json", "application/json")).body)


def built(handler: ModelHandler) -> str:
    """The compiled path's state once its background build has ended."""
    assert handler.compiled is not None
    return wait_until(
        lambda: handler.compiled.state,
        60,
        "the compiled build to end",
        ready=lambda s: s != predictor.BUILDING,
    )


def crafted_float32_model(model_dir: Path) -> Path:
    """Two feature values float32 cannot tell apart (1e8+1 and 1e8+2), and a model that
    compares in double and tells them apart: converted to float32, it answers one label for both."""
    Xc = np.array([[1e8 + 1.0], [1e8 + 2.0]] * 50)
    return save(model_dir, HistGradientBoostingClassifier(max_iter=5).fit(Xc, np.array([0, 1] * 50)))


def scaled_pipeline(model_dir: Path) -> tuple[Pipeline, pd.DataFrame]:
    frame = tabular.houses()[["city", "sqft"]]
    features_ = ColumnTransformer([("city", OneHotEncoder(), ["city"]), ("n", StandardScaler(), ["sqft"])])
    model = Pipeline(
        [("features", features_), ("forest", RandomForestRegressor(n_estimators=10, random_state=0))]
    )
    save(model_dir, model.fit(frame, frame.sqft * 3))
    return model, frame


def disagreements(name: str) -> float:
    return REGISTRY.get_sample_value("sagemaker_compiled_disagreements_total", {"model": name}) or 0.0


@pytest.mark.parametrize(
    "model",
    [
        RandomForestRegressor(n_estimators=30, min_samples_leaf=3, random_state=0).fit(X, y),
        RandomForestClassifier(n_estimators=20, random_state=0).fit(X, LABELS),
        GradientBoostingRegressor(n_estimators=40, random_state=0).fit(X, y),
        HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(X, y),
        HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, LABELS),
        Ridge().fit(X, y),
        LogisticRegression().fit(X, LABELS),
    ],
    ids=[
        "forest",
        "forest-classifier",
        "gradient-boosting",
        "hist-gb",
        "hist-gb-classifier",
        "ridge",
        "logistic",
    ],
)
def test_verified_models_are_answered_by_the_compiled_form(tmp_path: Path, model) -> None:
    handler = load(save(tmp_path / "m", model))
    compiled = handler.compiled
    assert compiled is not None and compiled.state == predictor.SERVING, compiled and compiled.reason
    rows = features(40, seed=11)
    got = answers(handler, rows)
    own = compiled.compiled.predict(rows)
    assert own is not None
    # The answer is the compiled form's: float32's, within the tolerance of scikit-learn's.
    assert got == own.tolist()
    expected = model.predict(rows)
    assert (
        verify.disagreement(
            expected, np.asarray(got, dtype=expected.dtype), labels=expected.dtype.kind in "OU"
        )
        is None
    )


def test_float32_thresholds_that_change_an_answer_are_caught(tmp_path: Path) -> None:
    model_dir = crafted_float32_model(tmp_path / "crafted")
    model = joblib.load(model_dir / "model.joblib")
    rows = np.array([[1e8 + 1.0], [1e8 + 2.0]])
    # Converted by hand, as skl2onnx does by default: float32 thresholds and inputs answer 0
    # for both. Verification refuses that form.
    by_hand = CompiledModel(convert.to_onnx(model, None, double=False), model, None)
    assert by_hand.predict(rows).tolist() == [0, 0]
    assert "labels differ" in verify.compare(model, by_hand, verify._numeric_rows(model))
    # The path converts a model that compares in double to double thresholds: verified,
    # and it gives scikit-learn's answers.
    handler = load(model_dir)
    assert handler.compiled.state == predictor.SERVING
    assert handler.compiled.compiled.double
    assert answers(handler, rows) == [0, 1]


def test_unsupported_models_are_refused_with_the_reason(tmp_path: Path) -> None:
    model_dir = save(tmp_path / "svr", SVR().fit(X, y))
    with pytest.raises(ModelLoadError, match="SVR is not among the models compiled"):
        load(model_dir)
    assert load(model_dir, mode="off").compiled is None


def test_no_room_for_the_compiled_form_keeps_scikit_learn(tmp_path: Path, monkeypatch) -> None:
    model_dir = save(tmp_path / "m", RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y))
    # A session that would take a petabyte per byte of graph.
    monkeypatch.setattr(predictor, "SESSION_BYTES_PER_GRAPH_BYTE", 2**50)
    handler = load(model_dir, mode="on")
    wait_until(
        lambda: handler.compiled.state, 30, "the compiled build to end", ready=lambda s: s != "building"
    )
    assert handler.compiled.state == predictor.REFUSED
    assert handler.compiled.reason.startswith("no memory for it")


def test_the_live_check_catches_an_injected_disagreement(tmp_path: Path, monkeypatch) -> None:
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    model_dir = save(tmp_path / "injected", model)
    handler = load(model_dir, SAGEMAKER_COMPILED_CHECK_EVERY="1")
    compiled = handler.compiled
    assert compiled is not None and compiled.state == predictor.SERVING
    before = disagreements("injected")
    right = compiled.compiled.predict
    monkeypatch.setattr(compiled.compiled, "predict", lambda data: right(data) + 0.5)
    rows = features(3, seed=2)
    wait_until(
        lambda: (answers(handler, rows), compiled.state)[1],
        30,
        "the live check to stop the compiled path",
        ready=lambda state: state == predictor.FALLEN_BACK,
    )
    assert "a live request's answer differs" in compiled.reason
    assert disagreements("injected") == before + 1
    # For good: scikit-learn answers from now on, exactly.
    assert answers(handler, rows) == model.predict(rows).tolist()


def test_an_input_example_is_the_verification_set_and_live_checks_catch_what_it_missed(
    tmp_path: Path,
) -> None:
    model, frame = scaled_pipeline(tmp_path / "scaled")
    refused = load(tmp_path / "scaled", mode="on")
    assert built(refused) == predictor.REFUSED
    # The synthesized row the float32 form answered differently.
    differing = int(re.search(r"row (\d+):", refused.compiled.reason).group(1))
    known = known_categories(model, refused.schema)
    trap = verify._frame_rows(model, refused.schema, known).iloc[differing]
    # The same model with an input example of ordinary rows: verified on those, it serves.
    model_dir = tmp_path / "example"
    save(model_dir, model)
    frame.head(20).to_json(model_dir / "input_example.json", orient="records")
    handler = load(model_dir, SAGEMAKER_COMPILED_CHECK_EVERY="1")
    assert handler.compiled.state == predictor.SERVING, handler.compiled.reason
    assert "input_example.json" in handler.compiled.reason
    body = json.dumps({"city": trap["city"], "sqft": float(trap["sqft"])}).encode()
    wait_until(
        lambda: (record_answer(handler, body), handler.compiled.state)[1],
        30,
        "the live check to catch the difference",
        ready=lambda state: state == predictor.FALLEN_BACK,
    )
    assert record_answer(handler, body) == model.predict(pd.DataFrame([trap])).tolist()


def test_inputs_the_compiled_form_was_not_verified_for_go_to_scikit_learn(tmp_path: Path) -> None:
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    handler = load(save(tmp_path / "m", model))
    assert handler.compiled.state == predictor.SERVING
    # scikit-learn's forests take missing values; float32's form answers them differently
    # here, so rows with NaN are scikit-learn's.
    assert "missing numbers stay with scikit-learn" in handler.compiled.reason
    row = features(1, seed=3)
    row[0, 2] = np.nan
    assert handler.compiled.compiled.predict(row) is None
    assert handler.builtin.predict(row).tolist() == model.predict(row).tolist()
    with pytest.raises(BadRequest, match="infinity"):
        handler.invoke(Request(b"0.1,0.2,inf,0.4,0.5,0.6", "text/csv", None))
    with pytest.raises(BadRequest, match=r"infinity|too large"):
        handler.invoke(Request(b"0.1,0.2,1e300,0.4,0.5,0.6", "text/csv", None))


def test_a_dataframe_pipeline_is_compiled_and_unknown_categories_go_to_scikit_learn(tmp_path: Path) -> None:
    model, frame = tabular.write_classifier_pipeline(tmp_path / "pipeline", trees=20)
    handler = load(tmp_path / "pipeline", SAGEMAKER_INFERENCE_OUTPUT="predicted_label,probability")
    assert handler.compiled.state == predictor.SERVING, handler.compiled.reason
    records = frame.head(30).to_dict("records")
    body = json.dumps(records, default=float).encode()
    got = predictions(handler, body)
    assert [r["predicted_label"] for r in got] == model.predict(frame.head(30)).tolist()
    probability = model.predict_proba(frame.head(30)).max(axis=1)
    assert np.allclose([r["probability"] for r in got], probability, atol=verify.PROBA_ATOL)
    unknown = dict(records[0], city="Atlantis_XX")
    assert handler.compiled.compiled.predict(pd.DataFrame([unknown])) is None
    got = predictions(handler, json.dumps(unknown, default=float).encode())
    assert got == [
        {
            "predicted_label": model.predict(pd.DataFrame([unknown]))[0],
            "probability": float(model.predict_proba(pd.DataFrame([unknown])).max()),
        }
    ]


def test_a_scaler_in_front_of_trees_is_probed_at_the_splits_it_feeds(tmp_path: Path) -> None:
    """The compiled form reads sqft as float32 before scaling it; scikit-learn scales the double.
    Probes at the scaled split points, mapped back to sqft values, find where that flips a split."""
    scaled_pipeline(tmp_path / "scaled")
    handler = load(tmp_path / "scaled", mode="on")
    assert built(handler) == predictor.REFUSED
    row = int(re.search(r"row (\d+):", handler.compiled.reason).group(1))
    # Not one of the base rows: one of the probes at a split.
    assert row >= verify.BASE_ROWS, handler.compiled.reason
    with pytest.raises(ModelLoadError, match="differs from scikit-learn"):
        load(tmp_path / "scaled")


def test_batched_answers_are_each_requests_own(tmp_path: Path) -> None:
    handler = load(save(tmp_path / "m", RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)))
    rows = [features(1 + i % 3, seed=100 + i) for i in range(48)]
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda r: answers(handler, r), rows))
    for r, answer in zip(rows, got, strict=True):
        assert answer == handler.compiled.compiled.predict(r).tolist()


def test_a_forked_worker_serves_and_converts_whatever_the_parent_held_at_the_fork(tmp_path: Path) -> None:
    """gunicorn forks its workers from a process that may be converting at that moment."""
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    handler = load(save(tmp_path / "m", model))
    rows = features(2, seed=5)
    expected = handler.compiled.compiled.predict(rows).tolist()
    # Held as a converting thread and a session being made would hold them.
    session_lock = handler.compiled.compiled._locks.setdefault(os.getpid(), threading.Lock())
    held = [convert._converter._lock, session_lock]
    for lock in held:
        lock.acquire()
    child = os.fork()
    if child == 0:  # the worker: answer with its own session, convert with its own child
        try:
            served = handler.builtin.predict(rows).tolist() == expected
            converted = len(convert.in_child(model, None, False, 60)) > 0
            os._exit(0 if served and converted else 1)
        except BaseException:
            os._exit(2)
    for lock in held:
        lock.release()
    try:
        _, status = wait_until(
            lambda: os.waitpid(child, os.WNOHANG), 60, "the forked worker to finish", ready=lambda d: d[0]
        )
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(child, signal.SIGKILL)  # a deadlocked worker would hold pytest's output open
            os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
