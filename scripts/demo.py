"""The demo: per-city house-price models trained in the image and served from one endpoint.

Every step runs the real image the way SageMaker does: `docker run IMAGE train` over a
/opt/ml tree for each city, each model packaged as model.tar.gz, then one
`docker run IMAGE serve` in multi-model mode that picks the model per request from the
X-Amzn-SageMaker-Target-Model header, as InvokeEndpoint(TargetModel=...) does.

usage: python scripts/demo.py [--image TAG] [--cities N] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import requests

from harness.containers import run_to_completion, serving
from training import housing


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def train_city(image: str, work: Path, city: str, rows: int) -> Path:
    """Train one city's model in the image; return its model.tar.gz."""
    ml = work / "jobs" / city
    housing.write_location(work / "data", city, rows)
    (ml / "input" / "config").mkdir(parents=True)
    (ml / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"n-estimators": "100", "min-samples-leaf": "3", "model-name": city})
    )
    (ml / "input" / "data").mkdir()
    for channel in ("train", "validation"):
        (ml / "input" / "data" / channel).symlink_to(work / "data" / city / channel)
    started = time.monotonic()
    job = run_to_completion(image, "train", volumes={ml: "/opt/ml", work / "data": f"{work / 'data'}:ro"})
    if job.exit_code != 0:
        print(job.stdout + job.stderr, file=sys.stderr)
        raise SystemExit(f"training {city} failed: {(ml / 'output' / 'failure').read_text()[:1024]}")
    metric = next(line for line in job.stdout.splitlines() if line.startswith("AE-at-50th-percentile"))
    archive = work / "models" / f"{city}.tar.gz"
    archive.parent.mkdir(exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(ml / "model" / "model.joblib", arcname="model.joblib")
    print(f"    {city:<15} trained in {time.monotonic() - started:4.1f} s   {metric}   -> {archive.name}")
    return archive


def predict_prices(url: str, work: Path, cities: list[str]) -> None:
    features = "year,sqft,beds,baths,acres,garage"
    print(f"    {'city':<15} {features:<34} {'actual':>9} {'predicted':>9} {'ms':>7}")
    for city in cities:
        test = (work / "data" / city / "test" / f"{city}_test.csv").read_text().splitlines()[:3]
        for call, line in enumerate(test):
            actual, features = line.split(",", 1)
            sent = time.perf_counter()
            response = requests.post(
                f"{url}/invocations",
                data=features,
                headers={
                    "Content-Type": "text/csv",
                    "Accept": "text/csv",
                    "X-Amzn-SageMaker-Target-Model": f"{city}.tar.gz",
                },
                timeout=60,
            )
            elapsed_ms = (time.perf_counter() - sent) * 1000
            response.raise_for_status()
            # Each of the server's workers loads its own copy on the first request it gets.
            note = "  first call: unpack + load" if call == 0 else ""
            print(
                f"    {city:<15} {features:<34} {float(actual):>9,.0f} {float(response.text):>9,.0f} "
                f"{elapsed_ms:>7.1f}{note}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", default="sklearn-sagemaker:latest")
    parser.add_argument("--cities", type=int, default=4, choices=range(1, len(housing.LOCATIONS) + 1))
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    cities = list(housing.LOCATIONS[: args.cities])

    with tempfile.TemporaryDirectory(prefix="sklearn-demo-") as tmp:
        work = Path(tmp)
        step(f"training one model per city in the image ({args.rows} synthetic houses each, 60/30/10 split)")
        for city in cities:
            train_city(args.image, work, city, args.rows)

        step(
            f"docker run {args.image} serve, multi-model mode, {len(cities)} model archives in /opt/ml/models"
        )
        env = {"SAGEMAKER_MULTI_MODEL": "true"}
        with serving(args.image, {work / "models": "/opt/ml/models:ro"}, env) as server:
            print(f"    /ping is 200 after {server.ready_s:.1f} s at {server.url}")

            step(
                "POST /invocations, X-Amzn-SageMaker-Target-Model: <city>.tar.gz, houses from each test split"
            )
            try:
                predict_prices(server.url, work, cities)
            finally:
                step("docker stop")
                print(f"    server exited with code {server.stop(timeout_s=30)}")
    print("\ndone")


if __name__ == "__main__":
    main()
