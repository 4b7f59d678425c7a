"""The image as SageMaker runs it: `docker run IMAGE serve` with a model at /opt/ml/model."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from harness.containers import run_to_completion
from tests.container.conftest import Container, run_container
from tests.container.wheels import write_wheel
from tests.support import csv_rows, docker, features, wait_for_ping, write_regressor

pytestmark = pytest.mark.docker

MODEL = "/opt/ml/model"


def encode(rows: np.ndarray, content_type: str) -> bytes:
    if content_type == "text/csv":
        return csv_rows(rows).encode()
    if content_type == "application/json":
        return json.dumps(rows.tolist()).encode()
    if content_type == "application/jsonlines":
        return "\n".join(json.dumps(row) for row in rows.tolist()).encode()
    out = io.BytesIO()
    np.save(out, rows)
    return out.getvalue()


def decode(body: bytes, content_type: str) -> list[float]:
    if content_type == "text/csv":
        return [float(line) for line in body.decode().split("\n")]
    if content_type == "application/json":
        return json.loads(body)
    if content_type == "application/jsonlines":
        return [json.loads(line) for line in body.decode().split("\n")]
    return np.load(io.BytesIO(body), allow_pickle=False).tolist()


TYPES = ["text/csv", "application/json", "application/jsonlines", "application/x-npy"]


@pytest.fixture(scope="module")
def regressor(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    model_dir = tmp_path_factory.mktemp("rf") / "model"
    return model_dir, write_regressor(model_dir, trees=20)


@pytest.fixture(scope="module")
def served(image: str, regressor: tuple[Path, object]) -> Iterator[Container]:
    with run_container(image, "serve", volumes={regressor[0]: f"{MODEL}:ro"}) as container:
        wait_for_ping(container.url)
        yield container


@pytest.mark.parametrize("engine", ["flask", "mms"])
def test_image_carries_the_sagemaker_labels_and_no_entrypoint(images: dict[str, str], engine: str) -> None:
    config = json.loads(docker("image", "inspect", images[engine]).stdout)[0]["Config"]
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert config["Labels"]["com.amazonaws.sagemaker.capabilities.multi-models"] == "true"
    assert not config.get("Entrypoint")
    assert "8080/tcp" in config["ExposedPorts"]
    # Root by default, as SageMaker runs containers; the image's own user is there for hosts
    # that run it as another.
    assert not config.get("User")


def test_the_slim_image_names_the_full_one_for_multi_model_server(image: str) -> None:
    finished = run_to_completion(image, "serve", env={"SAGEMAKER_MODEL_SERVER": "mms"}, timeout_s=120)
    assert finished.exit_code == 2, finished
    assert "SAGEMAKER_MODEL_SERVER=mms needs" in finished.stderr
    assert "-full" in finished.stderr and "java" in finished.stderr
    # The image's user owns what `train` writes and nothing else under /opt/ml.
    paths = ["/opt/ml/model", "/opt/ml/output", "/opt/ml/code", "/opt/ml/input"]
    owners = run_to_completion(image, "stat", "-c", "%U", *paths).stdout.split()
    assert dict(zip(paths, owners, strict=True)) == dict(zip(paths, ["model"] * 3 + ["root"], strict=True))


# Imports what `serve` imports before it forks and what a forest model's unpickling adds, then
# names every module of the image's packages and standard library that Python had to compile
# from source.
UNCOMPILED = """
import importlib.util, os, sys
import serving.web.server as server
server.preload_modules()
import sklearn.ensemble, sklearn.compose, pandas
installed = (os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib"))
missing = [
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").startswith(installed) and module.__file__.endswith(".py")
    and getattr(module.__spec__, "origin", None) != "frozen"  # built into the interpreter
    and not os.path.exists(importlib.util.cache_from_source(module.__file__))
]
print(len(sys.modules), sorted(missing))
"""


def test_what_serve_imports_starts_from_bytecode(image: str) -> None:
    finished = run_to_completion(image, "python", "-c", UNCOMPILED, timeout_s=120)
    assert finished.exit_code == 0, finished.stderr
    imported, missing = finished.stdout.split(" ", 1)
    assert int(imported) > 500
    assert missing.strip() == "[]"


@pytest.mark.parametrize("content_type", TYPES)
@pytest.mark.parametrize("accept", TYPES)
def test_every_content_type_both_ways(served, regressor, content_type: str, accept: str) -> None:
    X = features(5, seed=3)
    response = requests.post(
        f"{served.url}/invocations",
        data=encode(X, content_type),
        headers={"Content-Type": content_type, "Accept": accept},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == accept
    np.testing.assert_allclose(decode(response.content, accept), regressor[1].predict(X), rtol=0, atol=0)


def test_one_csv_row_with_charset(served, regressor) -> None:
    X = features(1, seed=11)
    response = requests.post(
        f"{served.url}/invocations",
        data=csv_rows(X),
        headers={"Content-Type": "text/csv; charset=utf-8", "Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert float(response.text) == regressor[1].predict(X)[0]


def test_missing_or_wildcard_accept_gives_json(served) -> None:
    for accept in (None, "*/*"):
        headers = {"Content-Type": "text/csv"} | ({"Accept": accept} if accept else {})
        response = requests.post(f"{served.url}/invocations", data="1,2,3,4,5,6", headers=headers)
        assert response.headers["Content-Type"] == "application/json"


BAD = [
    ({"Content-Type": "image/png"}, b"\x89PNG", 415, "not supported"),
    ({"Content-Type": "text/csv", "Accept": "image/png"}, b"1,2,3,4,5,6", 406, "supported"),
    ({"Content-Type": "text/csv"}, b"sqft,beds,baths,lot,garage,year\n1,2,3,4,5,6", 400, "row 1, column 1"),
    ({"Content-Type": "text/csv"}, b"1,2,3,4,5,6\n1,2,3", 400, "row 2 has 3 columns"),
    ({"Content-Type": "text/csv"}, b"1,2,3", 400, "must have 6 features, got 3"),
    ({"Content-Type": "text/csv"}, b"", 400, "empty"),
    ({"Content-Type": "application/json"}, b'{"instances": [[1,2,3,4,5,"x"]]}', 400, "column 6"),
    ({"Content-Type": "application/json"}, b"[[1,2", 400, "invalid JSON"),
    ({"Content-Type": "application/x-npy"}, b"\x93NUMPY\x01\x00trunc", 400, "npy"),
]


def test_bad_input_is_a_clear_4xx_and_no_worker_dies(served) -> None:
    before = served.pids()
    for headers, body, status, words in BAD:
        response = requests.post(f"{served.url}/invocations", data=body, headers=headers)
        assert response.status_code == status, (headers, body, response.text)
        assert words in response.json()["message"], response.json()
    big = b"1,2,3,4,5,6\n" * (7 * 1024 * 1024 // 12)
    too_large = requests.post(f"{served.url}/invocations", data=big, headers={"Content-Type": "text/csv"})
    assert too_large.status_code == 413
    ok = requests.post(f"{served.url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"})
    assert ok.status_code == 200
    assert served.pids() == before


def test_custom_attributes_round_trip(served) -> None:
    response = requests.post(
        f"{served.url}/invocations",
        data="1,2,3,4,5,6",
        headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Custom-Attributes": "a=1"},
    )
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "a=1"


def test_execution_parameters(served) -> None:
    params = requests.get(f"{served.url}/execution-parameters").json()
    assert params["BatchStrategy"] == "MULTI_RECORD"
    assert params["MaxPayloadInMB"] == 6
    assert params["MaxConcurrentTransforms"] >= 1


INFERENCE = """
import json, os
import joblib
import numpy as np
import tinydep

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def input_fn(body, content_type):
    assert content_type == "application/json", content_type
    return np.array(json.loads(body)["houses"], dtype=float)

def predict_fn(data, model, context):
    return {"prices": model.predict(data).tolist(), "from": tinydep.VALUE,
            "attrs": context.custom_attributes}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/vnd.prices+json"
"""


def test_user_script_with_all_four_hooks_and_requirements(image: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model = write_regressor(model_dir)
    code = model_dir / "code"
    code.mkdir()
    (code / "inference.py").write_text(INFERENCE)
    wheel = write_wheel(code)
    (code / "requirements.txt").write_text(f"./{wheel.name}\n")
    with run_container(image, "serve", volumes={model_dir: MODEL}) as container:
        # pip installs the requirements before the model loads.
        wait_for_ping(container.url, deadline_s=300)
        X = features(2, seed=4)
        response = requests.post(
            f"{container.url}/invocations",
            data=json.dumps({"houses": X.tolist()}),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/vnd.prices+json",
                "X-Amzn-SageMaker-Custom-Attributes": "user=7",
            },
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/vnd.prices+json"
        body = response.json()
        assert body["prices"] == model.predict(X).tolist()
        assert body["from"] == "installed-from-requirements"
        assert body["attrs"] == "user=7"
        assert "installed" in container.logs()


def test_failing_requirements_make_ping_unhealthy_without_a_crash_loop(image: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    write_regressor(model_dir)
    code = model_dir / "code"
    code.mkdir()
    (code / "requirements.txt").write_text("./no-such-package-1.0-py3-none-any.whl\n")
    with run_container(image, "serve", volumes={model_dir: MODEL}) as container:
        failed = wait_for_ping(container.url, expect=503, error="ModelLoadFailed", deadline_s=300)
        assert "pip install" in failed.json()["message"]
        assert "no-such-package" in failed.json()["message"]
        inspected = json.loads(docker("inspect", container.id).stdout)[0]
        assert inspected["State"]["Running"] and inspected["RestartCount"] == 0


def test_bind_to_port(image: str, regressor) -> None:
    env = {"SAGEMAKER_BIND_TO_PORT": "9000"}
    with run_container(
        image, "serve", volumes={regressor[0]: f"{MODEL}:ro"}, env=env, port=9000
    ) as container:
        wait_for_ping(container.url)
        response = requests.post(
            f"{container.url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"}
        )
        assert response.status_code == 200


def test_docker_stop_exits_0(image: str, regressor) -> None:
    with run_container(image, "serve", volumes={regressor[0]: f"{MODEL}:ro"}) as container:
        wait_for_ping(container.url)
        docker("stop", "-t", "30", container.id, timeout=60)
        state = json.loads(docker("inspect", container.id).stdout)[0]["State"]
        assert state["ExitCode"] == 0
        assert "Shutting down" in container.logs()


def test_skops_model_is_served(image: str, tmp_path: Path) -> None:
    import skops.io
    from sklearn.ensemble import RandomForestRegressor

    X = features(100, seed=6)
    model = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, X.sum(axis=1))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    skops.io.dump(model, model_dir / "model.skops")
    with run_container(image, "serve", volumes={model_dir: f"{MODEL}:ro"}) as container:
        wait_for_ping(container.url)
        rows = features(3, seed=12)
        response = requests.post(
            f"{container.url}/invocations", data=csv_rows(rows), headers={"Content-Type": "text/csv"}
        )
        assert response.json() == model.predict(rows).tolist()
