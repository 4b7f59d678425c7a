"""The side-by-side benchmark: every system on the same models and payloads, in one run.

Systems: this project's engine as shipped (batching on), the same with batching off,
the MMS engine, MLServer with mlserver-sklearn (its own venv), a no-op handler on our
server (the HTTP floor), and the in-process limit (the model's predict in a loop, no
HTTP, in the image's Python). Workloads: RandomForestRegressor(100 trees,
min_samples_leaf=3) and LinearRegression on six housing features, one-row CSV at 1 and
32 connections, 1000-row requests, multi-model load and warm latency, and a batch
transform of a large CSV in 6 MB MultiRecord payloads. wrk shares the machine's cores
with the servers, so compare systems by their ratios within one run.

usage: python -m benchmarks.suite [--quick] [--image TAG] [--out DIR]
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import requests
from sklearn.linear_model import LinearRegression

from benchmarks import mlserver, options, predict_timing
from benchmarks.models import housing_like, random_forest
from benchmarks.multi_model import load_to_first_prediction, model_copies
from benchmarks.wrk import run_wrk
from harness.containers import Container, image_for, run_to_completion, serving
from harness.net import free_port
from harness.payloads import csv_rows

NOOP = "def transform_fn(model, body, content_type, accept):\n    return b'0', 'text/csv'\n"

# What the in-process limit times in the image's Python (see benchmarks/predict_timing.py).
IN_PROCESS = {
    "models": {name: f"/models/{name}/model.joblib" for name in ("rf", "linear")},
    "rows": {"1": 1.5, "1000": 3},
    "fast": ["rf"],
    "throughput": {"rf": 150_000},
}


def in_process(image: str, models: Path, spec: dict[str, Any] = IN_PROCESS) -> dict[str, float]:
    """`predict_timing` with `spec`, in the image's Python, on the models under `models`."""
    done = run_to_completion(
        image,
        "python",
        "-c",
        predict_timing.source(),
        json.dumps(spec),
        volumes={models: "/models:ro"},
    )
    if done.exit_code != 0:
        raise RuntimeError(f"in-process timing failed ({done.exit_code}): {done.stderr[-3000:]}")
    return json.loads(done.stdout)


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def build_models(root: Path) -> dict[str, Path]:
    random_forest(root / "rf")
    X, y = housing_like()
    (root / "linear").mkdir(parents=True)
    joblib.dump(LinearRegression().fit(X, y), root / "linear" / "model.joblib")
    (root / "noop" / "code").mkdir(parents=True)
    (root / "noop" / "code" / "inference.py").write_text(NOOP)
    (root / "noop" / "model.joblib").write_bytes((root / "linear" / "model.joblib").read_bytes())
    return {"rf": root / "rf", "linear": root / "linear", "noop": root / "noop"}


def http_workloads(url: str, seconds: int, content_type: str, one: str, thousand: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for connections in (1, 32):
        run = run_wrk(url, one, content_type, connections, seconds, accept="*/*")
        result[f"c{connections}"] = run.__dict__
    run = run_wrk(url, thousand, content_type, 1, seconds, accept="*/*")
    result["rows1000"] = run.__dict__ | {"rows_per_s": 1000 / (run.p50_ms / 1000)}
    return result


def docker_system(image: str, env: dict[str, str], model_dir: Path, seconds: int) -> dict[str, Any]:
    one = csv_rows(np.random.default_rng(1).random((1, 6)))
    thousand = csv_rows(np.random.default_rng(2).random((1000, 6)))
    with serving(image, {model_dir: "/opt/ml/model:ro"}, env) as running:
        answer = requests.post(f"{running.url}/invocations", data=one, headers={"Content-Type": "text/csv"})
        answer.raise_for_status()
        return {"ready_s": running.ready_s} | http_workloads(
            f"{running.url}/invocations", seconds, "text/csv", one, thousand
        )


def mlserver_system(model_dir: Path, work: Path, seconds: int) -> dict[str, Any]:
    rows1 = np.random.default_rng(1).random((1, 6)).tolist()
    rows1000 = np.random.default_rng(2).random((1000, 6)).tolist()
    with mlserver.serving(model_dir / "model.joblib", work, free_port(), free_port(), free_port()) as url:
        requests.post(url, data=mlserver.v2_body(rows1), timeout=30).raise_for_status()
        return http_workloads(
            url, seconds, "application/json", mlserver.v2_body(rows1), mlserver.v2_body(rows1000)
        )


def batch_transform(
    image: str,
    model_dir: Path,
    rows: int,
    work: Path,
    env: dict[str, str] | None = None,
    ready: Callable[[Container], None] | None = None,
) -> dict[str, Any]:
    """What SageMaker batch transform does: MultiRecord payloads of at most 6 MB, split on lines.
    `ready(container)` returns once the server is as it should be measured."""
    X = np.random.default_rng(3).random((rows, 6))
    lines = [",".join(f"{v:.6f}" for v in row) for row in X]
    payloads, current, size = [], [], 0
    for line in lines:
        if size + len(line) + 1 > 6_000_000:
            payloads.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    payloads.append("\n".join(current))
    with serving(image, {model_dir: "/opt/ml/model:ro"}, env) as running:
        if ready is not None:
            ready(running)
        params = requests.get(f"{running.url}/execution-parameters").json()

        def post(body: str) -> int:
            response = requests.post(
                f"{running.url}/invocations",
                data=body,
                headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                timeout=600,
            )
            response.raise_for_status()
            return response.text.count("\n") + 1

        began = time.perf_counter()
        with ThreadPoolExecutor(params["MaxConcurrentTransforms"]) as pool:
            answered = sum(pool.map(post, payloads))
        elapsed = time.perf_counter() - began
    assert answered == rows, f"{answered} answers for {rows} rows"
    return {
        "rows": rows,
        "payloads": len(payloads),
        "seconds": elapsed,
        "rows_per_s": rows / elapsed,
        "execution_parameters": params,
    }


def multi_model(image: str, work: Path) -> dict[str, Any]:
    root = work / "mme"
    model_copies(root, 3)
    body = ",".join(["0.5"] * 6)
    out = {}
    for engine in ("flask", "mms"):
        env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER": engine}
        with serving(image_for(image, engine), {root: "/opt/ml/models:ro"}, env) as running:
            cold = [load_to_first_prediction(running, f"m{i}", body) for i in range(3)]
            warm = run_wrk(f"{running.url}/models/m0/invoke", body, "text/csv", 1, 3)
            out[engine] = {
                "ready_s": running.ready_s,
                "load_to_first_prediction_s": sorted(cold)[1],
                "warm_p50_ms": warm.p50_ms,
            }
    return out


def ratios(r: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(what, value, target) rows for the summary."""
    s = r["systems"]
    rows: list[tuple[str, float, str]] = []

    def rps(system: str, model: str, key: str) -> float:
        return s[system][model][key]["requests_per_s"]

    for other, target in (("ours-no-batching", ">= 10x"), ("mms", ">= 3x"), ("mlserver", ">= 3x")):
        if other in s:
            rows.append(
                (
                    f"RF-100 1-row @32 conn: ours / {other}",
                    rps("ours", "rf", "c32") / rps(other, "rf", "c32"),
                    target,
                )
            )
    overhead = s["ours"]["rf"]["c1"]["p50_ms"] - r["in_process"]["rf-fast-1"]
    rows.append(("RF-100 server overhead @1 conn (ms, p50 - in-process fast predict)", overhead, "<= 0.3"))
    rows.append(
        (
            "RF-100 @1 conn: in-process predict / ours p50",
            r["in_process"]["rf-1"] / s["ours"]["rf"]["c1"]["p50_ms"],
            "-",
        )
    )
    rows.append(
        (
            "LinearRegression 1-row @32 conn: ours / no-op",
            rps("ours", "linear", "c32") / rps("noop", "noop", "c32"),
            ">= 0.8",
        )
    )
    rows.append(
        (
            "batch transform: rows/s vs in-process predict",
            r["batch_transform"]["rows_per_s"] / r["in_process"]["rf-rows-per-s"],
            ">= 0.75",
        )
    )
    if "multi_model" in r:
        mm = r["multi_model"]
        rows.append(
            (
                "MME cold load -> first prediction, ours (ms)",
                mm["flask"]["load_to_first_prediction_s"] * 1000,
                "<= 50",
            )
        )
        rows.append(
            (
                "MME cold load: mms / ours",
                mm["mms"]["load_to_first_prediction_s"] / mm["flask"]["load_to_first_prediction_s"],
                "-",
            )
        )
    return rows


def chart(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = [name for name in ("ours", "ours-no-batching", "mms", "mlserver") if name in r["systems"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, model, title in (
        (axes[0], "rf", "RandomForestRegressor(100)"),
        (axes[1], "linear", "LinearRegression"),
    ):
        shown = [name for name in systems if model in r["systems"][name]]
        values = [r["systems"][name][model]["c32"]["requests_per_s"] for name in shown]
        names = list(shown)
        if model == "linear" and "noop" in r["systems"]:
            values.append(r["systems"]["noop"]["noop"]["c32"]["requests_per_s"])
            names.append("no-op (HTTP floor)")
        ax.barh(names, values, color="#4c72b0")
        ax.invert_yaxis()
        ax.set_title(f"{title}: one-row CSV, 32 connections")
        ax.set_xlabel("requests/s (higher is better)")
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:,.0f}", va="center")
    fig.suptitle(f"{r['machine']['cores']} cores, {r['machine']['cpu']}; wrk on the same cores", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = options.parser(__doc__, json_output=False)
    parser.add_argument(
        "--quick", action="store_true", help="short runs, small batch, no MLServer (CI smoke)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latest"))
    args = parser.parse_args()
    # The smoke run proves the suite runs end to end; its figures are not read.
    seconds = 1 if args.quick else 8
    batch_rows = 20_000 if args.quick else 1_000_000
    args.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "image": args.image,
        "systems": {},
    }

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = build_models(work / "models")
        print("== in-process predict (image's Python)", flush=True)
        result["in_process"] = in_process(args.image, work / "models")
        docker_systems = {
            "ours": {},
            "ours-no-batching": {"SAGEMAKER_BATCHING": "false"},
            "mms": {"SAGEMAKER_MODEL_SERVER": "mms"},
        }
        for name, env in docker_systems.items():
            # The smoke run needs the linear model only where a ratio reads it: ours vs no-op.
            for model in ("rf", "linear") if name == "ours" or not args.quick else ("rf",):
                print(f"== {name}, {model}", flush=True)
                result["systems"].setdefault(name, {})[model] = docker_system(
                    image_for(args.image, name), env, models[model], seconds
                )
        print("== no-op handler on our server", flush=True)
        result["systems"]["noop"] = {"noop": docker_system(args.image, {}, models["noop"], seconds)}
        if not args.quick:
            for model in ("rf", "linear"):
                print(f"== mlserver, {model}", flush=True)
                result["systems"].setdefault("mlserver", {})[model] = mlserver_system(
                    models[model], work, seconds
                )
        print("== multi-model: load and warm latency, both engines", flush=True)
        result["multi_model"] = multi_model(args.image, work)
        print(f"== batch transform: {batch_rows:,} rows through the container", flush=True)
        result["batch_transform"] = batch_transform(args.image, models["rf"], batch_rows, work)

    result["ratios"] = [{"what": w, "value": v, "target": t} for w, v, t in ratios(result)]
    (args.out / "results.json").write_text(json.dumps(result, indent=2))
    chart(result, args.out / "chart.png")
    print(
        f"\n{'system':<18} {'model':<7} {'1 conn rps':>10} {'p50 ms':>7} {'32 conn rps':>11} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'1000-row p50':>12}"
    )
    for name, per_model in result["systems"].items():
        for model, w in per_model.items():
            print(
                f"{name:<18} {model:<7} {w['c1']['requests_per_s']:>10.0f} {w['c1']['p50_ms']:>7.2f} "
                f"{w['c32']['requests_per_s']:>11.0f} {w['c32']['p50_ms']:>7.2f} {w['c32']['p99_ms']:>7.2f} "
                f"{w['rows1000']['p50_ms']:>10.2f}ms"
            )
    ip = result["in_process"]
    print(
        f"in-process predict p50: rf 1 row {ip['rf-1']:.2f} ms (fast path {ip['rf-fast-1']:.2f}), "
        f"1000 rows {ip['rf-1000']:.2f} ms; "
        f"linear 1 row {ip['linear-1']:.3f} ms"
    )
    print("\nratios (target):")
    for row in result["ratios"]:
        print(f"  {row['what']:<58} {row['value']:>8.2f}   {row['target']}")
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'chart.png'}")


if __name__ == "__main__":
    main()
