"""The multi-model notebook's shape: the SDK's `MultiDataModel` on a normal `sagemaker.Session`
pointed at sagemaker-local, one house-price model per city, more of them than fit in one
container's memory, so that the platform's side of the contract has to unload and reload."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import tabular
from harness.waiting import wait_until
from tests.local.conftest import BUCKET, REGION, ROLE, Local, containers
from tests.sdk.offline import OutboundGuard, apply_environment, sdk_environment, write_sdk_config

pytestmark = pytest.mark.docker
FEATURES = ["year", "sqft", "beds", "baths", "lot", "pool"]
# Houses per city model (a nearest-neighbours model keeps them all, about 110 MB): enough that
# the container holds only a few within the server's --memory (tests/local/conftest.py).
ROWS_PER_CITY = 900_000


@pytest.fixture
def sdk_session(local: Local, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A plain sagemaker.Session: only the endpoint variables say where AWS is."""
    variables = sdk_environment(write_sdk_config(tmp_path / "sagemaker"), tmp_path / "aws")
    variables |= {key: value for key, value in local.env().items() if key.startswith("AWS_ENDPOINT_URL_")}
    apply_environment(monkeypatch, variables)
    guard = OutboundGuard()
    guard.install(monkeypatch)
    import boto3
    import sagemaker

    yield sagemaker.Session(boto_session=boto3.Session(region_name=REGION))
    assert not guard.attempts, "calls that would leave the machine:\n" + "\n".join(guard.attempts)


@pytest.fixture(scope="module")
def city_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    """One nearest-neighbours price model per city, fitted on its own city's prices, as model.tar.gz."""
    import joblib
    from sklearn.neighbors import KNeighborsRegressor

    root = tmp_path_factory.mktemp("cities")
    models = {}
    for index, city in enumerate(tabular.CITIES):
        frame = tabular.houses(rows=ROWS_PER_CITY, seed=100 + index)
        # Each city prices a square foot differently, so each model answers differently.
        price = frame.sqft * (150 + 120 * index) + frame.beds * 10000
        model = KNeighborsRegressor(n_neighbors=5).fit(frame[FEATURES], price)
        model_dir = root / city
        model_dir.mkdir()
        joblib.dump(model, model_dir / "model.joblib")
        archive = root / f"{city}.tar.gz"
        # Level 1: random floats hardly compress, and level 9 takes seconds trying.
        with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
            tar.add(model_dir / "model.joblib", arcname="model.joblib")
        models[city] = (model, archive)
    return models


def test_multi_data_model_loads_and_unloads_per_city(
    local: Local, sdk_session: Any, city_models: dict[str, tuple[Any, Path]]
) -> None:
    from sagemaker.deserializers import CSVDeserializer
    from sagemaker.multidatamodel import MultiDataModel
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    prefix = f"s3://{BUCKET}/house-prices/models/"
    mme = MultiDataModel(
        name="house-prices",
        model_data_prefix=prefix,
        image_uri=local.image,
        role=ROLE,
        sagemaker_session=sdk_session,
        predictor_cls=Predictor,
        env={"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
    )
    # wait=False and a short poll: the SDK's own wait sleeps 30 s before it first asks.
    mme.deploy(
        initial_instance_count=1, instance_type="ml.m5.xlarge", endpoint_name="house-prices", wait=False
    )
    for city, (_, archive) in city_models.items():
        mme.add_model(model_data_source=str(archive), model_data_path=f"{city}.tar.gz")
    assert sorted(mme.list_models()) == sorted(f"{city}.tar.gz" for city in city_models)
    sdk_session.wait_for_endpoint("house-prices", poll=1)
    assert len(containers("endpoints/house-prices")) == 1

    predictor = Predictor(
        "house-prices",
        sagemaker_session=sdk_session,
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    houses = tabular.houses(rows=3, seed=42)[FEATURES]
    answers: dict[str, list[float]] = {}
    # Every city twice over: more models than fit, so each round reloads what was unloaded.
    for _round in range(2):
        for city, (model, _) in city_models.items():
            answer = predictor.predict(houses.to_numpy(), target_model=f"{city}.tar.gz")
            values = [float(row[0]) for row in answer]
            assert values == pytest.approx(list(model.predict(houses)), rel=1e-6)
            answers[city] = values
    assert len({tuple(values) for values in answers.values()}) == len(city_models)

    server_log = local.work_dir / "server.log"
    unloads = wait_until(
        lambda: server_log.read_text().count("to make room"),
        10,
        "the server to log its unloads",
        ready=lambda count: count > 0,
    )
    assert unloads >= len(city_models), "each city came back after being unloaded"
    # The container refused with 507 and was never killed for lack of memory.
    (running,) = containers("endpoints/house-prices")
    running.reload()
    assert running.attrs["State"]["Running"] and not running.attrs["State"]["OOMKilled"]

    predictor.delete_endpoint()
    assert containers("endpoints/house-prices") == []
