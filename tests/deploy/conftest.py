"""Real servers for the deploy tests: moto for the AWS APIs, Debian's registry for images."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from harness.moto import AWS_ENV, reset
from harness.processes import background, exited
from harness.waiting import wait_for_http
from tests.support import free_port, write_regressor

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_BINARY = "/usr/bin/docker-registry"
REGION = AWS_ENV["AWS_DEFAULT_REGION"]
ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/sklearn-sagemaker:latest"
DEFAULT_BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any AWS settings of its own: no profile, no real
    credentials, no config files, no instance metadata lookups. Then `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
        # The venv first: `aws`, `moto_server` and the project's Python come from there.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
    }
    return env | extra


@dataclass
class Moto:
    endpoint: str

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    def cli(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, endpoint: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `python -m deploy` as a user would, in a process of its own."""
        command = [sys.executable, "-m", "deploy"]
        if endpoint:
            command += ["--endpoint-url", self.endpoint]
        result = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            cwd=cwd or ROOT,
            env=env if env is not None else clean_env(**AWS_ENV),
            timeout=120,
        )
        # Whatever happens, the user never sees a traceback.
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = self.cli(*args, **kwargs)
        assert result.returncode == 0, result.stderr
        return result

    def set_endpoint_results(self, *results: dict[str, str]) -> None:
        """Queue invoke_endpoint answers: moto gives one per distinct request, in order."""
        response = requests.post(
            f"{self.endpoint}/moto-api/static/sagemaker/endpoint-results",
            json={"account_id": ACCOUNT, "region": REGION, "results": list(results)},
            timeout=10,
        )
        response.raise_for_status()


@pytest.fixture
def moto(moto_session: str) -> Moto:
    # A fresh account per test: "nothing left after delete" must mean this test's nothing.
    reset(moto_session)
    return Moto(moto_session)


@pytest.fixture
def model_tarball(tmp_path: Path) -> Path:
    """A model.tar.gz as SageMaker expects it: model.joblib at the archive's root."""
    model_dir = tmp_path / "model"
    write_regressor(model_dir)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "model.joblib", arcname="model.joblib")
    return archive


@dataclass
class Registry:
    host: str
    url: str


@contextmanager
def registry(tmp: Path, readonly: bool = False, deadline_s: float = 120) -> Iterator[Registry]:
    """Debian's docker-registry on a free loopback port, its storage under `tmp`."""
    if not os.access(REGISTRY_BINARY, os.X_OK):
        pytest.fail(f"{REGISTRY_BINARY} is missing: apt-get install docker-registry (scripts/setup.sh does)")
    port = free_port()
    storage = tmp / "registry-storage"
    config = tmp / "registry.yml"
    maintenance = "  maintenance:\n    readonly:\n      enabled: true\n" if readonly else ""
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n{maintenance}"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = tmp / "registry.log"
    url = f"http://127.0.0.1:{port}"
    try:
        with background([REGISTRY_BINARY, "serve", str(config)], log=log) as process:
            wait_for_http(
                f"{url}/v2/",
                deadline_s,
                f"docker-registry to answer GET /v2/ on {url} ({config.read_text()})",
                give_up=exited(process, log),
            )
            yield Registry(f"127.0.0.1:{port}", url)
    finally:
        # The pushed image is hundreds of MB: do not leave it to pytest's tmp retention.
        shutil.rmtree(storage, ignore_errors=True)
