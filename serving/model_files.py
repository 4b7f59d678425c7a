"""The default model_fn: find the one serialized model in a model directory and load it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib

from serving.errors import ModelLoadError

PREFERRED = "model.joblib"
SUFFIXES = (".joblib", ".pkl", ".pickle")


def find_model_file(model_dir: Path) -> Path:
    if not model_dir.is_dir():
        raise ModelLoadError(f"model directory {model_dir} does not exist")
    preferred = model_dir / PREFERRED
    if preferred.is_file():
        return preferred
    candidates = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix in SUFFIXES)
    if len(candidates) == 1:
        return candidates[0]
    present = sorted(p.name for p in model_dir.iterdir())
    listing = ", ".join(present[:20]) + (" ..." if len(present) > 20 else "") or "nothing"
    if not candidates:
        raise ModelLoadError(
            f"no model file in {model_dir}: expected {PREFERRED} or one *.joblib / *.pkl "
            f"file, found: {listing}. Save the model with joblib.dump or define model_fn "
            "in code/inference.py"
        )
    raise ModelLoadError(
        f"several model files in {model_dir} ({', '.join(p.name for p in candidates)}) "
        f"and none is named {PREFERRED}; rename the one to serve or define model_fn"
    )


def default_model_fn(model_dir: str) -> Any:
    path = find_model_file(Path(model_dir))
    try:
        # joblib.load reads both joblib and plain pickle files. Either runs code from the
        # file: only serve model files you trust.
        return joblib.load(path)
    except Exception as exc:
        raise ModelLoadError(f"cannot load {path}: {type(exc).__name__}: {exc}") from exc
