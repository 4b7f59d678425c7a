"""Multi-model mode: the `/models` API over this worker's store and the shared record.

Models loaded through `POST /models` are written to the record, so whichever worker
answers sees the same set. Each worker holds its own copy of each (Python's GIL means
a model in one process is served by one core), loads new entries in the background as
soon as another worker records them, and drops entries another worker removed.
The answers' wording is multi-model-server's, which clients and AWS's tests read.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from types import ModuleType

from serving.config import Settings
from serving.errors import BadRequest, Conflict, InferenceError, ModelLoadError, NotFound
from serving.inference.pipeline import ModelHandler
from serving.models import memory
from serving.models.locations import ModelLocations, check_name
from serving.models.record import Entry, Record
from serving.models.store import ModelStore
from serving.models.targets import Targets

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.2
UNLOAD_WAIT_S = 5.0


def not_found(name: str) -> NotFound:
    return NotFound(f"Model not found: {name}")


class MultiModel:
    def __init__(self, settings: Settings, store: ModelStore, record: Record, targets: Targets) -> None:
        self.settings = settings
        self.store = store
        self.record = record
        self.targets = targets
        self.locations: ModelLocations = targets.locations
        self._preload_failed: set[tuple[str, str]] = set()

    # --- the /models API ----------------------------------------------------------

    def load(self, name: str, url: str) -> Entry:
        with self.record.transaction() as models:
            if name in models:
                raise Conflict(f"Model {name} is already registered.")
            model_dir = self.locations.resolve_url(url)
            # Every worker will hold a copy.
            workers = self.settings.workers
            try:
                self.store.load(name, model_dir, room_for=workers)
            except ModelLoadError as exc:
                raise BadRequest(f"model {name!r} failed to load: {exc}") from exc
            entry = Entry(name, url, str(model_dir), memory.model_footprint(model_dir) * workers)
            models[name] = entry
        return entry

    def unload(self, name: str) -> None:
        with self.record.transaction() as models:
            if models.pop(name, None) is None:
                raise not_found(name)
            self.store.unload(name)
        # SageMaker's contract: free the model's resources before responding. The other
        # workers drop their copies within a watch interval; wait for them, bounded.
        deadline = time.monotonic() + UNLOAD_WAIT_S
        while self.record.holders(name) and time.monotonic() < deadline:
            time.sleep(WATCH_INTERVAL_S / 4)

    def describe(self, name: str) -> Entry:
        entry = self.record.entries().get(name)
        if entry is None:
            raise not_found(name)
        return entry

    def listing(self, token: str | None, limit: int) -> tuple[list[Entry], str | None]:
        entries = sorted(self.record.entries().values(), key=lambda e: e.name)
        try:
            start = int(token) if token else 0
        except ValueError:
            raise BadRequest(f"next_page_token {token[:50]!r} is not one this server issued") from None
        if start < 0 or (start and start >= len(entries)):
            raise BadRequest(f"next_page_token {token!r} is past the end of the list")
        following = start + limit
        return entries[start:following], (str(following) if following < len(entries) else None)

    def get(self, name: str) -> ModelHandler:
        """The handler for a registered model, loading this worker's copy if needed."""
        # The record decides, not this worker's copies: a model another worker has just
        # unloaded is gone here too, even before the watcher drops it.
        entry = self.record.entries().get(name)
        if entry is None:
            raise not_found(name)
        handler = self.store.get(name, Path(entry.path))
        return handler if handler is not None else self._materialize(entry)

    def _materialize(self, entry: Entry) -> ModelHandler:
        try:
            return self.store.load(entry.name, Path(entry.path))
        except ModelLoadError as exc:
            raise BadRequest(f"model {entry.name!r} failed to load: {exc}") from exc

    # --- what the routes ask ----------------------------------------------------------

    def health(self) -> InferenceError | None:
        return None

    def default(self) -> ModelHandler:
        raise BadRequest(
            "this container serves several models: name one with the X-Amzn-SageMaker-Target-Model "
            "header or call POST /models/<name>/invoke"
        )

    def target(self, target: str) -> ModelHandler:
        name = check_name(target, "target model")
        entries = self.record.entries()
        for candidate in (name, name.removesuffix(".tar.gz")):
            if candidate in entries:
                return self.get(candidate)
        return self.targets.get(target)

    user_module: ModuleType | None = None

    # --- keeping this worker in step with the others ------------------------------

    def sync(self) -> None:
        entries = self.record.entries()
        gone = [
            name
            for name, model_dir in self.store.kept().items()
            if str(model_dir) != getattr(entries.get(name), "path", None)
        ]
        for name in gone:
            self.store.unload(name)
        if gone:
            log.info("dropped models unloaded by another worker: %s", ", ".join(gone))
        self.record.publish_holdings(os.getpid(), set(self.store.kept()))
        for name, entry in entries.items():
            held = self.store.get(name, Path(entry.path))
            if held is None and (name, entry.path) not in self._preload_failed:
                try:
                    # Only what fits: a preload must never be what gets the container killed.
                    self.store.make_room(entry.footprint // max(self.settings.workers, 1))
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
