"""Hosting beyond one model: weighted variants over several instances, an update to a Direct
multi-container model, CustomAttributes both ways, a container that fails its start, and the
runtime's validation errors, all through boto3 as a user's own code calls it."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness import tabular
from harness.waiting import wait_until
from tests.local.conftest import ROLE, Local, containers

pytestmark = pytest.mark.docker
CSV_OUT = {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"}


@pytest.fixture(scope="module")
def houses(local: Local, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("hosting")
    classifier, _ = tabular.write_classifier_pipeline(root / "classifier", trees=10)
    small, _ = tabular.write_classifier_pipeline(root / "small", trees=2)
    regressor, _ = tabular.write_regressor_with_missing_values(root / "regressor")
    frame = tabular.houses(rows=4, seed=3)
    return {
        "classifier": classifier,
        "small": small,
        "regressor": regressor,
        "frame": frame,
        "urls": {
            name: local.upload_model(root / name, f"hosting/{name}.tar.gz")
            for name in ("classifier", "small", "regressor")
        },
    }


def rows(frame: Any) -> str:
    return frame.to_csv(header=False, index=False)


def container(local: Local, houses: dict[str, Any], name: str, **environment: str) -> dict[str, Any]:
    return {
        "Image": local.image,
        "ModelDataUrl": houses["urls"][name],
        "Environment": {**CSV_OUT, **environment},
    }


def variant(name: str, model: str, count: int = 1, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": count,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": weight,
    }


def instance_calls(local: Local, endpoint: str) -> dict[str, int]:
    """Answered invocations per container log of the endpoint, as its containers logged them."""
    logs = sorted((local.work_dir / "logs" / "endpoints" / endpoint).glob("*.log"))
    return {path.stem: path.read_text(errors="replace").count("POST /invocations 200") for path in logs}


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as failure:
        call()
    return failure.value.response


def test_variants_direct_mode_and_failures(local: Local, houses: dict[str, Any]) -> None:
    sagemaker, runtime = local.client("sagemaker"), local.client("sagemaker-runtime")
    frame, classifier, regressor = houses["frame"], houses["classifier"], houses["regressor"]
    sagemaker.create_model(
        ModelName="houses-classifier",
        ExecutionRoleArn=ROLE,
        PrimaryContainer=container(local, houses, "classifier"),
    )
    sagemaker.create_model(
        ModelName="houses-small", ExecutionRoleArn=ROLE, PrimaryContainer=container(local, houses, "small")
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="weighted",
        ProductionVariants=[
            variant("big", "houses-classifier", count=2, weight=3),
            variant("small", "houses-small", weight=1),
        ],
    )
    sagemaker.create_endpoint(EndpointName="houses", EndpointConfigName="weighted")
    described = local.wait_endpoint("houses")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert {v["VariantName"]: v["CurrentInstanceCount"] for v in described["ProductionVariants"]} == {
        "big": 2,
        "small": 1,
    }
    assert len(containers("endpoints/houses")) == 3
    assert [e["EndpointName"] for e in sagemaker.list_endpoints(StatusEquals="InService")["Endpoints"]] == [
        "houses"
    ]

    # Weighted 3:1; 80 calls land about 60:20 (a spread of more than four deviations is a bug).
    invoked = Counter()
    for _ in range(80):
        answer = runtime.invoke_endpoint(
            EndpointName="houses", Body=rows(frame.iloc[:1]), ContentType="text/csv"
        )
        invoked[answer["InvokedProductionVariant"]] += 1
    assert 45 <= invoked["big"] <= 75, invoked
    assert invoked["big"] + invoked["small"] == 80
    # ... and a variant's calls go round-robin over its two instances.
    calls = wait_until(
        lambda: instance_calls(local, "houses"),
        30,
        "the containers to log their calls",
        ready=lambda c: sum(c.values()) == 80,
    )
    per_instance = sorted(count for name, count in calls.items() if "-big-" in name)
    assert per_instance[1] - per_instance[0] <= 1 and sum(per_instance) == invoked["big"], calls

    # TargetVariant picks the variant; the answer is that model's.
    targeted = runtime.invoke_endpoint(
        EndpointName="houses", TargetVariant="small", Body=rows(frame), ContentType="text/csv"
    )
    assert targeted["InvokedProductionVariant"] == "small"
    assert targeted["Body"].read().decode().split() == list(houses["small"].predict(frame))

    # CustomAttributes go to the container, which reads output= from them and sends them back.
    answer = runtime.invoke_endpoint(
        EndpointName="houses",
        TargetVariant="big",
        Body=rows(frame),
        ContentType="text/csv",
        CustomAttributes="output=predicted_label,probability",
    )
    assert answer["CustomAttributes"] == "output=predicted_label,probability"
    lines = [line.split(",") for line in answer["Body"].read().decode().split()]
    assert [label for label, _ in lines] == list(classifier.predict(frame))
    assert [float(p) for _, p in lines] == pytest.approx(list(classifier.predict_proba(frame).max(axis=1)))

    # The runtime's own checks, in AWS's words.
    error = error_of(
        lambda: runtime.invoke_endpoint(
            EndpointName="houses", TargetVariant="nope", Body=b"1", ContentType="text/csv"
        )
    )
    assert error["Error"]["Code"] == "ValidationError"
    assert "nope" in error["Error"]["Message"]
    error = error_of(
        lambda: runtime.invoke_endpoint(
            EndpointName="houses", TargetModel="a.tar.gz", Body=b"1", ContentType="text/csv"
        )
    )
    assert error["Error"]["Message"] == (
        "Endpoint houses is not a multi-model endpoint and does not support target model header."
    )
    error = error_of(
        lambda: runtime.invoke_endpoint(EndpointName="absent", Body=b"1", ContentType="text/csv")
    )
    assert error["Error"]["Message"] == "Endpoint absent of account 123456789012 not found."

    # UpdateEndpoint to a Direct multi-container model: the old variants serve until it is ready.
    sagemaker.create_model(
        ModelName="houses-direct",
        ExecutionRoleArn=ROLE,
        Containers=[
            {**container(local, houses, "classifier"), "ContainerHostname": "classifier"},
            {**container(local, houses, "regressor"), "ContainerHostname": "regressor"},
        ],
        InferenceExecutionConfig={"Mode": "Direct"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="direct", ProductionVariants=[variant("AllTraffic", "houses-direct")]
    )
    sagemaker.update_endpoint(EndpointName="houses", EndpointConfigName="direct")
    assert sagemaker.describe_endpoint(EndpointName="houses")["EndpointStatus"] == "Updating"
    assert runtime.invoke_endpoint(EndpointName="houses", Body=rows(frame), ContentType="text/csv")[
        "InvokedProductionVariant"
    ] in ("big", "small")
    described = local.wait_endpoint("houses")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "direct")
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["AllTraffic"]
    wait_until(
        lambda: containers("endpoints/houses"),
        60,
        "the old variants' containers to go",
        ready=lambda found: len(found) == 2,
    )
    direct = runtime.invoke_endpoint(
        EndpointName="houses",
        TargetContainerHostname="regressor",
        Body=rows(frame[["year", "sqft", "lot"]]),
        ContentType="text/csv",
    )
    values = regressor.predict(frame[["year", "sqft", "lot"]])
    assert [float(v) for v in direct["Body"].read().decode().split()] == pytest.approx(list(values))
    direct = runtime.invoke_endpoint(
        EndpointName="houses", TargetContainerHostname="classifier", Body=rows(frame), ContentType="text/csv"
    )
    assert direct["Body"].read().decode().split() == list(classifier.predict(frame))
    error = error_of(
        lambda: runtime.invoke_endpoint(EndpointName="houses", Body=rows(frame), ContentType="text/csv")
    )
    assert "TargetContainerHostname" in error["Error"]["Message"]

    # A container that cannot start: the endpoint fails, saying which container and why.
    sagemaker.create_model(
        ModelName="houses-broken",
        ExecutionRoleArn=ROLE,
        PrimaryContainer=container(local, houses, "classifier", SAGEMAKER_MODEL_SERVER_WORKERS="many"),
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="broken", ProductionVariants=[variant("AllTraffic", "houses-broken")]
    )
    sagemaker.create_endpoint(EndpointName="broken", EndpointConfigName="broken")
    failed = local.wait_endpoint("broken")
    assert failed["EndpointStatus"] == "Failed"
    reason = failed["FailureReason"]
    assert reason.startswith(
        "The primary container for production variant AllTraffic did not pass the ping health check"
    )
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in reason, reason
    assert containers("endpoints/broken") == []
    # What its container printed stays readable after it is gone.
    logs = subprocess.run(
        [sys.executable, "-m", "sagemaker_local", "--work-dir", str(local.work_dir), "logs", "broken"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert logs.returncode == 0, logs.stderr
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in logs.stdout
    error = error_of(
        lambda: runtime.invoke_endpoint(EndpointName="broken", Body=b"1", ContentType="text/csv")
    )
    assert "not in service" in error["Error"]["Message"]
    # An update to that model fails too, and the endpoint goes on serving what it had.
    sagemaker.update_endpoint(EndpointName="houses", EndpointConfigName="broken")
    after = local.wait_endpoint("houses")
    assert (after["EndpointStatus"], after["EndpointConfigName"]) == ("InService", "direct")
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in after["FailureReason"]
    assert runtime.invoke_endpoint(
        EndpointName="houses", TargetContainerHostname="classifier", Body=rows(frame), ContentType="text/csv"
    )["Body"].read().decode().split() == list(classifier.predict(frame))

    # Deleting removes the containers before it answers.
    sagemaker.delete_endpoint(EndpointName="houses")
    assert containers("endpoints/houses") == []
    error = error_of(lambda: sagemaker.describe_endpoint(EndpointName="houses"))
    assert error["Error"]["Code"] == "ValidationException"
    assert (
        error["Error"]["Message"]
        == 'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/houses".'
    )
