"""Loading one model: the same steps in every mode and under both engines.

install the code's requirements → import the user's module → `model_fn` (or the
default) under a timeout and the memory guard → the model's `n_jobs` set to 1 (see
`n_jobs`) → a ready `ModelHandler`. A load either returns the handler or raises one
of three errors whose message is the reason, and the callers (the single model's
/ping, the /models API, the MMS handler) report it:

- `ModelLoadError`: the model or the user's code cannot be loaded;
- `ModelLoadTimeout`: it did not finish within SAGEMAKER_MODEL_LOAD_TIMEOUT;
- `InsufficientMemory`: it would not fit, or went past the memory budget while loading.

Resolving a name and unpacking an archive come first and belong to `locations`: by the
time a load starts, `model_dir` is a directory.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serving import metrics
from serving.config import Settings
from serving.errors import InsufficientMemory, ModelLoadError, ModelLoadTimeout
from serving.inference.hooks import load_module, user_hooks
from serving.inference.pipeline import Context, ModelHandler
from serving.models import memory, memory_guard, n_jobs, requirements
from serving.models.files import default_model_fn

log = logging.getLogger(__name__)

Phase = Callable[[str], None]


def code_dir_for(model_dir: Path, settings: Settings) -> Path:
    """A model's own code/ overrides the container-wide script for that model."""
    own = model_dir / "code"
    if (own / settings.script).is_file():
        return own
    if settings.code_error is not None:
        raise ModelLoadError(settings.code_error)
    return settings.code_dir


def check_room(needed: int, settings: Settings) -> None:
    """507 before loading what would not fit, instead of an OOM kill during it."""
    reading = memory.read(settings.memory_headroom_mb)
    if not reading.fits(needed):
        raise InsufficientMemory(
            f"loading needs about {needed // 2**20 + 1} MB and {reading.describe()}; "
            "unload a model or give the container more memory"
        )


def _steps(
    name: str, model_dir: Path, settings: Settings, sharers: int | None, batching: bool, phase: Phase
) -> ModelHandler:
    code_dir = code_dir_for(model_dir, settings)
    phase("installing requirements")
    requirements.install(code_dir, settings.requirements_timeout)
    phase("importing the user's module")
    module = load_module(code_dir, settings.script)
    if module is None and settings.program is not None:
        # Serving without the script that was named would drop its hooks without a word.
        named = f"SAGEMAKER_PROGRAM={settings.program}"
        raise ModelLoadError(f"{named}: there is no {settings.script} in {code_dir}")
    hooks = user_hooks(module)
    phase("running model_fn")
    guarded = (
        memory_guard.guarded(settings.memory_headroom_mb, sharers) if sharers else contextlib.nullcontext()
    )
    with guarded:
        if "model_fn" in hooks:
            try:
                model = hooks["model_fn"](str(model_dir), Context(name, str(model_dir)))
            except (ModelLoadError, MemoryError):
                raise
            except Exception as exc:
                raise ModelLoadError(f"model_fn raised {type(exc).__name__}: {exc}") from exc
        else:
            model = default_model_fn(str(model_dir), settings.skops_trusted_types)
    if model is None:
        raise ModelLoadError("model_fn returned None")
    # Before the handler is built: its predict step chooses the forest fast path by n_jobs.
    if not settings.keep_model_n_jobs:
        n_jobs.serve_serially(name, model)
    return ModelHandler(name, model_dir, model, hooks, settings, module, batching)


def load(
    name: str,
    model_dir: Path,
    settings: Settings,
    *,
    sharers: int | None = 1,
    batching: bool = True,
    make_room: Callable[[int], None] | None = None,
    phase: Phase | None = None,
) -> ModelHandler:
    """Load a model from `model_dir`, or raise with the reason.

    `sharers`: processes loading at the same moment, which split the memory left; None
    loads without the memory guard.
    `make_room(bytes)`: asked first for the room the model is expected to take; frees
    it or raises InsufficientMemory (see `check_room`).
    `phase(text)`: told what the load is doing, for a /ping that says so.
    `batching` is off where one process serves one request at a time.
    """
    started = time.monotonic()
    where = {"phase": "starting"}

    def report(text: str) -> None:
        where["phase"] = text
        if phase is not None:
            phase(text)

    if make_room is not None:
        make_room(memory.model_footprint(model_dir))
    try:
        handler = _within_timeout(
            name,
            lambda: _steps(name, model_dir, settings, sharers, batching, report),
            settings.model_load_timeout,
            where,
        )
    except MemoryError:
        memory.release_freed()
        raise InsufficientMemory(
            f"loading model {name!r} went past the memory budget "
            f"({memory.read(settings.memory_headroom_mb).describe()})"
        ) from None
    seconds = time.monotonic() - started
    metrics.get().load_seconds.observe(seconds)
    log.info(
        "loaded model %s from %s (%s) in %.3f s",
        name,
        model_dir,
        type(handler.model).__name__,
        seconds,
        extra={"event": "load", "model": name, "seconds": round(seconds, 4)},
    )
    return handler


def _within_timeout(
    name: str, load: Callable[[], ModelHandler], timeout: float, where: dict[str, str]
) -> ModelHandler:
    """Run a load on its own thread, so a model_fn that hangs fails the load, not the server.

    The thread cannot be stopped; it is abandoned, and whatever it loads is dropped.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["handler"] = load()
        except BaseException as exc:  # handed to the waiting caller below
            # Without the frames: they hold whatever the failed load allocated.
            traceback.clear_frames(exc.__traceback__)
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"load-{name[:40]}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        log.error("model %s did not load within %g s while %s", name, timeout, where["phase"])
        raise ModelLoadTimeout(
            f"model {name!r} did not load within {timeout:g} s (SAGEMAKER_MODEL_LOAD_TIMEOUT) "
            f"while {where['phase']}"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["handler"]
