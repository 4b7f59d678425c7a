"""One request through the containers of one instance, as the platform moves it.

Serial: container N+1 receives container N's response body, with N's response Content-Type
as its request Content-Type; the caller's ContentType goes to the first container and its
Accept to the last, the ones between get no Accept and fall back to their
SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (hosting-contracts.md B.2). Direct: only the container
named by TargetContainerHostname. Multi-model: the platform's side of the MME contract
(multi_model.py) before the call. A container that answers 4xx or 5xx ends the request as
ModelError, naming that container, with its status and message.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from sagemaker_local.instances import Instance, RunningContainer
from sagemaker_local.wire import RUNTIME, ApiError, validation

# SageMaker's own limit on a container's answer to one invocation.
INVOCATION_TIMEOUT_S = 60
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


@dataclass(frozen=True)
class Call:
    body: bytes
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    target_model: str | None = None
    target_container: str | None = None
    timeout_s: float = INVOCATION_TIMEOUT_S


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str | None
    custom_attributes: str | None = None


def post(container: RunningContainer, path: str, call: Call, accept: str | None) -> Answer:
    headers = {}
    if call.content_type:
        headers["Content-Type"] = call.content_type
    if accept:
        headers["Accept"] = accept
    if call.custom_attributes:
        headers[CUSTOM_ATTRIBUTES] = call.custom_attributes
    if call.target_model:
        headers["X-Amzn-SageMaker-Target-Model"] = call.target_model
    try:
        response = requests.post(
            f"{container.url}{path}", data=call.body, headers=headers, timeout=call.timeout_s
        )
    except requests.Timeout:
        raise ApiError(
            "ModelError",
            f"Model container {container.spec.hostname} did not respond within {call.timeout_s:g} seconds",
            OriginalStatusCode=504,
            OriginalMessage="timeout",
        ) from None
    except requests.RequestException as exc:
        raise ApiError(
            "ModelError",
            f"Model container {container.spec.hostname} closed the connection: {type(exc).__name__}",
            OriginalStatusCode=502,
            OriginalMessage=str(exc)[:500],
        ) from None
    return Answer(
        response.status_code,
        response.content,
        response.headers.get("Content-Type"),
        response.headers.get(CUSTOM_ATTRIBUTES),
    )


def model_error(answer: Answer, container: RunningContainer, log_location: str) -> ApiError:
    kind = "client" if answer.status < 500 else "server"
    message = answer.body.decode(errors="replace")
    return ApiError(
        "ModelError",
        f'Received {kind} error ({answer.status}) from {container.spec.hostname} with message "{message}". '
        f"See {log_location} for more information.",
        OriginalStatusCode=answer.status,
        OriginalMessage=message,
        LogStreamArn=log_location,
        # Not in botocore's shape, but in AWS's own ModelError bodies.
        ErrorCode=f"{kind.upper()}_ERROR_FROM_MODEL",
    )


def serial(instance: Instance, call: Call, log_location: str, path: str = "/invocations") -> Answer:
    """The request through every container in order; the last container's answer."""
    body, content_type = call.body, call.content_type
    answer: Answer | None = None
    last = len(instance.containers) - 1
    for index, container in enumerate(instance.containers):
        hop = Call(body, content_type, None, call.custom_attributes, call.target_model, None, call.timeout_s)
        answer = post(container, path, hop, call.accept if index == last else None)
        if answer.status >= 400:
            raise model_error(answer, container, log_location)
        # The next container reads this answer as its request: a bare media type, as AWS's
        # own pipeline containers strip "; charset=..." for exactly this hand-over.
        body = answer.body
        content_type = (answer.content_type or "").split(";")[0].strip() or None
    assert answer is not None
    return answer


def direct(instance: Instance, call: Call, log_location: str) -> Answer:
    if not call.target_container:
        raise validation("TargetContainerHostname must be set for a Direct invocation endpoint.", RUNTIME)
    for container in instance.containers:
        if container.spec.hostname == call.target_container:
            answer = post(container, "/invocations", call, call.accept)
            if answer.status >= 400:
                raise model_error(answer, container, log_location)
            return answer
    raise validation(
        f"Unable to find container with hostname {call.target_container}; the endpoint's containers are "
        + ", ".join(c.spec.hostname for c in instance.containers),
        RUNTIME,
    )
