"""Sizing from the container: what serving with n_jobs=1 and a CPU quota change, side by side.

1. The multi-model notebook's kind of model, a RandomForestRegressor(100 trees) fitted with
   n_jobs=-1, served as saved (SAGEMAKER_KEEP_MODEL_N_JOBS=true, what the image did before)
   and as the image now serves it (n_jobs=1 at load, which also opens the forest fast path):
   one-row CSV with wrk at 1 and 32 connections.
2. `docker run --cpus=1` on this machine: workers sized from the host's CPU count (what the
   image did before, forced with SAGEMAKER_MODEL_SERVER_WORKERS) against sized from the
   quota (now): the container's working set once ready, and one-row throughput.
3. `docker run` to the first 200 on /ping, for each of the above, and for the RF-100 model
   in the slim image, the full one (TAG-full) and with --baseline TAG another image (the
   median of three starts each), side by side with each image's size.
4. Memory against workers: the container's working set with a large forest (about 50 MB
   on disk) at 1, 2 and 4 workers, and what each worker beyond the first adds, with each
   worker loading its own copy (the default) and with SAGEMAKER_PRELOAD_MODEL=true.
5. Multi-model memory against workers: the working set each loaded RF-100 adds at 1, 2 and
   4 workers of our engine (models 11 to 20, through `POST /models`, each invoked once): a
   model is held by one worker until its traffic asks for more, so it should not grow.

usage: python -m benchmarks.sizing [--image TAG] [--baseline TAG] [--seconds N] [--json PATH]
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import joblib
from sklearn.ensemble import RandomForestRegressor

from benchmarks import options
from benchmarks.models import housing_like, random_forest
from benchmarks.multi_model import MODELS, load_to_first_prediction, model_copies
from benchmarks.wrk import WrkResult, run_wrk
from harness.containers import Container, client, image_for, serving
from harness.payloads import csv_rows
from harness.waiting import wait_until


@dataclass(frozen=True)
class Run:
    name: str
    ready_s: float
    memory_mb: float
    one: WrkResult
    many: WrkResult


def measure(
    name: str, image: str, model_dir: Path, body: str, seconds: int, env: dict[str, str], **docker
) -> Run:
    with serving(image, {model_dir: "/opt/ml/model:ro"}, env, **docker) as running:
        url = f"{running.url}/invocations"
        run_wrk(url, body, "text/csv", 4, 1)  # warm-up: every worker has answered once
        one = run_wrk(url, body, "text/csv", 1, seconds)
        many = run_wrk(url, body, "text/csv", 32, seconds)
        return Run(name, running.ready_s, running.memory_used_mb(), one, many)


def settled_mb(running: Container) -> float:
    """The working set once two readings half a second apart agree within 1 MB: the other
    workers load each model in the background after the one that answered."""

    def two_readings() -> tuple[float, float]:
        first = running.memory_used_mb()
        time.sleep(0.5)
        return first, running.memory_used_mb()

    readings = wait_until(two_readings, 60, "the working set to settle", ready=lambda r: abs(r[1] - r[0]) < 1)
    return readings[1]


def main() -> None:
    parser = options.parser(__doc__)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--baseline", help="another image to compare start-up times with")
    args = parser.parse_args()
    X, y = housing_like()
    body = csv_rows(X[:1])
    host_cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        model_dir.mkdir()
        model = RandomForestRegressor(n_estimators=100, min_samples_leaf=3, n_jobs=-1, random_state=0).fit(
            X, y
        )
        joblib.dump(model, model_dir / "model.joblib")
        ready = {}
        rf100 = Path(tmp) / "rf100"
        random_forest(rf100)
        # Both tags build from one Dockerfile: the start-up of each, and the baseline's.
        for image in filter(None, (args.baseline, args.image, image_for(args.image, "mms"))):
            starts = []
            for _ in range(3):
                with serving(image, {rf100: "/opt/ml/model:ro"}) as running:
                    starts.append(running.ready_s)
            ready[image] = statistics.median(starts)
        big_dir = Path(tmp) / "big"
        big_dir.mkdir()
        big_X, big_y = housing_like(rows=20_000)
        joblib.dump(
            RandomForestRegressor(n_estimators=30, random_state=0).fit(big_X, big_y), big_dir / "model.joblib"
        )
        big_mb = (big_dir / "model.joblib").stat().st_size / 2**20
        per_workers: dict[str, dict[int, float]] = {"own copies": {}, "preloaded": {}}
        for kind, preloaded in (("own copies", "false"), ("preloaded", "true")):
            for workers in (1, 2, 4):
                env = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(workers), "SAGEMAKER_PRELOAD_MODEL": preloaded}
                with serving(args.image, {big_dir: "/opt/ml/model:ro"}, env) as running:
                    run_wrk(f"{running.url}/invocations", body, "text/csv", 2 * workers, 1)
                    per_workers[kind][workers] = running.memory_used_mb()
        mme_root = Path(tmp) / "models"
        model_copies(mme_root, 20)
        per_model: dict[int, float] = {}
        for workers in (1, 2, 4):
            env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)}
            with serving(args.image, {mme_root: f"{MODELS}:ro"}, env) as running:
                # The first ten also pay for what each worker sets up on its first requests;
                # the next ten are what a model itself costs.
                for index in range(10):
                    load_to_first_prediction(running, f"m{index}", ",".join(["0.5"] * 6))
                ten = settled_mb(running)
                for index in range(10, 20):
                    load_to_first_prediction(running, f"m{index}", ",".join(["0.5"] * 6))
                per_model[workers] = (settled_mb(running) - ten) / 10
        one_cpu = {"options": {"nano_cpus": 10**9}}
        runs = [
            measure(
                "n_jobs=-1 kept (before)",
                args.image,
                model_dir,
                body,
                args.seconds,
                {"SAGEMAKER_KEEP_MODEL_N_JOBS": "true"},
            ),
            measure("n_jobs=1 at load (now)", args.image, model_dir, body, args.seconds, {}),
            measure(
                f"--cpus=1, {host_cpus} workers from the host (before)",
                args.image,
                model_dir,
                body,
                args.seconds,
                {"SAGEMAKER_MODEL_SERVER_WORKERS": str(host_cpus)},
                **one_cpu,
            ),
            measure(
                "--cpus=1, workers from the quota (now)",
                args.image,
                model_dir,
                body,
                args.seconds,
                {},
                **one_cpu,
            ),
        ]
    print(f"{'run':<44} {'ready s':>8} {'memory MB':>10} {'1 conn p50 ms':>14} {'32 conn req/s':>14}")
    for run in runs:
        print(
            f"{run.name:<44} {run.ready_s:>8.2f} {run.memory_mb:>10.0f} {run.one.p50_ms:>14.2f} "
            f"{run.many.requests_per_s:>14.0f}"
        )
    kept, serial, host, quota = runs
    print("ratios:")
    print(f"  n_jobs=1 / n_jobs=-1, 1-conn p50:      {serial.one.p50_ms / kept.one.p50_ms:.2f}")
    throughput = serial.many.requests_per_s / kept.many.requests_per_s
    print(f"  n_jobs=1 / n_jobs=-1, 32-conn req/s:   {throughput:.2f}")
    print(f"  --cpus=1 quota / host workers, memory: {quota.memory_mb / host.memory_mb:.2f}")
    print(
        f"  --cpus=1 quota / host workers, req/s:  {quota.many.requests_per_s / host.many.requests_per_s:.2f}"
    )
    print(f"working set with a {big_mb:.0f} MB forest (single model), MB:")
    print(f"  {'workers':<8} {'own copies':>11} {'preloaded':>10} {'preloaded / own':>16}")
    for workers in (1, 2, 4):
        own, shared = per_workers["own copies"][workers], per_workers["preloaded"][workers]
        print(f"  {workers:<8} {own:>11.0f} {shared:>10.0f} {shared / own:>16.2f}")
    for kind, used in per_workers.items():
        print(f"  {kind}: +{(used[4] - used[1]) / 3:.0f} MB per worker beyond the first")
    print("multi-model, our engine: working set per loaded RF-100 model")
    for workers, mb in per_model.items():
        print(f"  {workers} workers: {mb:>6.1f} MB per model ({mb / per_model[1]:.2f}x one worker's)")
    print("docker run -> first 200 on /ping, RF-100, median of 3:")
    for image, seconds in ready.items():
        size_mb = client().images.get(image).attrs["Size"] / 1e6
        print(f"  {image:<40} {seconds:>6.2f} s   image {size_mb:.0f} MB")
    if args.baseline:
        print(f"  {args.image} / {args.baseline}: {ready[args.image] / ready[args.baseline]:.2f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "runs": [asdict(run) for run in runs],
                    "ready_s": ready,
                    "memory_by_workers_mb": per_workers,
                    "mme_mb_per_model_by_workers": per_model,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
