"""Endpoints: their variants' instances started in the background, and requests routed to them.

An endpoint is `Creating` until every container of every instance answers /ping with 200,
then `InService`; if one does not, all are removed and it is `Failed` with a FailureReason
that says which container and why. Requests pick a variant by weight (or TargetVariant) and
go round-robin over that variant's instances.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import random
import shutil
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker_local import invocation
from sagemaker_local.instances import Instance, InstanceFailed
from sagemaker_local.invocation import Answer, Call
from sagemaker_local.models import Model, ModelData, ModelDataError
from sagemaker_local.multi_model import LoadedModels
from sagemaker_local.storage import Storage
from sagemaker_local.wire import RUNTIME, ApiError, validation

log = logging.getLogger(__name__)
READY_DEADLINE_S = 600


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Deployment:
    """One variant's model and its running instances."""

    variant: Mapping[str, Any]
    model: Model
    instances: list[Instance] = field(default_factory=list)
    multi_model: dict[str, LoadedModels] = field(default_factory=dict)
    _turn: Any = None
    _turn_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return str(self.variant["VariantName"])

    @property
    def weight(self) -> float:
        return float(self.variant.get("InitialVariantWeight", 1.0))

    def next_instance(self) -> Instance:
        # Transform jobs call this from several threads at once.
        with self._turn_lock:
            if self._turn is None:
                self._turn = itertools.cycle(range(len(self.instances)))
            return self.instances[next(self._turn)]

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()


@dataclass
class Endpoint:
    name: str
    arn: str
    config_name: str
    created: dt.datetime
    status: str = "Creating"
    failure_reason: str | None = None
    modified: dt.datetime = field(default_factory=now)
    deployments: list[Deployment] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> dict[str, Any]:
        variants = []
        for deployment in self.deployments:
            variants.append(
                {
                    "VariantName": deployment.name,
                    "DeployedImages": [
                        {
                            "SpecifiedImage": c["Image"],
                            "ResolvedImage": self.images.get(c["Image"], c["Image"]),
                        }
                        for c in deployment.model.containers
                    ],
                    "CurrentWeight": deployment.weight,
                    "DesiredWeight": deployment.weight,
                    "CurrentInstanceCount": len(deployment.instances),
                    "DesiredInstanceCount": int(deployment.variant.get("InitialInstanceCount", 1)),
                }
            )
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "EndpointConfigName": self.config_name,
            # Absent while the first deployment is being created, as on AWS.
            "ProductionVariants": variants or None,
            "EndpointStatus": self.status,
            "FailureReason": self.failure_reason,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "EndpointName": self.name,
            "EndpointArn": self.arn,
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "EndpointStatus": self.status,
        }

    def log_location(self, deployment: Deployment, instance: Instance) -> str:
        return str(instance.log_dir)


class Hosting:
    """Starts instances for endpoints and transform jobs and owns the folders they use."""

    def __init__(
        self, storage: Storage, work_dir: Path, labels: Mapping[str, str], memory: str | None
    ) -> None:
        self.storage = storage
        self.work_dir = work_dir
        self.labels = dict(labels)
        self.memory = memory
        self.model_data = ModelData(storage, work_dir)

    def log_dir(self, kind: str, name: str) -> Path:
        return self.work_dir / "logs" / kind / name

    def start_deployment(
        self, kind: str, owner: str, variant: Mapping[str, Any], model: Model, environment: Mapping[str, str]
    ) -> Deployment:
        deployment = Deployment(variant, model)
        count = int(variant.get("InitialInstanceCount", 1))
        models_root = self.work_dir / "models" / kind / owner / deployment.name
        try:
            instances = []
            for index in range(count):
                instance_name = f"{owner}-{deployment.name}-{index + 1}".lower()
                specs = self.model_data.specs(model, environment, models_root / str(index + 1))
                instances.append(
                    Instance(
                        name=instance_name,
                        specs=specs,
                        labels={**self.labels, "sagemaker-local.resource": f"{kind}/{owner}"},
                        log_dir=self.log_dir(kind, owner),
                        memory=self.memory,
                    )
                )
        except ModelDataError as exc:
            raise InstanceFailed(f"Failed to download model data: {exc}") from None
        deployment.instances = instances
        failures: list[str] = []

        # The variant's own startup health check timeout, as on AWS.
        deadline_s = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or READY_DEADLINE_S)

        def start(instance: Instance) -> None:
            try:
                instance.start(deadline_s)
            except InstanceFailed as exc:
                failures.append(f"{instance.name}: {exc}")
            except Exception as exc:
                failures.append(f"{instance.name}: {type(exc).__name__}: {exc}")

        with ThreadPoolExecutor(max_workers=max(count, 1)) as pool:
            list(pool.map(start, instances))
        if failures:
            deployment.stop()
            raise InstanceFailed("; ".join(failures))
        if model.multi_model:
            prefix = str(model.containers[0].get("ModelDataUrl", ""))
            for index, instance in enumerate(instances):
                container = instance.containers[0]
                deployment.multi_model[instance.name] = LoadedModels(
                    container, models_root / str(index + 1) / container.spec.hostname, prefix, self.storage
                )
        return deployment

    def remove_files(self, kind: str, owner: str) -> None:
        shutil.rmtree(self.work_dir / "models" / kind / owner, ignore_errors=True)


def deploy(
    hosting: Hosting,
    endpoint: Endpoint,
    config: Mapping[str, Any],
    models: Callable[[str], Model],
    on_done: Callable[[], None] = lambda: None,
) -> None:
    """Start every variant of `config` for `endpoint`, then swap it in (create and update alike)."""
    started: list[Deployment] = []
    try:
        for variant in config["ProductionVariants"]:
            try:
                started.append(
                    hosting.start_deployment(
                        "endpoints", endpoint.name, variant, models(variant["ModelName"]), {}
                    )
                )
            except InstanceFailed as exc:
                kind = (
                    "primary container" if len(models(variant["ModelName"]).containers) == 1 else "containers"
                )
                raise InstanceFailed(
                    f"The {kind} for production variant {variant['VariantName']} did not pass the ping "
                    "health "
                    f"check. Please check the logs in {hosting.log_dir('endpoints', endpoint.name)}. {exc}"
                ) from None
    except Exception as exc:
        for deployment in started:
            deployment.stop()
        with endpoint.lock:
            endpoint.failure_reason = str(exc)[:1024]
            # An update that fails leaves the endpoint serving its old configuration.
            endpoint.status = "InService" if endpoint.deployments else "Failed"
            endpoint.modified = now()
        log.warning("endpoint %s: %s", endpoint.name, exc)
        on_done()
        return
    old: list[Deployment] = []
    with endpoint.lock:
        deleted = endpoint.status == "Deleting"
        if not deleted:
            old = endpoint.deployments
            endpoint.deployments = started
            endpoint.config_name = str(config["EndpointConfigName"])
            endpoint.status = "InService"
            endpoint.failure_reason = None
            endpoint.modified = now()
    if deleted:
        # DeleteEndpoint came while these were starting: nobody will route to them.
        for deployment in started:
            deployment.stop()
        on_done()
        return
    for deployment in old:
        deployment.stop()
    on_done()


def route(endpoint: Endpoint, call: Call, target_variant: str | None) -> tuple[Deployment, Answer]:
    """Send `call` to one instance of one variant of `endpoint`."""
    with endpoint.lock:
        if endpoint.status not in ("InService", "Updating") or not endpoint.deployments:
            raise validation(
                f"Endpoint {endpoint.name} is not in service (status {endpoint.status}).", RUNTIME
            )
        deployments = list(endpoint.deployments)
    if target_variant:
        chosen = [d for d in deployments if d.name == target_variant]
        if not chosen:
            raise validation(
                f"The variant {target_variant} does not exist for endpoint {endpoint.name}.", RUNTIME
            )
        deployment = chosen[0]
    else:
        weights = [d.weight for d in deployments]
        if sum(weights) <= 0:
            raise validation(f"Endpoint {endpoint.name} has no variant with a weight above 0.", RUNTIME)
        deployment = random.choices(deployments, weights=weights)[0]
    instance = deployment.next_instance()
    location = endpoint.log_location(deployment, instance)
    model = deployment.model
    if call.target_container and model.mode != "Direct":
        raise validation(
            "TargetContainerHostname is only allowed for an endpoint with a Direct invocation mode.", RUNTIME
        )
    if model.multi_model:
        if not call.target_model:
            raise validation(
                f"Request to multi-model endpoint {endpoint.name} is missing a target model header "
                "(X-Amzn-SageMaker-Target-Model, TargetModel in the SDKs).",
                RUNTIME,
            )
        return deployment, deployment.multi_model[instance.name].invoke(call, location)
    if call.target_model:
        raise validation(
            f"Endpoint {endpoint.name} is not a multi-model endpoint and does not support target model "
            "header.",
            RUNTIME,
        )
    if model.mode == "Direct":
        return deployment, invocation.direct(instance, call, location)
    return deployment, invocation.serial(instance, call, location)


def error_of(exc: Exception) -> ApiError:
    return exc if isinstance(exc, ApiError) else ApiError("InternalFailure", str(exc), 500)
