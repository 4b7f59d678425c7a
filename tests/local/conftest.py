"""One sagemaker-local server for the session, reading s3:// from the session's moto server.

Clients reach it as a user would: the AWS CLI, boto3 and the SageMaker SDK, each told only
the endpoint URLs (AWS_ENDPOINT_URL_SAGEMAKER, ..._SAGEMAKER_RUNTIME, ..._S3). After every
test no container of the server is left: tests delete what they create, and this checks.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from harness.containers import client as docker_client
from harness.moto import AWS_ENV
from harness.sagemaker_local import local_sagemaker
from harness.waiting import wait_until
from tests.deploy.conftest import clean_env

REGION = AWS_ENV["AWS_DEFAULT_REGION"]
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
BUCKET = "local-sagemaker-tests"
OWNER_LABEL = "sagemaker-local.server"
# Each container here is small; the multi-model test relies on this limit to see unloading.
CONTAINER_MEMORY = "640m"
READY_DEADLINE_S = 300


@dataclass
class Local:
    url: str
    s3_url: str
    image: str
    work_dir: Path

    def env(self) -> dict[str, str]:
        """The environment of a user whose AWS CLI and SDK point at this machine: SageMaker
        here, the other services (S3, STS, Application Auto Scaling) at the moto server."""
        return clean_env(
            **AWS_ENV,
            AWS_ENDPOINT_URL_SAGEMAKER=self.url,
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=self.url,
            AWS_ENDPOINT_URL_S3=self.s3_url,
            AWS_ENDPOINT_URL_STS=self.s3_url,
            AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING=self.s3_url,
        )

    def client(self, service: str, config: Config | None = None) -> Any:
        endpoint = self.s3_url if service in ("s3", "sts") else self.url
        return boto3.client(
            service,
            config=config,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    def aws(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The AWS CLI, exactly as typed in AWS's guides."""
        result = subprocess.run(
            ["aws", *args], capture_output=True, text=True, env=self.env(), timeout=300, check=False
        )
        if check:
            assert result.returncode == 0, f"aws {' '.join(args[:2])}: {result.stderr}"
        return result

    def aws_json(self, *args: str) -> dict[str, Any]:
        return json.loads(self.aws(*args).stdout or "{}")

    def upload_model(self, model_dir: Path, key: str) -> str:
        """model_dir's files as model.tar.gz at s3://BUCKET/key."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        self.client("s3").put_object(Bucket=BUCKET, Key=key, Body=archive.getvalue())
        return f"s3://{BUCKET}/{key}"

    def wait_endpoint(self, name: str, status: str = "InService") -> dict[str, Any]:
        sagemaker = self.client("sagemaker")
        return wait_until(
            lambda: sagemaker.describe_endpoint(EndpointName=name),
            READY_DEADLINE_S,
            f"endpoint {name} to leave Creating/Updating",
            ready=lambda d: d["EndpointStatus"] not in ("Creating", "Updating"),
            interval_s=0.5,
        )

    def wait_job(self, name: str) -> dict[str, Any]:
        sagemaker = self.client("sagemaker")
        return wait_until(
            lambda: sagemaker.describe_transform_job(TransformJobName=name),
            READY_DEADLINE_S,
            f"transform job {name} to end",
            ready=lambda d: d["TransformJobStatus"] in ("Completed", "Failed", "Stopped"),
            interval_s=0.5,
        )

    def read(self, url: str) -> str:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def containers(resource: str | None = None) -> list[Any]:
    labels = [OWNER_LABEL] + ([f"sagemaker-local.resource={resource}"] if resource else [])
    # Sparse: the list answer alone. A full listing inspects each container afterwards,
    # and one the server removes in between makes that fail with NotFound.
    return docker_client().containers.list(all=True, filters={"label": labels}, sparse=True)


@pytest.fixture(scope="session")
def local(image: str, moto_session: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    work_dir = tmp_path_factory.mktemp("sagemaker-local")
    with local_sagemaker(
        work_dir, s3_endpoint_url=moto_session, memory=CONTAINER_MEMORY, env=clean_env(**AWS_ENV)
    ) as url:
        server = Local(url, moto_session, image, work_dir)
        s3 = server.client("s3")
        if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=BUCKET)
        yield server
    assert not containers(), "sagemaker-local left containers behind when it stopped"


@pytest.fixture(autouse=True)
def no_containers_left(local: Local) -> Iterator[None]:
    yield
    sagemaker = local.client("sagemaker")
    # Each test starts with an empty account, as its own AWS account would be.
    for endpoint in sagemaker.list_endpoints()["Endpoints"]:
        sagemaker.delete_endpoint(EndpointName=endpoint["EndpointName"])
    for config in sagemaker.list_endpoint_configs()["EndpointConfigs"]:
        sagemaker.delete_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
    for model in sagemaker.list_models()["Models"]:
        sagemaker.delete_model(ModelName=model["ModelName"])
    wait_until(lambda: containers(), 120, "every container of the test to be removed", ready=lambda c: not c)
