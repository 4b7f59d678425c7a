"""Model data and job data as file:// URLs, StopTransformJob, and the server's own request
validation (what a client that skips botocore's checks sends reaches the server as is)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import tabular
from tests.local.conftest import ROLE, Local, containers

pytestmark = pytest.mark.docker


def job(name: str, source: Path, target: Path, **changes: object) -> dict[str, object]:
    return {
        "TransformJobName": name,
        "ModelName": "houses-from-files",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.as_uri()}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": target.as_uri(), "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **changes,
    }


def test_file_urls_stop_and_server_side_validation(local: Local, tmp_path: Path) -> None:
    classifier, _ = tabular.write_classifier_pipeline(tmp_path / "model", trees=5)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "model" / "model.joblib", arcname="model.joblib")
    frame = tabular.houses(rows=40, seed=9)
    inputs = tmp_path / "in"
    inputs.mkdir()
    frame.to_csv(inputs / "houses.csv", header=False, index=False)

    sagemaker = local.client("sagemaker")
    sagemaker.create_model(
        ModelName="houses-from-files",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": local.image, "ModelDataUrl": archive.as_uri()},
    )
    sagemaker.create_transform_job(**job("from-files", inputs, tmp_path / "out"))
    done = local.wait_job("from-files")
    assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
    assert (tmp_path / "out" / "houses.csv.out").read_text().split() == list(classifier.predict(frame))

    # Stopped while its container starts: Stopped, no output, no container left.
    sagemaker.create_transform_job(**job("stopped", inputs, tmp_path / "stopped-out"))
    sagemaker.stop_transform_job(TransformJobName="stopped")
    stopped = local.wait_job("stopped")
    assert stopped["TransformJobStatus"] == "Stopped"
    assert not (tmp_path / "stopped-out" / "houses.csv.out").exists()
    assert containers("transform-jobs/stopped") == []

    # A value outside the model's enum, sent past botocore's own checks: the server refuses
    # it in AWS's words, and nothing is created.
    unchecked = local.client("sagemaker", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as refused:
        unchecked.create_transform_job(
            **job("bad-strategy", inputs, tmp_path / "bad", BatchStrategy="Sometimes")
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        "1 validation error detected: Value 'Sometimes' at 'batchStrategy' failed to satisfy constraint: "
        "Member must satisfy enum value set: [MultiRecord, SingleRecord]"
    )
    names = [
        summary["TransformJobName"] for summary in sagemaker.list_transform_jobs()["TransformJobSummaries"]
    ]
    assert "bad-strategy" not in names
