"""The compiled predict path against scikit-learn's, on the image, in one run.

Workloads, each with SAGEMAKER_COMPILED_PREDICT=on and =off, measured only once every
worker serves the compiled form (its /metrics say so):

- RF-100 (the suite's RandomForestRegressor) one-row CSV at 32 connections, beside a
  no-op handler on the same server (the HTTP floor). Target: on ≥ 90 % of the no-op's
  requests/s.
- the encoder + RF-100 pipeline (OneHotEncoder on `city`, six numbers passed through,
  RandomForestClassifier(100), fitted on a DataFrame) with one-row JSON records at one
  connection, against the numeric RF-100's one-row CSV at one connection. Target: the
  pipeline's p50 ≤ 1.2x the numeric forest's, both compiled.
- batch transform of 1,000,000 rows with RF-100 in 6 MB MultiRecord payloads, against
  scikit-learn's own `predict` rows/s in the image's Python. Target: >= 3x.
- multi-model: `POST /models` to the first prediction of RF-100, the conversion running
  behind it. Target: ≤ 50 ms (scikit-learn answers until the compiled form is verified).

usage: python -m benchmarks.compiled [--image TAG] [--seconds N] [--rows N] [--json PATH]
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import requests

from benchmarks import options, suite
from benchmarks.multi_model import load_to_first_prediction, model_copies
from benchmarks.wrk import run_wrk
from harness import tabular
from harness.containers import Container, serving
from harness.payloads import csv_rows
from harness.waiting import wait_until

ON = {"SAGEMAKER_COMPILED_PREDICT": "on"}
OFF = {"SAGEMAKER_COMPILED_PREDICT": "off"}
RECORD = {"city": "Austin_TX", "year": 1990, "sqft": 1500.5, "beds": 3, "baths": 2.0, "lot": 0.25, "pool": 1}


def compiled_everywhere(running: Container, workers: int) -> None:
    """Wait until every worker reports the compiled form serving (each builds its own)."""

    def serving_count() -> float:
        text = requests.get(f"{running.url}/metrics", timeout=10).text
        found = re.findall(r'sagemaker_compiled_models_total\{[^}]*state="serving"[^}]*\} ([0-9.e+]+)', text)
        return sum(float(value) for value in found)

    wait_until(
        serving_count, 300, f"the compiled form serving in {workers} workers", ready=lambda n: n >= workers
    )


def workers(running: Container) -> int:
    """The worker count the server chose (the container's CPUs, unless set)."""
    return int(running.exec_python("from serving.config import Settings; print(Settings.from_env().workers)"))


def served(
    image: str, model_dir: Path, env: dict[str, str], body: str, content_type: str, seconds: int
) -> dict[str, Any]:
    with serving(image, {model_dir: "/opt/ml/model:ro"}, env) as running:
        requests.post(
            f"{running.url}/invocations", data=body, headers={"Content-Type": content_type}, timeout=30
        ).raise_for_status()
        if env.get("SAGEMAKER_COMPILED_PREDICT") == "on":
            compiled_everywhere(running, workers(running))
        out = {}
        for connections in (1, 32):
            out[f"c{connections}"] = run_wrk(
                f"{running.url}/invocations", body, content_type, connections, seconds, accept="*/*"
            ).__dict__
        return out


def in_process_rows_per_s(image: str, models: Path) -> float:
    """scikit-learn's `predict` rows/s on RF-100, the median of three runs in the image's Python."""
    spec = {"models": {"rf": "/models/rf/model.joblib"}, "rows": {}, "throughput": {"rf": 200_000}}
    return statistics.median(suite.in_process(image, models, spec)["rf-rows-per-s"] for _ in range(3))


def multi_model_first_answers(image: str, work: Path, env: dict[str, str]) -> list[float]:
    root = work / "mme"
    if not root.exists():
        model_copies(root, 5)
    body = ",".join(["0.5"] * 6)
    with serving(image, {root: "/opt/ml/models:ro"}, {"SAGEMAKER_MULTI_MODEL": "true", **env}) as running:
        return [load_to_first_prediction(running, f"m{i}", body) * 1000 for i in range(5)]


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the batch transform")
    args = parser.parse_args()
    result: dict[str, Any] = {"image": args.image}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = suite.build_models(work / "models")
        tabular.write_classifier_pipeline(work / "pipeline", trees=100)
        one = csv_rows(np.random.default_rng(1).random((1, 6)))
        record = json.dumps(RECORD)
        for label, env in (("on", ON), ("off", OFF)):
            print(f"== RF-100 numeric, compiled {label}", flush=True)
            result[f"rf_{label}"] = served(args.image, models["rf"], env, one, "text/csv", args.seconds)
            print(f"== encoder + RF-100 pipeline, JSON record, compiled {label}", flush=True)
            result[f"pipeline_{label}"] = served(
                args.image, work / "pipeline", env, record, "application/json", args.seconds
            )
        print("== no-op handler", flush=True)
        result["noop"] = served(args.image, models["noop"], {}, one, "text/csv", args.seconds)
        print("== scikit-learn predict in the image's Python (rows/s)", flush=True)
        result["in_process_rows_per_s"] = in_process_rows_per_s(args.image, work / "models")
        for label, env in (("on", ON), ("off", OFF)):
            print(f"== batch transform of {args.rows:,} rows, compiled {label}", flush=True)
            ready = (
                (lambda running: compiled_everywhere(running, workers(running))) if label == "on" else None
            )
            result[f"batch_{label}"] = suite.batch_transform(
                args.image, models["rf"], args.rows, work, env, ready
            )
            print(f"== multi-model load to first answer, compiled {label}", flush=True)
            result[f"mme_{label}_ms"] = multi_model_first_answers(args.image, work, env)

    def rps(key: str, c: str = "c32") -> float:
        return result[key][c]["requests_per_s"]

    def p50(key: str) -> float:
        return result[key]["c1"]["p50_ms"]

    rows = [
        ("RF-100 1-row @32: compiled on / no-op", rps("rf_on") / rps("noop"), ">= 0.90"),
        ("RF-100 1-row @32: compiled off / no-op", rps("rf_off") / rps("noop"), "-"),
        (
            "pipeline JSON p50 / numeric RF-100 p50 @1, compiled on",
            p50("pipeline_on") / p50("rf_on"),
            "<= 1.2",
        ),
        ("pipeline JSON p50 / numeric RF-100 p50 @1, compiled off", p50("pipeline_off") / p50("rf_off"), "-"),
        (
            "batch transform rows/s / in-process predict, compiled on",
            result["batch_on"]["rows_per_s"] / result["in_process_rows_per_s"],
            ">= 3",
        ),
        (
            "batch transform rows/s / in-process predict, compiled off",
            result["batch_off"]["rows_per_s"] / result["in_process_rows_per_s"],
            "-",
        ),
        (
            "MME POST /models -> first answer (ms, median of 5), compiled on",
            statistics.median(result["mme_on_ms"]),
            "<= 50",
        ),
        (
            "MME POST /models -> first answer (ms, median of 5), compiled off",
            statistics.median(result["mme_off_ms"]),
            "-",
        ),
    ]
    result["ratios"] = [{"what": w, "value": v, "target": t} for w, v, t in rows]
    print(
        f"\n{'workload':<22} {'1 conn rps':>10} {'p50 ms':>7} {'32 conn rps':>11} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for key in ("rf_on", "rf_off", "pipeline_on", "pipeline_off", "noop"):
        w = result[key]
        print(
            f"{key:<22} {w['c1']['requests_per_s']:>10.0f} {w['c1']['p50_ms']:>7.2f} "
            f"{w['c32']['requests_per_s']:>11.0f} {w['c32']['p50_ms']:>7.2f} {w['c32']['p99_ms']:>7.2f}"
        )
    print(f"\nin-process predict: {result['in_process_rows_per_s']:,.0f} rows/s")
    for label in ("on", "off"):
        b = result[f"batch_{label}"]
        print(f"batch transform, compiled {label}: {b['rows_per_s']:,.0f} rows/s ({b['seconds']:.1f} s)")
    print(f"\n{'ratio':<66} {'value':>8}  target")
    for what, value, target in rows:
        print(f"{what:<66} {value:>8.2f}  {target}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
