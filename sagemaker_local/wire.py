"""SageMaker's two wire protocols, read from botocore's own service models.

The control plane (`sagemaker`) is JSON 1.1: `POST /` with `X-Amz-Target: SageMaker.<Op>` and
a JSON body. The data plane (`sagemaker-runtime`) is REST-JSON: `InvokeEndpoint` is
`POST /endpoints/{EndpointName}/invocations` with its parameters in headers and the body as
is. The operation names, member names, where each member travels, which are required, their
limits and patterns, and the status code of every error all come from the same JSON files
boto3 and the AWS CLI are built from, so a client that works here works against AWS.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

SAGEMAKER = "sagemaker"
RUNTIME = "sagemaker-runtime"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
_NOT_NULL = "Member must not be null"


class ApiError(Exception):
    """An error answer: its code (`__type` / `x-amzn-ErrorType`), message and HTTP status.

    `fields` are the error shape's own members (ModelError's OriginalStatusCode, ...).
    """

    def __init__(self, code: str, message: str, status: int | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _error_status(code)
        self.fields = fields


def validation(message: str, service: str = SAGEMAKER) -> ApiError:
    # The control plane answers ValidationException, the runtime ValidationError: both are
    # what AWS sends, and each service's model only declares its own.
    return ApiError("ValidationException" if service == SAGEMAKER else "ValidationError", message, 400)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFound", message)


@cache
def service(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


def _error_status(code: str) -> int:
    for name in (SAGEMAKER, RUNTIME):
        for shape in service(name).error_shapes:
            if shape.name == code:
                return int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return 400


def operation(service_name: str, name: str) -> OperationModel:
    try:
        return service(service_name).operation_model(name)
    except Exception:
        raise ApiError("UnknownOperationException", f"Unknown operation {name}", 400) from None


def json_operation(target: str | None) -> OperationModel:
    prefix = service(SAGEMAKER).metadata["targetPrefix"] + "."
    if not target or not target.startswith(prefix):
        raise ApiError("UnknownOperationException", f"X-Amz-Target must be {prefix}<Operation>", 400)
    return operation(SAGEMAKER, target[len(prefix) :])


def parse_json(op: OperationModel, body: bytes) -> dict[str, Any]:
    try:
        params = json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError("SerializationException", f"The request body is not JSON: {exc}", 400) from None
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object", 400)
    return validate(op.input_shape, params, op.service_model.service_name)


def parse_rest(op: OperationModel, uri: Mapping[str, str], headers: Mapping[str, str], body: bytes) -> dict:
    """The members of a REST-JSON request, each from where the model says it travels."""
    params: dict[str, Any] = {}
    for name, member in op.input_shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            params[name] = uri[wire_name]
        elif location == "header":
            if wire_name in headers:
                params[name] = headers[wire_name]
        elif member.serialization.get("streaming") or member.type_name == "blob":
            params[name] = body
    return validate(op.input_shape, params, op.service_model.service_name)


def validate(shape: Shape, params: dict[str, Any], service_name: str) -> dict[str, Any]:
    """Check a request as AWS does, answering with AWS's wording for each constraint.

    AWS checks every member before refusing, and reports them together: "2 validation errors
    detected: Value null at 'modelName' failed to satisfy constraint: Member must not be null; ...".
    """
    problems: list[str] = []
    _check(shape, params, "", problems)
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
        raise validation(count + "; ".join(problems), service_name)
    return params


def _path(parent: str, name: str) -> str:
    # AWS names members in these messages lower camel case: ModelName -> modelName.
    member = name[:1].lower() + name[1:]
    return f"{parent}.{member}" if parent else member


def _check(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a structure")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(
                    f"Value null at '{_path(where, name)}' failed to satisfy constraint: {_NOT_NULL}"
                )
        for name, member_value in value.items():
            if name not in shape.members:
                problems.append(f"Unknown parameter '{_path(where, name)}'")
            elif member_value is not None:
                _check(shape.members[name], member_value, _path(where, name), problems)
        return
    if kind == "list":
        if not isinstance(value, list):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a list")
            return
        _length(shape, value, where, problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{where}.{index + 1}.member", problems)
        return
    if kind == "map":
        if not isinstance(value, dict):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a map")
            return
        _length(shape, value, where, problems)
        for key, item in value.items():
            _check(shape.key, key, f"{where}.key", problems)
            _check(shape.value, item, f"{where}.{key}.value", problems)
        return
    if kind == "string":
        if not isinstance(value, str):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a string")
            return
        _length(shape, value, where, problems)
        if shape.enum and value not in shape.enum:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy enum value "
                f"set: [{', '.join(shape.enum)}]"
            )
        pattern = shape.metadata.get("pattern")
        # file:// wherever AWS takes an s3:// URL: model data and job data on this machine.
        local_url = value.startswith("file://") and "s3" in (pattern or "")
        if pattern and not local_url and not _matches(pattern, value):
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must satisfy regular "
                f"expression pattern: {pattern}"
            )
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a number")
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have value "
                f"greater than or equal to {low}"
            )
        if high is not None and value > high:
            problems.append(
                f"Value '{value}' at '{where}' failed to satisfy constraint: Member must have value "
                f"less than or equal to {high}"
            )
        return
    if kind in ("float", "double") and (isinstance(value, bool) or not isinstance(value, int | float)):
        problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a number")
    if kind == "boolean" and not isinstance(value, bool):
        problems.append(f"Value at '{where}' failed to satisfy constraint: Member must be a boolean")


def _length(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    shown = value if isinstance(value, str) else "[...]"
    if low is not None and len(value) < low:
        problems.append(
            f"Value '{shown}' at '{where}' failed to satisfy constraint: Member must have length "
            f"greater than or equal to {low}"
        )
    if high is not None and len(value) > high:
        problems.append(
            f"Value '{shown}' at '{where}' failed to satisfy constraint: Member must have length "
            f"less than or equal to {high}"
        )


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        # A Java-only construct: leave that member to the service's own logic.
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


def output(op: OperationModel, result: Mapping[str, Any]) -> dict[str, Any]:
    """`result` as the operation's output shape: only its members, timestamps as epoch seconds.

    Every answer is checked against the model, so a member this server gets wrong fails here
    and not in a user's client.
    """
    shaped = _shape_value(op.output_shape, result) if op.output_shape is not None else {}
    problems: list[str] = []
    if op.output_shape is not None:
        _check(op.output_shape, shaped, "", problems)
    if problems:
        raise AssertionError(f"{op.name} answer does not match its shape: {problems}")
    return shaped


def _shape_value(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {
            name: _shape_value(shape.members[name], item)
            for name, item in value.items()
            if name in shape.members and item is not None
        }
    if kind == "list":
        return [_shape_value(shape.member, item) for item in value]
    if kind == "map":
        return {key: _shape_value(shape.value, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, dt.datetime):
        return value.timestamp()
    return value


def error_body(error: ApiError) -> dict[str, Any]:
    # botocore reads the code from `__type` and the message from `message`; modeled members
    # (OriginalStatusCode, ...) travel beside them in the body.
    return {"__type": error.code, "message": error.message, **error.fields}


def rest_headers(op: OperationModel, result: Mapping[str, Any]) -> dict[str, str]:
    """The output members the model sends as headers, under their wire names."""
    headers = {}
    for name, member in op.output_shape.members.items():
        if member.serialization.get("location") == "header" and result.get(name) is not None:
            headers[member.serialization.get("name", name)] = str(result[name])
    return headers
