"""Multi-model endpoints on both engines, in the same run, on the same model.

For our engine (Flask under gunicorn) and AWS's multi-model-server: ready time of an
empty multi-model container, seconds from `POST /models` to the first prediction of a
RandomForestRegressor(100 trees), warm invoke latency (wrk, one-row CSV), memory per
loaded model, and how many such models one container holds under --memory=2g before
it answers 507.

usage: python -m benchmarks.multi_model [--image TAG] [--seconds N] [--json PATH]
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import requests

from benchmarks import options
from benchmarks.models import random_forest
from benchmarks.wrk import run_wrk
from harness.containers import Container, image_for, serving
from harness.waiting import describe_response, wait_until

ENGINES = ("flask", "mms")
MODELS = "/opt/ml/models"


def model_copies(root: Path, count: int) -> None:
    """`count` names for the same model file, as SageMaker would lay them out."""
    first = root / "m0" / "model" / "model.joblib"
    random_forest(first.parent)
    for index in range(1, count):
        target = root / f"m{index}" / "model"
        target.mkdir(parents=True)
        (target / "model.joblib").hardlink_to(first)


def load(running: Container, name: str) -> requests.Response:
    return requests.post(
        f"{running.url}/models", json={"model_name": name, "url": f"{MODELS}/{name}/model"}, timeout=300
    )


def invoke(running: Container, name: str, body: str) -> requests.Response:
    return requests.post(
        f"{running.url}/models/{name}/invoke",
        data=body,
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        timeout=60,
    )


def load_to_first_prediction(running: Container, name: str, body: str) -> float:
    began = time.perf_counter()
    assert load(running, name).status_code == 200
    wait_until(
        lambda: invoke(running, name, body),
        120,
        f"a prediction from {name}",
        ready=lambda response: response.status_code == 200,
        interval_s=0,
        describe=describe_response,
    )
    return time.perf_counter() - began


def measure(image: str, engine: str, root: Path, body: str, seconds: int) -> dict[str, object]:
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER": engine}
    result: dict[str, object] = {"engine": engine}
    with serving(image_for(image, engine), {root: f"{MODELS}:ro"}, env) as running:
        result["ready_s"] = running.ready_s
        empty_mb = running.memory_used_mb()
        result["load_to_first_prediction_s"] = load_to_first_prediction(running, "m0", body)
        for index in range(1, 10):
            assert load(running, f"m{index}").status_code == 200
            assert invoke(running, f"m{index}", body).status_code == 200
        time.sleep(1)  # let background copies in other workers finish before reading memory
        result["memory_per_model_mb"] = (running.memory_used_mb() - empty_mb) / 10
        warm = run_wrk(f"{running.url}/models/m0/invoke", body, "text/csv", 1, seconds)
        result["warm_invoke_p50_ms"] = warm.p50_ms
        result["warm_invoke_rps_1conn"] = warm.requests_per_s
    with serving(image, {root: f"{MODELS}:ro"}, env, memory="2g") as running:
        held = 0
        for index in range(len(list(root.iterdir()))):
            response = load(running, f"m{index}")
            if response.status_code == 200 and engine == "mms":
                # multi-model-server reports a model that did not fit on its first call.
                response = invoke(running, f"m{index}", body)
            if response.status_code != 200:
                result["first_refusal"] = response.status_code
                break
            held += 1
        result["models_under_2g"] = held
    return result


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--copies", type=int, default=600, help="model names available to load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "models"
        model_copies(root, args.copies)
        body = ",".join(["0.5"] * 6)
        results = [measure(args.image, engine, root, body, args.seconds) for engine in ENGINES]

    flask, mms = results
    rows = [
        ("empty MME container ready (s)", "ready_s", "{:.2f}"),
        ("POST /models -> first prediction (s)", "load_to_first_prediction_s", "{:.3f}"),
        ("warm invoke p50, 1 connection (ms)", "warm_invoke_p50_ms", "{:.2f}"),
        ("warm invoke req/s, 1 connection", "warm_invoke_rps_1conn", "{:.0f}"),
        ("memory per loaded model (MB)", "memory_per_model_mb", "{:.1f}"),
        ("RF-100 models held under --memory=2g", "models_under_2g", "{}"),
    ]
    print(f"{'':<40} {'ours':>10} {'mms':>10} {'mms/ours':>9}")
    for label, key, fmt in rows:
        ours, theirs = flask[key], mms[key]
        ratio = f"{theirs / ours:.1f}x" if isinstance(ours, (int, float)) and ours else "-"
        print(f"{label:<40} {fmt.format(ours):>10} {fmt.format(theirs):>10} {ratio:>9}")
    print(f"first refusal status: ours {flask.get('first_refusal')}, mms {mms.get('first_refusal')}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
