"""SageMaker's multi-model container API, one suite run against both engines in docker."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
import requests

from tests.container.conftest import Container, run_container
from tests.support import csv_rows, docker, features, wait_for_ping, wait_until, write_regressor

pytestmark = pytest.mark.docker

MODELS = "/opt/ml/models"
ENGINES = ["flask", "mms"]

OWN_CODE = """
import json, os
import joblib

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def output_fn(prediction, accept):
    return json.dumps({"own_code": True, "prediction": prediction.tolist()}), "application/json"
"""


@pytest.fixture(scope="module")
def model_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """models/<name>/model as SageMaker lays them out, plus an archive and a bad model."""
    root = tmp_path_factory.mktemp("mme") / "models"
    trained = {}
    for index, name in enumerate(["alpha", "beta", "gamma"]):
        model_dir = root / name / "model"
        trained[name] = write_regressor(model_dir, trees=5 + index)
    custom = root / "custom" / "model"
    trained["custom"] = write_regressor(custom, trees=4)
    (custom / "code").mkdir()
    (custom / "code" / "inference.py").write_text(OWN_CODE)
    corrupt = root / "corrupt" / "model"
    corrupt.mkdir(parents=True)
    (corrupt / "model.joblib").write_bytes(b"this is not a pickle")
    archived = root.parent / "archived"
    trained["Chicago_IL.tar.gz"] = write_regressor(archived, trees=3)
    with tarfile.open(root / "Chicago_IL.tar.gz", "w:gz") as tar:
        tar.add(archived / "model.joblib", arcname="model.joblib")
    return root, trained


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def shared_mme(images: dict[str, str], engine: str, model_tree) -> Iterator[Container]:
    """One container per engine for the API tests; each test starts with no model loaded."""
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER": engine}
    with run_container(
        images[engine], "serve", volumes={model_tree[0]: f"{MODELS}:ro"}, env=env
    ) as container:
        wait_for_ping(container.url)
        yield container


@pytest.fixture
def mme(shared_mme: Container) -> Iterator[Container]:
    yield shared_mme
    # As AWS's own multi-model test does after each test: unload whatever it loaded.
    for model in requests.get(f"{shared_mme.url}/models", timeout=60).json()["models"]:
        gone = requests.delete(f"{shared_mme.url}/models/{model['modelName']}", timeout=60)
        assert gone.status_code == 200, gone.text


def load(container: Container, name: str, url: str | None = None) -> requests.Response:
    body = {"model_name": name, "url": url or f"{MODELS}/{name}/model"}
    return requests.post(f"{container.url}/models", json=body, timeout=120)


def invoke_csv(container: Container, name: str, rows: np.ndarray) -> requests.Response:
    return requests.post(
        f"{container.url}/models/{name}/invoke",
        data=csv_rows(rows),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
        timeout=60,
    )


def test_ping_is_healthy_with_no_model(mme: Container) -> None:
    assert requests.get(f"{mme.url}/ping").status_code == 200
    assert requests.get(f"{mme.url}/models").json()["models"] == []


def test_load_invoke_list_unload(mme: Container, model_tree) -> None:
    trained = model_tree[1]
    # Both engines answer in multi-model-server's words, which clients and AWS's tests read.
    loaded = load(mme, "alpha")
    assert (loaded.status_code, loaded.json()) == (200, {"status": "Workers scaled"})
    again = load(mme, "alpha")
    assert (again.status_code, again.json()["message"]) == (409, "Model alpha is already registered.")
    X = features(3, seed=21)

    # Several requests, so every worker of the engine answers at least once.
    for _ in range(6):
        csv = invoke_csv(mme, "alpha", X)
        assert csv.status_code == 200, csv.text
        assert [float(v) for v in csv.text.split("\n")] == trained["alpha"].predict(X).tolist()
    as_json = requests.post(
        f"{mme.url}/models/alpha/invoke",
        json=X.tolist(),
        headers={"Accept": "application/json"},
    )
    assert as_json.status_code == 200
    assert as_json.json() == trained["alpha"].predict(X).tolist()

    described = requests.get(f"{mme.url}/models/alpha")
    assert described.status_code == 200
    assert described.json()["modelName"] == "alpha"
    assert described.json()["modelUrl"] == f"{MODELS}/alpha/model"
    unknown = requests.get(f"{mme.url}/models/nope")
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Model not found: nope")

    unloaded = requests.delete(f"{mme.url}/models/alpha")
    assert (unloaded.status_code, unloaded.json()) == (200, {"status": 'Model "alpha" unregistered'})
    for _ in range(4):
        gone = invoke_csv(mme, "alpha", X)
        assert (gone.status_code, gone.json()["message"]) == (404, "Model not found: alpha")
    again = requests.delete(f"{mme.url}/models/alpha")
    assert (again.status_code, again.json()["message"]) == (404, "Model not found: alpha")
    assert requests.get(f"{mme.url}/models/alpha").status_code == 404


def test_list_pages(mme: Container) -> None:
    for name in ("alpha", "beta", "gamma"):
        assert load(mme, name).status_code == 200
    first = requests.get(f"{mme.url}/models", params={"limit": 2}).json()
    assert len(first["models"]) == 2
    assert "nextPageToken" in first
    second = requests.get(
        f"{mme.url}/models", params={"limit": 2, "next_page_token": first["nextPageToken"]}
    ).json()
    assert "nextPageToken" not in second
    names = {m["modelName"] for m in first["models"] + second["models"]}
    assert names == {"alpha", "beta", "gamma"}
    urls = {m["modelUrl"] for m in first["models"] + second["models"]}
    assert urls == {f"{MODELS}/{n}/model" for n in names}


def test_missing_url_is_404(mme: Container) -> None:
    missing = load(mme, "ghost", f"{MODELS}/ghost/model")
    assert missing.status_code == 404
    assert missing.json()["message"] == f"Model not found in model store: {MODELS}/ghost/model"
    relative = load(mme, "ghost", f"{MODELS}/../ghost")
    assert relative.status_code == 404
    assert relative.json()["message"] == f"Relative path is not allowed in url: {MODELS}/../ghost"


def test_corrupt_model_fails_cleanly_and_others_keep_serving(mme: Container, engine: str, model_tree) -> None:
    assert load(mme, "beta").status_code == 200
    failed = load(mme, "corrupt")
    if engine == "mms":
        # multi-model-server answers the load before its worker has loaded the model,
        # so the loader's message reaches the client on the first invocation instead.
        assert failed.status_code == 200
        failed = invoke_csv(mme, "corrupt", features(1))
        assert failed.status_code == 503
    else:
        assert failed.status_code == 400
    assert "model.joblib" in failed.text and "cannot load" in failed.text
    X = features(2, seed=5)
    ok = invoke_csv(mme, "beta", X)
    assert ok.status_code == 200
    assert [float(v) for v in ok.text.split("\n")] == model_tree[1]["beta"].predict(X).tolist()
    assert requests.get(f"{mme.url}/ping").status_code == 200


def test_model_with_its_own_inference_script(mme: Container, model_tree) -> None:
    assert load(mme, "custom").status_code == 200
    assert load(mme, "gamma").status_code == 200
    X = features(2, seed=8)
    own = requests.post(
        f"{mme.url}/models/custom/invoke", data=csv_rows(X), headers={"Content-Type": "text/csv"}
    )
    assert own.status_code == 200, own.text
    assert own.json() == {"own_code": True, "prediction": model_tree[1]["custom"].predict(X).tolist()}
    plain = requests.post(
        f"{mme.url}/models/gamma/invoke", data=csv_rows(X), headers={"Content-Type": "text/csv"}
    )
    assert plain.json() == model_tree[1]["gamma"].predict(X).tolist()


def test_bad_input_to_a_model_is_a_4xx(mme: Container) -> None:
    assert load(mme, "alpha").status_code == 200
    bad = requests.post(f"{mme.url}/models/alpha/invoke", data="1,2,3", headers={"Content-Type": "text/csv"})
    assert bad.status_code == 400
    assert "6 features" in bad.text


# --- our engine only: routing and path safety --------------------------------------


@pytest.fixture(scope="module")
def own_mme(image: str, model_tree) -> Iterator[Container]:
    env = {"SAGEMAKER_MULTI_MODEL": "true"}
    with run_container(image, "serve", volumes={model_tree[0]: f"{MODELS}:ro"}, env=env) as container:
        wait_for_ping(container.url)
        yield container


def target(container: Container, name: str, rows: np.ndarray) -> requests.Response:
    return requests.post(
        f"{container.url}/invocations",
        data=csv_rows(rows),
        headers={"Content-Type": "text/csv", "Accept": "text/csv", "X-Amzn-SageMaker-Target-Model": name},
    )


def test_target_model_routing_loads_on_first_use(own_mme: Container, model_tree) -> None:
    trained = model_tree[1]
    X = features(3, seed=13)
    for name, model in (("Chicago_IL.tar.gz", trained["Chicago_IL.tar.gz"]), ("beta", trained["beta"])):
        for _ in range(4):
            response = target(own_mme, name, X)
            assert response.status_code == 200, response.text
            assert [float(v) for v in response.text.split("\n")] == model.predict(X).tolist()
    assert trained["Chicago_IL.tar.gz"].predict(X).tolist() != trained["beta"].predict(X).tolist()


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../../etc/passwd", 400),
        ("/etc/passwd", 400),
        ("..%2F..%2Fetc%2Fpasswd", 400),
        ("x" * 2000, 400),
        ("nowhere.tar.gz", 404),
    ],
)
def test_target_names_cannot_leave_the_model_root(own_mme: Container, name: str, status: int) -> None:
    response = target(own_mme, name, features(1))
    assert response.status_code == status, response.text


def test_invocations_without_a_target_say_how_to_name_one(own_mme: Container) -> None:
    response = requests.post(
        f"{own_mme.url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 400
    assert "X-Amzn-SageMaker-Target-Model" in response.json()["message"]


# --- memory budget ------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models of about 20 MB each, so a few fill a small container."""
    from sklearn.ensemble import RandomForestRegressor

    root = tmp_path_factory.mktemp("big") / "models"
    X = features(20000, seed=1)
    model = RandomForestRegressor(n_estimators=12, min_samples_leaf=1, random_state=0).fit(X, X.sum(axis=1))
    first = root / "big0" / "model" / "model.joblib"
    first.parent.mkdir(parents=True)
    joblib.dump(model, first)
    for index in range(1, 16):
        model_dir = root / f"big{index}" / "model"
        model_dir.mkdir(parents=True)
        # Hard links: sixteen models on disk for the price of one.
        (model_dir / "model.joblib").hardlink_to(first)
    return root


def test_memory_budget_answers_507_instead_of_an_oom_kill(
    images: dict[str, str], engine: str, big_models: Path
) -> None:
    env = {
        "SAGEMAKER_MULTI_MODEL": "true",
        "SAGEMAKER_MODEL_SERVER": engine,
        "SAGEMAKER_MEMORY_HEADROOM_MB": "150",
    }
    extra = ("--memory=600m", "--memory-swap=600m")
    with run_container(
        images[engine], "serve", volumes={big_models: f"{MODELS}:ro"}, env=env, extra=extra
    ) as container:
        wait_for_ping(container.url)

        def load_and_check(name: str) -> requests.Response:
            response = load(container, name)
            if engine == "mms" and response.status_code == 200:
                # multi-model-server answers the load before its worker loads the model;
                # the 507 comes with the first invocation.
                response = invoke_csv(container, name, features(1))
            return response

        statuses = []
        for index in range(16):
            response = load_and_check(f"big{index}")
            statuses.append(response.status_code)
            if response.status_code != 200:
                break
        assert statuses[-1] == 507, statuses
        assert "budget" in response.text
        assert statuses[0] == 200, statuses
        inspected = json.loads(docker("inspect", container.id).stdout)[0]["State"]
        assert inspected["Running"] and not inspected["OOMKilled"]
        # What was loaded still answers, and unloading makes room again.
        answer = invoke_csv(container, "big0", features(1))
        assert answer.status_code == 200, answer.text
        refused = f"big{len(statuses) - 1}"
        retry = response
        for index in range(len(statuses) - 1):
            if engine == "mms":
                # Its load answered 200 and registered the model; take it back first.
                assert requests.delete(f"{container.url}/models/{refused}").status_code == 200
            assert requests.delete(f"{container.url}/models/big{index}").status_code == 200
            retry = load_and_check(refused)
            if retry.status_code == 200:
                break
        assert retry.status_code == 200, retry.text


def test_local_mode_layout_routes_to_archives_without_a_default_model(image: str, model_tree) -> None:
    """The SDK's local multi-model mode: archives in /opt/ml/model, no SAGEMAKER_MULTI_MODEL."""
    root, trained = model_tree
    with run_container(
        image, "serve", volumes={root / "Chicago_IL.tar.gz": "/opt/ml/model/Chicago_IL.tar.gz:ro"}
    ) as c:
        wait_for_ping(c.url)
        X = features(2, seed=2)
        response = target(c, "Chicago_IL.tar.gz", X)
        assert response.status_code == 200, response.text
        assert [float(v) for v in response.text.split("\n")] == trained["Chicago_IL.tar.gz"].predict(
            X
        ).tolist()
        plain = requests.post(
            f"{c.url}/invocations", data="1,2,3,4,5,6", headers={"Content-Type": "text/csv"}
        )
        assert plain.status_code == 400
        assert "Chicago_IL.tar.gz" in plain.json()["message"]


def test_sigterm_leaves_no_mms_process_behind(images: dict[str, str], model_tree) -> None:
    """`serve` is not PID 1 here, so orphans would survive it and show up."""
    script = "serve; echo serve-exited-$?; exec sleep 600"
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER": "mms"}
    with run_container(
        images["mms"],
        "-c",
        script,
        volumes={model_tree[0]: f"{MODELS}:ro"},
        env=env,
        extra=("--entrypoint", "sh"),
    ) as container:
        wait_for_ping(container.url)
        assert load(container, "alpha").status_code == 200
        assert invoke_csv(container, "alpha", features(1)).status_code == 200
        before = docker("top", container.id, "-eo", "pid,args").stdout
        assert "model_service_worker" in before and "java" in before
        # `docker top` shows host process ids; find and signal serve from inside.
        signal_serve = (
            "import os\n"
            "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
            "    argv = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
            "    if int(pid) != os.getpid() and argv[1:2] == [b'/opt/venv/bin/serve']:\n"
            "        os.kill(int(pid), 15)\n"
        )
        docker("exec", container.id, "python", "-c", signal_serve)
        wait_until(
            container.logs,
            120,
            "serve to exit",
            ready=lambda logs: "serve-exited-" in logs,
            interval_s=0.2,
            describe=lambda logs: logs[-2000:],
        )
        assert "serve-exited-0" in container.logs()
        after = docker("top", container.id, "-eo", "pid,args").stdout
        assert "java" not in after and "model_service_worker" not in after and "python" not in after, after
