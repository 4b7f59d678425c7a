"""The image on the hosts users run it on: a CPU quota smaller than the machine, a read-only
root filesystem with only /tmp writable, another user, 1 GB of memory and a 1 MB /dev/shm
(serverless inference and hardened hosts), in single- and multi-model mode."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
import requests

from harness.waiting import wait_until
from tests.container.conftest import Container, run_container
from tests.support import csv_rows, features, wait_for_ping

pytestmark = pytest.mark.docker
MODELS = "/opt/ml/models"
ENGINES = ["flask", "mms"]


def hardened(cpus: float) -> dict[str, object]:
    return {
        "nano_cpus": int(cpus * 1e9),
        "read_only": True,
        "tmpfs": {"/tmp": ""},
        "user": "1000",
        "shm_size": "1m",
        "mem_limit": "1g",
        "memswap_limit": "1g",
    }


@pytest.fixture(scope="module")
def parallel_forest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, object]:
    """A forest fitted with n_jobs=-1, as AWS's multi-model notebook fits them; readable by anyone."""
    from sklearn.ensemble import RandomForestRegressor

    X = features(400, seed=4)
    model = RandomForestRegressor(n_estimators=10, n_jobs=-1, random_state=0).fit(X, X.sum(axis=1))
    root = tmp_path_factory.mktemp("constrained")
    model_dir = root / "forest" / "model"
    model_dir.mkdir(parents=True)
    joblib.dump(model, model_dir / "model.joblib")
    # An archive larger than the 1 MB /dev/shm, reached by target-model routing: unpacking
    # it must not need a large /dev/shm.
    big = RandomForestRegressor(n_estimators=30, random_state=1).fit(features(3000, seed=7), np.arange(3000))
    joblib.dump(big, root / "big.joblib")
    with tarfile.open(root / "big.tar.gz", "w:gz") as tar:
        tar.add(root / "big.joblib", arcname="model.joblib")
    assert (root / "big.tar.gz").stat().st_size > 1_000_000
    (root / "big.joblib").unlink()
    for path in (root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root, model, big


def log_line(container: Container, pattern: str) -> str:
    found = wait_until(
        lambda: re.search(pattern, container.logs()), 30, f"a log line matching {pattern!r}", ready=bool
    )
    return found.group(0)


@pytest.fixture
def single(image: str, parallel_forest: tuple[Path, object]) -> Iterator[Container]:
    root = parallel_forest[0]
    with run_container(
        image, "serve", volumes={root / "forest" / "model": "/opt/ml/model:ro"}, options=hardened(0.5)
    ) as container:
        wait_for_ping(container.url, deadline_s=120)
        yield container


def test_half_a_cpu_read_only_as_another_user_single_model(single: Container, parallel_forest) -> None:
    model = parallel_forest[1]
    X = features(3, seed=5)
    answer = requests.post(
        f"{single.url}/invocations", data=csv_rows(X), headers={"Content-Type": "text/csv"}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == pytest.approx(model.predict(X).tolist())
    # Sized from the quota, not the host: one worker, one BLAS thread.
    assert (
        "with 1 workers x 32 threads (1 CPU from the cgroup quota 0.5; 1 BLAS thread per worker)"
        in log_line(single, r"serving /opt/ml/model on port 8080 .*")
    )
    # The model's n_jobs=-1 was a training choice: served with 1, and said so.
    assert "n_jobs -1 -> 1 (RandomForestRegressor)" in log_line(single, r"model model: n_jobs .*")
    user = single.exec_python("import os; print(os.getuid())").strip()
    assert user == "1000"


@pytest.mark.parametrize("engine", ENGINES)
def test_one_cpu_read_only_as_another_user_multi_model(
    images: dict[str, str], engine: str, parallel_forest
) -> None:
    root, model, big = parallel_forest
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER": engine}
    with run_container(
        images[engine], "serve", volumes={root: f"{MODELS}:ro"}, env=env, options=hardened(1)
    ) as mme:
        wait_for_ping(mme.url, deadline_s=180)
        loaded = requests.post(
            f"{mme.url}/models", json={"model_name": "forest", "url": f"{MODELS}/forest/model"}, timeout=120
        )
        assert loaded.status_code == 200, loaded.text
        X = features(2, seed=6)
        answer = requests.post(
            f"{mme.url}/models/forest/invoke",
            data=csv_rows(X),
            headers={"Content-Type": "text/csv"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert np.allclose(answer.json(), model.predict(X))
        if engine == "flask":
            # Target-model routing (our engine's): the archive unpacks outside /dev/shm.
            routed = requests.post(
                f"{mme.url}/invocations",
                data=csv_rows(X),
                headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Target-Model": "big.tar.gz"},
                timeout=120,
            )
            assert routed.status_code == 200, routed.text
            assert np.allclose(routed.json(), big.predict(X))
        started = (
            r"starting multi-model-server on port 8080 .*" if engine == "mms" else r"serving the models .*"
        )
        assert "(1 CPU from the cgroup quota 1; 1 BLAS thread per worker)" in log_line(mme, started)
        assert requests.delete(f"{mme.url}/models/forest", timeout=60).status_code == 200


def test_without_a_writable_tmp_serve_says_what_it_needs(image: str, parallel_forest) -> None:
    root = parallel_forest[0]
    options = hardened(1) | {"tmpfs": {}}
    with run_container(
        image, "serve", volumes={root / "forest" / "model": "/opt/ml/model:ro"}, options=options
    ) as container:
        exited = wait_until(container.exited, 60, "serve to exit", ready=lambda reason: reason is not None)
        assert "no writable temporary directory" in container.logs(), exited
        assert "--tmpfs /tmp" in container.logs()
