"""What the job leaves behind: the model, a metrics summary, and the success or failure file."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import joblib

from training.paths import TrainingPaths

MODEL_FILE = "model.joblib"  # the name the serving side looks for first
METRICS_FILE = "metrics.json"
# SageMaker keeps only this much of output/failure as the job's FailureReason.
FAILURE_REASON_CHARS = 1024


def clear_status(paths: TrainingPaths) -> None:
    # SageMaker starts from an empty tree, local reruns do not: a stale `success` next to a
    # new failure would contradict it.
    for path in (paths.success_file, paths.failure_file):
        path.unlink(missing_ok=True)


def save_model(paths: TrainingPaths, model: Any) -> Path:
    paths.model_dir.mkdir(parents=True, exist_ok=True)
    path = paths.model_dir / MODEL_FILE
    joblib.dump(model, path)
    return path


def _json_safe(value: Any) -> Any:
    # json.dumps would write NaN, which is not JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def write_metrics(paths: TrainingPaths, summary: dict[str, Any]) -> Path:
    paths.output_data_dir.mkdir(parents=True, exist_ok=True)
    path = paths.output_data_dir / METRICS_FILE
    path.write_text(json.dumps(_json_safe(summary), indent=2) + "\n", encoding="utf-8")
    return path


def write_success(paths: TrainingPaths) -> None:
    paths.output_dir.mkdir(parents=True, exist_ok=True)
    paths.success_file.write_text("", encoding="utf-8")


def failure_text(reason: str, details: str | None = None) -> str:
    """The reason on one line first, so FailureReason carries it; details (a traceback) after."""
    headline = " ".join(reason.split())[: FAILURE_REASON_CHARS - 1]
    return f"{headline}\n" if not details else f"{headline}\n\n{details.rstrip()}\n"


def report_failure(paths: TrainingPaths, reason: str, details: str | None = None) -> None:
    text = failure_text(reason, details)
    print(f"train failed: {text}", file=sys.stderr, end="", flush=True)
    try:
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        # The exit code still tells SageMaker the job failed; the reason is in the log.
        print(f"train: cannot write {paths.failure_file}: {exc}", file=sys.stderr, flush=True)
