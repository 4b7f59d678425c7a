"""Real-time endpoints: model, endpoint config and endpoint, created and deleted together.

All three share the endpoint's name, so `delete NAME` can find and remove what `deploy NAME`
made even when the endpoint itself never got created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from deploy import autoscale, model_data, names, s3
from deploy.aws import Aws
from deploy.errors import DeployError, is_not_found
from deploy.multi_model import add_model
from deploy.s3 import S3Uri
from deploy.waiting import DEFAULT_WAITING, ENDPOINT, Progress, Waiting, to_stderr, wait_until_settled


@dataclass(frozen=True)
class Hosting:
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    variant: str = "AllTraffic"


def deploy_endpoint(
    aws: Aws,
    *,
    name: str,
    image: str,
    model: str,
    role: str,
    hosting: Hosting = Hosting(),
    environment: dict[str, str] | None = None,
    bucket: str | None = None,
    waiting: Waiting = DEFAULT_WAITING,
    progress: Progress = to_stderr,
) -> str:
    """Deploy one model (a local model.tar.gz or model directory, or an s3:// URI) and
    return the endpoint name. Local models go to s3://BUCKET/NAME/model.tar.gz."""
    names.check(name, "endpoint name")
    if s3.is_s3(model):
        model_url = S3Uri.parse(model)
    else:
        bucket = bucket or aws.default_bucket()
        s3.ensure_bucket(aws, bucket)
        model_url = model_data.stage(aws, model, S3Uri(bucket, f"{name}/model.tar.gz"))
    progress(f"model data: {model_url}")
    container = {"Image": image, "ModelDataUrl": str(model_url), "Environment": environment or {}}
    return _create(aws, name, container, role, hosting, waiting, progress)


def deploy_multi_model_endpoint(
    aws: Aws,
    *,
    name: str,
    image: str,
    role: str,
    prefix: str | None = None,
    models: Iterable[str] = (),
    hosting: Hosting = Hosting(),
    environment: dict[str, str] | None = None,
    waiting: Waiting = DEFAULT_WAITING,
    progress: Progress = to_stderr,
) -> str:
    """Deploy a multi-model endpoint serving every model.tar.gz under `prefix` (default
    s3://DEFAULT-BUCKET/NAME/models/), after copying `models` there."""
    names.check(name, "endpoint name")
    if prefix is None:
        bucket = aws.default_bucket()
        s3.ensure_bucket(aws, bucket)
        location = S3Uri(bucket, f"{name}/models/")
    else:
        location = S3Uri.parse(prefix).as_prefix()
    for source in models:
        progress(f"added {add_model(aws, location, source)}")
    progress(f"model prefix: {location}")
    container = {
        "Image": image,
        "Mode": "MultiModel",
        "ModelDataUrl": str(location),
        "Environment": environment or {},
    }
    return _create(aws, name, container, role, hosting, waiting, progress)


def _create(
    aws: Aws,
    name: str,
    container: dict[str, Any],
    role: str,
    hosting: Hosting,
    waiting: Waiting,
    progress: Progress,
) -> str:
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=role)
    progress(f"created model {name}")
    try:
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": hosting.variant,
                    "ModelName": name,
                    "InstanceType": hosting.instance_type,
                    "InitialInstanceCount": hosting.instance_count,
                    "InitialVariantWeight": 1.0,
                }
            ],
        )
        progress(f"created endpoint config {name} ({hosting.instance_count} x {hosting.instance_type})")
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
        progress(f"creating endpoint {name}")
        if waiting.wait:
            wait_until_settled(
                lambda: sagemaker.describe_endpoint(EndpointName=name),
                f"endpoint {name}",
                ENDPOINT,
                progress,
                waiting,
            )
    except (ClientError, DeployError):
        # Without this the next attempt fails on "already existing model" with no hint why.
        progress(f"note: what was created so far is removed by: delete {name}")
        raise
    return name


def delete_endpoint(aws: Aws, name: str, *, progress: Progress = to_stderr) -> None:
    """Remove the endpoint, its autoscaling, its endpoint config and its models.

    Idempotent: whatever is already gone is reported and skipped. Names are taken from the
    endpoint and its config when they exist, else assumed to be `name` (as `deploy` makes them).
    """
    sagemaker = aws.client("sagemaker")
    endpoint = _describe(lambda: sagemaker.describe_endpoint(EndpointName=name))
    config_name = endpoint["EndpointConfigName"] if endpoint else name
    config = _describe(lambda: sagemaker.describe_endpoint_config(EndpointConfigName=config_name))
    variants = (config or {}).get("ProductionVariants", [])
    model_names = sorted({v["ModelName"] for v in variants if "ModelName" in v}) or [name]
    # A config deleted by hand still leaves the endpoint's own list of variants to scale.
    variants = variants or (endpoint or {}).get("ProductionVariants", [])

    # Scaling first: AWS asks for the scalable target to go before the endpoint it scales.
    autoscale.remove_autoscaling(aws, name, [v["VariantName"] for v in variants], progress=progress)
    _delete(f"endpoint {name}", lambda: sagemaker.delete_endpoint(EndpointName=name), progress)
    _delete(
        f"endpoint config {config_name}",
        lambda: sagemaker.delete_endpoint_config(EndpointConfigName=config_name),
        progress,
    )
    for model_name in model_names:
        _delete(f"model {model_name}", lambda m=model_name: sagemaker.delete_model(ModelName=m), progress)


def _describe(call: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    try:
        return call()
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


def _delete(what: str, call: Callable[[], object], progress: Progress) -> None:
    try:
        call()
        progress(f"deleted {what}")
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        progress(f"note: {what} not found, nothing to delete")
