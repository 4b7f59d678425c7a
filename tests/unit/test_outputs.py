"""What an answer holds: AWS's output keys, transformers and label encoders as pipeline stages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import tabular
from serving.config import Settings
from serving.config_values import ConfigError
from serving.errors import BadRequest, ModelLoadError
from serving.inference.pipeline import ModelHandler, Request
from serving.models import lifecycle

CSV_ROWS = "NewYork_NY,2001,3331,4,2.5,0.99,1\nAustin_TX,1990,900,2,1,0.2,0"
ALL_KEYS = "predicted_label,probability,probabilities,labels"


def load(model_dir: Path, **env: str) -> ModelHandler:
    return lifecycle.load("m", model_dir, Settings.from_env(env))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    model_dir = tmp_path_factory.mktemp("pipeline")
    model, _ = tabular.write_classifier_pipeline(model_dir, trees=20)
    return model_dir, model


def frame() -> object:
    import pandas as pd

    return pd.DataFrame([row.split(",") for row in CSV_ROWS.split("\n")], columns=tabular.COLUMNS).astype(
        {name: float for name in tabular.COLUMNS[1:]}
    )


def test_every_key_in_csv_json_and_jsonlines_as_aws_writes_them(pipeline) -> None:
    model_dir, model = pipeline
    handler = load(model_dir, SAGEMAKER_INFERENCE_OUTPUT=ALL_KEYS)
    proba = model.predict_proba(frame())
    labels = model.predict(frame())

    csv = handler.invoke(Request(CSV_ROWS.encode(), "text/csv", "text/csv")).body.decode()
    lines = csv.split("\n")
    for line, label, p in zip(lines, labels, proba, strict=True):
        assert line == f"{label},{p.max()},\"{p.tolist()}\",\"['cheap', 'pricey']\""

    as_json = json.loads(handler.invoke(Request(CSV_ROWS.encode(), "text/csv", "application/json")).body)
    assert as_json == {
        "predictions": [
            {
                "predicted_label": label,
                "probability": p.max(),
                "probabilities": p.tolist(),
                "labels": ["cheap", "pricey"],
            }
            for label, p in zip(labels, proba, strict=True)
        ]
    }
    jsonl = handler.invoke(Request(CSV_ROWS.encode(), "text/csv", "application/jsonlines")).body.decode()
    assert [json.loads(line) for line in jsonl.split("\n")] == as_json["predictions"]


def test_keys_come_in_the_order_asked_for(pipeline) -> None:
    model_dir, model = pipeline
    handler = load(model_dir, SAGEMAKER_INFERENCE_OUTPUT="probability, predicted_label")
    first = handler.invoke(Request(CSV_ROWS.encode(), "text/csv", "text/csv")).body.decode().split("\n")[0]
    p = model.predict_proba(frame())[0]
    assert first == f"{p.max()},{model.predict(frame())[0]}"


def test_a_caller_on_a_shared_endpoint_asks_per_request(pipeline) -> None:
    model_dir, model = pipeline
    handler = load(model_dir)
    plain = handler.invoke(Request(CSV_ROWS.encode(), "text/csv", "application/json"))
    assert json.loads(plain.body) == model.predict(frame()).tolist()
    asked = handler.invoke(
        Request(
            CSV_ROWS.encode(),
            "text/csv",
            "application/json",
            {"X-Amzn-SageMaker-Custom-Attributes": "trace=7; output=probabilities"},
        )
    )
    assert json.loads(asked.body) == {
        "predictions": [{"probabilities": p.tolist()} for p in model.predict_proba(frame())]
    }
    with pytest.raises(BadRequest, match="raw_score"):
        handler.invoke(
            Request(
                CSV_ROWS.encode(),
                "text/csv",
                None,
                {"X-Amzn-SageMaker-Custom-Attributes": "output=raw_score"},
            )
        )


def test_keys_are_checked_at_start_not_per_request(pipeline, tmp_path: Path) -> None:
    model_dir, _ = pipeline
    with pytest.raises(ConfigError, match="raw_score"):
        Settings.from_env({"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,raw_score"})
    with pytest.raises(ModelLoadError, match="SAGEMAKER_INFERENCE_SUPPORTED"):
        load(model_dir, SAGEMAKER_INFERENCE_OUTPUT="labels", SAGEMAKER_INFERENCE_SUPPORTED="predicted_label")
    tabular.write_regressor_with_missing_values(tmp_path)
    with pytest.raises(ModelLoadError, match="can give only predicted_label"):
        load(tmp_path, SAGEMAKER_INFERENCE_OUTPUT="probabilities")
    regressor = load(tmp_path, SAGEMAKER_INFERENCE_OUTPUT="predicted_label")
    answer = json.loads(regressor.invoke(Request(b"2001,1500,0.5", "text/csv", "application/json")).body)
    assert list(answer["predictions"][0]) == ["predicted_label"]


def test_integer_labels_stay_integers(tmp_path: Path) -> None:
    from tests.support import features, write_classifier

    write_classifier(tmp_path, [3, 5, 7])
    handler = load(tmp_path, SAGEMAKER_INFERENCE_OUTPUT="predicted_label,labels")
    body = ",".join(map(str, features(1)[0])).encode()
    got = json.loads(handler.invoke(Request(body, "text/csv", "application/json")).body)["predictions"][0]
    assert isinstance(got["predicted_label"], int) and got["labels"] == [3, 5, 7]


def test_a_transformer_answers_its_transform_output(tmp_path: Path) -> None:
    model, _ = tabular.write_transformer(tmp_path)
    handler = load(tmp_path)
    got = handler.invoke(Request(CSV_ROWS.encode(), "text/csv", "application/json"))
    np.testing.assert_array_equal(np.array(json.loads(got.body)), model.transform(frame()))


def test_a_label_encoder_turns_encoded_labels_back_as_autopilots_last_stage_does(tmp_path: Path) -> None:
    tabular.write_label_encoder(tmp_path)
    handler = load(
        tmp_path,
        SAGEMAKER_INFERENCE_INPUT="predicted_label,probabilities",
        SAGEMAKER_INFERENCE_OUTPUT="predicted_label,probabilities,labels",
    )
    body = b'1,"[0.30000001192092896, 0.699999988079071]"\n0.0,"[0.9, 0.1]"'
    csv = handler.invoke(Request(body, "text/csv", "text/csv")).body.decode()
    assert csv.split("\n") == [
        "pricey,\"[0.30000001192092896, 0.699999988079071]\",\"['cheap', 'pricey']\"",
        "cheap,\"[0.9, 0.1]\",\"['cheap', 'pricey']\"",
    ]
    plain = load(tmp_path)
    assert plain.invoke(Request(b"1\n0", "text/csv", "text/csv")).body == b"pricey\ncheap"
    with pytest.raises(BadRequest, match="not one of the 2 encoded labels"):
        plain.invoke(Request(b"2", "text/csv", "text/csv"))


def test_a_transformer_feeds_built_in_algorithms_recordio_protobuf(tmp_path: Path) -> None:
    from sagemaker.amazon.common import read_records

    model, _ = tabular.write_transformer(tmp_path)
    handler = load(tmp_path)
    got = handler.invoke(Request(CSV_ROWS.encode(), "text/csv", "application/x-recordio-protobuf"))
    assert got.content_type == "application/x-recordio-protobuf"
    import io

    rows = [list(r.features["values"].float32_tensor.values) for r in read_records(io.BytesIO(got.body))]
    np.testing.assert_allclose(rows, model.transform(frame()).astype(np.float32))
