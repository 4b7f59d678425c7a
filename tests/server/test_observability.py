"""Logs and metrics of the real server: JSON lines, and counts that cover every worker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests

from tests.server.process import serve
from tests.support import wait_for_ping, wait_until, write_regressor


def sample(metrics_text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_add_up_over_all_workers(tmp_path: Path) -> None:
    write_regressor(tmp_path / "model")
    with serve(tmp_path, SAGEMAKER_MODEL_SERVER_WORKERS="2") as (url, _):
        wait_for_ping(url)
        session = requests.Session()
        for _ in range(30):
            ok = session.post(f"{url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"})
            assert ok.status_code == 200
        for _ in range(5):
            bad = requests.post(f"{url}/invocations", data="1,2", headers={"Content-Type": "text/csv"})
            assert bad.status_code == 400
        # Both workers load the model at start; wait until the second has.
        text = wait_until(
            lambda: requests.get(f"{url}/metrics", timeout=30).text,
            120,
            "both workers to report their model loaded in /metrics",
            ready=lambda text: sample(text, "sagemaker_loaded_models") >= 2,
            describe=lambda text: f"sagemaker_loaded_models {sample(text, 'sagemaker_loaded_models')}",
        )
        # Each request may land on either worker; the scrape must count all of them.
        assert sample(text, "sagemaker_requests_total", route="/invocations", status="200") == 30
        assert sample(text, "sagemaker_requests_total", route="/invocations", status="400") == 5
        assert sample(text, "sagemaker_request_duration_seconds_count", route="/invocations") == 35
        assert sample(text, "sagemaker_loaded_models") == 2  # one model in each of two workers
        assert sample(text, "sagemaker_batch_requests_count") >= 1


def test_json_logs_carry_one_access_line_per_request(tmp_path: Path) -> None:
    write_regressor(tmp_path / "model")
    with serve(tmp_path, SAGEMAKER_LOG_FORMAT="json") as (url, _):
        wait_for_ping(url)
        requests.post(f"{url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"})
        requests.post(f"{url}/invocations", data="x", headers={"Content-Type": "text/csv"})
    lines = (tmp_path / "serve.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    access = [r for r in records if r["logger"] == "serving.access"]
    assert [(r["path"], r["status"]) for r in access] == [("/invocations", 200), ("/invocations", 400)]
    assert all(r["latency_ms"] > 0 and r["method"] == "POST" for r in access)
    assert access[0]["model"] == "model"
    assert any(r.get("event") == "load" and r["seconds"] > 0 for r in records)
    assert any(r["logger"].startswith("gunicorn") for r in records)


def test_multi_model_metrics_and_load_events_name_the_model(tmp_path: Path) -> None:
    models = tmp_path / "models"
    write_regressor(models / "alpha" / "model")
    with serve(tmp_path, SAGEMAKER_MULTI_MODEL="true") as (url, _):
        wait_for_ping(url)
        loaded = requests.post(
            f"{url}/models", json={"model_name": "alpha", "url": str(models / "alpha" / "model")}
        )
        assert loaded.status_code == 200
        answer = requests.post(
            f"{url}/models/alpha/invoke", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"}
        )
        assert answer.status_code == 200
        text = requests.get(f"{url}/metrics").text
        assert sample(text, "sagemaker_requests_total", route="/models/<name>/invoke", model="alpha") == 1
        assert sample(text, "sagemaker_model_load_seconds_count") >= 1
    log = (tmp_path / "serve.log").read_text()
    assert re.search(r"loaded model alpha from .* in [\d.]+ s", log)
    assert re.search(r"POST /models/alpha/invoke 200 [\d.]+ms model=alpha", log)
