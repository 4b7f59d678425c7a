"""The HTTP side: one loopback port answering both SageMaker wire protocols.

`POST /` with `X-Amz-Target: SageMaker.<Op>` is the control plane (JSON 1.1); `POST
/endpoints/<name>/invocations` is the runtime (REST-JSON). The AWS CLI, boto3 and the SDK
reach it with `--endpoint-url` or `AWS_ENDPOINT_URL_SAGEMAKER` and
`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` set to the same URL.
"""

from __future__ import annotations

import json
import logging
import uuid

from flask import Flask, Response, request

from sagemaker_local import wire
from sagemaker_local.api import SageMaker, not_implemented
from sagemaker_local.endpoints import error_of

log = logging.getLogger(__name__)
# InvokeEndpoint's payload limit on AWS.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


def _json(status: int, document: dict, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(document), status=status, content_type=wire.JSON_CONTENT_TYPE)
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _error(error: wire.ApiError) -> Response:
    return _json(error.status, wire.error_body(error), {"x-amzn-ErrorType": error.code})


def create_app(sagemaker: SageMaker) -> Flask:
    app = Flask("sagemaker_local")
    handlers = sagemaker.handlers()
    invoke = wire.operation(wire.RUNTIME, "InvokeEndpoint")

    @app.post("/")
    def control_plane() -> Response:
        try:
            operation = wire.json_operation(request.headers.get("X-Amz-Target"))
            handler = handlers.get(operation.name)
            if handler is None:
                raise not_implemented(operation.name)
            params = wire.parse_json(operation, request.get_data())
            result = handler(params)
            return _json(200, wire.output(operation, result))
        except wire.ApiError as error:
            return _error(error)
        except Exception as exc:
            log.exception("control plane")
            return _error(error_of(exc))

    @app.post("/endpoints/<name>/invocations")
    def invocations(name: str) -> Response:
        try:
            body = request.get_data()
            if len(body) > MAX_PAYLOAD_BYTES:
                raise wire.validation(
                    f"Received payload of {len(body)} bytes, above the 6 MB limit of InvokeEndpoint.",
                    wire.RUNTIME,
                )
            params = wire.parse_rest(invoke, {"EndpointName": name}, request.headers, body)
            result = sagemaker.invoke_endpoint(params)
        except wire.ApiError as error:
            return _error(error)
        except Exception as exc:
            log.exception("invoke %s", name)
            return _error(error_of(exc))
        response = Response(result["Body"], status=200)
        del response.headers["Content-Type"]
        for key, value in wire.rest_headers(invoke, result).items():
            response.headers[key] = value
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return response

    @app.errorhandler(404)
    def unknown(_exc: Exception) -> Response:
        return _error(wire.ApiError("UnknownOperationException", f"No operation at {request.path}", 404))

    @app.errorhandler(405)
    def wrong_method(_exc: Exception) -> Response:
        return _error(wire.ApiError("UnknownOperationException", f"{request.method} {request.path}", 405))

    return app
