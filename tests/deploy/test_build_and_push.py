"""build_and_push.sh end to end: moto for STS and ECR, a real registry on loopback, the real
image built, pushed, pulled back by digest and served."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from harness.moto import AWS_ENV
from tests.container.conftest import run_container
from tests.deploy.conftest import ROOT, Moto, clean_env, registry
from tests.support import csv_rows, docker, features, free_port, wait_for_ping, write_regressor

SCRIPT = ROOT / "build_and_push.sh"
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


def run_script(*args: str, env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout
    )


def script_env(moto: Moto, docker_config: Path, **extra: str) -> dict[str, str]:
    # DOCKER_CONFIG: `docker login` writes its credentials there, not in ~/.docker.
    return clean_env(
        **{**AWS_ENV, "AWS_ENDPOINT_URL": moto.endpoint, "DOCKER_CONFIG": str(docker_config), **extra}
    )


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def image_name() -> str:
    return f"skl-deploy-test-{uuid.uuid4().hex[:10]}"


def remove_refs(*refs: str) -> None:
    # Only the references this test made: untagging never touches images others tagged.
    for ref in refs:
        docker("rmi", ref, check=False)


def test_no_arguments_prints_usage_and_exits_1() -> None:
    result = run_script(env=clean_env(), timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().startswith("usage:")
    assert "IMAGE_NAME [TAG]" in result.stderr


def test_script_is_valid_bash() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


def one_line_failure(env: dict[str, str], timeout: float) -> str:
    """Run the script where it must fail early: nothing on stdout, one line on stderr. That line."""
    result = run_script("skl-fails-early", env=env, timeout=timeout)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.docker
def test_no_credentials_is_one_clear_line(moto: Moto, tmp_path: Path) -> None:
    env = script_env(moto, tmp_path)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key)
    line = one_line_failure(env, timeout=120)
    assert line.startswith("build_and_push: cannot find the AWS account")
    assert "Unable to locate credentials" in line


@pytest.mark.docker
def test_unreachable_aws_endpoint_is_one_clear_line(moto: Moto, tmp_path: Path) -> None:
    line = one_line_failure(
        script_env(moto, tmp_path, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}"), timeout=300
    )
    assert "cannot find the AWS account" in line
    assert "Could not connect to the endpoint URL" in line


@pytest.mark.docker
def test_docker_engine_not_running_is_one_clear_line(moto: Moto, tmp_path: Path) -> None:
    line = one_line_failure(
        script_env(moto, tmp_path, DOCKER_HOST=f"unix://{tmp_path}/no-such-docker.sock"), timeout=120
    )
    assert line.startswith("build_and_push: the Docker engine is not running")


@pytest.mark.docker
def test_registry_not_running_fails_at_login(moto: Moto, tmp_path: Path) -> None:
    name = image_name()
    env = script_env(moto, tmp_path, ECR_REGISTRY=f"127.0.0.1:{free_port()}")
    result = run_script(name, env=env, timeout=300)
    assert result.returncode != 0
    assert result.stdout == ""
    assert last_line(result.stderr).startswith("build_and_push: docker login to 127.0.0.1:")
    assert "connection refused" in last_line(result.stderr)
    # It stopped before building anything.
    assert docker("image", "inspect", f"{name}:latest", check=False).returncode != 0


@pytest.mark.docker
def test_build_failure_is_reported_and_nothing_is_pushed(moto: Moto, tmp_path: Path) -> None:
    # A tag docker refuses makes `docker build` fail after the login, where a broken
    # Dockerfile would: the script must stop there with its own line.
    name = image_name()
    with registry(tmp_path) as reg:
        env = script_env(moto, tmp_path / "docker-config", ECR_REGISTRY=reg.host)
        result = run_script(name, "not!a-tag", env=env, timeout=900)
        catalog = requests.get(f"{reg.url}/v2/_catalog", timeout=10).json()
    assert result.returncode != 0
    assert result.stdout == ""
    assert (
        last_line(result.stderr)
        == f"build_and_push: build failed: container/build-image.sh {name}:not!a-tag (its output is above)"
    )
    assert "image: docker build failed" in result.stderr
    assert catalog["repositories"] == []


@pytest.mark.docker
def test_push_refused_by_a_read_only_registry(moto: Moto, tmp_path: Path) -> None:
    name, tag = image_name(), "refused"
    # An existing repository is used as it is, not created again.
    moto.client("ecr").create_repository(repositoryName=name)
    with registry(tmp_path, readonly=True) as reg:
        env = script_env(moto, tmp_path / "docker-config", ECR_REGISTRY=reg.host)
        try:
            result = run_script(name, tag, env=env)
        finally:
            remove_refs(f"{reg.host}/{name}:{tag}", f"{name}:{tag}")
    assert result.returncode != 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "creating ECR repository" not in result.stderr
    assert last_line(result.stderr).startswith(f"build_and_push: push to {reg.host} failed:")
    assert "405" in last_line(result.stderr) or "not allowed" in last_line(result.stderr).lower()


@pytest.mark.docker
def test_push_then_pull_by_digest_and_serve(moto: Moto, tmp_path: Path) -> None:
    name, tag = image_name(), "t1"
    model_dir = tmp_path / "model"
    model = write_regressor(model_dir)
    with registry(tmp_path) as reg:
        uri = f"{reg.host}/{name}:{tag}"
        by_digest = ""
        try:
            env = script_env(moto, tmp_path / "docker-config", ECR_REGISTRY=reg.host)
            result = run_script(name, tag, env=env)
            assert result.returncode == 0, result.stderr[-3000:]
            # stdout is the URI alone, so `uri=$(./build_and_push.sh NAME TAG)` works.
            assert result.stdout == f"{uri}\n"

            repository = moto.client("ecr").describe_repositories(repositoryNames=[name])["repositories"][0]
            assert repository["imageScanningConfiguration"]["scanOnPush"] is True

            # The registry's own word for what was pushed, and docker's record of the push.
            head = requests.head(
                f"{reg.url}/v2/{name}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=10
            )
            assert head.status_code == 200
            digest = head.headers["Docker-Content-Digest"]
            assert digest.startswith("sha256:")
            repo_digests = json.loads(docker("image", "inspect", uri).stdout)[0]["RepoDigests"]
            by_digest = f"{reg.host}/{name}@{digest}"
            assert by_digest in repo_digests

            # Drop the local tags so the pull has to come from the registry.
            remove_refs(uri, f"{name}:{tag}")
            pulled = docker("pull", by_digest, timeout=600)
            assert digest in pulled.stdout

            with run_container(by_digest, "serve", volumes={model_dir: "/opt/ml/model:ro"}) as container:
                wait_for_ping(container.url)
                X = features(3, seed=5)
                answer = requests.post(
                    f"{container.url}/invocations",
                    data=csv_rows(X),
                    headers={"Content-Type": "text/csv", "Accept": "application/json"},
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
                assert answer.json() == pytest.approx(model.predict(X).tolist())
        finally:
            remove_refs(*(ref for ref in (by_digest, uri, f"{name}:{tag}") if ref))
