"""Prometheus metrics that add up across every gunicorn worker.

prometheus-client's multiprocess mode keeps each process's samples in files under
PROMETHEUS_MULTIPROC_DIR; `/metrics` reads all of them, so whichever worker answers,
the numbers cover the whole server. `serve` sets the directory before the workers
start, and gunicorn's child_exit hook marks a dead worker's files.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(directory: Path) -> None:
    """Call in the arbiter before the workers fork, and before prometheus_client is imported."""
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(directory)


def worker_exited(pid: int) -> None:
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class Metrics:
    """The server's metrics; created in each worker, after the fork."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("sagemaker_requests", "HTTP requests answered", ["route", "status", "model"])
        self.latency = Histogram(
            "sagemaker_request_duration_seconds",
            "Time from request to response",
            ["route", "model"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.loaded_models = Gauge(
            "sagemaker_loaded_models", "Models held in memory, over all workers", multiprocess_mode="livesum"
        )
        # Multi-model mode: requests a worker passed on to another that holds the model.
        self.passed_on = Counter(
            "sagemaker_passed_on_requests", "Requests passed on to a worker holding the model", ["model"]
        )
        self.load_seconds = Histogram(
            "sagemaker_model_load_seconds",
            "Time to load a model",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        # What became of each model's compiled predict path: serving, refused, fallen back.
        self.compiled = Counter(
            "sagemaker_compiled_models", "Compiled predict paths, by what became of them", ["model", "state"]
        )
        self.compiled_disagreements = Counter(
            "sagemaker_compiled_disagreements",
            "Live requests the compiled form answered differently from scikit-learn",
            ["model"],
        )
        self.batch_size = Histogram(
            "sagemaker_batch_requests",
            "Requests merged into one predict call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )

    @staticmethod
    def exposition() -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        registry = CollectorRegistry()
        if os.environ.get(ENV):
            multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST


_metrics: Metrics | None = None
_lock = threading.Lock()


def get() -> Metrics:
    """This process's metrics, made on first use (in a worker: after the fork).

    Under a lock: request threads and the model watcher can ask at the same moment, and
    a second set of metrics would be refused by the registry as duplicates.
    """
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = Metrics()
    return _metrics
