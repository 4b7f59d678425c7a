"""Application Auto Scaling for an endpoint variant: instance bounds plus one target-tracking
policy on invocations per instance, the metric AWS recommends for real-time endpoints."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deploy.aws import Aws
from deploy.errors import DeployError
from deploy.waiting import Progress, to_stderr

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"


@dataclass(frozen=True)
class Scaling:
    min_instances: int
    max_instances: int
    # Invocations per instance per minute; the right value comes from a load test.
    target_invocations: float = 70.0
    scale_in_cooldown_s: int = 300
    scale_out_cooldown_s: int = 60

    def check(self) -> None:
        if self.min_instances < 1:
            raise DeployError("the minimum instance count must be at least 1")
        if self.max_instances < self.min_instances:
            raise DeployError(
                f"the maximum ({self.max_instances}) is below the minimum ({self.min_instances})"
            )
        if self.target_invocations <= 0:
            raise DeployError("the target invocations per instance must be positive")


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def policy_name(endpoint: str, variant: str) -> str:
    return f"{endpoint}-{variant}-invocations-per-instance"


def configure_autoscaling(
    aws: Aws,
    endpoint: str,
    scaling: Scaling,
    *,
    variant: str | None = None,
    progress: Progress = to_stderr,
) -> str:
    """Register the variant (the endpoint's first by default) and put the policy; return the
    resource ID. Running it again updates both."""
    scaling.check()
    # Read the endpoint first: Application Auto Scaling's own error for a missing endpoint
    # does not name it, and the variant name has to come from somewhere.
    described = aws.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    variants = [v["VariantName"] for v in described.get("ProductionVariants", [])]
    variant = variant or (variants[0] if variants else "AllTraffic")
    if variants and variant not in variants:
        raise DeployError(f"endpoint {endpoint} has no variant {variant} (it has {', '.join(variants)})")
    rid = resource_id(endpoint, variant)

    client = aws.client("application-autoscaling")
    client.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=rid,
        ScalableDimension=DIMENSION,
        MinCapacity=scaling.min_instances,
        MaxCapacity=scaling.max_instances,
    )
    progress(f"registered {rid}: {scaling.min_instances} to {scaling.max_instances} instances")
    client.put_scaling_policy(
        PolicyName=policy_name(endpoint, variant),
        ServiceNamespace=NAMESPACE,
        ResourceId=rid,
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": scaling.target_invocations,
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleInCooldown": scaling.scale_in_cooldown_s,
            "ScaleOutCooldown": scaling.scale_out_cooldown_s,
        },
    )
    progress(f"policy {policy_name(endpoint, variant)}: {scaling.target_invocations:g} {METRIC}")
    return rid


def remove_autoscaling(
    aws: Aws, endpoint: str, variants: Iterable[str], *, progress: Progress = to_stderr
) -> None:
    """Delete the policies and scalable targets of these variants, if there are any."""
    client = aws.client("application-autoscaling")
    ids = [resource_id(endpoint, variant) for variant in variants]
    if not ids:
        return
    for rid in ids:
        policies = client.describe_scaling_policies(
            ServiceNamespace=NAMESPACE, ResourceId=rid, ScalableDimension=DIMENSION
        )["ScalingPolicies"]
        for policy in policies:
            client.delete_scaling_policy(
                PolicyName=policy["PolicyName"],
                ServiceNamespace=NAMESPACE,
                ResourceId=rid,
                ScalableDimension=DIMENSION,
            )
            progress(f"deleted scaling policy {policy['PolicyName']}")
    targets = client.describe_scalable_targets(
        ServiceNamespace=NAMESPACE, ResourceIds=ids, ScalableDimension=DIMENSION
    )["ScalableTargets"]
    for target in targets:
        client.deregister_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId=target["ResourceId"], ScalableDimension=DIMENSION
        )
        progress(f"deregistered scalable target {target['ResourceId']}")
