"""The handler service multi-model-server loads for each model: our hooks and codecs.

multi-model-server imports this module in its Python backend worker and requires it
to define exactly one class, with `initialize(context)` called once per model and
`handle(data, context)` called per batch of requests. Everything else it uses comes
from the modules our own engine uses, so both engines answer alike.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from serving.config import Settings
from serving.errors import (
    InferenceError,
    InsufficientMemory,
    ModelLoadError,
    ModelNotReady,
    PayloadTooLarge,
    describe,
)
from serving.inference.pipeline import CUSTOM_ATTRIBUTES, ModelHandler, Request
from serving.models import code, lifecycle

log = logging.getLogger(__name__)

# Where `serve` (mms.engine) looks for requests in flight before it stops the server.
IN_FLIGHT_ENV = "SAGEMAKER_MMS_IN_FLIGHT_DIR"
# Our body limit, in bytes: multi-model-server's own is set above it (see mms.engine).
PAYLOAD_LIMIT_ENV = "SAGEMAKER_MMS_PAYLOAD_LIMIT_BYTES"


@contextlib.contextmanager
def in_flight() -> Iterator[None]:
    """A marker file for as long as a batch is being answered."""
    directory = os.environ.get(IN_FLIGHT_ENV)
    if not directory:
        yield
        return
    marker = os.path.join(directory, f"{os.getpid()}-{uuid.uuid4().hex}")
    with open(marker, "w"):
        pass
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(marker)


def _headers(properties: dict[Any, Any]) -> Iterator[tuple[str, str]]:
    """The request's headers; multi-model-server also lists each body part's own
    headers there, as a dict under the part's name, which no client sent."""
    for key, value in properties.items():
        if isinstance(value, (str, bytes, bytearray)):
            yield _text(key), _text(value)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


class HandlerService:
    def __init__(self) -> None:
        self.settings = code.from_env(Settings.from_env())
        self.handler: ModelHandler | None = None
        self.load_error: InferenceError | None = None
        self.initialized = False

    def initialize(self, context: Any) -> None:
        settings = self.settings
        # multi-model-server has already answered the load request by the time this
        # runs, so a failure can only reach clients through the invocations that
        # follow: 507 when the model would not fit (SageMaker then unloads others),
        # 503 with the loader's message when it cannot be loaded at all.
        try:
            # One request at a time per multi-model-server worker: nothing to batch.
            # No memory guard: multi-model-server's processes for unloaded models leave at
            # their own pace, so the container's reading lags behind; the check before the
            # load is what stands between a load and an OOM kill here.
            self.handler = lifecycle.load(
                context.model_name,
                Path(context.system_properties["model_dir"]),
                settings,
                sharers=None,
                batching=False,
                make_room=lambda needed: lifecycle.check_room(needed, settings),
            )
        except ModelLoadError as exc:
            self.load_error = ModelNotReady(f"the model failed to load: {exc}")
        except InsufficientMemory as exc:
            self.load_error = exc
        except InferenceError as exc:
            self.load_error = ModelNotReady(f"the model failed to load: {exc.message}")
        if self.load_error is not None:
            log.error("model %s failed to load: %s", context.model_name, self.load_error.message)
        self.initialized = True

    def handle(self, data: list[dict[str, Any]] | None, context: Any) -> list[bytes] | None:
        if data is None:
            return None
        with in_flight():
            return self._answer(data, context)

    def _answer(self, data: list[dict[str, Any]], context: Any) -> list[bytes]:
        answers = []
        for index, item in enumerate(data):
            properties = context.request_processor[index].get_request_properties() or {}
            body = item.get("body") or item.get("data") or b""
            if isinstance(body, str):
                body = body.encode()
            request = Request.of(bytes(body), _headers(properties))
            attributes = request.headers.get(CUSTOM_ATTRIBUTES)
            if attributes is not None:
                context.set_response_header(index, CUSTOM_ATTRIBUTES, attributes)
            try:
                if self.load_error is not None:
                    raise self.load_error
                limit = int(os.environ.get(PAYLOAD_LIMIT_ENV) or self.settings.max_payload_bytes)
                if len(request.body) > limit:
                    raise PayloadTooLarge.over(limit)
                assert self.handler is not None
                response = self.handler.invoke(request)
            except Exception as exc:
                status, error, message = describe(exc)
                if status >= 500:
                    log.exception("request failed")
                context.set_response_status(code=status, phrase=error, idx=index)
                context.set_response_content_type(index, "application/json")
                answers.append(json.dumps({"error": error, "message": message}).encode())
                continue
            context.set_response_content_type(index, response.content_type)
            answers.append(response.body)
        return answers
