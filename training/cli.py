"""The `train` command SageMaker runs: `docker run IMAGE train`.

A job that names a program (`sagemaker_program`, the SDK's `entry_point`) runs the user's
own script (`script_mode`). Any other job runs the built-in trainer: it reads
hyperparameters and the train/validation CSV channels from the SageMaker tree, fits a
random forest, logs metrics, and writes model/model.joblib. Exit codes follow
sagemaker-training-toolkit: 0 success, 1 a problem with the job's inputs or the user's
script, 2 a fault of the trainer.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from training import hyperparameters, outputs, script_mode
from training.channels import TRAIN, VALIDATION, find_channels
from training.csv_data import read_channel
from training.errors import ClientError
from training.forest import fit
from training.log import say
from training.metrics import evaluate
from training.paths import TrainingPaths

USAGE = """usage: train

Runs the SageMaker training contract under $SAGEMAKER_BASE_DIR (default /opt/ml).
With the sagemaker_program hyperparameter: your own script, from sagemaker_submit_directory.
Otherwise the built-in random forest.
Hyperparameters: n-estimators (100), min-samples-leaf (3), model-name ("model"), random-state (0).
Channels: train (required), validation (optional); headerless CSV, label in the first column.
"""


def run(paths: TrainingPaths) -> dict[str, Any]:
    hp = hyperparameters.read(paths.hyperparameters_file)
    say(f"{hp.model_name}: hyperparameters {json.dumps(hp.as_dict())}")
    channels = find_channels(paths)
    train = read_channel(channels[TRAIN])
    validation = None
    if VALIDATION in channels:
        validation = read_channel(channels[VALIDATION], expected_features=train.n_features)

    started = time.perf_counter()
    model = fit(train.features, train.labels, hp)
    fit_seconds = time.perf_counter() - started

    # Without a validation channel the numbers are training error, and are labelled so.
    scored = validation if validation is not None else train
    metrics = evaluate(scored.labels, model.predict(scored.features))
    for line in metrics.log_lines(scored.channel):
        say(line)

    model_path = outputs.save_model(paths, model)
    say(f"{hp.model_name}: saved {model_path}")
    summary = {
        "model_name": hp.model_name,
        "hyperparameters": hp.as_dict(),
        "rows": {dataset.channel: dataset.rows for dataset in (train, validation) if dataset is not None},
        "features": train.n_features,
        "fit_seconds": round(fit_seconds, 3),
        "evaluated_on": scored.channel,
        "metrics": metrics.as_dict(),
    }
    outputs.write_metrics(paths, summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    paths = TrainingPaths.from_env()
    try:
        outputs.clear_status(paths)
        if args:
            raise ClientError(
                f"train takes no arguments (got: {' '.join(args)}); configure it with hyperparameters"
            )
        raw = hyperparameters.load_raw(paths.hyperparameters_file)
        if script_mode.wanted(raw, os.environ):
            return script_mode.main(paths, raw)
        run(paths)
        outputs.write_success(paths)
    except ClientError as exc:
        outputs.report_failure(paths, str(exc))
        return 1
    except Exception as exc:
        outputs.report_failure(
            paths, f"Unexpected error in the trainer: {type(exc).__name__}: {exc}", traceback.format_exc()
        )
        return 2
    say("training complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
