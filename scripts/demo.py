"""The demo: per-city house-price models trained in the image and served from one endpoint.

Every step runs the real image the way SageMaker does: `docker run IMAGE train` over a
/opt/ml tree for each city, with the training script of AWS's multi-model notebook's
shape (examples/housing/training.py, in script mode) or, with --built-in, the image's
own trainer; each model packaged as model.tar.gz, then one `docker run IMAGE serve` in
multi-model mode, with examples/housing/inference.py as the code, that picks the model
per request from the X-Amzn-SageMaker-Target-Model header, as
InvokeEndpoint(TargetModel=...) does.

usage: python scripts/demo.py [--image TAG] [--cities N] [--rows N] [--built-in]
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


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "housing"


def train_city(image: str, work: Path, city: str, rows: int, built_in: bool) -> Path:
    """Train one city's model in the image; return its model.tar.gz."""
    ml = work / "jobs" / city
    housing.write_location(work / "data", city, rows)
    (ml / "input" / "config").mkdir(parents=True)
    # As the SDK writes them: every value JSON-encoded, the script named by sagemaker_program.
    hyperparameters = {"n-estimators": "100", "min-samples-leaf": "3", "model-name": json.dumps(city)}
    volumes = {ml: "/opt/ml", work / "data": f"{work / 'data'}:ro"}
    if not built_in:
        hyperparameters |= {
            "sagemaker_program": json.dumps("training.py"),
            "sagemaker_submit_directory": json.dumps("/opt/ml/code"),
        }
        volumes[EXAMPLE] = "/opt/ml/code:ro"
    (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (ml / "input" / "data").mkdir()
    for channel in ("train", "validation"):
        (ml / "input" / "data" / channel).symlink_to(work / "data" / city / channel)
    started = time.monotonic()
    job = run_to_completion(image, "train", volumes=volumes)
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
    parser.add_argument("--built-in", action="store_true", help="the image's own trainer, not the script")
    args = parser.parse_args()
    cities = list(housing.LOCATIONS[: args.cities])

    with tempfile.TemporaryDirectory(prefix="sklearn-demo-") as tmp:
        work = Path(tmp)
        trainer = "the built-in trainer" if args.built_in else "examples/housing/training.py"
        step(f"training one model per city with {trainer} ({args.rows} houses each, 60/30/10 split)")
        for city in cities:
            train_city(args.image, work, city, args.rows, args.built_in)

        step(
            f"docker run {args.image} serve, multi-model mode, {len(cities)} model archives in /opt/ml/models"
        )
        env = {
            "SAGEMAKER_MULTI_MODEL": "true",
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/code",
        }
        volumes = {work / "models": "/opt/ml/models:ro", EXAMPLE: "/opt/ml/code:ro"}
        with serving(args.image, volumes, env) as server:
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
