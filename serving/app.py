"""The HTTP routes of the SageMaker serving contracts, as a Flask app.

Routes only translate between HTTP and the models: the request is read, handed to a
model's pipeline, and its answer or error is written back. Single-model mode serves
/ping, /invocations and /execution-parameters; multi-model mode adds the /models API.
`X-Amzn-SageMaker-Target-Model` on /invocations picks a model in either mode.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from serving import handler as handler_mod
from serving import metrics
from serving.config import Settings
from serving.errors import BadRequest, InferenceError, ModelNotReady, PayloadTooLarge, status_of
from serving.multi_model import ModelPool
from serving.registry import Entry
from serving.startup import ModelState

log = logging.getLogger(__name__)
access = logging.getLogger("serving.access")

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
TARGET_MODEL = "X-Amzn-SageMaker-Target-Model"
PAGE_SIZE = 100
OPENAPI = Path(__file__).with_name("openapi.json")


def error_response(status: int, error: str, message: str) -> Response:
    response = jsonify(error=error, message=message)
    response.status_code = status
    return response


def _echo_custom_attributes(response: Response) -> Response:
    value = request.headers.get(CUSTOM_ATTRIBUTES)
    if value is not None:
        response.headers[CUSTOM_ATTRIBUTES] = value
    return response


def read_body(limit: int) -> bytes:
    """The request body, refused with 413 past `limit`, with or without a Content-Length.

    Werkzeug answers 413 for a declared length over the limit, but stops reading a
    chunked body at the limit without saying so: that would predict on part of it.
    """
    if request.content_length is not None:
        return request.get_data(cache=False)
    body = request.environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
    return body


def read_request() -> handler_mod.Request:
    return handler_mod.Request(
        body=read_body(current_app.config["MAX_CONTENT_LENGTH"]),
        content_type=request.headers.get("Content-Type"),
        accept=request.headers.get("Accept"),
        headers=dict(request.headers.items()),
    )


def invoke(model: handler_mod.ModelHandler) -> Response:
    result = model.invoke(read_request())
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


def _model_label(status: int) -> str:
    """Which model a request was for; only for answered requests, so junk names add no series."""
    if status >= 400:
        return ""
    if request.view_args and "name" in request.view_args:
        return str(request.view_args["name"])
    target = request.headers.get(TARGET_MODEL)
    if target:
        return target
    return "model" if request.path == "/invocations" else ""


def install_observability(app: Flask) -> None:
    """One access line and one set of metric samples per request."""

    @app.before_request
    def _started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        status = response.status_code
        model = _model_label(status)
        recorder = metrics.get()
        recorder.requests.labels(route, str(status), model).inc()
        recorder.latency.labels(route, model).observe(elapsed)
        # Health checks and scrapes come every few seconds: keep them out of the INFO log.
        level = logging.DEBUG if route in ("/ping", "/metrics") else logging.INFO
        if access.isEnabledFor(level):
            latency_ms = round(elapsed * 1000, 3)
            access.log(
                level,
                "%s %s %d %.2fms%s",
                request.method,
                request.path,
                status,
                latency_ms,
                f" model={model}" if model else "",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "latency_ms": latency_ms,
                    "model": model,
                },
            )
        return response


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


def _model_json(entry: Entry) -> dict[str, str]:
    return {"modelName": entry.name, "modelUrl": entry.url}


def add_model_routes(app: Flask, pool: ModelPool) -> None:
    """SageMaker's multi-model container API."""

    @app.post("/models")
    def load_model() -> Response:
        # SageMaker sends JSON; curl users often omit its Content-Type, and
        # multi-model-server also takes query parameters: accept all three.
        body = request.get_json(force=True, silent=True) if request.get_data() else dict(request.args)
        if not isinstance(body, dict):
            raise BadRequest('the body must be JSON {"model_name": ..., "url": ...}')
        name, url = body.get("model_name"), body.get("url")
        if not isinstance(name, str) or not name.strip() or not isinstance(url, str) or not url.strip():
            raise BadRequest('"model_name" and "url" must both be non-empty strings')
        if "/" in name or len(name) > 1024 or name in (".", "..") or any(ord(c) < 32 for c in name):
            raise BadRequest(
                "model_name must be 1 to 1024 characters, not '.' or '..', without '/' or control characters"
            )
        pool.load(name, url)
        return jsonify(status=f"model {name} loaded")

    @app.get("/models")
    def list_models() -> Response:
        limit = request.args.get("limit", str(PAGE_SIZE))
        if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 1000:
            raise BadRequest("limit must be a whole number from 1 to 1000")
        page, token = pool.listing(request.args.get("next_page_token"), int(limit))
        body: dict[str, Any] = {"models": [_model_json(entry) for entry in page]}
        if token is not None:
            body["nextPageToken"] = token
        return jsonify(body)

    @app.get("/models/<name>")
    def describe_model(name: str) -> Response:
        return jsonify(_model_json(pool.describe(name)))

    @app.delete("/models/<name>")
    def unload_model(name: str) -> Response:
        pool.unload(name)
        return jsonify(status=f"model {name} unloaded")

    @app.post("/models/<name>/invoke")
    def invoke_model(name: str) -> Response:
        return invoke(pool.get(name))


def create_app(settings: Settings, pool: ModelPool, state: ModelState | None = None) -> Flask:
    """`state` is the single model; without it the app serves multi-model mode."""
    app = Flask("serving")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    install_error_handlers(app)
    install_observability(app)
    app.after_request(_echo_custom_attributes)

    @app.get("/ping")
    def ping() -> Response:
        if state is None:
            return Response(b"", status=200, content_type="text/plain")
        ready, reason = state.status()
        if ready:
            return Response(b"", status=200, content_type="text/plain")
        not_ready = ModelNotReady(reason)
        return error_response(503, "ModelLoadFailed" if state.error else not_ready.error, reason)

    @app.post("/invocations")
    def invocations() -> Response:
        target = request.headers.get(TARGET_MODEL)
        if target:
            return invoke(pool.for_target(target))
        if state is None:
            raise BadRequest(
                f"this container serves several models: name one with the {TARGET_MODEL} header "
                "or call POST /models/<name>/invoke"
            )
        return invoke(state.wait(settings.timeout))

    @app.get("/execution-parameters")
    def execution_parameters_route() -> Response:
        module = state.handler.user_module if state is not None and state.handler else None
        return jsonify(execution_parameters(settings, module))

    @app.get("/metrics")
    def metrics_route() -> Response:
        body, content_type = metrics.Metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @app.get("/openapi.json")
    def openapi() -> Response:
        # The API description kept in the repository, served as it is.
        return Response(OPENAPI.read_bytes(), status=200, content_type="application/json")

    if state is None:
        add_model_routes(app, pool)
    return app
