"""What a caller asks a model for, in AWS's words, and what each kind of model can give.

`SAGEMAKER_INFERENCE_OUTPUT` names the keys (`predicted_label`, `probability`,
`probabilities`, `labels`; comma-separated, in the order the answer lists them), as
Autopilot's containers read it; a caller sharing an endpoint can ask per request with
`output=<keys>` in `X-Amzn-SageMaker-Custom-Attributes`. `probability` is the
probability of the predicted label; `labels` are the model's classes, as they were fitted.

Besides predictors, two kinds of fitted objects serve as pipeline stages: a
transformer with no `predict` answers its `transform`, and a `LabelEncoder` turns the
previous stage's encoded labels back into the original ones (Autopilot's last stage),
reading the columns `SAGEMAKER_INFERENCE_INPUT` names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from serving.config_values import OUTPUT_KEYS as KEYS
from serving.config_values import output_keys
from serving.errors import BadRequest, ModelLoadError

PREDICTOR, CLASSIFIER, TRANSFORMER, LABEL_ENCODER = "predictor", "classifier", "transformer", "label encoder"


def role_of(model: Any) -> str:
    if type(model).__name__ == "LabelEncoder":
        return LABEL_ENCODER
    if hasattr(model, "predict"):
        classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
        return CLASSIFIER if classifier else PREDICTOR
    if hasattr(model, "transform"):
        return TRANSFORMER
    return PREDICTOR


CAN_GIVE = {
    CLASSIFIER: KEYS,
    PREDICTOR: ("predicted_label",),
    LABEL_ENCODER: KEYS,
    TRANSFORMER: (),
}


class Selection(dict[str, Any]):
    """Named outputs, one value per row each, in the order they were asked for."""


def _beyond(keys: tuple[str, ...], model: Any, asked: str) -> str | None:
    """Why the model cannot give `keys`, or None when it can."""
    role = role_of(model)
    missing = [key for key in keys if key not in CAN_GIVE[role]]
    if not missing:
        return None
    can = ", ".join(CAN_GIVE[role]) or "its transform output"
    named = f"{type(model).__name__}, a {role}"
    return f"{asked} asks for {', '.join(missing)}, but the model ({named}) can give only {can}"


def check(keys: tuple[str, ...], supported: tuple[str, ...], model: Any) -> None:
    """At load: the configured keys are ones the container says it supports and the model has."""
    beyond = [key for key in keys if supported and key not in supported]
    if beyond:
        raise ModelLoadError(
            f"SAGEMAKER_INFERENCE_OUTPUT asks for {', '.join(beyond)}, which "
            f"SAGEMAKER_INFERENCE_SUPPORTED ({', '.join(supported)}) does not list"
        )
    problem = _beyond(keys, model, "SAGEMAKER_INFERENCE_OUTPUT")
    if problem:
        raise ModelLoadError(problem)


def requested(custom_attributes: str | None, configured: tuple[str, ...], model: Any) -> tuple[str, ...]:
    """The keys for this request: `output=` in the custom attributes, else the configured ones."""
    for part in (custom_attributes or "").split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "output":
            try:
                keys = output_keys("the output custom attribute", value)
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
            problem = _beyond(keys, model, "the output custom attribute")
            if problem:
                raise BadRequest(problem)
            return keys
    return configured


def classify(
    keys: tuple[str, ...], model: Any, predict: Callable[[Any], Any], proba: Callable[[Any], Any], data: Any
) -> Selection:
    columns: dict[str, Any] = {}
    if {"probability", "probabilities"} & set(keys):
        probabilities = np.asarray(proba(data))
        columns["probabilities"] = probabilities
        columns["probability"] = probabilities.max(axis=1)
    if "predicted_label" in keys:
        columns["predicted_label"] = np.asarray(predict(data))
    if "labels" in keys:
        rows = len(next(iter(columns.values()))) if columns else _rows(data)
        columns["labels"] = [model.classes_.tolist()] * rows
    return Selection((key, columns[key]) for key in keys)


def _rows(data: Any) -> int:
    return data.shape[0] if hasattr(data, "shape") else len(data)


def inverse_labels(
    encoder: Any, rows: list[list[str]], incoming: tuple[str, ...], keys: tuple[str, ...]
) -> Selection:
    """Autopilot's last stage: the incoming columns, with encoded labels turned back."""
    if not incoming:
        if any(len(row) != 1 for row in rows):
            raise BadRequest("without SAGEMAKER_INFERENCE_INPUT each row must be one encoded label")
        incoming = ("predicted_label",)
    width = len(incoming)
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise BadRequest(f"row {number} has {len(row)} values; SAGEMAKER_INFERENCE_INPUT names {width}")
    given: Mapping[str, list[str]] = {key: [row[i] for row in rows] for i, key in enumerate(incoming)}
    columns = Selection()
    for key in keys or ("predicted_label",):
        if key == "predicted_label" and key in given:
            columns[key] = encoder.inverse_transform(_label_numbers(given[key], len(encoder.classes_)))
        elif key == "labels":
            columns[key] = [str(encoder.classes_.tolist())] * len(rows)
        elif key in given:
            columns[key] = given[key]
        else:
            raise BadRequest(
                f"{key} is asked for, but SAGEMAKER_INFERENCE_INPUT ({', '.join(incoming)}) lacks it"
            )
    return columns


def _label_numbers(values: list[str], classes: int) -> np.ndarray:
    numbers = []
    for number, value in enumerate(values, start=1):
        try:
            label = float(value)
        except ValueError:
            raise BadRequest(
                f"row {number}: {value[:50]!r} is not an encoded label (a whole number)"
            ) from None
        if not label.is_integer() or not 0 <= label < classes:
            raise BadRequest(f"row {number}: {value[:50]!r} is not one of the {classes} encoded labels")
        numbers.append(int(label))
    return np.array(numbers)
