"""Single-model serving: start-up time and one-row CSV latency against in-process predict.

Runs in one process, on one machine: the image's `serve` in docker with a
RandomForestRegressor(100 trees, 6 features) mounted, wrk on loopback, and the same
model's `predict` called in a loop. Prints absolute figures and their ratios.

usage: python -m benchmarks.single_model [--image TAG] [--seconds N] [--json PATH]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import requests

from benchmarks import options, predict_timing
from benchmarks.models import random_forest
from benchmarks.wrk import run_wrk
from harness.containers import client, serving
from harness.payloads import csv_rows

MODEL = "/opt/ml/model/model.joblib"


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    size_mb = client().images.get(args.image).attrs["Size"] / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        model, row = random_forest(Path(tmp) / "model")
        predict_ms = predict_timing.median_ms(model.predict, row)
        with serving(args.image, {Path(tmp) / "model": "/opt/ml/model:ro"}) as running:
            url, ready_s = running.url, running.ready_s
            body = csv_rows(row)
            served = float(
                requests.post(
                    f"{url}/invocations",
                    data=body,
                    headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                    timeout=60,
                ).text
            )
            assert served == model.predict(row)[0], "the container's answer differs from in-process predict"
            # The same predict timed by the image's own Python, the fair baseline for the server.
            spec = {"models": {"rf": MODEL}, "rows": {"1": 1.5}}
            container_predict_ms = json.loads(running.exec_python(predict_timing.source(), json.dumps(spec)))[
                "rf-1"
            ]
            results = [run_wrk(f"{url}/invocations", body, "text/csv", c, args.seconds) for c in (1, 8, 32)]

    print(f"image {args.image}: {size_mb:.0f} MB")
    print(f"docker run -> first 200 /ping: {ready_s:.2f} s")
    print(f"in-process RF-100 predict(1 row), image's Python: p50 {container_predict_ms:.2f} ms")
    print(f"  (same predict in this benchmark's Python: p50 {predict_ms:.2f} ms)")
    print("one-row CSV to /invocations (wrk, keep-alive, loopback):")
    for result in results:
        print(f"  {result.row()}")
    one = results[0]
    print(
        f"served p50 / in-process p50 at 1 connection: {one.p50_ms / container_predict_ms:.2f}x "
        f"(server overhead {one.p50_ms - container_predict_ms:.2f} ms)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "image_mb": size_mb,
                    "ready_s": ready_s,
                    "in_process_p50_ms": container_predict_ms,
                    "host_in_process_p50_ms": predict_ms,
                    "wrk": [r.__dict__ for r in results],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
