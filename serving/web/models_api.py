"""SageMaker's multi-model container API: load, list, describe, unload and invoke models.

The routes read the request and hand it to `MultiModel`; the bodies are worded as
multi-model-server words them, since clients and AWS's own tests read them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request

from serving.errors import BadRequest
from serving.inference.pipeline import ModelHandler
from serving.models.multi import Elsewhere, MultiModel
from serving.models.record import Entry

PAGE_SIZE = 100


def _model_json(entry: Entry) -> dict[str, str]:
    return {"modelName": entry.name, "modelUrl": entry.url}


def _load_request() -> tuple[str, str]:
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
    return name, url


def add_routes(
    app: Flask, models: MultiModel, invoke: Callable[[ModelHandler | Elsewhere], Response]
) -> None:
    @app.post("/models")
    def load_model() -> Response:
        name, url = _load_request()
        models.load(name, url)
        return jsonify(status="Workers scaled")

    @app.get("/models")
    def list_models() -> Response:
        limit = request.args.get("limit", str(PAGE_SIZE))
        if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 1000:
            raise BadRequest("limit must be a whole number from 1 to 1000")
        page, token = models.listing(request.args.get("next_page_token"), int(limit))
        body: dict[str, Any] = {"models": [_model_json(entry) for entry in page]}
        if token is not None:
            body["nextPageToken"] = token
        return jsonify(body)

    @app.get("/models/<name>")
    def describe_model(name: str) -> Response:
        return jsonify(_model_json(models.describe(name)))

    @app.delete("/models/<name>")
    def unload_model(name: str) -> Response:
        models.unload(name)
        return jsonify(status=f'Model "{name}" unregistered')

    @app.post("/models/<name>/invoke")
    def invoke_model(name: str) -> Response:
        return invoke(models.route(name))
