"""The models of a multi-model endpoint: tarballs under its S3 prefix.

SageMaker loads a model on its first invocation with TargetModel=<key under the prefix>,
so adding one is only a copy, as MultiDataModel.add_model does in the SageMaker SDK.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from deploy import model_data, s3
from deploy.aws import Aws
from deploy.errors import DeployError
from deploy.s3 import S3Uri


def add_model(aws: Aws, prefix: S3Uri | str, source: str, name: str | None = None) -> S3Uri:
    """Copy (s3://) or upload (local tarball or model directory) `source` under `prefix` as
    `name`, by default its file name; return where it went."""
    location = prefix if isinstance(prefix, S3Uri) else S3Uri.parse(prefix)
    if name is None:
        name = PurePosixPath(source.rstrip("/")).name
        if not s3.is_s3(source) and Path(source).is_dir():
            # A directory is packed into a tarball: name it as one, since this name is
            # what callers pass as TargetModel.
            name += ".tar.gz"
    target = location.join(name)
    if s3.is_s3(source):
        return s3.copy(aws, S3Uri.parse(source), target)
    return model_data.stage(aws, source, target)


def list_models(aws: Aws, prefix: S3Uri | str) -> list[str]:
    """The TargetModel names available under `prefix`."""
    location = prefix if isinstance(prefix, S3Uri) else S3Uri.parse(prefix)
    return sorted(key for key in s3.list_keys(aws, location.as_prefix()) if key and not key.endswith("/"))


def prefix_of(aws: Aws, endpoint: str) -> S3Uri:
    """The model prefix behind a multi-model endpoint, read from its model."""
    sagemaker = aws.client("sagemaker")
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    model = sagemaker.describe_model(ModelName=variants[0]["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    if container.get("Mode") != "MultiModel":
        raise DeployError(f"endpoint {endpoint} is not a multi-model endpoint (its model has one model)")
    return S3Uri.parse(container["ModelDataUrl"]).as_prefix()
