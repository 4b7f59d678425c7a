"""The compiled predict path in the real server: multi-model mode, the target header, batching,
and a live disagreement that ends it, counted in /metrics."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import requests

from serving.compiled import convert, verify
from serving.compiled.runtime import CompiledModel, known_categories
from serving.config import Settings
from serving.models import lifecycle
from tests.server.process import serve, started_workers
from tests.server.test_multi_model_affinity import MULTI, TIMEOUT_S, register
from tests.server.test_observability import sample
from tests.support import csv_rows, features, wait_for_ping, wait_until, write_regressor
from tests.unit.test_compiled import scaled_pipeline

COMPILED = {"SAGEMAKER_COMPILED_PREDICT": "on", "SAGEMAKER_COMPILED_CHECK_EVERY": "1"}


def metric(url: str, name: str, **labels: str) -> float:
    return sample(requests.get(f"{url}/metrics", timeout=TIMEOUT_S).text, name, **labels)


def invoke(url: str, name: str, body: str, content_type: str = "text/csv") -> list[object]:
    response = requests.post(
        f"{url}/models/{name}/invoke",
        data=body,
        headers={"Content-Type": content_type, "Accept": "application/json"},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return response.json()


def trap_record(model_dir: Path) -> dict[str, object]:
    """A record the scaled pipeline's float32 form answers differently from scikit-learn."""
    handler = lifecycle.load("probe", model_dir, Settings.from_env({}))
    model = joblib.load(model_dir / "model.joblib")
    compiled = CompiledModel(convert.to_onnx(model, handler.schema, False), model, handler.schema)
    rows = verify._frame_rows(model, handler.schema, known_categories(model, handler.schema))
    differ = np.flatnonzero(np.abs(compiled.predict(rows) - model.predict(rows)) > 1e-3)
    row = rows.iloc[int(differ[0])]
    return {"city": row["city"], "sqft": float(row["sqft"])}


def test_compiled_models_serve_in_multi_model_mode_and_a_live_disagreement_ends_it(tmp_path: Path) -> None:
    models = tmp_path / "models"
    forest = write_regressor(models / "forest" / "model", trees=20)
    scaled, frame = scaled_pipeline(models / "scaled" / "model")
    frame.head(20).to_json(models / "scaled" / "model" / "input_example.json", orient="records")
    trap = trap_record(models / "scaled" / "model")
    X = features(4, seed=21)
    own = CompiledModel(convert.to_onnx(forest, None, False), forest, None).predict(X).tolist()
    assert own != forest.predict(X).tolist()  # float32's answers: they tell the two paths apart
    with serve(tmp_path, **MULTI, **COMPILED) as (url, process), ThreadPoolExecutor(8) as pool:
        wait_for_ping(url)
        started_workers(process)
        register(url, models, "forest")
        # scikit-learn answers while the compiled form is built, then the compiled form does.
        assert invoke(url, "forest", csv_rows(X)) in (forest.predict(X).tolist(), own)
        body = csv_rows(X)
        wait_until(lambda: invoke(url, "forest", body), TIMEOUT_S, "a compiled answer", ready=own.__eq__)
        assert metric(url, "sagemaker_compiled_models_total", model="forest", state="serving") >= 1
        # Concurrent requests, batched, each get their own rows' answers.
        rows = [features(1 + i % 3, seed=40 + i) for i in range(24)]
        got = list(pool.map(lambda r: invoke(url, "forest", csv_rows(r)), rows))
        for r, answer in zip(rows, got, strict=True):
            assert np.allclose(answer, forest.predict(r), rtol=verify.RTOL)

        # The target header reaches the same compiled model. The burst above may have made
        # the other worker take a copy of its own, which scikit-learn answers until that copy's
        # compiled form is verified in turn.
        def routed() -> list[float]:
            answer = requests.post(
                f"{url}/invocations",
                data=body,
                headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Target-Model": "forest"},
                timeout=TIMEOUT_S,
            )
            assert answer.status_code == 200, answer.text
            assert answer.json() in (forest.predict(X).tolist(), own)
            return answer.json()

        wait_until(routed, TIMEOUT_S, "a compiled answer through the target header", ready=own.__eq__)

        register(url, models, "scaled")
        body = json.dumps(frame.head(3).to_dict("records"))
        wait_until(
            lambda: metric(url, "sagemaker_compiled_models_total", model="scaled", state="serving"),
            TIMEOUT_S,
            "the scaled pipeline verified on its input example",
            ready=lambda count: count >= 1,
        )
        expected = scaled.predict(frame.head(3)).tolist()
        assert invoke(url, "scaled", body, "application/json") == pytest.approx(expected, rel=verify.RTOL)
        # A live record the example did not cover: the check catches it and scikit-learn takes over.
        wait_until(
            lambda: (
                invoke(url, "scaled", json.dumps(trap), "application/json"),
                metric(url, "sagemaker_compiled_disagreements_total", model="scaled"),
            )[1],
            TIMEOUT_S,
            "the live check to count a disagreement",
            ready=lambda count: count >= 1,
        )
        assert metric(url, "sagemaker_compiled_models_total", model="scaled", state="fallen_back") >= 1
        assert invoke(url, "scaled", json.dumps(trap), "application/json") == (
            scaled.predict(pd.DataFrame([trap])).tolist()
        )
    log = (tmp_path / "serve.log").read_text()
    assert re.search(r"compiled predict for model scaled: fallen back: a live request's answer differs", log)
