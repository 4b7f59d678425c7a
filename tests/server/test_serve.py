"""The real `serve` command on the host: real gunicorn, real HTTP on a free port."""

from __future__ import annotations

import os
import signal
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.server.process import serve, started_workers, workers_of
from tests.support import csv_rows, features, wait_for_ping, wait_until, write_regressor

# Generous on purpose: a deadline is only reached when something is wrong, and a loaded
# machine several times slower than a laptop must still pass.
REQUEST_TIMEOUT_S = 120


def gate_script(base: Path) -> str:
    """model_fn / predict_fn that wait for files the test creates, so nothing depends on timing."""
    return (
        "import os, time, joblib\n"
        f"BASE = {str(base)!r}\n"
        "def _wait(name):\n"
        "    end = time.monotonic() + 300\n"
        "    while not os.path.exists(os.path.join(BASE, name)):\n"
        "        if time.monotonic() > end: raise TimeoutError(name)\n"
        "        time.sleep(0.02)\n"
        "def model_fn(model_dir):\n"
        "    if os.environ.get('GATE_LOAD'): _wait('release-load')\n"
        "    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
        "def predict_fn(data, model):\n"
        "    if os.environ.get('GATE_PREDICT'):\n"
        "        open(os.path.join(BASE, 'predict-started'), 'w').close()\n"
        "        _wait('release-predict')\n"
        "    return model.predict(data)\n"
    )


def post_row(url: str) -> requests.Response:
    return requests.post(
        f"{url}/invocations",
        data="1,2,3,4,5,6",
        headers={"Content-Type": "text/csv"},
        timeout=REQUEST_TIMEOUT_S,
    )


def in_background(pool: ThreadPoolExecutor, url: str) -> Future[requests.Response]:
    """One CSV row posted from another thread, while the test goes on."""
    return pool.submit(post_row, url)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    write_regressor(tmp_path / "model")
    return tmp_path


def test_predicts_over_http(base: Path) -> None:
    with serve(base) as (url, _):
        wait_for_ping(url)
        X = features(3)
        response = requests.post(
            f"{url}/invocations", data=csv_rows(X), headers={"Content-Type": "text/csv", "Accept": "text/csv"}
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv"
        assert len(response.text.split("\n")) == 3


def test_ping_is_503_while_loading_then_200(base: Path) -> None:
    (base / "model" / "code").mkdir()
    (base / "model" / "code" / "inference.py").write_text(gate_script(base))
    with serve(base, GATE_LOAD="1") as (url, _), ThreadPoolExecutor(1) as pool:
        loading = wait_for_ping(url, expect=503, error="ModelNotReady")
        assert "loading" in loading.json()["message"]
        # A request during loading waits for the model instead of failing.
        waiting = in_background(pool, url)
        (base / "release-load").touch()
        wait_for_ping(url)
        assert waiting.result(timeout=REQUEST_TIMEOUT_S).status_code == 200


def test_load_failure_is_503_with_the_reason_and_server_stays_up(base: Path) -> None:
    (base / "model" / "model.joblib").unlink()
    (base / "model" / "notes.txt").write_text("no model here")
    with serve(base) as (url, process):
        # While the load runs /ping is 503 ModelNotReady; wait for the verdict.
        failed = wait_for_ping(url, expect=503, error="ModelLoadFailed")
        assert "notes.txt" in failed.json()["message"]
        invoke = requests.post(
            f"{url}/invocations", data="1", headers={"Content-Type": "text/csv"}, timeout=REQUEST_TIMEOUT_S
        )
        assert invoke.status_code == 503
        assert process.poll() is None
    assert "Traceback" in (base / "serve.log").read_text()


def test_bad_requests_do_not_kill_workers(base: Path) -> None:
    with serve(base) as (url, process):
        wait_for_ping(url)
        # /ping answers from the first worker up; compare against both.
        before = started_workers(process)
        bad = [
            ({"Content-Type": "text/csv"}, b"a,b,c"),
            ({"Content-Type": "application/json"}, b"[[1,2],[3]]"),
            ({"Content-Type": "application/x-npy"}, b"\x93NUMPY garbage"),
            ({"Content-Type": "image/png"}, b"x"),
            ({"Content-Type": "text/csv", "Accept": "image/png"}, b"1,2,3,4,5,6"),
            ({"Content-Type": "text/csv"}, b"1,2,3"),
        ]
        for headers, body in bad:
            response = requests.post(f"{url}/invocations", data=body, headers=headers)
            assert 400 <= response.status_code < 500, (headers, response.text)
            assert set(response.json()) == {"error", "message"}
        ok = requests.post(f"{url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"})
        assert ok.status_code == 200
        assert workers_of(process.pid) == before


def test_payload_limit_is_413(base: Path) -> None:
    with serve(base, SAGEMAKER_MAX_PAYLOAD_IN_MB="1") as (url, _):
        wait_for_ping(url)
        row = "1,2,3,4,5,6\n"
        big = row * (1024 * 1024 // len(row) + 10)
        response = requests.post(f"{url}/invocations", data=big, headers={"Content-Type": "text/csv"})
        assert response.status_code == 413
        assert "SAGEMAKER_MAX_PAYLOAD_IN_MB" in response.json()["message"]
        fits = row * (1024 * 1024 // len(row) - 10)
        ok = requests.post(f"{url}/invocations", data=fits, headers={"Content-Type": "text/csv"})
        assert ok.status_code == 200


def test_custom_attributes_are_echoed_and_unknown_routes_are_json(base: Path) -> None:
    with serve(base) as (url, _):
        wait_for_ping(url)
        response = requests.post(
            f"{url}/invocations",
            data="1,2,3,4,5,6",
            headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "trace-id=abc"},
        )
        assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace-id=abc"
        missing = requests.get(f"{url}/nope")
        assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
        params = requests.get(f"{url}/execution-parameters").json()
        assert params == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


def test_sigterm_finishes_in_flight_requests_and_exits_0(base: Path) -> None:
    (base / "model" / "code").mkdir()
    (base / "model" / "code" / "inference.py").write_text(gate_script(base))
    with serve(base, GATE_PREDICT="1") as (url, process), ThreadPoolExecutor(1) as pool:
        wait_for_ping(url)
        in_flight = in_background(pool, url)
        wait_until(
            (base / "predict-started").exists,
            REQUEST_TIMEOUT_S,
            "the request to reach predict_fn",
            interval_s=0.02,
        )
        process.send_signal(signal.SIGTERM)
        (base / "release-predict").touch()
        assert in_flight.result(timeout=REQUEST_TIMEOUT_S).status_code == 200
        assert process.wait(timeout=REQUEST_TIMEOUT_S) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in [process.pid])


def test_concurrent_requests_get_exactly_their_own_answers(tmp_path: Path) -> None:
    """Batched under load, each answer is bit for bit the model's answer for those rows."""
    model = write_regressor(tmp_path / "model", trees=50)
    rows = [features(1 + i % 3, seed=1000 + i) for i in range(64)]
    with serve(tmp_path, SAGEMAKER_MODEL_SERVER_WORKERS="1") as (url, _):
        wait_for_ping(url)
        session = requests.Session()

        def ask(X):
            response = session.post(
                f"{url}/invocations",
                data=csv_rows(X),
                headers={"Content-Type": "text/csv", "Accept": "text/csv"},
            )
            assert response.status_code == 200, response.text
            return [float(v) for v in response.text.split("\n")]

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(ask, rows))
    for X, answer in zip(rows, answers, strict=True):
        assert answer == model.predict(X).tolist()


HANGING = "import time\ndef model_fn(model_dir):\n    time.sleep(3600)\n"


def test_a_hanging_model_fn_is_cut_by_the_load_timeout(base: Path) -> None:
    (base / "model" / "code").mkdir()
    (base / "model" / "code" / "inference.py").write_text(HANGING)
    with serve(base, SAGEMAKER_MODEL_LOAD_TIMEOUT="1") as (url, process):
        failed = wait_for_ping(url, expect=503, error="ModelLoadFailed")
        assert "did not load within 1 s" in failed.json()["message"]
        assert process.poll() is None


def test_multi_model_load_timeout_leaves_other_models_serving(tmp_path: Path) -> None:
    models = tmp_path / "models"
    good = write_regressor(models / "good" / "model")
    write_regressor(models / "stuck" / "model")
    (models / "stuck" / "model" / "code").mkdir()
    (models / "stuck" / "model" / "code" / "inference.py").write_text(HANGING)
    # The timeout applies to the good model's load too: long enough for it on a slow machine.
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_LOAD_TIMEOUT": "5"}
    with serve(tmp_path, **env) as (url, _):
        wait_for_ping(url)
        stuck = requests.post(
            f"{url}/models", json={"model_name": "stuck", "url": str(models / "stuck" / "model")}, timeout=120
        )
        assert stuck.status_code == 500
        assert stuck.json()["error"] == "ModelLoadTimeout"
        assert requests.get(f"{url}/models/stuck").status_code == 404
        loaded = requests.post(
            f"{url}/models", json={"model_name": "good", "url": str(models / "good" / "model")}, timeout=120
        )
        assert loaded.status_code == 200
        X = features(2)
        answer = requests.post(
            f"{url}/models/good/invoke",
            data=csv_rows(X),
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        )
        assert [float(v) for v in answer.text.split("\n")] == good.predict(X).tolist()


def test_a_preloaded_model_is_loaded_once_and_outlives_its_workers(base: Path) -> None:
    with serve(base, SAGEMAKER_PRELOAD_MODEL="true") as (url, process):
        wait_for_ping(url)
        X = features(4)
        first = requests.post(f"{url}/invocations", data=csv_rows(X), headers={"Content-Type": "text/csv"})
        assert first.status_code == 200, first.text
        log = base / "serve.log"
        assert "model preloaded before the workers start" in log.read_text()
        # A worker that dies is replaced from the main process, model and all.
        victim = min(started_workers(process))
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: workers_of(process.pid),
            120,
            "a new worker in place of the killed one",
            ready=lambda workers: victim not in workers and len(workers) == 2,
        )
        for _ in range(4):
            again = requests.post(
                f"{url}/invocations", data=csv_rows(X), headers={"Content-Type": "text/csv"}
            )
            assert (again.status_code, again.json()) == (200, first.json())
        # Two workers and a replacement, and the model was loaded once, before any of them.
        assert log.read_text().count("loaded model model from") == 1


def test_a_preload_that_fails_leaves_the_workers_to_say_why(base: Path) -> None:
    (base / "model" / "model.joblib").unlink()
    (base / "model" / "notes.txt").write_text("no model here")
    with serve(base, SAGEMAKER_PRELOAD_MODEL="true") as (url, _):
        failed = wait_for_ping(url, expect=503, error="ModelLoadFailed")
        assert "notes.txt" in failed.json()["message"]
    assert "preloading the model failed" in (base / "serve.log").read_text()
