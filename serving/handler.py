"""One loaded model and the request pipeline around it: decode, predict, encode.

This mirrors the Transformer of AWS's inference toolkit: user hooks where the script
defines them, the built-in codecs where it does not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from serving import content_types, decoder, encoder, fast_paths, metrics
from serving.batching import Batcher
from serving.config import Settings
from serving.errors import BadRequest, ModelLoadError
from serving.model_files import default_model_fn
from serving.user_module import Hook, load_module, user_hooks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    body: bytes
    content_type: str | None
    accept: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def custom_attributes(self) -> str | None:
        return self.headers.get("X-Amzn-Sagemaker-Custom-Attributes")


@dataclass(frozen=True)
class Response:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Context:
    """What a hook declared with a `context` argument receives."""

    model_name: str
    model_dir: str
    request_headers: dict[str, str]

    @property
    def custom_attributes(self) -> str | None:
        return self.request_headers.get("X-Amzn-Sagemaker-Custom-Attributes")


def default_predict_fn(data: Any, model: Any, predict: Callable[[Any], Any] | None = None) -> Any:
    predict = predict or getattr(model, "predict", None)
    if predict is None:
        raise TypeError(f"the model ({type(model).__name__}) has no predict method: define predict_fn")
    try:
        return predict(data)
    except (ValueError, TypeError) as exc:
        # scikit-learn reports bad input (feature count, NaN, dtype) as ValueError.
        raise BadRequest(f"the model rejected the input: {exc}") from exc


# Estimators whose prediction for a row does not depend on the other rows of the call,
# to the last bit: trees add up per-row leaf values. Linear models are left out: BLAS
# computes one row and many rows with different kernels, and the answers can differ in
# the last bit, so batching them would break "the same answer as alone".
ROWWISE_EXACT_MODULES = ("sklearn.ensemble", "sklearn.tree")


def _observe_batch(requests: int) -> None:
    metrics.get().batch_size.observe(requests)


def rowwise_exact(model: Any) -> bool:
    return type(model).__module__.startswith(ROWWISE_EXACT_MODULES)


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


class ModelHandler:
    """A model plus the hooks that serve it."""

    def __init__(
        self,
        name: str,
        model_dir: Path,
        model: Any,
        hooks: dict[str, Hook],
        default_accept: str,
        user_module: Any = None,
        batching: Settings | None = None,
    ) -> None:
        self.name = name
        self.model_dir = model_dir
        self.model = model
        self.hooks = hooks
        self.default_accept = default_accept
        self.user_module = user_module
        # With the user's predict_fn or transform_fn in charge, the model may not even
        # have a predict method.
        uses_default = not hooks.keys() & {"predict_fn", "transform_fn"} and hasattr(model, "predict")
        self.predict = fast_paths.predictor(model) if uses_default else None
        self.batcher = self._batcher(batching)

    def _batcher(self, settings: Settings | None) -> Batcher | None:
        if settings is None or not settings.batching:
            return None
        max_delay_s = settings.batch_max_delay_ms / 1000
        if "predict_fn" in self.hooks:
            # A user's predict_fn may not be row-wise: batch it only when the script says so.
            if not getattr(self.user_module, "BATCHABLE_PREDICT_FN", False):
                return None
            predict_fn = self.hooks["predict_fn"]
            context = Context(self.name, str(self.model_dir), {})
            return Batcher(
                lambda rows: predict_fn(rows, self.model, context),
                settings.batch_max_rows,
                max_delay_s,
                _observe_batch,
            )
        if not rowwise_exact(self.model):
            return None
        return Batcher(
            lambda rows: default_predict_fn(rows, self.model, self.predict),
            settings.batch_max_rows,
            max_delay_s,
            _observe_batch,
        )

    @classmethod
    def load(
        cls,
        name: str,
        model_dir: Path,
        code_dir: Path,
        settings: Settings,
        batching: bool = True,
    ) -> ModelHandler:
        """Import the user's script from code_dir (if any) and run model_fn.

        `batching` is off where one process serves one request at a time.
        """
        module = load_module(code_dir, settings.program)
        hooks = user_hooks(module)
        context = Context(name, str(model_dir), {})
        if "model_fn" in hooks:
            try:
                model = hooks["model_fn"](str(model_dir), context)
            except (ModelLoadError, MemoryError):
                raise
            except Exception as exc:
                raise ModelLoadError(f"model_fn raised {type(exc).__name__}: {exc}") from exc
        else:
            model = default_model_fn(str(model_dir), settings.skops_trusted_types)
        if model is None:
            raise ModelLoadError("model_fn returned None")
        log.info("model %s loaded from %s (%s)", name, model_dir, type(model).__name__)
        return cls(
            name, model_dir, model, hooks, settings.default_accept, module, settings if batching else None
        )

    def invoke(self, request: Request) -> Response:
        media_type = content_types.parse_content_type(request.content_type)
        context = Context(self.name, str(self.model_dir), request.headers)
        hooks = self.hooks
        body: bytes | str = request.body
        if hooks.keys() & {"input_fn", "transform_fn"} and media_type.is_text:
            # As in AWS's toolkit, user hooks get text bodies as str.
            body = decoder.decode_text(request.body, media_type)

        if "transform_fn" in hooks:
            accept = content_types.preferred(request.accept, self.default_accept)
            result = hooks["transform_fn"](self.model, body, media_type.type, accept, context)
            return _response(result, accept)

        if "input_fn" in hooks:
            data = hooks["input_fn"](body, media_type.type, context)
        else:
            data = decoder.decode(request.body, media_type)
            _check_features(data, self.model)

        if self.batcher is not None and isinstance(data, np.ndarray) and data.ndim == 2:
            prediction = self.batcher.predict(data)
        elif "predict_fn" in hooks:
            prediction = hooks["predict_fn"](data, self.model, context)
        else:
            prediction = default_predict_fn(data, self.model, self.predict)

        if "output_fn" in hooks:
            accept = content_types.preferred(request.accept, self.default_accept)
            return _response(hooks["output_fn"](prediction, accept, context), accept)
        accept = content_types.negotiate(request.accept, encoder.SUPPORTED, self.default_accept)
        return Response(encoder.encode(prediction, accept), accept)


def _response(result: Any, accept: str) -> Response:
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
