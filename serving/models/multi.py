"""Multi-model mode: the `/models` API over this worker's store and the shared record.

Models loaded through `POST /models` are written to the record, so whichever worker
answers sees the same set. A model is held by the workers in its affinity set, not by
every worker: at first only the one that loaded it. A worker asked for a model it does
not hold passes the request on to a holder (`Elsewhere`, served by
`serving.web.forwarding`), and takes a copy of its own once it passes on more than
`HOT_FORWARDS_PER_S` requests a second for it, the way multi-model-server adds workers
to a busy model (Python's GIL means a copy in one process is served by one core). So a
cold model takes one copy's memory, and a hot one ends up in every worker, as before.
A model nobody live holds is loaded by the worker that is asked for it. Every worker
drops the copies of entries another worker removed.
The answers' wording is multi-model-server's, which clients and AWS's tests read.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
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
# Requests for one model passed on in the last second past which this worker loads its
# own copy: about what one busy core answers for a small model in a few ms each, so a
# model that keeps one worker busy spreads, and one asked now and then stays in one.
HOT_FORWARDS_PER_S = 20
# After a copy could not be taken (no memory, a failed load), when to try again.
GROW_RETRY_S = 10.0


def not_found(name: str) -> NotFound:
    return NotFound(f"Model not found: {name}")


@dataclass(frozen=True)
class Elsewhere:
    """A registered model this worker does not hold, and the live workers that do."""

    name: str
    holders: list[int]


class Heat:
    """How many requests for each model this worker passed on in the last second."""

    def __init__(self, threshold: int = HOT_FORWARDS_PER_S, window_s: float = 1.0) -> None:
        self.threshold = threshold
        self.window_s = window_s
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, now: float | None = None) -> bool:
        """Count one more; whether the model is now hot."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._times.setdefault(name, deque())
            times.append(now)
            while times and times[0] <= now - self.window_s:
                times.popleft()
            return len(times) > self.threshold

    def forget(self, name: str) -> None:
        with self._lock:
            self._times.pop(name, None)


class MultiModel:
    def __init__(self, settings: Settings, store: ModelStore, record: Record, targets: Targets) -> None:
        self.settings = settings
        self.store = store
        self.record = record
        self.targets = targets
        self.locations: ModelLocations = targets.locations
        self.heat = Heat()
        # Models a copy is being taken of, and when a failed one may be tried again.
        self._growing: set[str] = set()
        self._grow_after: dict[str, float] = {}
        self._grow_lock = threading.Lock()

    # --- the /models API ----------------------------------------------------------

    def load(self, name: str, url: str) -> Entry:
        with self.record.transaction() as models:
            if name in models:
                raise Conflict(f"Model {name} is already registered.")
            model_dir = self.locations.resolve_url(url)
            # This worker becomes the model's one holder; others take copies as traffic
            # asks, each checked against the memory left when it is taken.
            try:
                self.store.load(name, model_dir)
            except ModelLoadError as exc:
                raise BadRequest(f"model {name!r} failed to load: {exc}") from exc
            entry = Entry(name, url, str(model_dir), memory.model_footprint(model_dir))
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

    def route(self, name: str) -> ModelHandler | Elsewhere:
        """Where a request for a registered model is served: here if this worker holds
        it, else by a live holder, else here after loading it (the holders died or
        dropped it)."""
        entry = self.record.entries().get(name)
        if entry is None:
            raise not_found(name)
        handler = self.store.get(name, Path(entry.path))
        if handler is not None:
            return handler
        me = os.getpid()
        holders = [pid for pid in self.record.holders(name) if pid != me]
        return Elsewhere(name, holders) if holders else self._materialize(entry)

    def passed_on(self, name: str) -> None:
        """A request for `name` went to another worker: past enough of them, take a copy."""
        if not self.heat.add(name):
            return
        with self._grow_lock:
            if name in self._growing or time.monotonic() < self._grow_after.get(name, 0.0):
                return
            self._growing.add(name)
        threading.Thread(target=self._grow, args=(name,), name=f"grow-{name[:40]}", daemon=True).start()

    def _grow(self, name: str) -> None:
        retry = False
        try:
            retry = not self._take_copy(name)
        except Exception as exc:
            retry = True
            log.warning("could not take a copy of busy model %s: %s", name, exc)
        finally:
            with self._grow_lock:
                self._growing.discard(name)
                if retry:
                    self._grow_after[name] = time.monotonic() + GROW_RETRY_S
            self.heat.forget(name)

    def _take_copy(self, name: str) -> bool:
        """Load this worker's copy of a busy model; False when there is no room for it."""
        entry = self.record.entries().get(name)
        if entry is None or self.store.get(name, Path(entry.path)) is not None:
            return True
        # A copy is only a speed-up: it must not evict what target headers loaded
        # (make_room would), nor end in a 507 for anyone.
        reading = memory.read(self.settings.memory_headroom_mb)
        if not reading.fits(entry.footprint):
            log.info("model %s is busy but another copy does not fit: %s", name, reading.describe())
            return False
        self._materialize(entry)
        log.info(
            "took a copy of model %s: over %d requests a second were passed on for it",
            name,
            HOT_FORWARDS_PER_S,
            extra={"event": "copy", "model": name},
        )
        return True

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

    def target(self, target: str) -> ModelHandler | Elsewhere:
        name = check_name(target, "target model")
        entries = self.record.entries()
        for candidate in (name, name.removesuffix(".tar.gz")):
            if candidate in entries:
                return self.route(candidate)
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
        # Also what tells the others this worker is alive and which models it holds.
        self.record.publish_holdings(os.getpid(), set(self.store.kept()))

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
