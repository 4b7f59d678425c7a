"""autoscale against moto: the scalable target and its target-tracking policy."""

from __future__ import annotations

from pathlib import Path

from tests.deploy.conftest import IMAGE, ROLE, Moto

RESOURCE = "endpoint/housing/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def deploy(moto: Moto, model_tarball: Path) -> None:
    moto.ok("deploy", "--name", "housing", "--image", IMAGE, "--role", ROLE, "--model", str(model_tarball))


def test_autoscale_registers_the_variant_and_a_target_tracking_policy(
    moto: Moto, model_tarball: Path
) -> None:
    deploy(moto, model_tarball)
    result = moto.ok("autoscale", "housing", "--min", "2", "--max", "5", "--target", "120")
    assert result.stdout.strip() == RESOURCE

    client = moto.client("application-autoscaling")
    (target,) = client.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == RESOURCE
    assert target["ScalableDimension"] == DIMENSION
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 5)

    (policy,) = client.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RESOURCE)[
        "ScalingPolicies"
    ]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 120.0
    assert (
        config["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert (config["ScaleInCooldown"], config["ScaleOutCooldown"]) == (300, 60)


def test_autoscale_again_updates_the_bounds(moto: Moto, model_tarball: Path) -> None:
    deploy(moto, model_tarball)
    moto.ok("autoscale", "housing", "--min", "1", "--max", "2")
    moto.ok("autoscale", "housing", "--min", "1", "--max", "8")
    client = moto.client("application-autoscaling")
    (target,) = client.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["MaxCapacity"] == 8
    assert len(client.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]) == 1


def test_autoscale_refuses_bad_bounds_and_unknown_endpoints(moto: Moto, model_tarball: Path) -> None:
    deploy(moto, model_tarball)
    upside_down = moto.cli("autoscale", "housing", "--min", "4", "--max", "2")
    assert upside_down.returncode == 1
    assert upside_down.stderr.strip() == "error: the maximum (2) is below the minimum (4)"

    wrong_variant = moto.cli("autoscale", "housing", "--min", "1", "--max", "2", "--variant", "blue")
    assert wrong_variant.stderr.strip() == "error: endpoint housing has no variant blue (it has AllTraffic)"

    missing = moto.cli("autoscale", "nope", "--min", "1", "--max", "2")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: ValidationException: Could not find endpoint")
    assert len(missing.stderr.strip().splitlines()) == 1

    targets = moto.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")
    assert targets["ScalableTargets"] == []
