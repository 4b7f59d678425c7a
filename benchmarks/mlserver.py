"""MLServer with mlserver-sklearn, in a virtualenv of its own, serving one model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.processes import background, exited
from harness.waiting import wait_for_http

ROOT = Path(__file__).resolve().parents[1]
VENV = Path.home() / ".cache" / "sklearn-sagemaker" / "mlserver-venv"


def pinned(name: str) -> str:
    """`name==VERSION` as constraints.txt pins it for the image, so both load the same model file."""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.strip()
    raise LookupError(f"{name} is not pinned in constraints.txt")


# MLServer 1.7.1 does not start with uvloop 0.22 and later ("There is no current event
# loop" in its inference pool workers), so uvloop is pinned below that.
PACKAGES = [
    "mlserver==1.7.1",
    "mlserver-sklearn==1.7.1",
    pinned("scikit-learn"),
    pinned("numpy"),
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
    log = work / "mlserver.log"
    base = f"http://127.0.0.1:{http_port}"
    # Its own process group: MLServer forks inference pool workers, stopped with it.
    with background(
        [str(mlserver), "start", str(work / "mlserver")], log=log, own_group=True, stop_timeout_s=20
    ) as process:
        wait_for_http(
            f"{base}/v2/models/model/ready", 300, "MLServer to load the model", give_up=exited(process, log)
        )
        yield f"{base}/v2/models/model/infer"
