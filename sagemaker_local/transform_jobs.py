"""Transform jobs: the model's containers started for the job, fed by batch.py, then removed.

The job's containers get the model's environment, the job's `Environment`, `SAGEMAKER_BATCH`
and the three batch variables the user set (and only those: sagemaker-contract.md 3.1).
Before the first request the first container is asked for `/execution-parameters`; what the
request left unset comes from its answer (batch.resolve).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import requests

from sagemaker_local import batch
from sagemaker_local.endpoints import Deployment, Hosting, now
from sagemaker_local.instances import InstanceFailed
from sagemaker_local.invocation import Call, serial
from sagemaker_local.models import Model
from sagemaker_local.wire import ApiError

log = logging.getLogger(__name__)


def spec_of(request: dict[str, Any]) -> batch.JobSpec:
    return batch.JobSpec.from_request(request)


@dataclass
class TransformJob:
    request: dict[str, Any]
    arn: str
    created: dt.datetime
    spec: batch.JobSpec
    status: str = "InProgress"
    failure_reason: str | None = None
    started: dt.datetime | None = None
    ended: dt.datetime | None = None
    summary_counts: batch.Summary | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def name(self) -> str:
        return str(self.request["TransformJobName"])

    def stop(self) -> None:
        if self.status == "InProgress":
            self.status = "Stopping"
            self.stopping.set()

    def describe(self) -> dict[str, Any]:
        request = self.request
        transform_input = {"CompressionType": "None", "SplitType": "None", **request["TransformInput"]}
        transform_output = {"AssembleWith": "None", **request["TransformOutput"]}
        processing = {
            "InputFilter": "$",
            "OutputFilter": "$",
            "JoinSource": "None",
            **request.get("DataProcessing", {}),
        }
        described = {
            **{k: v for k, v in request.items() if k != "Tags"},
            "TransformJobArn": self.arn,
            "TransformJobStatus": self.status,
            "FailureReason": self.failure_reason,
            "TransformInput": transform_input,
            "TransformOutput": transform_output,
            "DataProcessing": processing,
            "CreationTime": self.created,
            "TransformStartTime": self.started,
            "TransformEndTime": self.ended,
        }
        resolved = self.spec
        if resolved.max_concurrent is not None:
            described["MaxConcurrentTransforms"] = resolved.max_concurrent
        if resolved.max_payload_mb is not None:
            described["MaxPayloadInMB"] = resolved.max_payload_mb
        if resolved.batch_strategy is not None:
            described["BatchStrategy"] = resolved.batch_strategy
        return described

    def summary(self) -> dict[str, Any]:
        return {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "CreationTime": self.created,
            "TransformEndTime": self.ended,
            "LastModifiedTime": self.ended or self.started or self.created,
            "TransformJobStatus": self.status,
            "FailureReason": self.failure_reason,
        }


def _environment(request: dict[str, Any]) -> dict[str, str]:
    environment = {**request.get("Environment", {}), "SAGEMAKER_BATCH": "true"}
    if request.get("MaxPayloadInMB") is not None:
        environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request["MaxPayloadInMB"])
    if request.get("BatchStrategy"):
        environment["SAGEMAKER_BATCH_STRATEGY"] = {
            "MultiRecord": "MULTI_RECORD",
            "SingleRecord": "SINGLE_RECORD",
        }[request["BatchStrategy"]]
    if request.get("MaxConcurrentTransforms"):
        environment["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(request["MaxConcurrentTransforms"])
    return environment


def _execution_parameters(deployment: Deployment) -> dict[str, Any] | None:
    first = deployment.instances[0].containers[0]
    try:
        answer = requests.get(f"{first.url}/execution-parameters", timeout=10)
    except requests.RequestException:
        return None
    if answer.status_code != 200:
        return None
    try:
        parameters = answer.json()
    except ValueError:
        return None
    return parameters if isinstance(parameters, dict) else None


def _invoker(deployment: Deployment, timeout_s: float) -> batch.Invoke:
    def invoke(body: bytes, content_type: str | None, accept: str | None) -> batch.Reply:
        instance = deployment.next_instance()
        call = Call(body, content_type, accept, timeout_s=timeout_s)
        try:
            answer = serial(instance, call, str(instance.log_dir))
        except ApiError as exc:
            status = int(exc.fields.get("OriginalStatusCode", 500))
            return batch.Reply(status, str(exc.fields.get("OriginalMessage", exc.message)).encode(), None)
        return batch.Reply(answer.status, answer.body, answer.content_type)

    return invoke


def run(hosting: Hosting, job: TransformJob, model: Model) -> None:
    job.started = now()
    resources = job.request["TransformResources"]
    variant = {"VariantName": "transform", "InitialInstanceCount": int(resources.get("InstanceCount", 1))}
    deployment: Deployment | None = None
    status, reason = "Failed", None
    try:
        deployment = hosting.start_deployment(
            "transform-jobs", job.name, variant, model, _environment(job.request)
        )
        job.spec = batch.resolve(job.spec, _execution_parameters(deployment))
        log.info(
            "transform job %s: MaxConcurrentTransforms=%s, MaxPayloadInMB=%s, BatchStrategy=%s",
            job.name,
            job.spec.max_concurrent,
            job.spec.max_payload_mb,
            job.spec.batch_strategy,
        )
        job.summary_counts = batch.run(
            job.spec,
            _invoker(deployment, job.spec.invocations_timeout_s),
            hosting.storage,
            job.stopping.is_set,
        )
        status = "Completed"
    except batch.Stopped:
        status = "Stopped"
    except (batch.TransformFailed, InstanceFailed) as exc:
        reason = str(exc)
    except Exception as exc:
        log.exception("transform job %s", job.name)
        reason = f"{type(exc).__name__}: {exc}"
    finally:
        if deployment is not None:
            deployment.stop()
        hosting.remove_files("transform-jobs", job.name)
    # The final state is shown only once the job's containers are gone, as on AWS.
    job.ended = now()
    job.failure_reason = reason[:1024] if reason else None
    job.status = status
