"""The demo: train a housing-price model in the image, serve it, and ask it for prices.

Every step runs the real image the way SageMaker does: `docker run IMAGE train` over a
/opt/ml tree, then `docker run IMAGE serve` with the trained model at /opt/ml/model.

usage: python scripts/demo.py [--image TAG] [--location NAME] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from training import housing

PING_DEADLINE_S = 60


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def train(image: str, ml: Path, location: str, rows: int) -> None:
    step(f"generating {rows} synthetic houses for {location} (60/30/10 train/validation/test)")
    for written in housing.write_location(ml / "data", location, rows):
        print(f"    {written.split:<10} {written.rows:>6} rows  {written.path.relative_to(ml)}")
    config = ml / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(
        json.dumps({"n-estimators": "100", "min-samples-leaf": "3", "model-name": location})
    )
    for channel in ("train", "validation"):
        (ml / "input" / "data").mkdir(parents=True, exist_ok=True)
        (ml / "data" / location / channel).rename(ml / "input" / "data" / channel)

    step(f"docker run {image} train")
    started = time.monotonic()
    subprocess.run(["docker", "run", "--rm", "-v", f"{ml}:/opt/ml", image, "train"], check=True)
    print(f"    trained in {time.monotonic() - started:.1f} s -> {ml / 'model' / 'model.joblib'}")


def serve_and_predict(image: str, ml: Path, location: str) -> None:
    step(f"docker run {image} serve")
    started = time.monotonic()
    container = docker(
        "run", "-d", "-p", "127.0.0.1::8080", "-v", f"{ml / 'model'}:/opt/ml/model:ro", image, "serve"
    )
    try:
        url = "http://" + docker("port", container, "8080/tcp").split("\n")[0]
        deadline = started + PING_DEADLINE_S
        while True:
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                print(docker("logs", container), file=sys.stderr)
                raise SystemExit(f"the server did not become healthy within {PING_DEADLINE_S} s")
            time.sleep(0.1)
        print(f"    /ping is 200 after {time.monotonic() - started:.1f} s at {url}")

        step(f"POST /invocations with houses from the {location} test split (text/csv)")
        test_rows = (ml / "data" / location / "test" / f"{location}_test.csv").read_text().splitlines()[:5]
        header = "features (year, sqft, beds, baths, acres, garage)"
        print(f"    {header:<52} {'actual':>10} {'predicted':>10} {'ms':>6}")
        for line in test_rows:
            actual, features = line.split(",", 1)
            sent = time.perf_counter()
            response = requests.post(
                f"{url}/invocations",
                data=features,
                headers={"Content-Type": "text/csv", "Accept": "text/csv"},
            )
            elapsed_ms = (time.perf_counter() - sent) * 1000
            response.raise_for_status()
            predicted = float(response.text)
            print(f"    {features:<52} {float(actual):>10,.0f} {predicted:>10,.0f} {elapsed_ms:>6.1f}")

        step("all five rows in one request (one prediction per line)")
        batch = "\n".join(line.split(",", 1)[1] for line in test_rows)
        response = requests.post(
            f"{url}/invocations", data=batch, headers={"Content-Type": "text/csv", "Accept": "text/csv"}
        )
        print(f"    {response.headers['Content-Type']}:")
        for line in response.text.split("\n"):
            print(f"      {line}")
    finally:
        step("docker stop")
        docker("stop", "-t", "30", container)
        code = docker("inspect", "-f", "{{.State.ExitCode}}", container)
        docker("rm", container)
        print(f"    server exited with code {code}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", default="sklearn-sagemaker:latest")
    parser.add_argument("--location", default="Chicago_IL", choices=housing.LOCATIONS)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sklearn-demo-") as tmp:
        ml = Path(tmp)
        train(args.image, ml, args.location, args.rows)
        serve_and_predict(args.image, ml, args.location)
    print("\ndone")


if __name__ == "__main__":
    main()
