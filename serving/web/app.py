"""The HTTP routes of the SageMaker serving contracts, as a Flask app.

Routes only translate between HTTP and the models: the request is read, handed to a
model's pipeline, and its answer or error is written back. Both modes serve /ping,
/invocations and /execution-parameters from the same routes; the mode object decides
what each means. Multi-model mode adds the /models API (`models_api`).
`X-Amzn-SageMaker-Target-Model` on /invocations picks a model in either mode.
In multi-model mode a registered model may be held by other workers only: its requests
are then passed on to one of them (`forwarding`).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from serving import metrics
from serving.config import Settings
from serving.errors import PayloadTooLarge, describe
from serving.inference.pipeline import CUSTOM_ATTRIBUTES, ModelHandler, Request
from serving.models.modes import Mode
from serving.models.multi import Elsewhere, MultiModel
from serving.web import forwarding, models_api, observability
from serving.web.observability import TARGET_MODEL

log = logging.getLogger(__name__)

OPENAPI = Path(__file__).resolve().parents[1] / "openapi.json"


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
        raise PayloadTooLarge.over(limit)
    return body


def answer(model: ModelHandler, body: bytes) -> Response:
    result = model.invoke(Request.of(body, request.headers.items()))
    # content_type, not mimetype: Flask would append "; charset=utf-8" to text types,
    # which breaks the next container of an inference pipeline.
    return Response(result.body, status=200, content_type=result.content_type)


def invoke(model: ModelHandler) -> Response:
    return answer(model, read_body(current_app.config["MAX_CONTENT_LENGTH"]))


Invoke = Callable[[ModelHandler | Elsewhere], Response]


def multi_model_invoke(mode: MultiModel, peers: forwarding.Peers) -> Invoke:
    """Invoke where the model is held: here, or passed on to a worker that holds it."""

    def invoke_anywhere(model: ModelHandler | Elsewhere) -> Response:
        body = read_body(current_app.config["MAX_CONTENT_LENGTH"])
        if isinstance(model, ModelHandler):
            return answer(model, body)
        # What a peer passed on is served here, whoever else holds it: no loops.
        if not forwarding.from_peer():
            passed = forwarding.pass_on(peers, model.holders, body)
            if passed is not None:
                metrics.get().passed_on.labels(model.name).inc()
                mode.passed_on(model.name)
                return passed
        return answer(mode.get(model.name), body)

    return invoke_anywhere


def execution_parameters(settings: Settings, user_module: Any = None) -> dict[str, Any]:
    custom = getattr(user_module, "execution_parameters_fn", None)
    if callable(custom):
        return dict(custom())
    return {
        "MaxConcurrentTransforms": settings.max_concurrent_transforms or settings.workers,
        "BatchStrategy": settings.batch_strategy,
        "MaxPayloadInMB": settings.max_payload_mb,
    }


def answer_error(exc: Exception) -> Response:
    status, error, message = describe(exc)
    if status >= 500:
        log.error("request failed: %s\n%s", exc, traceback.format_exc())
    return error_response(status, error, message)


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response:
        return answer_error(PayloadTooLarge.over(app.config["MAX_CONTENT_LENGTH"]))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        name = (exc.name or "Error").replace(" ", "")
        return error_response(exc.code or 500, name, exc.description or name)

    app.register_error_handler(Exception, answer_error)


def create_app(settings: Settings, mode: Mode) -> Flask:
    app = Flask("serving")
    # Single-model mode holds every model it serves: nothing to pass on.
    invoke_model: Invoke = invoke  # type: ignore[assignment]  # never given an Elsewhere
    if isinstance(mode, MultiModel):
        assert settings.state_dir is not None
        invoke_model = multi_model_invoke(mode, forwarding.Peers(settings.state_dir))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes
    install_error_handlers(app)
    observability.install(app)
    app.after_request(_echo_custom_attributes)

    @app.get("/ping")
    def ping() -> Response:
        problem = mode.health()
        if problem is None:
            return Response(b"", status=200, content_type="text/plain")
        return error_response(problem.status, problem.error, problem.message)

    @app.post("/invocations")
    def invocations() -> Response:
        target = request.headers.get(TARGET_MODEL)
        return invoke_model(mode.target(target) if target else mode.default())

    @app.get("/execution-parameters")
    def execution_parameters_route() -> Response:
        return jsonify(execution_parameters(settings, mode.user_module))

    @app.get("/metrics")
    def metrics_route() -> Response:
        body, content_type = metrics.Metrics.exposition()
        return Response(body, status=200, content_type=content_type)

    @app.get("/openapi.json")
    def openapi() -> Response:
        # The API description kept in the repository, served as it is.
        return Response(OPENAPI.read_bytes(), status=200, content_type="application/json")

    if isinstance(mode, MultiModel):
        models_api.add_routes(app, mode, invoke_model)
    return app
