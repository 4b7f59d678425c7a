"""The default model_fn: find the one serialized model in a model directory and load it.

`model.joblib` and pickle files run code while they load: serve only files you trust.
`model.skops` is the safe alternative: skops rebuilds the model without running code
from the file, and only from types on a trusted list.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib

from serving.config import DEFAULT_SKOPS_TRUSTED
from serving.errors import ModelLoadError

PREFERRED = ("model.skops", "model.joblib")
SUFFIXES = (".joblib", ".pkl", ".pickle", ".skops")


def find_model_file(model_dir: Path) -> Path:
    if not model_dir.is_dir():
        raise ModelLoadError(f"model directory {model_dir} does not exist")
    for name in PREFERRED:
        if (model_dir / name).is_file():
            return model_dir / name
    candidates = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix in SUFFIXES)
    if len(candidates) == 1:
        return candidates[0]
    present = sorted(p.name for p in model_dir.iterdir())
    listing = ", ".join(present[:20]) + (" ..." if len(present) > 20 else "") or "nothing"
    if not candidates:
        raise ModelLoadError(
            f"no model file in {model_dir}: expected model.joblib, model.skops or one *.joblib / *.pkl "
            f"file, found: {listing}. Save the model with joblib.dump or skops.io.dump, or define "
            "model_fn in code/inference.py"
        )
    raise ModelLoadError(
        f"several model files in {model_dir} ({', '.join(p.name for p in candidates)}) "
        "and none is named model.joblib or model.skops; rename the one to serve or define model_fn"
    )


def _trusted(type_name: str, trusted: Sequence[str]) -> bool:
    return any(type_name.startswith(t) if t.endswith(".") else type_name == t for t in trusted)


def load_skops(path: Path, trusted: Sequence[str] = DEFAULT_SKOPS_TRUSTED) -> Any:
    import skops.io

    try:
        found = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise ModelLoadError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    refused = [name for name in found if not _trusted(name, trusted)]
    if refused:
        raise ModelLoadError(
            f"{path.name} contains types that are not trusted: {', '.join(refused)}. If you trust "
            "them, add them to SAGEMAKER_SKOPS_TRUSTED_TYPES (comma-separated; a prefix ends with '.')"
        )
    return skops.io.load(path, trusted=found)


def default_model_fn(model_dir: str, skops_trusted: Sequence[str] = DEFAULT_SKOPS_TRUSTED) -> Any:
    path = find_model_file(Path(model_dir))
    try:
        return load_skops(path, skops_trusted) if path.suffix == ".skops" else joblib.load(path)
    except (ModelLoadError, MemoryError):
        # A MemoryError is the memory guard's: the caller reports it as over the budget.
        raise
    except Exception as exc:
        raise ModelLoadError(f"cannot load {path}: {type(exc).__name__}: {exc}") from exc
