"""A model's own `predict` in a loop, no HTTP: the in-process limit the servers are measured against.

One program for both sides. The benchmarks import it to time `predict` in their own Python,
and run its source with the image's Python (`python -c SOURCE SPEC`), where the server runs,
for the fair baseline. So it needs only what the image has: numpy, joblib and the product.

SPEC is JSON: {"models": {"rf": "/models/rf/model.joblib", ...}, "rows": {"1": 1.5, "1000": 3},
"fast": ["rf"], "throughput": {"rf": 150000}}. For each model and each row count, the median
milliseconds of one `predict` over that many seconds (key "rf-1"); with "fast", the same
through the product's forest fast path ("rf-fast-1"); with "throughput", rows per second of
one `predict` over that many rows ("rf-rows-per-s"). Printed as one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np

Predict = Callable[[np.ndarray], Any]


def source() -> str:
    """This program's text, to run with `python -c` where the module cannot be imported."""
    return Path(__file__).read_text()


def median_ms(predict: Predict, X: np.ndarray, seconds: float = 1.5, warmup: int = 20) -> float:
    """Median milliseconds of `predict(X)`, called for `seconds` (and at least 20 times) after `warmup`."""
    for _ in range(warmup):
        predict(X)
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < 20:
        start = time.perf_counter_ns()
        predict(X)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(samples)


def rows_per_s(predict: Predict, X: np.ndarray) -> float:
    start = time.perf_counter()
    predict(X)
    return X.shape[0] / (time.perf_counter() - start)


def rows_for(model: Any, count: int) -> np.ndarray:
    """`count` rows of the model's width, the same ones every run."""
    return np.random.default_rng(count).random((count, model.n_features_in_))


def fast_predict(model: Any) -> Predict:
    """The forest fast path the server uses for `model`."""
    from serving.inference import fast_paths

    return fast_paths.predictor(model)


def measure(spec: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, path in spec["models"].items():
        model = joblib.load(path)
        variants = {name: model.predict}
        if name in spec.get("fast", ()):
            variants[f"{name}-fast"] = fast_predict(model)
        for label, predict in variants.items():
            for count, seconds in spec["rows"].items():
                out[f"{label}-{count}"] = median_ms(predict, rows_for(model, int(count)), seconds)
        if name in spec.get("throughput", {}):
            out[f"{name}-rows-per-s"] = rows_per_s(model.predict, rows_for(model, spec["throughput"][name]))
    return out


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
