"""The HTTP routes of the SageMaker serving contract, as a Flask app.

Routes only translate between HTTP and the handler: the request is read, handed to
the model's pipeline, and its answer or error is written back.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from serving import handler as handler_mod
from serving.config import Settings
from serving.errors import InferenceError, ModelNotReady, status_of
from serving.startup import ModelState

log = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    return response


def _echo_custom_attributes(response: Response) -> Response:
    value = request.headers.get(CUSTOM_ATTRIBUTES)
    if value is not None:
        response.headers[CUSTOM_ATTRIBUTES] = value
    return response


def read_request() -> handler_mod.Request:
    # get_data enforces MAX_CONTENT_LENGTH for chunked bodies too (413).
    return handler_mod.Request(
        body=request.get_data(cache=False),
        content_type=request.headers.get("Content-Type"),
        accept=request.headers.get("Accept"),
        headers=dict(request.headers.items()),
    )


def to_http(result: handler_mod.Response) -> Response:
    # content_type, not mimetype: Flask would append "; charset=utf-8" to text types,
    # which breaks the next container of an inference pipeline.
    return Response(result.body, status=200, content_type=result.content_type)


def execution_parameters(settings: Settings, user_module: Any = None) -> dict[str, Any]:
    custom = getattr(user_module, "execution_parameters_fn", None)
    if callable(custom):
        return dict(custom())
    return {
        "MaxConcurrentTransforms": settings.max_concurrent_transforms or settings.workers,
        "BatchStrategy": settings.batch_strategy,
        "MaxPayloadInMB": settings.max_payload_mb,
    }


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(InferenceError)
    def _inference_error(exc: InferenceError) -> Response:
        return error_response(exc.status, exc.error, exc.message)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        limit = app.config["MAX_CONTENT_LENGTH"]
        return error_response(
            413,
            "PayloadTooLarge",
            f"the request body is larger than {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)",
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        name = (exc.name or "Error").replace(" ", "")
        return error_response(exc.code or 500, name, exc.description or name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        status = status_of(exc)
        if status >= 500:
            log.error("request failed: %s\n%s", exc, traceback.format_exc())
        message = f"{type(exc).__name__}: {exc}"
        return error_response(status, "ModelError" if status >= 500 else "BadRequest", message)


def create_app(settings: Settings, state: ModelState) -> Flask:
    app = Flask("serving")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    install_error_handlers(app)
    app.after_request(_echo_custom_attributes)

    @app.get("/ping")
    def ping() -> Response:
        ready, reason = state.status()
        if ready:
            return Response(b"", status=200, content_type="text/plain")
        status = ModelNotReady(reason)
        return error_response(status.status, "ModelLoadFailed" if state.error else status.error, reason)

    @app.post("/invocations")
    def invocations() -> Response:
        handler = state.wait(settings.timeout)
        return to_http(handler.invoke(read_request()))

    @app.get("/execution-parameters")
    def execution_parameters_route() -> Response:
        module = state.handler.user_module if state.handler else None
        return jsonify(execution_parameters(settings, module))

    return app
