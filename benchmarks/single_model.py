"""Single-model serving: start-up time and one-row CSV latency against in-process predict.

Runs in one process, on one machine: the image's `serve` in docker with a
RandomForestRegressor(100 trees, 6 features) mounted, wrk on loopback, and the same
model's `predict` called in a loop. Prints absolute figures and their ratios.

usage: python -m benchmarks.single_model [--image TAG] [--seconds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import requests
from sklearn.ensemble import RandomForestRegressor

from benchmarks.wrk import run_wrk


def build_model(directory: Path) -> tuple[RandomForestRegressor, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((1000, 6))
    y = X @ np.array([150.0, 10, 20, 5, 3, -50]) + rng.normal(0, 1, 1000)
    model = RandomForestRegressor(n_estimators=100, min_samples_leaf=3, n_jobs=1, random_state=0).fit(X, y)
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / "model.joblib")
    return model, X[:1]


def in_process_p50_ms(model: RandomForestRegressor, row: np.ndarray, calls: int = 500) -> float:
    for _ in range(50):
        model.predict(row)
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        model.predict(row)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


IN_CONTAINER_TIMING = """
import json, statistics, time, joblib, numpy as np
model = joblib.load("/opt/ml/model/model.joblib")
row = np.array([json.loads(ROW)])
for _ in range(50):
    model.predict(row)
samples = []
for _ in range(500):
    start = time.perf_counter_ns()
    model.predict(row)
    samples.append((time.perf_counter_ns() - start) / 1e6)
print(statistics.median(samples))
"""


def in_container_p50_ms(container: str, row: np.ndarray) -> float:
    """The same predict timed by the image's own Python, the fair baseline for the server."""
    code = IN_CONTAINER_TIMING.replace("ROW", repr(json.dumps(row[0].tolist())))
    out = subprocess.run(
        ["docker", "exec", container, "python", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip())


def start_container(image: str, model_dir: Path) -> tuple[str, str, float]:
    """Start `serve`; return (id, url, seconds from docker run to the first 200 /ping)."""
    started = time.monotonic()
    container = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "-p",
            "127.0.0.1::8080",
            "-v",
            f"{model_dir}:/opt/ml/model:ro",
            image,
            "serve",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = (
        subprocess.run(["docker", "port", container, "8080/tcp"], capture_output=True, text=True, check=True)
        .stdout.split("\n")[0]
        .rsplit(":", 1)[1]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = started + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return container, url, time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.01)
    subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    raise RuntimeError("the container did not become healthy within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", default="sklearn-sagemaker:latest")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    size_mb = (
        int(
            subprocess.run(
                ["docker", "image", "inspect", "-f", "{{.Size}}", args.image],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        / 1e6
    )
    with tempfile.TemporaryDirectory() as tmp:
        model, row = build_model(Path(tmp) / "model")
        predict_ms = in_process_p50_ms(model, row)
        container, url, ready_s = start_container(args.image, Path(tmp) / "model")
        try:
            body = ",".join(repr(float(v)) for v in row[0])
            served = float(
                requests.post(
                    f"{url}/invocations",
                    data=body,
                    headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                ).text
            )
            assert served == model.predict(row)[0], "the container's answer differs from in-process predict"
            container_predict_ms = in_container_p50_ms(container, row)
            results = [run_wrk(f"{url}/invocations", body, "text/csv", c, args.seconds) for c in (1, 8, 32)]
        finally:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)

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
