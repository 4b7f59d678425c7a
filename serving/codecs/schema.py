"""The columns a model takes, read from the fitted model itself.

A model fitted on a pandas DataFrame records `feature_names_in_` (a Pipeline exposes
its first step's). Which columns hold strings is recorded by the encoders that were
fitted on them: an encoder's `categories_` of strings says "strings" even when the
values look like numbers (zip codes). Scalers, imputers and
estimators fitted on a column say "number". Columns nothing records are read from
the values.
A model that records nothing can carry `input_schema.json` in its directory:

    {"columns": [{"name": "city", "type": "string"}, {"name": "sqft", "type": "number"}]}

A Pipeline that starts with a text vectorizer takes one string per row instead.
A model fitted on a plain array has no schema and keeps the numeric path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.errors import ModelLoadError

SCHEMA_FILE = "input_schema.json"
NUMBER, STRING, ANY = "number", "string", "any"
KINDS = (NUMBER, STRING, ANY)
TEXT_VECTORIZERS = {"CountVectorizer", "TfidfVectorizer", "HashingVectorizer"}


@dataclass(frozen=True)
class Schema:
    names: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    # One string per row, for a Pipeline that starts with a text vectorizer.
    text: bool = False

    def describe(self) -> str:
        if self.text:
            return "one text string per row"
        return ", ".join(f"{name} ({kind})" for name, kind in zip(self.names, self.kinds, strict=True))


def _first_step(model: Any) -> Any:
    while hasattr(model, "steps"):
        model = model.steps[0][1]
    return model


def _parts(model: Any, names: list[str] | None) -> Iterator[tuple[Any, list[str] | None]]:
    """Every fitted estimator inside `model`, with the input columns it saw where known."""
    yield model, names
    if hasattr(model, "steps"):
        inner = _names_in(model) or names
        for _, step in model.steps:
            # Later steps see the same columns only when each step keeps one column each.
            yield from _parts(
                step, inner if getattr(step, "n_features_in_", None) == len(inner or []) else None
            )
    for _, transformer, columns in getattr(model, "transformers_", []):
        if isinstance(transformer, str):
            continue
        yield from _parts(transformer, _column_names(model, columns))
    for _, transformer in getattr(model, "transformer_list", []):
        yield from _parts(transformer, names)


def _names_in(part: Any) -> list[str] | None:
    names = getattr(part, "feature_names_in_", None)
    return [str(name) for name in names] if names is not None else None


def _column_names(transformer: Any, columns: Any) -> list[str] | None:
    known = _names_in(transformer) or []
    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, slice) and known:
        return known[columns]
    selected = list(np.atleast_1d(columns)) if not callable(columns) else []
    if selected and all(isinstance(c, str) for c in selected):
        return [str(c) for c in selected]
    if selected and known and all(isinstance(c, (int, np.integer)) for c in selected):
        return [known[int(c)] for c in selected]
    if (
        selected
        and known
        and len(selected) == len(known)
        and all(isinstance(c, (bool, np.bool_)) for c in selected)
    ):
        return [name for name, keep in zip(known, selected, strict=True) if keep]
    return None


def _is_strings(values: np.ndarray) -> bool:
    return values.dtype.kind in "OUS" and any(isinstance(v, str) for v in values)


CONTAINERS = {"Pipeline", "ColumnTransformer", "FeatureUnion"}


def _recorded_kinds(part: Any) -> list[str] | None:
    """What one fitted step says of each column it takes, or None when it says nothing."""
    categories = getattr(part, "categories_", None)
    if categories is not None:  # encoders: strings when fitted on strings
        return [STRING if _is_strings(np.asarray(c)) else NUMBER for c in categories]
    statistics = getattr(part, "statistics_", None)
    if statistics is not None:  # imputers: their fill values have the columns' type
        return [STRING if isinstance(v, str) else NUMBER for v in np.asarray(statistics, dtype=object)]
    name, module = type(part).__name__, type(part).__module__
    if name == "FunctionTransformer" and getattr(part, "func", None) is not None:
        return None  # the user's own function: it may take anything
    if name in CONTAINERS or not module.startswith("sklearn."):
        return None  # a container, or code we cannot read
    # A passthrough, a scaler or an estimator fitted on the columns: numbers.
    return [NUMBER] * int(getattr(part, "n_features_in_", 0))


def fitted_parts(model: Any) -> Iterator[tuple[Any, list[str]]]:
    """Every fitted estimator inside `model` whose input columns are known, with those columns."""
    for part, names in _parts(model, _names_in(model)):
        columns = _names_in(part) or names
        if columns:
            yield part, columns


def _kinds(model: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for part, columns in fitted_parts(model):
        kinds = _recorded_kinds(part)
        if kinds is None or len(columns) != len(kinds):
            continue
        for column, kind in zip(columns, kinds, strict=True):
            # A string anywhere wins: an imputer or encoder fitted on words.
            if found.get(column) != STRING:
                found[column] = kind
    return found


def _from_file(path: Path) -> Schema:
    try:
        document = json.loads(path.read_text())
        columns = document["columns"]
        names = tuple(str(column["name"]) for column in columns)
        kinds = tuple(str(column.get("type", ANY)) for column in columns)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f'{path.name} must be {{"columns": [{{"name": ..., "type": "number" or "string"}}, ...]}}: '
            f"{type(exc).__name__}: {exc}"
        ) from None
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not names or len(set(names)) != len(names):
        raise ModelLoadError(
            f"{path.name}: every column needs a unique name and a type of {', '.join(KINDS)}"
            + (f"; got {', '.join(unknown)}" if unknown else "")
        )
    return Schema(names, kinds)


def schema_of(model: Any, model_dir: Path) -> Schema | None:
    """The model's input columns, or None for the numeric path."""
    if (model_dir / SCHEMA_FILE).is_file():
        return _from_file(model_dir / SCHEMA_FILE)
    if type(_first_step(model)).__name__ in TEXT_VECTORIZERS:
        return Schema(text=True)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return None
    kinds = _kinds(model)
    names = tuple(str(name) for name in names)
    return Schema(names, tuple(kinds.get(name, ANY) for name in names))
