"""One loaded model's request pipeline: decode → predict → encode.

As in the Transformer of AWS's inference toolkit, each step is the user's hook where
the script defines one and the built-in one where it does not. The steps are chosen
once, when the model is loaded; a request only runs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from werkzeug.datastructures import Headers

from serving.codecs import content_types, decoder, encoder, predictions, tables
from serving.codecs.content_types import MediaType
from serving.codecs.schema import schema_of
from serving.compiled.predictor import CompiledPredict
from serving.config import Settings
from serving.errors import BadRequest
from serving.inference import outputs
from serving.inference.batching import Batcher
from serving.inference.hooks import Hook
from serving.inference.predictors import BuiltinPredict, batchable, batcher_for

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


@dataclass(frozen=True)
class Request:
    body: bytes
    content_type: str | None
    accept: str | None
    # Looked up without regard to case: each engine hands header names over in its own spelling.
    headers: Mapping[str, str] = field(default_factory=Headers)

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(list(self.headers.items())))

    @classmethod
    def of(cls, body: bytes, headers: Iterable[tuple[str, str]]) -> Request:
        folded = Headers(list(headers))
        return cls(body, folded.get("Content-Type"), folded.get("Accept"), folded)


@dataclass(frozen=True)
class Response:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Context:
    """What a hook declared with a `context` argument receives."""

    model_name: str
    model_dir: str
    request_headers: Mapping[str, str] = field(default_factory=Headers)

    @property
    def custom_attributes(self) -> str | None:
        return self.request_headers.get(CUSTOM_ATTRIBUTES)


def _check_features(data: Any, model: Any) -> None:
    expected = getattr(model, "n_features_in_", None)
    if (
        isinstance(data, np.ndarray)
        and data.ndim == 2
        and isinstance(expected, int)
        and data.shape[1] != expected
    ):
        rows = data.shape[0]
        raise BadRequest(
            f"each row must have {expected} features, got {data.shape[1]} "
            f"(in {rows} row{'s' if rows != 1 else ''})"
        )


def _hook_response(result: Any, accept: str) -> Response:
    """A hook may return the body, or (body, content_type)."""
    content_type = accept
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    if isinstance(result, str):
        result = result.encode()
    elif not isinstance(result, (bytes, bytearray, memoryview)):
        # A hook that returns an array or list gets the built-in encoding for accept.
        result = encoder.encode(result, content_type)
    return Response(bytes(result), content_type)


class ModelHandler:
    """A loaded model and the three steps that serve it."""

    def __init__(
        self,
        name: str,
        model_dir: Path,
        model: Any,
        hooks: dict[str, Hook],
        settings: Settings,
        user_module: ModuleType | None = None,
        batching: bool = True,
    ) -> None:
        self.name = name
        self.model_dir = model_dir
        self.model = model
        self.user_module = user_module
        self.default_accept = settings.default_accept
        # As in AWS's toolkit, user hooks get text bodies as str.
        self._text_bodies = bool(hooks.keys() & {"input_fn", "transform_fn"})
        self._transform_fn = hooks.get("transform_fn")
        self._input_fn = hooks.get("input_fn")
        self._predict_fn = hooks.get("predict_fn")
        self._output_fn = hooks.get("output_fn")
        # The built-in steps, for what the script leaves to us.
        self.schema = schema_of(model, model_dir) if self._input_fn is None else None
        self.builtin: BuiltinPredict | None = None
        self.compiled: CompiledPredict | None = None
        if self._predict_fn is None and self._transform_fn is None:
            compilable = outputs.role_of(model) in (outputs.PREDICTOR, outputs.CLASSIFIER)
            if compilable and settings.compiled_predict != "off":
                self.compiled = CompiledPredict(
                    name, model, self.schema, model_dir, self._decode_example, settings
                )
            self.builtin = BuiltinPredict(model, settings, batching, self.compiled)
        self.batcher = self.builtin.batcher if self.builtin is not None else None
        if self._predict_fn is not None and batching and settings.batching:
            self.batcher = self._user_batcher(settings)

    def _user_batcher(self, settings: Settings) -> Batcher | None:
        # A user's predict_fn may not be row-wise: batch it only when the script says so.
        if not getattr(self.user_module, "BATCHABLE_PREDICT_FN", False):
            return None
        predict_fn, context = self._predict_fn, self._context(Headers())
        assert predict_fn is not None
        return batcher_for(lambda rows: predict_fn(rows, self.model, context), settings)

    def _decode_example(self, body: bytes, content_type: str) -> Any:
        """An input example from the model directory, decoded as a request's body would be."""
        request = Request(body, content_type, None)
        media_type = content_types.parse_content_type(content_type)
        return self._decode(request, media_type, self._context(request.headers))

    def _context(self, headers: Mapping[str, str]) -> Context:
        return Context(self.name, str(self.model_dir), headers)

    def _body(self, request: Request, media_type: MediaType) -> bytes | str:
        if self._text_bodies and media_type.is_text:
            return decoder.decode_text(request.body, media_type)
        return request.body

    # --- the three steps ---------------------------------------------------------------

    def _decode(self, request: Request, media_type: MediaType, context: Context) -> Any:
        if self._input_fn is not None:
            return self._input_fn(self._body(request, media_type), media_type.type, context)
        if self.builtin is not None and self.builtin.role == outputs.LABEL_ENCODER:
            return tables.decode_rows(request.body, media_type)
        if self.schema is not None and media_type.type != content_types.RECORDIO:
            # Columns while the compiled form serves: it reads them without a DataFrame.
            columnar = self.compiled is not None and self.compiled.current() is not None
            return tables.decode(request.body, media_type, self.schema, columnar)
        data = decoder.decode(request.body, media_type)
        _check_features(data, self.model)
        return data

    def _predict(self, data: Any, context: Context) -> Any:
        if self._predict_fn is None:
            assert self.builtin is not None
            return self.builtin(data, context.custom_attributes)
        if self.batcher is not None and batchable(data):
            return self.batcher.predict(data)
        return self._predict_fn(data, self.model, context)

    def _encode(self, prediction: Any, accept_header: str | None, context: Context) -> Response:
        if self._output_fn is not None:
            accept = content_types.preferred(accept_header, self.default_accept)
            return _hook_response(self._output_fn(prediction, accept, context), accept)
        if isinstance(prediction, outputs.Selection):
            accept = content_types.negotiate(accept_header, predictions.SUPPORTED, self.default_accept)
            return Response(predictions.encode(prediction, accept), accept)
        accept = content_types.negotiate(accept_header, encoder.SUPPORTED, self.default_accept)
        return Response(encoder.encode(prediction, accept), accept)

    def invoke(self, request: Request) -> Response:
        if self._transform_fn is not None:
            return self._transform(request)
        media_type = content_types.parse_content_type(request.content_type)
        context = self._context(request.headers)
        data = self._decode(request, media_type, context)
        return self._encode(self._predict(data, context), request.accept, context)

    def _transform(self, request: Request) -> Response:
        media_type = content_types.parse_content_type(request.content_type)
        accept = content_types.preferred(request.accept, self.default_accept)
        body = self._body(request, media_type)
        assert self._transform_fn is not None
        result = self._transform_fn(self.model, body, media_type.type, accept, self._context(request.headers))
        return _hook_response(result, accept)
