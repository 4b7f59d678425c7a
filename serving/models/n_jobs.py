"""Serving a model with n_jobs=1: its own n_jobs was a choice for training.

A forest fitted with n_jobs=-1 starts a pool over every core of the host on each
request, inside workers that already run in parallel, and the forest fast path
(inference.fast_paths) only takes forests that run their trees in order. So at load,
every `n_jobs` in the model (the model's own and its steps', through scikit-learn's
get_params/set_params) that is not None or 1 is set to 1. Anything without
get_params (what a user's model_fn may return) is left as it is.

A meta-estimator's fitted copies (a search's `best_estimator_`, a voting model's
`estimators_`) are not parameters and keep their own value.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

SERIAL = (None, 1)


def _is_n_jobs(key: str) -> bool:
    return key == "n_jobs" or key.endswith("__n_jobs")


def _label(model: Any, key: str, params: dict[str, Any]) -> str:
    """What `key` belongs to: the model's type, or the step's name and type (`forest__n_jobs`)."""
    step = key.removesuffix("n_jobs").removesuffix("__")
    return f"{step}: {type(params[step]).__name__}" if step else type(model).__name__


def serve_serially(name: str, model: Any) -> dict[str, Any]:
    """Set every parallel `n_jobs` in `model` to 1; return the keys changed and their old values."""
    if not (callable(getattr(model, "get_params", None)) and callable(getattr(model, "set_params", None))):
        return {}
    try:
        params = model.get_params(deep=True)
        changed = {key: value for key, value in params.items() if _is_n_jobs(key) and value not in SERIAL}
        if not changed:
            return {}
        labels = [f"n_jobs {value} -> 1 ({_label(model, key, params)})" for key, value in changed.items()]
        model.set_params(**dict.fromkeys(changed, 1))
    except Exception as exc:  # an estimator of the user's own making: serve it as it is
        log.warning("model %s: n_jobs left as it is (%s: %s)", name, type(exc).__name__, exc)
        return {}
    log.info(
        "model %s: %s for serving; set SAGEMAKER_KEEP_MODEL_N_JOBS=true to keep %s",
        name,
        ", ".join(labels),
        "it" if len(changed) == 1 else "them",
        extra={"event": "n_jobs", "model": name},
    )
    return changed
