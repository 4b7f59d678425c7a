"""Running the app under gunicorn with settings derived from the environment.

Worker model: gthread. Each worker process holds many requests in flight on a thread
pool, so concurrent requests for a model can meet inside one process. The listening
socket is bound by gunicorn with TCP_NODELAY set, which accepted connections inherit
(no 40 ms Nagle stall on keep-alive responses), and each gthread worker accepts one
connection per wake-up, so a single busy worker cannot hoard the connections the
way an asyncio accept loop does.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from serving import blas, logs, metrics
from serving.config import Settings, shared_dir
from serving.inference.pipeline import ModelHandler
from serving.models import code
from serving.models.modes import build_mode, registry
from serving.models.preload import preload
from serving.web import forwarding, gunicorn_errors
from serving.web.app import create_app

log = logging.getLogger(__name__)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "bind": [f"0.0.0.0:{settings.port}"],
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "timeout": settings.timeout,
        "graceful_timeout": settings.graceful_timeout,
        "keepalive": settings.keepalive,
        # Keep-alive connections beyond the busy threads wait in the worker's poller.
        "worker_connections": max(1000, settings.threads * 4),
        "loglevel": settings.log_level.lower(),
        # Access lines come from the app (with the model name and latency), not gunicorn.
        "accesslog": None,
        "logconfig_dict": logs.config(settings.log_level, settings.log_format),
        "child_exit": lambda _arbiter, worker: worker_exited(settings, worker.pid),
        "preload_app": False,
        "proc_name": "serve",
        # Nothing but SageMaker's HTTP contract is exposed; no runtime control channel.
        "control_socket_disable": True,
        # Heartbeat files on tmpfs: a slow disk must not make gunicorn think a worker hung.
        "worker_tmp_dir": shared_dir(),
    }


def worker_exited(settings: Settings, pid: int) -> None:
    """In the arbiter, once a worker is gone: nothing may count it or send it requests."""
    metrics.worker_exited(pid)
    if settings.multi_model and settings.state_dir is not None:
        # Its files would otherwise name it until its pid is found dead, or reused.
        registry(settings).forget_holder(pid)
        forwarding.socket_path(settings.state_dir, pid).unlink(missing_ok=True)


def listen_for_peers(app: Any, settings: Settings) -> None:
    """Where the other workers pass on requests for the models this worker holds."""
    assert settings.state_dir is not None
    path = forwarding.socket_path(settings.state_dir, os.getpid())
    try:
        forwarding.listen(app, path)
    except OSError as exc:
        # Serving goes on: the others then load their own copy of what this one holds.
        log.error("cannot listen for the other workers on %s: %s", path, exc)


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(
        self, settings: Settings, threads: blas.BlasThreads, preloaded: ModelHandler | None = None
    ) -> None:
        self.settings = settings
        self.blas_threads = threads
        self.preloaded = preloaded
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        # Runs in each worker after the fork, so loader and watcher threads exist only
        # in workers: every worker loads its models before it says healthy.
        gunicorn_errors.install()
        # numpy and OpenMP were loaded in the arbiter; their pools are this worker's now.
        blas.limit_loaded(self.blas_threads)
        metrics.get()  # made before any request or loader thread can race to make it
        app = create_app(self.settings, build_mode(self.settings, self.preloaded))
        if self.settings.multi_model:
            listen_for_peers(app, self.settings)
        return app


# Imported once in the arbiter so that workers start with them loaded (shared pages,
# no per-worker import time); the model itself is still loaded by each worker.
PRELOADED_MODULES = (
    "numpy",
    "scipy.sparse",
    "joblib",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "sklearn.preprocessing",
)


def preload_modules() -> None:
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # a slimmer environment still serves
            log.warning("could not preload %s: %s", name, exc)


def run(settings: Settings, threads: blas.BlasThreads) -> None:
    """Serve until stopped; `threads` is what `serve` put in the environment (serving.blas)."""
    preload_modules()
    # Shared by the workers: the loaded-model record on tmpfs where there is one, unpacked
    # archives and fetched code in the temp dir (a serverless /dev/shm can be 1 MB). Both
    # belong to this server and go with it.
    state_dir = Path(tempfile.mkdtemp(prefix="sklearn-serve-", dir=shared_dir()))
    scratch_dir = Path(tempfile.mkdtemp(prefix="sklearn-serve-files-"))
    settings = dataclasses.replace(settings, state_dir=state_dir, scratch_dir=scratch_dir)
    settings = code.prepare(settings, scratch_dir / "code")
    metrics.prepare(state_dir / "metrics")
    log.info(
        "serving %s on port %d with %d workers x %d threads (%s)",
        f"the models under {settings.models_dir}" if settings.multi_model else settings.model_dir,
        settings.port,
        settings.workers,
        settings.threads,
        threads.describe(),
    )
    preloaded = preload(settings)
    arbiter = os.getpid()
    try:
        Server(settings, threads, preloaded).run()
    finally:
        # Workers are forked inside run() and leave through this frame too: only the
        # arbiter, after its workers are gone, may remove what they share.
        if os.getpid() == arbiter:
            shutil.rmtree(state_dir, ignore_errors=True)
            shutil.rmtree(scratch_dir, ignore_errors=True)
