"""The models one worker serves in multi-model mode and for target-model routing.

Models loaded through `POST /models` are recorded in the shared registry, so whichever
worker answers sees the same set; each worker holds its own copy of each (Python's GIL
means a model in one process is served by one core), loads new entries in the
background as soon as another worker records them, and drops entries another worker
removed. Models reached through `X-Amzn-SageMaker-Target-Model` are loaded on first use
into a per-worker LRU cache that gives way when memory runs short.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serving import memory, memory_guard, metrics, requirements
from serving.config import Settings
from serving.errors import (
    BadRequest,
    Conflict,
    InsufficientMemory,
    ModelLoadError,
    ModelLoadTimeout,
    NotFound,
)
from serving.handler import ModelHandler
from serving.model_store import ModelStore, check_name
from serving.registry import Entry, Registry

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.2
UNLOAD_WAIT_S = 5.0


class ModelPool:
    def __init__(self, settings: Settings, store: ModelStore, registry: Registry | None = None) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self._loaded: dict[str, ModelHandler] = {}
        self._targets: OrderedDict[str, ModelHandler] = OrderedDict()
        self._lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._preload_failed: set[tuple[str, str]] = set()

    # --- loading ------------------------------------------------------------------

    def _name_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def _code_dir(self, model_dir: Path) -> Path:
        # A model's own code/ overrides the container-wide script for that model.
        own = model_dir / "code"
        return own if (own / self.settings.program).is_file() else self.settings.code_dir

    def _load_handler(self, name: str, model_dir: Path) -> ModelHandler:
        code_dir = self._code_dir(model_dir)
        started = time.monotonic()
        try:
            requirements.install(code_dir, self.settings.requirements_timeout)
            handler = self._within_timeout(
                name, lambda: ModelHandler.load(name, model_dir, code_dir, self.settings)
            )
        except MemoryError:
            memory.release_freed()
            raise InsufficientMemory(
                f"loading model {name!r} went past the memory budget; "
                f"{memory.read(self.settings.memory_headroom_mb).describe()}"
            ) from None
        seconds = time.monotonic() - started
        metrics.get().load_seconds.observe(seconds)
        log.info(
            "loaded model %s from %s in %.3f s",
            name,
            model_dir,
            seconds,
            extra={"event": "load", "model": name, "seconds": round(seconds, 4)},
        )
        return handler

    def _count(self) -> None:
        metrics.get().loaded_models.set(len(self._loaded) + len(self._targets))

    def _within_timeout(self, name: str, load: Callable[[], ModelHandler]) -> ModelHandler:
        """Run a load on its own thread, so a model_fn that hangs fails the load, not the server.

        The thread cannot be stopped; it is abandoned, and whatever it loads is dropped.
        """
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                with memory_guard.guarded(self.settings.memory_headroom_mb):
                    outcome["handler"] = load()
            except BaseException as exc:  # handed to the waiting request below
                # Without the frames: they hold whatever the failed load allocated.
                traceback.clear_frames(exc.__traceback__)
                outcome["error"] = exc

        thread = threading.Thread(target=run, name=f"load-{name[:40]}", daemon=True)
        thread.start()
        thread.join(self.settings.model_load_timeout)
        if thread.is_alive():
            log.error("model %s did not load within %g s", name, self.settings.model_load_timeout)
            raise ModelLoadTimeout(
                f"model {name!r} did not load within {self.settings.model_load_timeout:g} s "
                "(SAGEMAKER_MODEL_LOAD_TIMEOUT)"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["handler"]

    def _ensure_room(self, needed: int) -> None:
        """Make room for `needed` bytes, evicting target-routed models LRU-first, or 507."""
        reading = memory.read(self.settings.memory_headroom_mb)
        while not reading.fits(needed) and self._targets:
            with self._lock:
                if not self._targets:
                    break
                evicted, _ = self._targets.popitem(last=False)
            memory.release_freed()
            self._count()
            log.info(
                "evicted target model %s to free memory", evicted, extra={"event": "evict", "model": evicted}
            )
            reading = memory.read(self.settings.memory_headroom_mb)
        if not reading.fits(needed):
            raise InsufficientMemory(
                f"loading needs about {needed // (1024 * 1024) + 1} MB and {reading.describe()}; "
                "unload a model first"
            )

    # --- the /models API ----------------------------------------------------------

    def _registry(self) -> Registry:
        if self.registry is None:
            raise NotFound("the /models API is only served with SAGEMAKER_MULTI_MODEL=true")
        return self.registry

    def load(self, name: str, url: str) -> Entry:
        registry = self._registry()
        with registry.transaction() as models:
            if name in models:
                raise Conflict(f"model {name!r} is already loaded")
            model_dir = self.store.resolve_url(url)
            # Every worker will hold a copy.
            footprint = memory.model_footprint(model_dir) * self.settings.workers
            self._ensure_room(footprint)
            try:
                handler = self._load_handler(name, model_dir)
            except ModelLoadError as exc:
                raise BadRequest(f"model {name!r} failed to load: {exc}") from exc
            with self._lock:
                self._loaded[name] = handler
            entry = Entry(name=name, url=url, path=str(model_dir), footprint=footprint)
            models[name] = entry
        self._publish()
        return entry

    def unload(self, name: str) -> None:
        registry = self._registry()
        with registry.transaction() as models:
            if models.pop(name, None) is None:
                raise NotFound(f"model {name!r} is not loaded")
            with self._lock:
                self._loaded.pop(name, None)
        memory.release_freed()
        self._publish()
        # SageMaker's contract: free the model's resources before responding. The other
        # workers drop their copies within a watch interval; wait for them, bounded.
        deadline = time.monotonic() + UNLOAD_WAIT_S
        while registry.holders(name) and time.monotonic() < deadline:
            time.sleep(WATCH_INTERVAL_S / 4)
        self._count()
        log.info("unloaded model %s", name, extra={"event": "unload", "model": name})

    def _publish(self) -> None:
        self._count()
        if self.registry is not None:
            self.registry.publish_holdings(os.getpid(), set(self._loaded))

    def describe(self, name: str) -> Entry:
        entry = self._registry().entries().get(name)
        if entry is None:
            raise NotFound(f"model {name!r} is not loaded")
        return entry

    def listing(self, token: str | None, limit: int) -> tuple[list[Entry], str | None]:
        entries = sorted(self._registry().entries().values(), key=lambda e: e.name)
        try:
            start = int(token) if token else 0
        except ValueError:
            raise BadRequest(f"next_page_token {token[:50]!r} is not one this server issued") from None
        if start < 0 or (start and start >= len(entries)):
            raise BadRequest(f"next_page_token {token!r} is past the end of the list")
        page = entries[start : start + limit]
        following = start + limit
        return page, (str(following) if following < len(entries) else None)

    def get(self, name: str) -> ModelHandler:
        """The handler for a registered model, loading this worker's copy if needed."""
        # The record decides, not this worker's copies: a model another worker has just
        # unloaded is gone here too, even before the watcher drops it.
        entry = self._registry().entries().get(name)
        if entry is None:
            raise NotFound(f"model {name!r} is not loaded")
        handler = self._loaded.get(name)
        if handler is not None and str(handler.model_dir) == entry.path:
            return handler
        return self._materialize(entry)

    def _materialize(self, entry: Entry) -> ModelHandler:
        with self._name_lock(entry.name):
            handler = self._loaded.get(entry.name)
            if handler is None or str(handler.model_dir) != entry.path:
                try:
                    handler = self._load_handler(entry.name, Path(entry.path))
                except ModelLoadError as exc:
                    raise BadRequest(f"model {entry.name!r} failed to load: {exc}") from exc
                with self._lock:
                    self._loaded[entry.name] = handler
            return handler

    # --- target-model routing -----------------------------------------------------

    def for_target(self, target: str) -> ModelHandler:
        if self.registry is not None:
            name = check_name(target, "target model")
            for candidate in (name, name.removesuffix(".tar.gz")):
                if candidate in self.registry.entries():
                    return self.get(candidate)
        with self._lock:
            handler = self._targets.get(target)
            if handler is not None:
                self._targets.move_to_end(target)
                return handler
        with self._name_lock(f"target:{target}"):
            handler = self._targets.get(target)
            if handler is None:
                model_dir = self.store.resolve_target(target)
                self._ensure_room(memory.model_footprint(model_dir))
                try:
                    handler = self._load_handler(target, model_dir)
                except ModelLoadError as exc:
                    raise BadRequest(f"target model {target!r} failed to load: {exc}") from exc
                with self._lock:
                    self._targets[target] = handler
                self._count()
            return handler

    # --- keeping this worker in step with the others ------------------------------

    def sync(self) -> None:
        if self.registry is None:
            return
        entries = self.registry.entries()
        with self._lock:
            gone = [
                name
                for name, h in self._loaded.items()
                if str(h.model_dir) != getattr(entries.get(name), "path", None)
            ]
            for name in gone:
                del self._loaded[name]
        if gone:
            memory.release_freed()
            log.info("dropped models unloaded by another worker: %s", ", ".join(gone))
        self._publish()
        for name, entry in entries.items():
            if name not in self._loaded and (name, entry.path) not in self._preload_failed:
                try:
                    # Only what fits: a preload must never be what gets the container killed.
                    self._ensure_room(entry.footprint // max(self.settings.workers, 1))
                    self._materialize(entry)
                except Exception as exc:  # the invoke path reports it to the caller
                    self._preload_failed.add((name, entry.path))
                    log.warning("could not preload model %s: %s", name, exc)

    def start_watcher(self) -> threading.Thread:
        def watch() -> None:
            while True:
                try:
                    self.sync()
                except Exception:
                    log.exception("model registry sync failed")
                time.sleep(WATCH_INTERVAL_S)

        thread = threading.Thread(target=watch, name="model-registry-watcher", daemon=True)
        thread.start()
        return thread
