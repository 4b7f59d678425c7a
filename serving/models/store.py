"""The models this worker holds: one registry, with a load and an unload for every mode.

The single model is a registry of one; `/models` entries and models reached through
`X-Amzn-SageMaker-Target-Model` are entries too. Each name holds one model. Models
loaded on demand for a target header are evictable: when memory runs short they give
way, least recently used first. The others leave only when they are unloaded.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from serving import metrics
from serving.config import Settings
from serving.inference.pipeline import ModelHandler
from serving.models import lifecycle, memory

log = logging.getLogger(__name__)


# A name and whether the model may be evicted: target-routed models live beside the
# others, so a target header can never replace a model loaded through /models.
Key = tuple[str, bool]


class ModelStore:
    def __init__(self, settings: Settings, on_change: Callable[[set[str]], None] | None = None) -> None:
        self.settings = settings
        self._on_change = on_change
        # Least recently used first.
        self._held: OrderedDict[Key, ModelHandler] = OrderedDict()
        self._lock = threading.Lock()
        self._name_locks: dict[Key, threading.Lock] = {}

    def _name_lock(self, key: Key) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(key, threading.Lock())

    def get(self, name: str, model_dir: Path | None = None, evictable: bool = False) -> ModelHandler | None:
        """The model held under `name` (from `model_dir`, when given)."""
        key = (name, evictable)
        with self._lock:
            held = self._held.get(key)
            if held is None or (model_dir is not None and held.model_dir != model_dir):
                return None
            self._held.move_to_end(key)
            return held

    def load(
        self,
        name: str,
        model_dir: Path,
        *,
        evictable: bool = False,
        sharers: int = 1,
        phase: lifecycle.Phase | None = None,
    ) -> ModelHandler:
        """The model from `model_dir` under `name`, loading it unless it is held already."""
        key = (name, evictable)
        with self._name_lock(key):
            held = self.get(name, model_dir, evictable)
            if held is not None:
                return held
            handler = lifecycle.load(
                name,
                model_dir,
                self.settings,
                sharers=sharers,
                make_room=self.make_room,
                phase=phase,
            )
            with self._lock:
                self._held[key] = handler
            self._changed()
            return handler

    def adopt(self, name: str, handler: ModelHandler) -> ModelHandler:
        """Hold a model this worker did not load itself (one preloaded before the fork)."""
        with self._lock:
            self._held[(name, False)] = handler
        self._changed()
        return handler

    def unload(self, name: str, evictable: bool = False) -> bool:
        with self._lock:
            held = self._held.pop((name, evictable), None)
        if held is None:
            return False
        memory.release_freed()
        self._changed()
        log.info("unloaded model %s", name, extra={"event": "unload", "model": name})
        return True

    def kept(self) -> dict[str, Path]:
        """The models that stay until unloaded, with where each came from."""
        with self._lock:
            return {name: held.model_dir for (name, evictable), held in self._held.items() if not evictable}

    def make_room(self, needed: int) -> None:
        """Make room for `needed` bytes, evicting evictable models LRU-first, or 507."""
        reading = memory.read(self.settings.memory_headroom_mb)
        while not reading.fits(needed):
            with self._lock:
                victim = next((key for key in self._held if key[1]), None)
                if victim is None:
                    break
                del self._held[victim]
            memory.release_freed()
            self._changed()
            log.info(
                "evicted model %s to free memory", victim[0], extra={"event": "evict", "model": victim[0]}
            )
            reading = memory.read(self.settings.memory_headroom_mb)
        lifecycle.check_room(needed, self.settings)

    def count(self) -> int:
        with self._lock:
            return len(self._held)

    def _changed(self) -> None:
        metrics.get().loaded_models.set(self.count())
        if self._on_change is not None:
            self._on_change(set(self.kept()))
