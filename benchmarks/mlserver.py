"""MLServer with mlserver-sklearn, in a virtualenv of its own, serving one model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

VENV = Path.home() / ".cache" / "sklearn-sagemaker" / "mlserver-venv"
# MLServer 1.7.1 does not start with uvloop 0.22 and later ("There is no current event
# loop" in its inference pool workers), so uvloop is pinned below that.
PACKAGES = [
    "mlserver==1.7.1",
    "mlserver-sklearn==1.7.1",
    "scikit-learn==1.9.1",
    "numpy==2.4.6",
    "uvloop==0.21.0",
]


def ensure_installed() -> Path:
    """Install MLServer into its own venv once; later runs reuse it."""
    mlserver = VENV / "bin" / "mlserver"
    stamp = VENV / "installed.txt"
    if not mlserver.exists() or not stamp.exists() or stamp.read_text() != " ".join(PACKAGES):
        print("    installing MLServer into", VENV, flush=True)
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *PACKAGES], check=True)
        stamp.write_text(" ".join(PACKAGES))
    return mlserver


def v2_body(rows: list[list[float]]) -> str:
    flat = [value for row in rows for value in row]
    tensor = {"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64", "data": flat}
    return json.dumps({"inputs": [tensor]})


@contextmanager
def serving(model_file: Path, work: Path, http_port: int, grpc_port: int, metrics_port: int) -> Iterator[str]:
    """Yield the V2 infer URL of `model_file` served by MLServer with its defaults."""
    mlserver = ensure_installed()
    model_dir = work / "mlserver" / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_file, model_dir / "model.joblib")
    (model_dir / "model-settings.json").write_text(
        json.dumps({"name": "model", "implementation": "mlserver_sklearn.SKLearnModel"})
    )
    (work / "mlserver" / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": http_port,
                "grpc_port": grpc_port,
                "metrics_port": metrics_port,
            }
        )
    )
    log = open(work / "mlserver.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(mlserver), "start", str(work / "mlserver")],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/v2/models/model/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"MLServer did not start; see {work / 'mlserver.log'}")
            time.sleep(0.1)
        yield f"{base}/v2/models/model/infer"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
