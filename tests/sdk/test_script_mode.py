"""Script mode through the SageMaker Python SDK v2 in local mode: the user's own training script.

The notebook's way of working, with its scripts unmodified (examples/housing): an `Estimator`
or `SKLearn` with `entry_point="training.py"` and `source_dir` fits one model per city, with
the code mounted (`local_code`) or fetched by the container from S3; `create_model(
entry_point="inference.py")` serves a trained model with the code from the training job's own
`s3://…/sourcedir.tar.gz`. Failures (a script that raises, requirements that cannot install,
a missing entry point, code missing from S3) run the image's `train` and `serve` directly.

S3 is a moto server in a container on local mode's `sagemaker-local` network, started from
the image under test with the moto that runs these tests mounted read-only (the image's Python
and this one are the same CPython minor version, as container/build-image.sh requires). This
process reaches it on a loopback port; the job's containers reach it at its address on that
network, through `S3_ENDPOINT_URL`, which the image's code fetcher prefers over the
`AWS_ENDPOINT_URL_S3` local mode sets to the host's view of S3. Nothing else is contacted.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import joblib
import numpy as np
import pytest
from sagemaker.deserializers import JSONDeserializer
from sagemaker.estimator import Estimator
from sagemaker.local import LocalSession
from sagemaker.serializers import CSVSerializer
from sagemaker.sklearn import SKLearn
from sagemaker.utils import create_tar_file

from harness import containers
from harness.moto import AWS_ENV
from harness.net import LOOPBACK
from harness.waiting import wait_for_http, wait_for_ping
from tests.sdk.compose import LABEL, NETWORK, ComposeJanitor
from tests.sdk.conftest import CALL_DEADLINE_S, FIT_DEADLINE_S, SERVE_DEADLINE_S, Timings
from tests.sdk.models import houses_csv
from tests.support import docker
from training.housing import write_location

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "housing"
ROLE = "arn:aws:iam::111111111111:role/SageMakerRole"
CITIES = ("Chicago_IL", "NewYork_NY")
ROWS = 600
TREES = 20
LEAF = 3
METRIC = {"Name": "median-AE", "Regex": r"AE-at-50th-percentile: ([0-9.]+)"}
# Deadlines for calls that have none of their own, generous enough for a slow machine.
RUN_DEADLINE_S = 300
S3_PORT = 5000


# --- data, code and S3 shared by the module ---------------------------------------------------


@pytest.fixture(scope="module")
def housing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`<dir>/<city>/{train,validation,test}/*.csv` for every city, written once."""
    data = tmp_path_factory.mktemp("housing")
    for city in CITIES:
        write_location(data, city, ROWS)
    return data


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's scripts as a user's `source_dir`: a copy, byte for byte."""
    copy = tmp_path_factory.mktemp("code") / "housing"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@dataclass(frozen=True)
class NetworkS3:
    host_endpoint: str  # for this process, on loopback
    network_endpoint: str  # for the job's containers, on the sagemaker-local network

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.host_endpoint,
            region_name=AWS_ENV["AWS_REGION"],
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        bucket = f"script-mode-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


@pytest.fixture(scope="module")
def network_s3(image: str) -> Iterator[NetworkS3]:
    """A moto server on the network local mode's containers join, published on loopback only."""
    import moto

    site_packages = Path(moto.__file__).resolve().parents[1]
    if docker("network", "inspect", NETWORK, check=False).returncode != 0:
        # Created here so the server is on it before the first job starts; local mode's
        # compose file names this network and uses it as it finds it.
        docker("network", "create", NETWORK, check=False)
    server = containers.client().containers.run(
        image,
        # Listening on its own address on the network only (the first, should it have several).
        ["-c", f'set -- $(hostname -i) && exec python -m moto.server -H "$1" -p {S3_PORT}'],
        entrypoint="/bin/sh",
        detach=True,
        name=f"script-mode-s3-{uuid.uuid4().hex[:8]}",
        network=NETWORK,
        ports={f"{S3_PORT}/tcp": (LOOPBACK, None)},
        volumes=[f"{site_packages}:/opt/moto-site:ro"],
        environment={"PYTHONPATH": "/opt/moto-site", **AWS_ENV},
        labels={LABEL: f"script-mode-s3-{uuid.uuid4().hex[:8]}"},
    )
    try:
        server.reload()
        host_port = server.attrs["NetworkSettings"]["Ports"][f"{S3_PORT}/tcp"][0]["HostPort"]
        address = server.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
        host_endpoint = f"http://{LOOPBACK}:{host_port}"

        def exited() -> str | None:
            server.reload()
            if server.status in ("exited", "dead"):
                return "the S3 server exited:\n" + server.logs().decode(errors="replace")[-3000:]
            return None

        wait_for_http(
            f"{host_endpoint}/moto-api/",
            120,
            "the S3 server on the sagemaker-local network to answer",
            ok=lambda response: response.status_code < 500,
            give_up=exited,
        )
        # An address, not the container's name: boto3 then addresses buckets by path, and
        # nothing depends on how a bucket's host name would resolve on the network.
        yield NetworkS3(host_endpoint, f"http://{address}:{S3_PORT}")
    finally:
        server.remove(force=True)
        # Fails harmlessly while other containers are still on it.
        docker("network", "rm", NETWORK, check=False)


# --- helpers ----------------------------------------------------------------------------------


def channels(housing: Path, city: str) -> dict[str, str]:
    return {name: (housing / city / name).as_uri() for name in ("train", "validation")}


def read_split(housing: Path, city: str, split: str) -> np.ndarray:
    return np.loadtxt(housing / city / split / f"{city}_{split}.csv", delimiter=",", ndmin=2)


def hyperparameters(city: str) -> dict[str, object]:
    return {"n-estimators": TREES, "min-samples-leaf": LEAF, "model-name": city}


def s3_session(local_session: Any, s3: NetworkS3) -> LocalSession:
    """A local session whose code goes through S3: the SDK uploads it, the container fetches it."""
    session = local_session(s3_endpoint_url=s3.host_endpoint)
    session.config["local"]["local_code"] = False
    return session


def script_job(city: str, source_dir: Path, session: Any, output_path: str, **more: Any) -> dict[str, Any]:
    """What a script-mode estimator is given, for either estimator class."""
    return {
        "role": ROLE,
        "instance_type": "local",
        "entry_point": "training.py",
        "source_dir": str(source_dir),
        "hyperparameters": hyperparameters(city),
        "metric_definitions": [METRIC],
        "output_path": output_path,
        "sagemaker_session": session,
        **more,
    }


def s3_job(city: str, bucket: str, source_dir: Path, local_session: Any, s3: NetworkS3) -> dict[str, Any]:
    """The same with the code in S3."""
    return script_job(
        city,
        source_dir,
        s3_session(local_session, s3),
        f"s3://{bucket}/output",
        # A bucket of the user's own: the SDK needs no STS call for a default bucket.
        code_location=f"s3://{bucket}/code",
        environment={"S3_ENDPOINT_URL": s3.network_endpoint},
    )


def fit(
    estimator: Any, inputs: Mapping[str, str], janitor: ComposeJanitor, timings: Timings, what: str
) -> str:
    """`estimator.fit(inputs)`; the training container's whole log (its output streams as the
    job's log does, which `metric_definitions` are matched against)."""
    before = set(janitor.containers())
    with timings.step(what), janitor.deadline(FIT_DEADLINE_S, what):
        estimator.fit(inputs)
    started = [container for container in janitor.containers() if container not in before]
    assert len(started) == 1, f"{what} ran {len(started)} containers"
    result = docker("logs", started[0])
    return (result.stdout + result.stderr).replace("\r\n", "\n")


def extract_model(archive: Path, into: Path) -> Any:
    with tarfile.open(archive) as tar:
        assert "model.joblib" in tar.getnames(), tar.getnames()
        tar.extractall(into, filter="data")
    return joblib.load(into / "model.joblib")


def local_file(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(parsed.netloc + parsed.path)


def download(s3: NetworkS3, uri: str, into: Path) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "s3", uri
    into.mkdir(parents=True, exist_ok=True)
    target = into / Path(parsed.path).name
    s3.client().download_file(parsed.netloc, parsed.path.lstrip("/"), str(target))
    return target


def check_city_model(model: Any, log: str, housing: Path, city: str) -> None:
    """The job ran the user's script with this city's hyperparameters and data, and logged the
    metric the estimator's regex scrapes, with the value the saved model gives."""
    assert type(model).__name__ == "RandomForestRegressor"
    assert model.n_estimators == TREES and len(model.estimators_) == TREES
    assert model.min_samples_leaf == LEAF
    assert model.n_features_in_ == 6
    # The argv exactly as AWS's toolkit builds it: sorted keys, JSON-decoded values.
    assert f"training.py --min-samples-leaf {LEAF} --model-name {city} --n-estimators {TREES}" in log, log
    assert f"{city}: training on {read_split(housing, city, 'train').shape[0]} rows" in log, log
    assert f"{city}: saved the model" in log, log
    medians = re.findall(METRIC["Regex"], log)
    assert len(medians) == 1, f"{METRIC['Regex']!r} matched {medians} in:\n{log}"
    validation = read_split(housing, city, "validation")
    expected = np.percentile(np.abs(model.predict(validation[:, 1:]) - validation[:, 0]), 50)
    assert float(medians[0]) == pytest.approx(expected, rel=1e-9)


def assert_same_predictions(answer: object, expected: np.ndarray) -> None:
    assert isinstance(answer, list), answer
    assert len(answer) == len(expected)
    assert np.asarray(answer, dtype=float) == pytest.approx(expected, rel=1e-9)


def container_env(container: str) -> dict[str, str]:
    inspected = json.loads(docker("inspect", container).stdout)[0]
    return dict(item.split("=", 1) for item in inspected["Config"]["Env"])


# --- SDK local mode, code mounted (local_code) ------------------------------------------------


def test_estimator_fits_one_model_per_city_with_the_users_script(
    image, local_session, janitor, work_dir, timings, housing, source_dir
):
    session = local_session()
    _, rows = houses_csv(25)
    predictions = {}
    for city in CITIES:
        output = work_dir / "output" / city
        output.mkdir(parents=True)
        estimator = Estimator(
            image_uri=image, instance_count=1, **script_job(city, source_dir, session, output.as_uri())
        )
        log = fit(estimator, channels(housing, city), janitor, timings, f"fit {city}")
        # local_code: the SDK mounted the directory; nothing was uploaded.
        assert "fetching the code from /opt/ml/code" in log, log
        assert estimator.hyperparameters()["sagemaker_program"] == '"training.py"'
        archive = local_file(estimator.model_data)
        assert output in archive.parents
        model = extract_model(archive, work_dir / "extracted" / city)
        check_city_model(model, log, housing, city)
        predictions[city] = model.predict(rows)
    # One model per city: each learned its own city's prices.
    assert not np.allclose(predictions[CITIES[0]], predictions[CITIES[1]])
    janitor.wait_until_stopped()


def test_sklearn_estimator_runs_the_same_script(
    image, local_session, janitor, work_dir, timings, housing, source_dir
):
    city = CITIES[0]
    session, output = local_session(), (work_dir / "output").as_uri()
    # No framework_version: the image is named.
    estimator = SKLearn(image_uri=image, **script_job(city, source_dir, session, output))
    # SKLearn JSON-encodes every value; the container decodes them to the same argv.
    assert estimator.hyperparameters()["model-name"] == json.dumps(city)
    log = fit(estimator, channels(housing, city), janitor, timings, f"fit {city}")
    model = extract_model(local_file(estimator.model_data), work_dir / "extracted")
    check_city_model(model, log, housing, city)
    janitor.wait_until_stopped()


# --- SDK local mode, code through S3 ----------------------------------------------------------


def test_estimator_with_code_from_s3(
    image, local_session, janitor, work_dir, timings, housing, source_dir, network_s3
):
    city = CITIES[1]
    bucket = network_s3.new_bucket()
    estimator = Estimator(
        image_uri=image,
        instance_count=1,
        **s3_job(city, bucket, source_dir, local_session, network_s3),
    )
    log = fit(estimator, channels(housing, city), janitor, timings, f"fit {city}")

    code = estimator.uploaded_code.s3_prefix
    assert code == f"s3://{bucket}/code/{estimator.latest_training_job.name}/source/sourcedir.tar.gz"
    assert estimator.hyperparameters()["sagemaker_submit_directory"] == json.dumps(code)
    assert f"fetching the code from {code}" in log, log
    with timings.step("download model"):
        model = extract_model(download(network_s3, estimator.model_data, work_dir / "s3"), work_dir / "model")
    check_city_model(model, log, housing, city)
    janitor.wait_until_stopped()


def test_sklearn_with_code_from_s3_then_create_model_serves_it(
    image, local_session, janitor, work_dir, timings, housing, source_dir, network_s3
):
    city = CITIES[0]
    bucket = network_s3.new_bucket()
    in_network = {"S3_ENDPOINT_URL": network_s3.network_endpoint}
    estimator = SKLearn(image_uri=image, **s3_job(city, bucket, source_dir, local_session, network_s3))
    log = fit(estimator, channels(housing, city), janitor, timings, f"fit {city}")
    code = estimator.uploaded_code.s3_prefix
    assert f"fetching the code from {code}" in log, log
    trained = extract_model(download(network_s3, estimator.model_data, work_dir / "s3"), work_dir / "model")
    check_city_model(trained, log, housing, city)

    # On SageMaker create_model reuses the training job's uploaded source archive; local mode
    # would pass the local source_dir instead, so the archive is named as SageMaker names it.
    model = estimator.create_model(entry_point="inference.py", source_dir=code, env=in_network)
    before = set(janitor.containers())
    with timings.step("deploy"), janitor.deadline(SERVE_DEADLINE_S, "create_model().deploy"):
        predictor = model.deploy(
            initial_instance_count=1,
            instance_type="local",
            serializer=CSVSerializer(),
            deserializer=JSONDeserializer(),
            wait=False,
        )
    serving = [container for container in janitor.containers() if container not in before]
    assert len(serving) == 1, serving
    env = container_env(serving[0])
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == code
    assert env["SAGEMAKER_PROGRAM"] == "inference.py"

    body, rows = houses_csv(25)
    with timings.step("predict 25 rows"), janitor.deadline(CALL_DEADLINE_S, "predict"):
        answer = predictor.predict(body)
    assert_same_predictions(answer, trained.predict(rows))
    served = docker("logs", serving[0])
    assert code in served.stdout + served.stderr, "the server's log does not name the code it fetched"

    with timings.step("delete endpoint"), janitor.deadline(CALL_DEADLINE_S, "delete_endpoint"):
        predictor.delete_endpoint()
    janitor.wait_until_stopped()
    model.delete_model()


# --- failures, with the image's train and serve run directly ----------------------------------


@dataclass(frozen=True)
class Run:
    exit_code: int
    log: str


def run_train(
    image: str, opt_ml: Path, env: Mapping[str, str] | None = None, network: str | None = None
) -> Run:
    """`docker run IMAGE train` on the /opt/ml tree `opt_ml`, with no network unless named."""
    connection = {"network": network} if network else {"network_mode": "none"}
    job = containers.client().containers.run(
        image,
        ["train"],
        detach=True,
        name=f"script-mode-train-{uuid.uuid4().hex[:8]}",
        volumes=[f"{opt_ml}:/opt/ml"],
        environment=dict(env or {}),
        labels={LABEL: f"script-mode-train-{uuid.uuid4().hex[:8]}"},
        **connection,
    )
    try:
        code = job.wait(timeout=RUN_DEADLINE_S)["StatusCode"]
        return Run(code, job.logs(stdout=True, stderr=True).decode(errors="replace"))
    finally:
        job.remove(force=True)


def job_tree(
    base: Path, housing: Path, city: str, program: str, submit_dir: str, code: Path | None = None
) -> Path:
    """An /opt/ml tree as SageMaker prepares it for a script-mode job: the SDK's
    hyperparameters (JSON-encoded values), the resource and channel configs, the train
    channel, and the code in /opt/ml/code when given."""
    opt_ml = base / "opt-ml"
    config = opt_ml / "input" / "config"
    config.mkdir(parents=True)
    values: dict[str, object] = {
        **hyperparameters(city),
        "sagemaker_program": program,
        "sagemaker_submit_directory": submit_dir,
        "sagemaker_container_log_level": 20,
        "sagemaker_job_name": f"script-mode-{city}",
        "sagemaker_region": AWS_ENV["AWS_REGION"],
    }
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in values.items()}))
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"})
    )
    (config / "inputdataconfig.json").write_text(json.dumps({"train": {"TrainingInputMode": "File"}}))
    shutil.copytree(housing / city / "train", opt_ml / "input" / "data" / "train")
    for directory in ("model", "output"):
        (opt_ml / directory).mkdir()
    if code is not None:
        shutil.copytree(code, opt_ml / "code")
    return opt_ml


def failure(opt_ml: Path) -> str:
    path = opt_ml / "output" / "failure"
    assert path.is_file(), "no /opt/ml/output/failure"
    return path.read_text(encoding="utf-8")


def test_a_script_that_raises_fails_the_job_with_the_toolkits_report(
    image, tmp_path, housing, source_dir, timings
):
    # The notebook's script, unmodified, on a train channel that holds no CSV file.
    opt_ml = job_tree(tmp_path, housing, CITIES[0], "training.py", "/opt/ml/code", code=source_dir)
    for path in (opt_ml / "input" / "data" / "train").iterdir():
        path.unlink()
    with timings.step("train"):
        run = run_train(image, opt_ml)

    assert run.exit_code == 1, run.log
    reason = failure(opt_ml)
    lines = reason.splitlines()
    assert lines[0] == "ExecuteUserScriptError:", reason
    assert lines[1] == "ExitCode 1", reason
    # The traceback is in the log; its last line is the failure's error message.
    assert "Traceback (most recent call last):" in run.log, run.log
    assert 'File "/opt/ml/code/training.py"' in run.log, run.log
    error = re.search(r'^ErrorMessage "(.+)"$', reason, re.MULTILINE)
    assert error is not None and error.group(1).startswith("ValueError: "), reason
    assert error.group(1) in run.log.splitlines(), run.log
    assert re.search(r'^Command ".*python\S* training\.py --min-samples-leaf 3 ', reason, re.MULTILINE), (
        reason
    )
    assert not (opt_ml / "model" / "model.joblib").exists()
    assert not (opt_ml / "output" / "success").exists()


def test_requirements_that_cannot_install_name_pips_error(image, tmp_path, housing, source_dir, timings):
    code = tmp_path / "code"
    shutil.copytree(source_dir, code)
    missing = "sklearn-sagemaker-missing-dependency==1.0"
    (code / "requirements.txt").write_text(f"{missing}\n")
    # The code as an archive beside the data, as network isolation hands it over.
    opt_ml = job_tree(tmp_path, housing, CITIES[0], "training.py", "/opt/ml/input/data/code/sourcedir.tar.gz")
    (opt_ml / "input" / "data" / "code").mkdir()
    create_tar_file(
        [str(path) for path in code.iterdir()], str(opt_ml / "input" / "data" / "code" / "sourcedir.tar.gz")
    )
    # No index: pip fails at once, as in a job without internet access.
    with timings.step("train"):
        run = run_train(image, opt_ml, env={"PIP_NO_INDEX": "1"})

    assert run.exit_code == 1, run.log
    reason = failure(opt_ml)
    assert reason.startswith("InstallRequirementsError"), reason
    assert f"No matching distribution found for {missing}" in reason, reason
    assert "training on" not in run.log, "the script ran although its requirements did not install"
    assert (opt_ml / "code" / "training.py").is_file(), "the archive was not unpacked into /opt/ml/code"


def test_a_missing_entry_point_is_named(image, tmp_path, housing, source_dir, timings):
    opt_ml = job_tree(tmp_path, housing, CITIES[0], "train_model.py", "/opt/ml/code", code=source_dir)
    with timings.step("train"):
        run = run_train(image, opt_ml)

    assert run.exit_code == 1, run.log
    reason = failure(opt_ml)
    assert "train_model.py" in reason, reason
    assert not (opt_ml / "output" / "success").exists()


def test_code_missing_from_s3_names_the_s3_error_in_train_and_serve(
    image, tmp_path, housing, network_s3, timings
):
    bucket = network_s3.new_bucket()
    missing = f"s3://{bucket}/code/gone/source/sourcedir.tar.gz"
    env = {**AWS_ENV, "S3_ENDPOINT_URL": network_s3.network_endpoint}

    opt_ml = job_tree(tmp_path, housing, CITIES[0], "training.py", missing)
    with timings.step("train"):
        run = run_train(image, opt_ml, env=env, network=NETWORK)
    assert run.exit_code == 1, run.log
    reason = failure(opt_ml)
    assert missing in reason and "NoSuchKey" in reason, reason

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    joblib.dump({"a": "model"}, model_dir / "model.joblib")
    server = containers.client().containers.run(
        image,
        ["serve"],
        detach=True,
        name=f"script-mode-serve-{uuid.uuid4().hex[:8]}",
        network=NETWORK,
        ports={"8080/tcp": (LOOPBACK, None)},
        volumes=[f"{model_dir}:/opt/ml/model:ro"],
        environment={**env, "SAGEMAKER_SUBMIT_DIRECTORY": missing, "SAGEMAKER_PROGRAM": "inference.py"},
        labels={LABEL: f"script-mode-serve-{uuid.uuid4().hex[:8]}"},
    )
    try:
        server.reload()
        port = server.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        with timings.step("serve until /ping fails"):
            answer = wait_for_ping(
                f"http://{LOOPBACK}:{port}",
                120,
                expect=503,
                error="ModelLoadFailed",
                give_up=lambda: containers.Container(server.id, "").exited(),
            )
        message = answer.json()["message"]
        assert missing in message and "NoSuchKey" in message, message
    finally:
        server.remove(force=True)
