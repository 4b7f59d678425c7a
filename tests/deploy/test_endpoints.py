"""deploy, deploy-multi, add-model, list-models and delete against moto, checked with boto3."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from tests.deploy.conftest import DEFAULT_BUCKET, IMAGE, ROLE, Moto
from tests.support import write_regressor


def deploy(moto: Moto, name: str, model: Path | str, *extra: str) -> str:
    result = moto.ok(
        "deploy", "--name", name, "--image", IMAGE, "--role", ROLE, "--model", str(model), *extra
    )
    return result.stdout


def s3_bytes(moto: Moto, uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return moto.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def nothing_left(moto: Moto) -> None:
    sagemaker = moto.client("sagemaker")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    targets = moto.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert targets["ScalableTargets"] == []


def made_elsewhere(moto: Moto, model: str, config: str, variant: str, endpoint: str | None = None) -> None:
    """A model and an endpoint config (and an endpoint) created with boto3, not by sklearn-deploy."""
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(ModelName=model, PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    if endpoint is not None:
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)


def test_deploy_uploads_the_tarball_and_creates_model_config_and_endpoint(
    moto: Moto, model_tarball: Path
) -> None:
    stdout = deploy(
        moto, "housing", model_tarball, "--instance-type", "ml.c5.xlarge", "--instance-count", "2"
    )
    assert stdout.splitlines()[-1] == "housing"

    sagemaker = moto.client("sagemaker")
    model = sagemaker.describe_model(ModelName="housing")
    container = model["PrimaryContainer"]
    assert container["Image"] == IMAGE
    assert model["ExecutionRoleArn"] == ROLE
    assert container["ModelDataUrl"] == f"s3://{DEFAULT_BUCKET}/housing/model.tar.gz"
    assert s3_bytes(moto, container["ModelDataUrl"]) == model_tarball.read_bytes()

    config = sagemaker.describe_endpoint_config(EndpointConfigName="housing")
    (variant,) = config["ProductionVariants"]
    assert variant["ModelName"] == "housing"
    assert variant["InstanceType"] == "ml.c5.xlarge"
    assert variant["InitialInstanceCount"] == 2
    assert variant["VariantName"] == "AllTraffic"

    endpoint = sagemaker.describe_endpoint(EndpointName="housing")
    assert endpoint["EndpointConfigName"] == "housing"
    assert endpoint["EndpointStatus"] == "InService"


def test_deploy_reports_progress_on_stderr_and_only_the_name_on_stdout(
    moto: Moto, model_tarball: Path
) -> None:
    result = moto.ok(
        "deploy", "--name", "quiet", "--image", IMAGE, "--role", ROLE, "--model", str(model_tarball)
    )
    assert result.stdout == "quiet\n"
    assert "endpoint quiet: InService" in result.stderr
    assert "created model quiet" in result.stderr


def test_deploy_packs_a_model_directory(moto: Moto, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    write_regressor(model_dir)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").write_text("# hooks\n")
    deploy(moto, "from-dir", model_dir, "--env", "SAGEMAKER_PROGRAM=inference.py")

    model = moto.client("sagemaker").describe_model(ModelName="from-dir")["PrimaryContainer"]
    assert model["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py"}
    with tarfile.open(fileobj=io.BytesIO(s3_bytes(moto, model["ModelDataUrl"]))) as tar:
        # At the archive root, as SageMaker unpacks it into /opt/ml/model.
        assert sorted(tar.getnames()) == ["code", "code/inference.py", "model.joblib"]


def test_deploy_with_an_s3_model_uploads_nothing(moto: Moto, model_tarball: Path) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(model_tarball), "models", "v1/model.tar.gz")
    deploy(moto, "from-s3", "s3://models/v1/model.tar.gz", "--no-wait")
    container = moto.client("sagemaker").describe_model(ModelName="from-s3")["PrimaryContainer"]
    assert container["ModelDataUrl"] == "s3://models/v1/model.tar.gz"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["models"]


def test_deploy_multi_creates_a_multi_model_endpoint_over_the_prefix(moto: Moto, tmp_path: Path) -> None:
    for city in ("Chicago_IL", "Houston_TX"):
        write_regressor(tmp_path / city)
    moto.client("s3").create_bucket(Bucket="mme")
    result = moto.ok(
        "deploy-multi",
        "--name",
        "cities",
        "--image",
        IMAGE,
        "--role",
        ROLE,
        "--prefix",
        "s3://mme/models",
        "--model",
        str(tmp_path / "Chicago_IL"),
        "--model",
        str(tmp_path / "Houston_TX"),
        "--instance-count",
        "2",
    )
    assert result.stdout == "cities\n"

    sagemaker = moto.client("sagemaker")
    container = sagemaker.describe_model(ModelName="cities")["PrimaryContainer"]
    assert container["Mode"] == "MultiModel"
    assert container["ModelDataUrl"] == "s3://mme/models/"
    assert container["Image"] == IMAGE
    config = sagemaker.describe_endpoint_config(EndpointConfigName="cities")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert sagemaker.describe_endpoint(EndpointName="cities")["EndpointStatus"] == "InService"

    listed = moto.ok("list-models", "--endpoint", "cities").stdout.split()
    assert listed == ["Chicago_IL.tar.gz", "Houston_TX.tar.gz"]
    assert moto.ok("list-models", "--prefix", "s3://mme/models/").stdout.split() == listed


def test_deploy_multi_defaults_to_a_prefix_in_the_default_bucket(moto: Moto) -> None:
    moto.ok("deploy-multi", "--name", "empty", "--image", IMAGE, "--role", ROLE)
    container = moto.client("sagemaker").describe_model(ModelName="empty")["PrimaryContainer"]
    assert container["ModelDataUrl"] == f"s3://{DEFAULT_BUCKET}/empty/models/"
    assert moto.ok("list-models", "--endpoint", "empty").stdout == ""


def test_add_model_copies_from_s3_and_uploads_local_tarballs(moto: Moto, model_tarball: Path) -> None:
    moto.ok("deploy-multi", "--name", "mme", "--image", IMAGE, "--role", ROLE)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="training")
    s3.upload_file(str(model_tarball), "training", "jobs/chicago/output/model.tar.gz")

    # As the multi-model notebook's add_model: a training artifact, renamed.
    copied = moto.ok(
        "add-model",
        "--endpoint",
        "mme",
        "s3://training/jobs/chicago/output/model.tar.gz",
        "--as",
        "Chicago_IL.tar.gz",
    )
    assert copied.stdout.strip() == f"s3://{DEFAULT_BUCKET}/mme/models/Chicago_IL.tar.gz"
    uploaded = moto.ok("add-model", "--prefix", f"s3://{DEFAULT_BUCKET}/mme/models", str(model_tarball))
    assert uploaded.stdout.strip() == f"s3://{DEFAULT_BUCKET}/mme/models/model.tar.gz"

    assert moto.ok("list-models", "--endpoint", "mme").stdout.split() == ["Chicago_IL.tar.gz", "model.tar.gz"]
    assert s3_bytes(moto, copied.stdout.strip()) == model_tarball.read_bytes()


def test_list_models_refuses_a_single_model_endpoint(moto: Moto, model_tarball: Path) -> None:
    deploy(moto, "single", model_tarball)
    result = moto.cli("list-models", "--endpoint", "single")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: endpoint single is not a multi-model endpoint (its model has one model)"
    )


def test_delete_removes_everything_and_is_idempotent(moto: Moto, model_tarball: Path) -> None:
    deploy(moto, "gone", model_tarball)
    moto.ok("autoscale", "gone", "--min", "1", "--max", "2")
    first = moto.ok("delete", "gone")
    for what in (
        "endpoint gone",
        "endpoint config gone",
        "model gone",
        "scalable target endpoint/gone/variant/AllTraffic",
    ):
        assert what in first.stderr
    nothing_left(moto)

    again = moto.ok("delete", "gone")
    assert "note: endpoint gone not found, nothing to delete" in again.stderr
    assert "note: model gone not found, nothing to delete" in again.stderr
    nothing_left(moto)


def test_delete_after_a_half_finished_deploy(moto: Moto, model_tarball: Path) -> None:
    # A model and config left behind by a deploy whose endpoint was never created.
    made_elsewhere(moto, model="half", config="half", variant="AllTraffic")
    result = moto.ok("delete", "half")
    assert "note: endpoint half not found" in result.stderr
    nothing_left(moto)


def test_delete_finds_models_and_config_through_the_endpoint(moto: Moto) -> None:
    # An endpoint made by other tools, with names that differ from the endpoint's.
    made_elsewhere(moto, model="m-1", config="cfg-1", variant="blue", endpoint="other")
    moto.ok("delete", "other")
    nothing_left(moto)
