"""The models teams ship, as saved, in docker: both engines, multi-model mode, target routing.

One container per engine holds every model of `harness.tabular` through the
/models API; the answers are compared with the same models' in-process ones.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from harness import tabular
from tests.container.conftest import Container, run_container
from tests.support import wait_for_ping

pytestmark = pytest.mark.docker

MODELS = "/opt/ml/models"
ENGINES = ["flask", "mms"]
HOUSES = tabular.houses(6, seed=11)
CSV = HOUSES.to_csv(index=False, header=False).strip()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("tabular") / "models"
    models = {
        "classifier": tabular.write_classifier_pipeline(root / "classifier" / "model", trees=20)[0],
        "regressor": tabular.write_regressor_with_missing_values(root / "regressor" / "model")[0],
        "text": tabular.write_text_classifier(root / "text" / "model")[0],
        "transformer": tabular.write_transformer(root / "transformer" / "model")[0],
        "labels": tabular.write_label_encoder(root / "labels" / "model"),
    }
    # The same classifier as an archive, reached by target-model routing only.
    with tarfile.open(root / "classifier.tar.gz", "w:gz") as tar:
        tar.add(root / "classifier" / "model" / "model.joblib", arcname="model.joblib")
    return root, models


@pytest.fixture(scope="module", params=ENGINES)
def server(
    request: pytest.FixtureRequest, images: dict[str, str], trained
) -> Iterator[tuple[str, Container]]:
    env = {"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_MODEL_SERVER": request.param}
    with run_container(
        images[request.param], "serve", volumes={trained[0]: f"{MODELS}:ro"}, env=env
    ) as container:
        wait_for_ping(container.url, deadline_s=120)
        for name in trained[1]:
            body = {"model_name": name, "url": f"{MODELS}/{name}/model"}
            loaded = requests.post(f"{container.url}/models", json=body, timeout=120)
            assert loaded.status_code == 200, loaded.text
        yield request.param, container


def invoke(container: Container, name: str, body: str, content_type: str, accept: str, **headers: str):
    return requests.post(
        f"{container.url}/models/{name}/invoke",
        data=body.encode(),
        headers={"Content-Type": content_type, "Accept": accept, **headers},
        timeout=120,
    )


def test_a_dataframe_pipeline_from_csv_json_and_json_lines(server, trained) -> None:
    _, container = server
    model = trained[1]["classifier"]
    want = model.predict(HOUSES).tolist()  # type: ignore[attr-defined]
    csv = invoke(container, "classifier", CSV, "text/csv", "text/csv")
    assert csv.status_code == 200, csv.text
    assert csv.text.split("\n") == want
    records = json.dumps(HOUSES.to_dict(orient="records"))
    assert invoke(container, "classifier", records, "application/json", "application/json").json() == want
    lines = "\n".join(json.dumps(r) for r in HOUSES.to_dict(orient="records"))
    got = invoke(container, "classifier", lines, "application/jsonlines", "application/jsonlines")
    assert [json.loads(line) for line in got.text.split("\n")] == want
    header = invoke(
        container, "classifier", HOUSES.to_csv(index=False).strip(), "text/csv; header=present", "text/csv"
    )
    assert header.text.split("\n") == want


def test_probabilities_on_request(server, trained) -> None:
    _, container = server
    model = trained[1]["classifier"]
    attributes = {"X-Amzn-SageMaker-Custom-Attributes": "output=predicted_label,probabilities"}
    got = invoke(container, "classifier", CSV, "text/csv", "application/json", **attributes)
    assert got.status_code == 200, got.text
    assert (
        got.headers["X-Amzn-SageMaker-Custom-Attributes"] == attributes["X-Amzn-SageMaker-Custom-Attributes"]
    )
    want = [
        {"predicted_label": label, "probabilities": p.tolist()}
        for label, p in zip(model.predict(HOUSES), model.predict_proba(HOUSES), strict=True)  # type: ignore[attr-defined]
    ]
    assert got.json() == {"predictions": want}


def test_missing_values_reach_a_model_that_handles_them(server, trained) -> None:
    _, container = server
    model = trained[1]["regressor"]
    frame = pd.DataFrame({"year": [2001.0, 1990.0], "sqft": [1500.0, np.nan], "lot": [np.nan, 0.5]})
    got = invoke(container, "regressor", "2001,1500,\n1990,,0.5", "text/csv", "application/json")
    assert got.status_code == 200, got.text
    assert got.json() == model.predict(frame).tolist()  # type: ignore[attr-defined]


def test_text_transformer_and_label_encoder_stages(server, trained) -> None:
    _, container = server
    text = invoke(
        container, "text", '["warm and sunny", "grey, cold"]', "application/json", "application/json"
    )
    assert text.json() == trained[1]["text"].predict(["warm and sunny", "grey, cold"]).tolist()  # type: ignore[attr-defined]
    features = invoke(container, "transformer", CSV, "text/csv", "application/json")
    np.testing.assert_array_equal(np.array(features.json()), trained[1]["transformer"].transform(HOUSES))  # type: ignore[attr-defined]
    labels = invoke(container, "labels", "1\n0", "text/csv", "text/csv")
    assert labels.text == "pricey\ncheap"


def test_bad_input_is_a_400_that_names_it(server) -> None:
    _, container = server
    missing = json.dumps([{"city": "NewYork_NY", "sqft": 3331}])
    got = invoke(container, "classifier", missing, "application/json", "application/json")
    assert got.status_code == 400
    assert "lack the columns year" in got.json()["message"]
    word = invoke(container, "classifier", "NewYork_NY,soon,3331,4,2.5,0.99,1", "text/csv", "text/csv")
    assert word.status_code == 400 and "'soon' is not a number" in word.json()["message"]


def test_target_model_routing_serves_an_archived_pipeline(server, trained) -> None:
    engine, container = server
    if engine == "mms":
        pytest.skip("multi-model-server does not route X-Amzn-SageMaker-Target-Model (README: Two engines)")
    got = requests.post(
        f"{container.url}/invocations",
        data=CSV.encode(),
        headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Target-Model": "classifier.tar.gz"},
        timeout=120,
    )
    assert got.status_code == 200, got.text
    assert got.json() == trained[1]["classifier"].predict(HOUSES).tolist()  # type: ignore[attr-defined]
