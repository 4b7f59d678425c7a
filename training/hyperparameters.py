"""Reading and checking hyperparameters.json for the built-in random-forest trainer."""

from __future__ import annotations

import contextlib
import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from training.errors import ClientError

# SageMaker and the SDK add these to every job's hyperparameters; they are not the user's
# settings for this trainer, so they are neither used nor rejected.
RESERVED_PREFIXES = ("sagemaker_", "_tuning_")


@dataclass(frozen=True)
class Hyperparameters:
    n_estimators: int = 100
    min_samples_leaf: int = 3
    model_name: str = "model"
    random_state: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {name.replace("_", "-"): value for name, value in asdict(self).items()}


def load_raw(path: Path) -> dict[str, Any]:
    """The hyperparameters map as written by SageMaker; no file means no hyperparameters."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClientError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ClientError(f"{path} must hold a JSON object of name: value, not {type(data).__name__}")
    return data


def decode(raw: Any) -> Any:
    """SageMaker passes every value as a string, and the SDK JSON-encodes values first
    (100 -> "100", "rf" -> "\\"rf\\""); undo the JSON when it parses, else keep the string."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _int(name: str, raw: Any, minimum: int) -> int:
    value = decode(raw)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # bool is an int subclass, but "true" as a tree count is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ClientError(f"hyperparameter {name}={raw!r} is not a whole number")
    if value < minimum:
        raise ClientError(f"hyperparameter {name}={value} must be at least {minimum}")
    return value


def _text(name: str, raw: Any) -> str:
    value = decode(raw)
    # "2024" decodes to a number; the name the user typed is the raw text.
    text = value if isinstance(value, str) else str(raw)
    if not text.strip():
        raise ClientError(f"hyperparameter {name} must not be empty")
    return text.strip()


PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "n-estimators": lambda name, raw: _int(name, raw, minimum=1),
    "min-samples-leaf": lambda name, raw: _int(name, raw, minimum=1),
    "model-name": _text,
    # RandomState seeds must fit in 32 bits.
    "random-state": lambda name, raw: _int(name, raw, minimum=0),
}


def _unknown_message(unknown: list[str]) -> str:
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name.replace("_", "-"), PARSERS, n=1)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return f"unknown hyperparameter(s): {', '.join(hints)}; this trainer accepts {', '.join(sorted(PARSERS))}"


def parse(raw: Mapping[str, Any]) -> Hyperparameters:
    unknown = sorted(key for key in raw if key not in PARSERS and not key.startswith(RESERVED_PREFIXES))
    if unknown:
        raise ClientError(_unknown_message(unknown))
    values = {name.replace("-", "_"): PARSERS[name](name, raw[name]) for name in PARSERS if name in raw}
    if values.get("random_state", 0) > 2**32 - 1:
        raise ClientError(f"hyperparameter random-state={values['random_state']} must be below 2**32")
    return Hyperparameters(**values)


def read(path: Path) -> Hyperparameters:
    return parse(load_raw(path))
