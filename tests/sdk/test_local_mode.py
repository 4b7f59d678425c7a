"""The SageMaker Python SDK v2 in local mode drives the real image through real docker compose.

Four flows, as a user would write them: Estimator.fit runs the image's `train`; Model.deploy
serves a model archive; Model.transformer runs a batch transform; MultiDataModel serves
per-city archives from S3 (a moto server on loopback) and routes by target model. Nothing
leaves the machine (see offline.py); each flow prints how long its steps took (pytest -s).
"""

from __future__ import annotations

import tarfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

import boto3
import joblib
import numpy as np
import pytest
from sagemaker.deserializers import JSONDeserializer
from sagemaker.estimator import Estimator
from sagemaker.model import Model
from sagemaker.multidatamodel import MultiDataModel
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer

from tests.sdk.compose import ComposeJanitor
from tests.sdk.conftest import CALL_DEADLINE_S, FIT_DEADLINE_S, SERVE_DEADLINE_S, Timings
from tests.sdk.models import houses_csv, package, train_city
from training.housing import write_location

pytestmark = pytest.mark.docker

ROLE = "arn:aws:iam::111111111111:role/SageMakerRole"


def file_path(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(parsed.netloc + parsed.path)


def assert_same_predictions(answer: object, expected: np.ndarray) -> None:
    assert isinstance(answer, list), answer
    assert len(answer) == len(expected)
    assert np.asarray(answer, dtype=float) == pytest.approx(expected, rel=1e-9)


def deploy_locally(model: Model, timings: Timings, janitor: ComposeJanitor, what: str) -> Predictor:
    """`model.deploy` on one local instance, CSV in and JSON out, within SERVE_DEADLINE_S.

    wait=False: the local endpoint is created synchronously (create_endpoint returns once /ping
    answers 200); wait=True only adds the SDK's fixed 30 s poll before a status check.
    """
    with timings.step("deploy"), janitor.deadline(SERVE_DEADLINE_S, what):
        return model.deploy(
            initial_instance_count=1,
            instance_type="local",
            serializer=CSVSerializer(),
            deserializer=JSONDeserializer(),
            wait=False,
        )


def test_estimator_fit_trains_with_the_images_train(image, local_session, janitor, work_dir, timings):
    data = work_dir / "data"
    write_location(data, "Chicago_IL", 600)
    output = work_dir / "output"
    output.mkdir()
    estimator = Estimator(
        image_uri=image,
        role=ROLE,
        instance_count=1,
        instance_type="local",
        hyperparameters={
            "n-estimators": 12,
            "min-samples-leaf": 3,
            "random-state": 0,
            "model-name": "chicago",
        },
        output_path=output.as_uri(),
        sagemaker_session=local_session(),
    )
    channels = {
        "train": (data / "Chicago_IL" / "train").as_uri(),
        "validation": (data / "Chicago_IL" / "validation").as_uri(),
    }
    with timings.step("fit"), janitor.deadline(FIT_DEADLINE_S, "Estimator.fit"):
        estimator.fit(channels)

    archive = file_path(estimator.model_data)
    assert archive.name == "model.tar.gz"
    assert archive.is_file()
    assert output in archive.parents
    extracted = work_dir / "extracted"
    with tarfile.open(archive) as tar:
        assert "model.joblib" in tar.getnames()
        tar.extractall(extracted, filter="data")
    model = joblib.load(extracted / "model.joblib")
    assert model.n_features_in_ == 6
    assert len(model.estimators_) == 12  # the hyperparameter reached `train`
    test = np.loadtxt(data / "Chicago_IL" / "test" / "Chicago_IL_test.csv", delimiter=",", ndmin=2)
    predictions = model.predict(test[:, 1:])
    assert predictions.shape == (test.shape[0],)
    assert np.all(np.isfinite(predictions))
    # A forest on this data gets within a few tens of thousands of dollars of the price.
    assert np.median(np.abs(predictions - test[:, 0])) < 50_000
    janitor.wait_until_stopped()


def test_model_deploy_predicts_like_the_model_in_process(image, local_session, janitor, work_dir, timings):
    model = train_city("Chicago_IL")
    archive = package(model, work_dir / "model")
    body, rows = houses_csv(25)
    session = local_session()
    sdk_model = Model(
        image_uri=image,
        model_data=archive.as_uri(),
        role=ROLE,
        predictor_cls=Predictor,
        sagemaker_session=session,
    )
    predictor = deploy_locally(sdk_model, timings, janitor, "Model.deploy")
    assert isinstance(predictor, Predictor)
    assert session.describe_endpoint(predictor.endpoint_name)["EndpointStatus"] == "InService"

    with timings.step("predict 25 rows"), janitor.deadline(CALL_DEADLINE_S, "predict"):
        answer = predictor.predict(body)
    assert_same_predictions(answer, model.predict(rows))
    with timings.step("predict 1 row"), janitor.deadline(CALL_DEADLINE_S, "predict"):
        single = predictor.predict(body.splitlines()[3])
    assert_same_predictions(single, model.predict(rows[3:4]))

    with timings.step("delete endpoint"), janitor.deadline(CALL_DEADLINE_S, "delete_endpoint"):
        predictor.delete_endpoint()
    janitor.wait_until_stopped()
    sdk_model.delete_model()


def test_transformer_writes_one_prediction_per_line(image, local_session, janitor, work_dir, timings):
    model = train_city("Chicago_IL")
    archive = package(model, work_dir / "model")
    # 100,000 lines: several MultiRecord payloads' worth, and every answer must line up.
    body, rows = houses_csv(100_000, seed=5)
    inputs = work_dir / "transform-in"
    inputs.mkdir()
    (inputs / "houses.csv").write_text(body, encoding="utf-8")
    outputs = work_dir / "transform-out"
    sdk_model = Model(
        image_uri=image, model_data=archive.as_uri(), role=ROLE, sagemaker_session=local_session()
    )
    transformer = sdk_model.transformer(
        instance_count=1,
        instance_type="local",
        output_path=outputs.as_uri(),
        assemble_with="Line",
        accept="text/csv",
        # Named explicitly: without it local mode takes BatchStrategy from the image's
        # /execution-parameters, which answers "MULTI_RECORD" as the SageMaker developer guide
        # shows, and SDK v2 then fails with 'ValueError: Invalid Batch Strategy: %s - Valid
        # Strategies: "SingleRecord", "MultiRecord"' (it only knows the API's spelling).
        strategy="MultiRecord",
    )
    with timings.step("transform"), janitor.deadline(SERVE_DEADLINE_S, "Transformer.transform"):
        transformer.transform(
            (inputs / "houses.csv").as_uri(),
            content_type="text/csv",
            split_type="Line",
            logs=False,
            wait=False,
        )
    with timings.step("wait"), janitor.deadline(CALL_DEADLINE_S, "Transformer.wait"):
        transformer.wait(logs=False)
    job = transformer.sagemaker_session.describe_transform_job(transformer.latest_transform_job.name)
    assert job["TransformJobStatus"] == "Completed"

    text = (outputs / "houses.csv.out").read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    assert len(lines) == len(rows), f"{len(lines)} output lines for {len(rows)} input lines"
    assert all(lines), "blank line in the output"
    assert np.array_equal(np.array([float(line) for line in lines]), model.predict(rows))
    janitor.wait_until_stopped()
    sdk_model.delete_model()


def test_multi_data_model_routes_by_target_model(
    image, local_session, janitor, work_dir, timings, moto_session
):
    cities = ("Chicago_IL", "NewYork_NY", "Houston_TX")
    with timings.step("train and package"):
        models = {city: train_city(city) for city in cities}
        archives = {city: package(models[city], work_dir / "mme" / city, f"{city}.tar.gz") for city in cities}
    body, rows = houses_csv(10)
    bucket = f"sdk-local-{uuid.uuid4().hex[:8]}"
    endpoint = moto_session
    s3 = boto3.Session().client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    for archive in archives.values():
        s3.upload_file(str(archive), bucket, f"models/{archive.name}")
    session = local_session(s3_endpoint_url=endpoint)
    mdm = MultiDataModel(
        name=f"sdk-mme-{janitor.run_id}",
        model_data_prefix=f"s3://{bucket}/models/",
        image_uri=image,
        role=ROLE,
        predictor_cls=Predictor,
        sagemaker_session=session,
    )
    assert sorted(mdm.list_models()) == sorted(f"{city}.tar.gz" for city in cities)
    predictor = deploy_locally(mdm, timings, janitor, "MultiDataModel.deploy")
    answers = {}
    with timings.step(f"predict x{len(cities)}"), janitor.deadline(CALL_DEADLINE_S, "predict"):
        for city in cities:
            answers[city] = predictor.predict(body, target_model=f"{city}.tar.gz")
    for city in cities:
        assert_same_predictions(answers[city], models[city].predict(rows))
    assert answers["Chicago_IL"] != answers["NewYork_NY"]
    assert answers["Chicago_IL"] != answers["Houston_TX"]
    with timings.step("delete endpoint"), janitor.deadline(CALL_DEADLINE_S, "delete_endpoint"):
        predictor.delete_endpoint()
    janitor.wait_until_stopped()
    mdm.delete_model()
