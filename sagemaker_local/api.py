"""The SageMaker operations served here, each with AWS's states, answers and errors.

Requests arrive parsed and validated against botocore's model (wire.py); each handler takes
the operation's parameters and returns its output members. Long work (starting containers,
running a transform job) happens in background threads, as on AWS, where these calls return
at once and the caller polls Describe*.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagemaker_local import endpoints, transform_jobs
from sagemaker_local.endpoints import Endpoint, Hosting, now
from sagemaker_local.invocation import Call
from sagemaker_local.models import Model
from sagemaker_local.wire import RUNTIME, ApiError, not_found, validation

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Account:
    region: str = "us-east-1"
    account_id: str = "123456789012"

    def arn(self, kind: str, name: str) -> str:
        # SageMaker's ARNs spell names in lower case.
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{kind}/{name.lower()}"


@dataclass
class EndpointConfig:
    request: dict[str, Any]
    arn: str
    created: dt.datetime

    def describe(self) -> dict[str, Any]:
        described = {k: v for k, v in self.request.items() if k != "Tags"}
        return {**described, "EndpointConfigArn": self.arn, "CreationTime": self.created}


@dataclass
class SageMaker:
    hosting: Hosting
    account: Account = field(default_factory=Account)
    models: dict[str, Model] = field(default_factory=dict)
    configs: dict[str, EndpointConfig] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    jobs: dict[str, transform_jobs.TransformJob] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "CreateModel": self.create_model,
            "DescribeModel": self.describe_model,
            "DeleteModel": self.delete_model,
            "ListModels": self.list_models,
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": self.describe_endpoint_config,
            "DeleteEndpointConfig": self.delete_endpoint_config,
            "ListEndpointConfigs": self.list_endpoint_configs,
            "CreateEndpoint": self.create_endpoint,
            "DescribeEndpoint": self.describe_endpoint,
            "UpdateEndpoint": self.update_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "ListEndpoints": self.list_endpoints,
            "CreateTransformJob": self.create_transform_job,
            "DescribeTransformJob": self.describe_transform_job,
            "StopTransformJob": self.stop_transform_job,
            "ListTransformJobs": self.list_transform_jobs,
            "AddTags": lambda params: {"Tags": params.get("Tags", [])},
            "ListTags": lambda params: {"Tags": []},
        }

    # Models

    def create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelName"]
        arn = self.account.arn("model", name)
        containers = params.get("Containers")
        primary = params.get("PrimaryContainer")
        if bool(containers) == bool(primary):
            raise validation("Exactly one of PrimaryContainer or Containers must be specified.")
        if containers is not None:
            hostnames = [c.get("ContainerHostname") for c in containers]
            if any(hostnames) and not all(hostnames):
                raise validation("ContainerHostname must be set for all containers or for none of them.")
            mode = params.get("InferenceExecutionConfig", {}).get("Mode", "Serial")
            if mode == "Direct" and not all(hostnames):
                raise validation("ContainerHostname is required for every container in Direct mode.")
            if len(set(hostnames)) != len(hostnames) and all(hostnames):
                raise validation("ContainerHostname must be unique across containers.")
        for container in containers or [primary]:
            if container.get("Mode") == "MultiModel" and not container.get("ModelDataUrl"):
                raise validation("ModelDataUrl (an S3 prefix) is required for a MultiModel container.")
        with self.lock:
            if name in self.models:
                raise validation(f'Cannot create already existing model "{arn}".')
            self.models[name] = Model(params, arn, now())
        return {"ModelArn": arn}

    def _model(self, name: str) -> Model:
        with self.lock:
            if name not in self.models:
                raise validation(f'Could not find model "{self.account.arn("model", name)}".')
            return self.models[name]

    def describe_model(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._model(params["ModelName"]).describe()

    def delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._model(params["ModelName"])
            del self.models[params["ModelName"]]
        return {}

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [m for m in self.models.values() if _listed(m.name, m.created, params)]
        found = _sorted(found, params, lambda m: m.name, lambda m: m.created)
        return {
            "Models": [{"ModelName": m.name, "ModelArn": m.arn, "CreationTime": m.created} for m in found]
        }

    # Endpoint configurations

    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointConfigName"]
        arn = self.account.arn("endpoint-config", name)
        variants = params["ProductionVariants"]
        names = [v["VariantName"] for v in variants]
        if len(set(names)) != len(names):
            raise validation("VariantName must be unique across ProductionVariants.")
        for variant in variants:
            model = self._model(variant["ModelName"])
            if "ServerlessConfig" not in variant and not variant.get("InitialInstanceCount"):
                raise validation(
                    f"InitialInstanceCount is required for variant {variant['VariantName']}: "
                    "sagemaker-local runs instances, not serverless variants"
                )
            if model.multi_model and len(model.containers) > 1:
                raise validation("A multi-model container in a pipeline is not supported by sagemaker-local.")
        with self.lock:
            if name in self.configs:
                raise validation(f'Cannot create already existing endpoint configuration "{arn}".')
            self.configs[name] = EndpointConfig(params, arn, now())
        return {"EndpointConfigArn": arn}

    def _config(self, name: str) -> EndpointConfig:
        with self.lock:
            if name not in self.configs:
                raise validation(
                    f'Could not find endpoint configuration "{self.account.arn("endpoint-config", name)}".'
                )
            return self.configs[name]

    def describe_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._config(params["EndpointConfigName"]).describe()

    def delete_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._config(params["EndpointConfigName"])
            del self.configs[params["EndpointConfigName"]]
        return {}

    def list_endpoint_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [
                c
                for c in self.configs.values()
                if _listed(c.request["EndpointConfigName"], c.created, params)
            ]
        found = _sorted(found, params, lambda c: c.request["EndpointConfigName"], lambda c: c.created)
        return {
            "EndpointConfigs": [
                {
                    "EndpointConfigName": c.request["EndpointConfigName"],
                    "EndpointConfigArn": c.arn,
                    "CreationTime": c.created,
                }
                for c in found
            ]
        }

    # Endpoints

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]
        arn = self.account.arn("endpoint", name)
        config = self._config(params["EndpointConfigName"])
        with self.lock:
            if name in self.endpoints:
                raise validation(f'Cannot create already existing endpoint "{arn}".')
            endpoint = Endpoint(name, arn, config.request["EndpointConfigName"], now())
            self.endpoints[name] = endpoint
        self._deploy(endpoint, config)
        return {"EndpointArn": arn}

    def _deploy(self, endpoint: Endpoint, config: EndpointConfig) -> None:
        threading.Thread(
            target=endpoints.deploy,
            args=(self.hosting, endpoint, config.request, self._model),
            name=f"deploy-{endpoint.name}",
            daemon=True,
        ).start()

    def _endpoint(self, name: str) -> Endpoint:
        with self.lock:
            if name not in self.endpoints:
                raise validation(f'Could not find endpoint "{self.account.arn("endpoint", name)}".')
            return self.endpoints[name]

    def describe_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointName"])
        with endpoint.lock:
            return endpoint.describe()

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointName"])
        config = self._config(params["EndpointConfigName"])
        with endpoint.lock:
            if endpoint.status != "InService":
                raise validation(
                    f'Cannot update in-progress endpoint "{endpoint.arn}".'
                    if endpoint.status in ("Creating", "Updating")
                    else f"Endpoint {endpoint.name} is {endpoint.status} and cannot be updated."
                )
            endpoint.status = "Updating"
            endpoint.modified = now()
        self._deploy(endpoint, config)
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(params["EndpointName"])
        with self.lock:
            del self.endpoints[endpoint.name]
        with endpoint.lock:
            endpoint.status = "Deleting"
            deployments, endpoint.deployments = endpoint.deployments, []
        # Removed before answering, so a caller that saw the answer finds no container left.
        for deployment in deployments:
            deployment.stop()
        self.hosting.remove_files("endpoints", endpoint.name)
        return {}

    def list_endpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [e for e in self.endpoints.values() if _listed(e.name, e.created, params)]
        if params.get("StatusEquals"):
            found = [e for e in found if e.status == params["StatusEquals"]]
        found = _sorted(found, params, lambda e: e.name, lambda e: e.created)
        return {"Endpoints": [e.summary() for e in found]}

    # Transform jobs

    def create_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["TransformJobName"]
        arn = self.account.arn("transform-job", name)
        model = self._model(params["ModelName"])
        if model.multi_model:
            raise validation("Batch transform does not support multi-model containers.")
        try:
            spec = transform_jobs.spec_of(params)
        except ValueError as exc:
            raise validation(str(exc)) from None
        with self.lock:
            if name in self.jobs:
                raise validation(
                    f"Job name must be unique within an AWS account and region, and a job with "
                    f"this name already exists ({arn})"
                )
            job = transform_jobs.TransformJob(params, arn, now(), spec)
            self.jobs[name] = job
        threading.Thread(
            target=transform_jobs.run, args=(self.hosting, job, model), name=f"transform-{name}", daemon=True
        ).start()
        return {"TransformJobArn": arn}

    def _job(self, name: str) -> transform_jobs.TransformJob:
        with self.lock:
            if name not in self.jobs:
                raise not_found(f"Could not find requested job with name {name}")
            return self.jobs[name]

    def describe_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._job(params["TransformJobName"]).describe()

    def stop_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        self._job(params["TransformJobName"]).stop()
        return {}

    def list_transform_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            found = [j for j in self.jobs.values() if _listed(j.name, j.created, params)]
        if params.get("StatusEquals"):
            found = [j for j in found if j.status == params["StatusEquals"]]
        found = _sorted(found, params, lambda j: j.name, lambda j: j.created)
        return {"TransformJobSummaries": [j.summary() for j in found]}

    # Runtime

    def invoke_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            endpoint = self.endpoints.get(params["EndpointName"])
        if endpoint is None:
            raise validation(
                f"Endpoint {params['EndpointName']} of account {self.account.account_id} not found.", RUNTIME
            )
        call = Call(
            body=params.get("Body") or b"",
            content_type=params.get("ContentType"),
            accept=params.get("Accept"),
            custom_attributes=params.get("CustomAttributes"),
            target_model=params.get("TargetModel"),
            target_container=params.get("TargetContainerHostname"),
        )
        deployment, answer = endpoints.route(endpoint, call, params.get("TargetVariant"))
        return {
            "Body": answer.body,
            "ContentType": answer.content_type,
            "InvokedProductionVariant": deployment.name,
            "CustomAttributes": answer.custom_attributes,
        }


def _listed(name: str, created: dt.datetime, params: Mapping[str, Any]) -> bool:
    contains = params.get("NameContains")
    if contains and contains.lower() not in name.lower():
        return False
    before, after = params.get("CreationTimeBefore"), params.get("CreationTimeAfter")
    if before is not None and created.timestamp() >= float(before):
        return False
    return after is None or created.timestamp() > float(after)


def _sorted(items: list, params: Mapping[str, Any], name: Callable, created: Callable) -> list:
    key = name if params.get("SortBy") == "Name" else created
    ordered = sorted(items, key=key, reverse=params.get("SortOrder", "Descending") == "Descending")
    return ordered[: int(params.get("MaxResults") or 100)]


def not_implemented(operation: str) -> ApiError:
    return ApiError(
        "UnknownOperationException",
        f"sagemaker-local does not emulate {operation}; it serves the hosting and batch transform subset "
        "(see the README)",
        400,
    )
