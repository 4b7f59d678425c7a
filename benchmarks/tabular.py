"""DataFrame pipelines: what batching buys, what decoding costs, and the numeric path unchanged.

The pipeline: OneHotEncoder on `city`, six numbers passed through, a 50-tree
RandomForestClassifier, fitted on a DataFrame (`harness.tabular`). Measured in one run:

- in-process, in this Python: the pipeline's one-row and 1000-row `predict`, its
  ColumnTransformer alone, and decoding a one-row JSON record into the model's DataFrame
  (target: decoding at most 10 % of the one-row predict);
- the image serving the pipeline, one-row JSON records at 32 connections, with adaptive
  batching on and off (target: on at least 10x off), and the same requests handed to the
  pipeline's handler by 32 threads in this process, without HTTP, to show what batching
  itself gains where the server's per-request cost is out of the way;
- the numeric RF-100 one-row CSV at 32 connections on this image and on `--baseline`
  (an image of an earlier commit): the numeric path must not get slower.

usage: python -m benchmarks.tabular [--image TAG] [--baseline TAG] [--seconds N] [--json PATH]
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import options
from benchmarks.models import random_forest
from benchmarks.wrk import run_wrk
from harness import tabular
from harness.containers import serving
from harness.payloads import csv_rows
from serving.codecs import tables
from serving.codecs.content_types import parse_content_type
from serving.codecs.schema import schema_of


def median_ms(call: Callable[[], Any], repeats: int) -> float:
    call()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2] * 1000


def in_process(model: Any, row: dict[str, Any]) -> dict[str, float]:
    body = json.dumps([row]).encode()
    media_type = parse_content_type("application/json")
    schema = schema_of(model, Path("/nonexistent"))
    assert schema is not None
    frame = tables.decode(body, media_type, schema)
    thousand = pd.concat([frame] * 1000, ignore_index=True)
    return {
        "predict_1_row_ms": median_ms(lambda: model.predict(frame), 200),
        "predict_1000_rows_ms": median_ms(lambda: model.predict(thousand), 20),
        "column_transformer_1_row_ms": median_ms(lambda: model[0].transform(frame), 200),
        "decode_1_row_ms": median_ms(lambda: tables.decode(body, media_type, schema), 500),
        "dataframe_1_row_ms": median_ms(lambda: pd.DataFrame([row]), 500),
    }


def threads_in_process(model_dir: Path, body: bytes, batching: bool, requests: int = 1920) -> float:
    from concurrent.futures import ThreadPoolExecutor

    from serving.config import Settings
    from serving.inference.pipeline import Request
    from serving.models import lifecycle

    env = {} if batching else {"SAGEMAKER_BATCHING": "false"}
    handler = lifecycle.load("pipeline", model_dir, Settings.from_env(env))
    request = Request(body, "application/json", "application/json")

    def work(count: int) -> None:
        for _ in range(count):
            handler.invoke(request)

    began = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(work, [requests // 32] * 32))
    return requests / (time.perf_counter() - began)


def served(image: str, model_dir: Path, body: str, content_type: str, seconds: int, **env: str) -> float:
    with serving(image, {model_dir: "/opt/ml/model:ro"}, env) as running:
        result = run_wrk(f"{running.url}/invocations", body, content_type, 32, seconds, "application/json")
    if result.errors:
        raise RuntimeError(f"{image} answered {result.errors} requests with errors")
    return result.requests_per_s


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--baseline", help="an image of an earlier commit, for the numeric path")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pipeline_dir, forest_dir = Path(tmp) / "pipeline", Path(tmp) / "forest"
        model, frame = tabular.write_classifier_pipeline(pipeline_dir, trees=50)
        row = frame.iloc[0].to_dict()
        local = in_process(model, row)
        record = json.dumps([row])
        threads = {flag: threads_in_process(pipeline_dir, record.encode(), flag) for flag in (True, False)}
        on = served(args.image, pipeline_dir, record, "application/json", args.seconds)
        off = served(
            args.image, pipeline_dir, record, "application/json", args.seconds, SAGEMAKER_BATCHING="false"
        )
        _, numeric_row = random_forest(forest_dir)
        numeric = {
            args.image: served(args.image, forest_dir, csv_rows(numeric_row), "text/csv", args.seconds)
        }
        if args.baseline:
            numeric[args.baseline] = served(
                args.baseline, forest_dir, csv_rows(numeric_row), "text/csv", args.seconds
            )

    print("in-process, this Python (p50):")
    for name, value in local.items():
        print(f"  {name:<30} {value:8.3f} ms")
    decode_share = local["decode_1_row_ms"] / local["predict_1_row_ms"]
    print(f"  decode / one-row predict: {decode_share:.1%} (target <= 10%)")
    print(f"pipeline, one-row JSON records @32 conn: batching on {on:.0f} req/s, off {off:.0f} req/s")
    print(f"  on / off: {on / off:.1f}x (target >= 10x)")
    ratio = threads[True] / threads[False]
    on_t, off_t = threads[True], threads[False]
    print(f"  in this process, 32 threads, no HTTP: on {on_t:.0f}, off {off_t:.0f} req/s: {ratio:.1f}x")
    print("numeric RF-100 one-row CSV @32 conn:")
    for image, rate in numeric.items():
        print(f"  {image:<40} {rate:8.0f} req/s")
    if args.baseline:
        print(f"  this image / baseline: {numeric[args.image] / numeric[args.baseline]:.2f}x (target >= 1.0)")
    if args.json:
        figures = {
            "in_process": local,
            "batching_on_rps": on,
            "batching_off_rps": off,
            "numeric_rps": numeric,
        }
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
