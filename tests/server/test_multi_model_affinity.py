"""Multi-model affinity on the real server: a model lives in the workers its traffic needs.

Which worker holds which model is read from the holdings each worker publishes in the
server's state directory (`holds-<pid>.json`), the same files the server itself reads.
Requests go out on fresh connections, so gunicorn hands them to either worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from serving.config import shared_dir
from tests.server.process import serve, started_workers, workers_of
from tests.server.test_observability import sample
from tests.support import csv_rows, features, wait_for_ping, wait_until, write_regressor

TIMEOUT_S = 120
MULTI = {"SAGEMAKER_MULTI_MODEL": "true"}


def holders(process: subprocess.Popen[bytes], name: str) -> set[int]:
    """The live workers of `process` whose published holdings include `name`."""
    found = set()
    for pid in workers_of(process.pid):
        for path in Path(shared_dir()).glob(f"sklearn-serve-*/registry/holds-{pid}.json"):
            try:
                if name in json.loads(path.read_text()):
                    found.add(pid)
            except (OSError, ValueError):  # being replaced at this moment
                continue
    return found


def register(url: str, models: Path, name: str) -> None:
    loaded = requests.post(
        f"{url}/models", json={"model_name": name, "url": str(models / name / "model")}, timeout=TIMEOUT_S
    )
    assert loaded.status_code == 200, loaded.text


def predict(url: str, name: str, rows: str) -> list[float]:
    # A new connection each time: gunicorn gives it to whichever worker accepts first.
    response = requests.post(
        f"{url}/models/{name}/invoke",
        data=rows,
        headers={"Content-Type": "text/csv", "Accept": "text/csv", "Connection": "close"},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/csv"
    return [float(v) for v in response.text.split("\n")]


def passed_on(url: str, name: str) -> float:
    return sample(
        requests.get(f"{url}/metrics", timeout=TIMEOUT_S).text,
        "sagemaker_passed_on_requests_total",
        model=name,
    )


def test_a_loaded_model_is_held_once_and_answers_from_every_worker(tmp_path: Path) -> None:
    models = tmp_path / "models"
    model = write_regressor(models / "alpha" / "model")
    X = features(3, seed=7)
    with serve(tmp_path, **MULTI) as (url, process), ThreadPoolExecutor(4) as pool:
        wait_for_ping(url)
        started_workers(process)
        register(url, models, "alpha")
        assert len(holders(process, "alpha")) == 1
        answers = list(pool.map(lambda _: predict(url, "alpha", csv_rows(X)), range(50)))
        assert all(answer == model.predict(X).tolist() for answer in answers)
        # The worker that did not load it answered some of them through the holder.
        assert passed_on(url, "alpha") >= 1
        # The target header reaches the same model the same way.
        routed = requests.post(
            f"{url}/invocations",
            data=csv_rows(X),
            headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Target-Model": "alpha"},
            timeout=TIMEOUT_S,
        )
        assert routed.status_code == 200 and routed.json() == model.predict(X).tolist()


def test_requests_keep_succeeding_after_the_holder_is_killed(tmp_path: Path) -> None:
    models = tmp_path / "models"
    model = write_regressor(models / "alpha" / "model")
    X = features(2, seed=3)
    with serve(tmp_path, **MULTI) as (url, process):
        wait_for_ping(url)
        started_workers(process)
        register(url, models, "alpha")
        (holder,) = holders(process, "alpha")
        os.kill(holder, signal.SIGKILL)
        wait_until(
            lambda: (
                requests.post(
                    f"{url}/models/alpha/invoke",
                    data=csv_rows(X),
                    headers={"Content-Type": "text/csv"},
                    timeout=30,
                ).status_code
            ),
            TIMEOUT_S,
            "a worker to answer for the model its killed holder held",
            ready=lambda status: status == 200,
        )
        for _ in range(20):
            assert predict(url, "alpha", csv_rows(X)) == model.predict(X).tolist()
        assert holder not in holders(process, "alpha")


def test_a_busy_model_spreads_to_the_other_worker_and_an_idle_one_does_not(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_regressor(models / "busy" / "model")
    write_regressor(models / "idle" / "model")
    row = "1,2,3,4,5,6"
    with serve(tmp_path, **MULTI) as (url, process), ThreadPoolExecutor(4) as pool:
        wait_for_ping(url)
        started_workers(process)
        register(url, models, "busy")
        register(url, models, "idle")

        def traffic_then_holders() -> set[int]:
            list(pool.map(lambda _: predict(url, "busy", row), range(40)))
            return holders(process, "busy")

        wait_until(
            traffic_then_holders,
            TIMEOUT_S,
            "the second worker to take a copy of the busy model",
            ready=lambda held: len(held) == 2,
        )
        assert len(holders(process, "idle")) == 1


def test_unload_leaves_no_copy_and_every_worker_agrees(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_regressor(models / "alpha" / "model")
    with serve(tmp_path, **MULTI) as (url, process), ThreadPoolExecutor(4) as pool:
        wait_for_ping(url)
        started_workers(process)
        register(url, models, "alpha")
        # Make both workers hold it, so the unload has two copies to remove.
        wait_until(
            lambda: (
                list(pool.map(lambda _: predict(url, "alpha", "1,2,3,4,5,6"), range(40))),
                holders(process, "alpha"),
            )[1],
            TIMEOUT_S,
            "both workers to hold the model",
            ready=lambda held: len(held) == 2,
        )
        deleted = requests.delete(f"{url}/models/alpha", timeout=TIMEOUT_S)
        assert deleted.status_code == 200, deleted.text
        assert holders(process, "alpha") == set()
        close = {"Connection": "close"}
        for _ in range(10):  # fresh connections: both workers answer some
            assert requests.get(f"{url}/models", headers=close, timeout=TIMEOUT_S).json() == {"models": []}
            assert requests.get(f"{url}/models/alpha", headers=close, timeout=TIMEOUT_S).status_code == 404
            gone = requests.post(
                f"{url}/models/alpha/invoke",
                data="1,2,3,4,5,6",
                headers={"Content-Type": "text/csv", **close},
                timeout=TIMEOUT_S,
            )
            assert gone.status_code == 404
