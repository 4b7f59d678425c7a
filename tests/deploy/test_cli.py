"""The command line as a whole: global options, and every failure as one readable line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy import Aws, Hosting, Waiting, delete_endpoint, deploy_endpoint, list_models
from deploy.waiting import quiet
from harness.moto import AWS_ENV
from tests.deploy.conftest import IMAGE, ROLE, Moto, clean_env
from tests.support import free_port

COMMANDS = [
    "deploy",
    "deploy-multi",
    "add-model",
    "list-models",
    "invoke",
    "transform",
    "autoscale",
    "delete",
]


def single_error_line(result) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_help_lists_every_command(moto: Moto) -> None:
    result = moto.ok("--help", endpoint=False)
    for command in COMMANDS:
        assert command in result.stdout


def test_no_command_is_a_usage_error(moto: Moto) -> None:
    result = moto.cli(endpoint=False)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_aws_errors_carry_their_code(moto: Moto) -> None:
    line = single_error_line(moto.cli("add-model", "--endpoint", "missing", "model.tar.gz"))
    assert line.startswith("error: ValidationException: Could not find endpoint")


def test_missing_s3_source_names_it(moto: Moto) -> None:
    moto.client("s3").create_bucket(Bucket="mme")
    line = single_error_line(moto.cli("add-model", "--prefix", "s3://mme/", "s3://mme/nothing.tar.gz"))
    assert line == "error: NoSuchKey: s3://mme/nothing.tar.gz does not exist"


def test_no_credentials(moto: Moto) -> None:
    env = clean_env(AWS_DEFAULT_REGION="us-east-1")
    line = single_error_line(moto.cli("list-models", "--prefix", "s3://x/", env=env))
    assert line == "error: NoCredentialsError: Unable to locate credentials"


def test_no_region(moto: Moto) -> None:
    env = clean_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    line = single_error_line(moto.cli("delete", "x", env=env))
    assert line.startswith("error: no AWS region: pass --region")


def test_unreachable_endpoint(moto: Moto) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = single_error_line(moto.cli("--endpoint-url", url, "delete", "x", endpoint=False))
    assert line.startswith("error: EndpointConnectionError: Could not connect to the endpoint URL")


def test_unknown_profile(moto: Moto) -> None:
    line = single_error_line(moto.cli("--profile", "nope", "delete", "x"))
    assert line == "error: ProfileNotFound: The config profile (nope) could not be found"


def test_local_problems_are_one_line_too(moto: Moto, tmp_path: Path) -> None:
    missing = single_error_line(
        moto.cli("deploy", "--image", IMAGE, "--role", ROLE, "--model", str(tmp_path / "none.tar.gz"))
    )
    assert missing.startswith(f"error: model not found: {tmp_path / 'none.tar.gz'}")

    bad_name = single_error_line(
        moto.cli(
            "deploy", "--name", "under_score", "--image", IMAGE, "--role", ROLE, "--model", "s3://b/m.tar.gz"
        )
    )
    assert bad_name.startswith("error: invalid endpoint name 'under_score'")

    env = clean_env(**AWS_ENV)
    no_role = single_error_line(moto.cli("deploy", "--image", IMAGE, "--model", "s3://b/m.tar.gz", env=env))
    assert no_role == "error: no execution role: pass --role ARN or set SAGEMAKER_ROLE_ARN"

    not_a_file = single_error_line(moto.cli("invoke", "x", "--file", str(tmp_path / "none.csv")))
    assert "No such file or directory" in not_a_file


def test_role_from_the_environment(moto: Moto) -> None:
    env = clean_env(**AWS_ENV, SAGEMAKER_ROLE_ARN=ROLE)
    moto.ok("deploy-multi", "--name", "env-role", "--image", IMAGE, "--no-wait", env=env)
    assert moto.client("sagemaker").describe_model(ModelName="env-role")["ExecutionRoleArn"] == ROLE


def test_global_options_work_after_the_command_too(moto: Moto) -> None:
    moto.ok(
        "deploy-multi", "--name", "west", "--image", IMAGE, "--role", ROLE,
        "--region", "eu-west-1", "--endpoint-url", moto.endpoint,
        endpoint=False,
    )  # fmt: skip
    assert moto.client("sagemaker", region="eu-west-1").describe_endpoint(EndpointName="west")
    assert moto.client("sagemaker").list_endpoints()["Endpoints"] == []
    # The default bucket follows the region, and is created with its location.
    bucket = "sagemaker-eu-west-1-123456789012"
    location = moto.client("s3", region="eu-west-1").get_bucket_location(Bucket=bucket)
    assert location["LocationConstraint"] == "eu-west-1"


def test_profile_gives_credentials_and_region(moto: Moto, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile staging]\nregion = ap-southeast-2\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[staging]\naws_access_key_id = staging\naws_secret_access_key = staging\n")
    env = clean_env(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    moto.ok(
        "--profile", "staging", "deploy-multi", "--name", "aus", "--image", IMAGE, "--role", ROLE, env=env
    )
    assert moto.client("sagemaker", region="ap-southeast-2").describe_endpoint(EndpointName="aus")
    # --region beats the profile's region.
    moto.ok(
        "--profile", "staging", "--region", "eu-central-1", "deploy-multi", "--name", "eu", "--image", IMAGE,
        "--role", ROLE, env=env,
    )  # fmt: skip
    assert moto.client("sagemaker", region="eu-central-1").describe_endpoint(EndpointName="eu")


def test_the_python_api_against_moto(
    moto: Moto, model_tarball: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The functions behind the commands, in this process: real calls to the moto server.
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    aws = Aws(region="us-east-1", endpoint_url=moto.endpoint)
    messages: list[str] = []
    name = deploy_endpoint(
        aws,
        name="api",
        image=IMAGE,
        model=str(model_tarball),
        role=ROLE,
        hosting=Hosting(instance_type="ml.c5.large", instance_count=1),
        waiting=Waiting(poll_s=0.1, timeout_s=120),
        progress=messages.append,
    )
    assert name == "api"
    # moto's endpoint is InService at the first look; how long that look took is not the point.
    assert any(re.fullmatch(r"endpoint api: InService \(\d+s\)", message) for message in messages), messages
    assert list_models(aws, "s3://sagemaker-us-east-1-123456789012/api/") == ["model.tar.gz"]
    delete_endpoint(aws, "api", progress=quiet)
    assert moto.client("sagemaker").list_endpoints()["Endpoints"] == []
