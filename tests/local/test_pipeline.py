"""AWS's Autopilot guides, run here: a three-container inference pipeline created and invoked
with the real-time guide's AWS CLI commands, and transform jobs as in the batch guide with
DataProcessing (only names, image and URLs changed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from harness import tabular
from tests.local.conftest import BUCKET, REGION, ROLE, Local, containers

pytestmark = pytest.mark.docker
ACCEPT_CSV = {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}


@pytest.fixture(scope="module")
def stages(local: Local, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("autopilot")
    transformer, classifier, encoder, _ = tabular.write_autopilot_stages(root)
    single, _ = tabular.write_classifier_pipeline(root / "single", trees=20)
    urls = {
        stage: local.upload_model(root / stage, f"autopilot/{stage}/model.tar.gz")
        for stage in ("features", "classifier", "labels", "single")
    }
    return {
        "transformer": transformer,
        "classifier": classifier,
        "encoder": encoder,
        "single": single,
        "urls": urls,
    }


def expected(stages: dict[str, Any], frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    features = stages["transformer"].transform(frame)
    encoded = stages["classifier"].predict(features)
    return stages["encoder"].inverse_transform(encoded), stages["classifier"].predict_proba(features).max(
        axis=1
    )


def containers_json(local: Local, urls: dict[str, str]) -> str:
    """The guide's --containers, with this image and this project's three stages."""
    return json.dumps(
        [
            {"Image": local.image, "ModelDataUrl": urls["features"], "Environment": ACCEPT_CSV},
            {
                "Image": local.image,
                "ModelDataUrl": urls["classifier"],
                "Environment": {
                    **ACCEPT_CSV,
                    "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probability",
                    "SAGEMAKER_INFERENCE_SUPPORTED": "predicted_label,probability,probabilities",
                },
            },
            {
                "Image": local.image,
                "ModelDataUrl": urls["labels"],
                "Environment": {
                    **ACCEPT_CSV,
                    "SAGEMAKER_INFERENCE_INPUT": "predicted_label,probability",
                    "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probability",
                    "SAGEMAKER_INFERENCE_SUPPORTED": "predicted_label,probability,labels",
                },
            },
        ]
    )


def csv_rows(frame: pd.DataFrame) -> list[str]:
    return frame.to_csv(header=False, index=False).strip().splitlines()


def test_the_real_time_guide_with_the_aws_cli(local: Local, stages: dict[str, Any], tmp_path: Path) -> None:
    model = local.aws_json(
        "sagemaker",
        "create-model",
        "--model-name",
        "test-sagemaker-model",
        "--containers",
        containers_json(local, stages["urls"]),
        "--execution-role-arn",
        ROLE,
        "--region",
        REGION,
    )
    assert model["ModelArn"] == f"arn:aws:sagemaker:{REGION}:123456789012:model/test-sagemaker-model"
    local.aws(
        "sagemaker",
        "create-endpoint-config",
        "--endpoint-config-name",
        "test-endpoint-config",
        "--production-variants",
        '[{"VariantName": "variant1", "ModelName": "test-sagemaker-model", "InitialInstanceCount": 1, '
        '"InstanceType": "ml.m5.2xlarge"}]',
        "--region",
        REGION,
    )
    local.aws(
        "sagemaker",
        "create-endpoint",
        "--endpoint-name",
        "test-endpoint",
        "--endpoint-config-name",
        "test-endpoint-config",
        "--region",
        REGION,
    )
    first = local.aws_json(
        "sagemaker", "describe-endpoint", "--endpoint-name", "test-endpoint", "--region", REGION
    )
    assert first["EndpointStatus"] in ("Creating", "InService")
    described = local.wait_endpoint("test-endpoint")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    # Three containers in one instance, sharing its network: one published to the host.
    assert len(containers("endpoints/test-endpoint")) == 3

    frame = tabular.houses(rows=6, seed=11)
    labels, probabilities = expected(stages, frame)
    out = tmp_path / "inference_output"
    local.aws(
        "sagemaker-runtime",
        "invoke-endpoint",
        "--endpoint-name",
        "test-endpoint",
        "--region",
        REGION,
        "--body",
        csv_rows(frame)[0],
        "--content-type",
        "text/csv",
        str(out),
    )
    label, probability = out.read_text().strip().split(",")
    assert (label, float(probability)) == pytest.approx((labels[0], probabilities[0]))

    runtime = local.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(
        EndpointName="test-endpoint",
        Body="\n".join(csv_rows(frame)),
        ContentType="text/csv",
        Accept="text/csv",
    )
    assert answer["ContentType"].startswith("text/csv")
    assert answer["InvokedProductionVariant"] == "variant1"
    lines = [line.split(",") for line in answer["Body"].read().decode().strip().splitlines()]
    assert [row[0] for row in lines] == list(labels)
    assert [float(row[1]) for row in lines] == pytest.approx(list(probabilities))

    # A bad row fails in the first container; the error names it and carries its answer.
    fields = csv_rows(frame)[0].split(",")
    fields[1] = "two thousand"
    bad = ",".join(fields)
    with pytest.raises(runtime.exceptions.ModelError) as failure:
        runtime.invoke_endpoint(EndpointName="test-endpoint", Body=bad, ContentType="text/csv")
    error = failure.value.response
    assert error["OriginalStatusCode"] == 400
    assert "container-1" in error["Error"]["Message"]
    assert "is not a number" in error["OriginalMessage"]

    local.aws("sagemaker", "delete-endpoint", "--endpoint-name", "test-endpoint", "--region", REGION)
    assert containers("endpoints/test-endpoint") == []


def test_the_batch_guide_with_data_processing(local: Local, stages: dict[str, Any]) -> None:
    """create-transform-job over the pipeline (CSV, an id column) and over one model (JSON Lines)."""
    local.aws(
        "sagemaker",
        "create-model",
        "--model-name",
        "batch-pipeline",
        "--containers",
        containers_json(local, stages["urls"]),
        "--execution-role-arn",
        ROLE,
    )
    local.aws(
        "sagemaker",
        "create-model",
        "--model-name",
        "batch-single",
        "--execution-role-arn",
        ROLE,
        "--primary-container",
        json.dumps(
            {
                "Image": local.image,
                "ModelDataUrl": stages["urls"]["single"],
                # The job leaves MaxPayloadInMB unset: the container's own limit (5, not the
                # platform's fallback of 6) must reach the job through /execution-parameters.
                "Environment": {
                    "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probability",
                    "SAGEMAKER_MAX_PAYLOAD_IN_MB": "5",
                },
            }
        ),
    )
    frame = tabular.houses(rows=300, seed=5)
    ids = [f"house-{index}" for index in range(len(frame))]
    s3 = local.client("s3")
    csv_lines = [f"{house},{row}" for house, row in zip(ids, csv_rows(frame), strict=True)]
    # Two objects under the prefix: each gets its own .out, in its own order.
    s3.put_object(Bucket=BUCKET, Key="batch/csv/part-1.csv", Body="\n".join(csv_lines[:200]) + "\n")
    s3.put_object(Bucket=BUCKET, Key="batch/csv/part-2.csv", Body="\n".join(csv_lines[200:]) + "\n")
    records = [
        {"id": house, "features": row}
        for house, row in zip(ids, frame.to_dict(orient="records"), strict=True)
    ]
    s3.put_object(
        Bucket=BUCKET,
        Key="batch/jsonl/houses.jsonl",
        Body="\n".join(json.dumps(record) for record in records),
    )

    local.aws(
        "sagemaker",
        "create-transform-job",
        "--transform-job-name",
        "test-transform-job",
        "--model-name",
        "batch-pipeline",
        "--transform-input",
        json.dumps(
            {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/batch/csv/"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            }
        ),
        "--transform-output",
        json.dumps(
            {"S3OutputPath": f"s3://{BUCKET}/batch/csv-out/", "AssembleWith": "Line", "Accept": "text/csv"}
        ),
        "--transform-resources",
        '{"InstanceType": "ml.m5.2xlarge", "InstanceCount": 1}',
        "--data-processing",
        '{"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-2,-1]"}',
        "--batch-strategy",
        "MultiRecord",
        "--max-payload-in-mb",
        "1",
    )
    local.aws(
        "sagemaker",
        "create-transform-job",
        "--transform-job-name",
        "test-transform-json",
        "--model-name",
        "batch-single",
        "--transform-input",
        json.dumps(
            {
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/batch/jsonl/houses.jsonl",
                    }
                },
                "ContentType": "application/jsonlines",
                "SplitType": "Line",
            }
        ),
        "--transform-output",
        json.dumps(
            {
                "S3OutputPath": f"s3://{BUCKET}/batch/jsonl-out",
                "AssembleWith": "Line",
                "Accept": "application/jsonlines",
            }
        ),
        "--transform-resources",
        '{"InstanceType": "ml.m5.large", "InstanceCount": 1}',
        "--data-processing",
        json.dumps(
            {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"}
        ),
        "--batch-strategy",
        "SingleRecord",
        "--max-concurrent-transforms",
        "4",
    )
    pipeline_job = local.wait_job("test-transform-job")
    single_job = local.wait_job("test-transform-json")
    assert pipeline_job["TransformJobStatus"] == "Completed", pipeline_job.get("FailureReason")
    assert single_job["TransformJobStatus"] == "Completed", single_job.get("FailureReason")
    assert pipeline_job["DataProcessing"]["OutputFilter"] == "$[0,-2,-1]"
    # What the request left unset came from the first container's /execution-parameters.
    assert single_job["MaxPayloadInMB"] == 5

    labels, probabilities = expected(stages, frame)
    written = [
        line.split(",")
        for part in ("part-1", "part-2")
        for line in local.read(f"s3://{BUCKET}/batch/csv-out/{part}.csv.out").splitlines()
    ]
    assert [row[0] for row in written] == ids
    assert [row[1] for row in written] == list(labels)
    assert [float(row[2]) for row in written] == pytest.approx(list(probabilities))

    single = stages["single"]
    lines = [
        json.loads(line)
        for line in local.read(f"s3://{BUCKET}/batch/jsonl-out/houses.jsonl.out").splitlines()
    ]
    assert [line["id"] for line in lines] == ids
    assert [line["SageMakerOutput"]["predicted_label"] for line in lines] == list(single.predict(frame))
    assert [line["SageMakerOutput"]["probability"] for line in lines] == pytest.approx(
        list(single.predict_proba(frame).max(axis=1))
    )
    assert set(lines[0]) == {"id", "SageMakerOutput"}
    # A job's containers are gone once it has ended.
    assert containers("transform-jobs/test-transform-job") == []
