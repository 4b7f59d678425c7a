"""The built-in predict step: which method answers for each kind of model, batched where exact.

A predictor answers `predict`, or the outputs the caller asked for (`outputs`); a
transformer with no `predict` answers `transform`; a `LabelEncoder` turns encoded
labels back. Errors scikit-learn raises for bad input (ValueError, TypeError) are the
caller's: a 400 that says what the model refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from serving import metrics
from serving.codecs.columns import Columns
from serving.compiled.predictor import PREDICT, PROBA, CompiledPredict
from serving.config import Settings
from serving.errors import BadRequest
from serving.inference import fast_paths, outputs
from serving.inference.batching import Batcher

Predict = Callable[[Any], Any]


def default_predict_fn(data: Any, model: Any, predict: Predict | None = None) -> Any:
    predict = predict or getattr(model, "predict", None)
    if predict is None:
        raise TypeError(f"the model ({type(model).__name__}) has no predict method: define predict_fn")
    return refusing(predict)(data)


def refusing(method: Predict) -> Predict:
    """`method`, with scikit-learn's complaints about the input turned into a 400."""

    def call(data: Any) -> Any:
        try:
            return method(data)
        except (ValueError, TypeError) as exc:
            # scikit-learn reports bad input (feature count, NaN, dtype, unknown category) this way.
            raise BadRequest(f"the model rejected the input: {exc}") from exc

    return call


# Steps whose answer for a row does not depend on the other rows of the call, to the
# last bit: trees add up per-row leaf values; fitted encoders, scalers and imputers work
# value by value. Linear models are left out: BLAS computes one row and many rows with
# different kernels, and the answers can differ in the last bit, so batching them would
# break "the same answer as alone".
ROWWISE_EXACT_MODULES = (
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.preprocessing._encoders",
    "sklearn.preprocessing._data",
    "sklearn.impute._base",
)
CONTAINERS = ("sklearn.pipeline", "sklearn.compose")


def rowwise_exact(model: Any) -> bool:
    module = type(model).__module__
    if module.startswith(ROWWISE_EXACT_MODULES):
        return True
    if type(model).__name__ == "FunctionTransformer":
        return getattr(model, "func", None) is None and getattr(model, "inverse_func", None) is None
    if not module.startswith(CONTAINERS):
        return False
    parts = [step for _, step in getattr(model, "steps", [])]
    parts += [t for _, t, _ in getattr(model, "transformers_", []) if not isinstance(t, str)]
    return bool(parts) and all(rowwise_exact(part) for part in parts)


def batchable(data: Any) -> bool:
    return isinstance(data, (pd.DataFrame, Columns)) or (isinstance(data, np.ndarray) and data.ndim == 2)


def _observe_batch(requests: int) -> None:
    metrics.get().batch_size.observe(requests)


def batcher_for(method: Predict, settings: Settings) -> Batcher:
    return Batcher(method, settings.batch_max_rows, settings.batch_max_delay_ms / 1000, _observe_batch)


def through(batcher: Batcher | None, method: Predict) -> Predict:
    """`method`, through the batcher for rows that can be merged."""
    if batcher is None:
        return method
    return lambda data: batcher.predict(data) if batchable(data) else method(data)


class BuiltinPredict:
    """The predict step when the user's script defines none."""

    def __init__(
        self, model: Any, settings: Settings, batching: bool, compiled: CompiledPredict | None = None
    ) -> None:
        self.model = model
        self.role = outputs.role_of(model)
        self.configured = settings.inference_output
        outputs.check(self.configured, settings.inference_supported, model)
        self.incoming = settings.inference_input
        exact = batching and settings.batching and rowwise_exact(model)
        self.batcher: Batcher | None = None
        self.predict: Predict | None = None
        self.proba: Predict | None = None
        if self.role in (outputs.PREDICTOR, outputs.CLASSIFIER) and hasattr(model, "predict"):
            predict = fast_paths.predictor(model)
            if compiled is not None:
                predict = compiled.wrap(predict, PREDICT)
            self.batcher = batcher_for(predict, settings) if exact else None
            self.predict = refusing(through(self.batcher, predict))
        if self.role == outputs.CLASSIFIER:
            proba = model.predict_proba
            if compiled is not None:
                proba = compiled.wrap(proba, PROBA)
            self.proba = refusing(through(batcher_for(proba, settings) if exact else None, proba))

    def __call__(self, data: Any, custom_attributes: str | None) -> Any:
        if self.role == outputs.LABEL_ENCODER:
            keys = outputs.requested(custom_attributes, self.configured, self.model)
            return outputs.inverse_labels(self.model, data, self.incoming, keys)
        if self.role == outputs.TRANSFORMER:
            return refusing(self.model.transform)(data)
        assert self.predict is not None
        keys = outputs.requested(custom_attributes, self.configured, self.model)
        if not keys:
            return self.predict(data)
        if self.role == outputs.CLASSIFIER:
            assert self.proba is not None
            return outputs.classify(keys, self.model, self.predict, self.proba, data)
        return outputs.Selection(predicted_label=self.predict(data))
