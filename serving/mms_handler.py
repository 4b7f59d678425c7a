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

from serving import memory, requirements
from serving.config import Settings
from serving.errors import InferenceError, InsufficientMemory, ModelLoadError, ModelNotReady, status_of
from serving.handler import ModelHandler, Request

log = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
# Where `serve` (mms_engine) looks for requests in flight before it stops the server.
IN_FLIGHT_ENV = "SAGEMAKER_MMS_IN_FLIGHT_DIR"


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


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


class HandlerService:
    def __init__(self) -> None:
        self.handler: ModelHandler | None = None
        self.load_error: InferenceError | None = None
        self.initialized = False

    def initialize(self, context: Any) -> None:
        settings = Settings.from_env()
        model_dir = Path(context.system_properties["model_dir"])
        own_code = model_dir / "code"
        code_dir = own_code if (own_code / settings.program).is_file() else settings.code_dir
        # multi-model-server has already answered the load request by the time this
        # runs, so a failure can only reach clients through the invocations that
        # follow: 507 when the model would not fit (SageMaker then unloads others),
        # 503 with the loader's message when it cannot be loaded at all.
        reading = memory.read(settings.memory_headroom_mb)
        needed = memory.model_footprint(model_dir)
        if not reading.fits(needed):
            self.load_error = InsufficientMemory(
                f"loading needs about {needed // 2**20 + 1} MB and {reading.describe()}; unload a model first"
            )
        else:
            try:
                requirements.install(code_dir, settings.requirements_timeout)
                # One request at a time per multi-model-server worker: nothing to batch.
                self.handler = ModelHandler.load(
                    context.model_name, model_dir, code_dir, settings, batching=False
                )
            except ModelLoadError as exc:
                self.load_error = ModelNotReady(f"the model failed to load: {exc}")
            except MemoryError:
                self.load_error = InsufficientMemory("out of memory while loading the model")
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
            headers = {_text(key).lower(): _text(value) for key, value in properties.items()}
            body = item.get("body") or item.get("data") or b""
            if isinstance(body, str):
                body = body.encode()
            request = Request(bytes(body), headers.get("content-type"), headers.get("accept"), headers)
            if CUSTOM_ATTRIBUTES in headers:
                context.set_response_header(
                    index, "X-Amzn-SageMaker-Custom-Attributes", headers[CUSTOM_ATTRIBUTES]
                )
            try:
                if self.load_error is not None:
                    raise self.load_error
                assert self.handler is not None
                response = self.handler.invoke(request)
            except Exception as exc:
                status = status_of(exc)
                error = exc.error if isinstance(exc, InferenceError) else "ModelError"
                message = exc.message if isinstance(exc, InferenceError) else f"{type(exc).__name__}: {exc}"
                if status >= 500:
                    log.exception("request failed")
                context.set_response_status(code=status, phrase=error, idx=index)
                context.set_response_content_type(index, "application/json")
                answers.append(json.dumps({"error": error, "message": message}).encode())
                continue
            context.set_response_content_type(index, response.content_type)
            answers.append(response.body)
        return answers
