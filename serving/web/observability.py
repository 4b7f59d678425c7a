"""One access line and one set of metric samples per request.

A request passed on to another worker is counted by the worker that answered the
client, with the whole time it took; the holder that served it logs it at DEBUG only.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from serving import metrics
from serving.web.forwarding import from_peer

access = logging.getLogger("serving.access")

TARGET_MODEL = "X-Amzn-SageMaker-Target-Model"


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


def install(app: Flask) -> None:
    @app.before_request
    def _started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        status = response.status_code
        model = _model_label(status)
        passed_on = from_peer()
        if not passed_on:
            recorder = metrics.get()
            recorder.requests.labels(route, str(status), model).inc()
            recorder.latency.labels(route, model).observe(elapsed)
        # Health checks and scrapes come every few seconds: keep them out of the INFO log.
        level = logging.DEBUG if passed_on or route in ("/ping", "/metrics") else logging.INFO
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
