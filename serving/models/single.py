"""Single-model mode: the store holds one model, loaded in the background while /ping says so.

The server answers from the moment it binds: /ping is 503 with the reason until the
model is loaded, 200 after, and 503 with the error if loading failed. A request that
arrives during loading waits for it (up to the request timeout) instead of failing.
A model directory holding only archives (the SDK's local multi-model layout) has no
default model: every request names its model in a header.
"""

from __future__ import annotations

import logging
import threading
import traceback
from types import ModuleType

from serving.config import Settings
from serving.errors import BadRequest, InferenceError, ModelLoadError, ModelLoadFailed, ModelNotReady
from serving.inference.pipeline import ModelHandler
from serving.models.locations import archives_in
from serving.models.store import ModelStore
from serving.models.targets import Targets

log = logging.getLogger(__name__)

NAME = "model"


def routed_archives(settings: Settings) -> list[str]:
    """The archives of a model directory that has no default model (the SDK's local
    multi-model layout: archives, and no script to load them); empty otherwise."""
    archives = archives_in(settings.model_dir)
    if archives and not (settings.code_dir / settings.script).is_file():
        return archives
    return []


class SingleModel:
    def __init__(
        self, settings: Settings, store: ModelStore, targets: Targets, preloaded: ModelHandler | None = None
    ) -> None:
        self.settings = settings
        self.preloaded = preloaded
        self.store = store
        self.targets = targets
        self._done = threading.Event()
        self.handler: ModelHandler | None = None
        self.error: str | None = None
        self.phase = "starting"
        self.archives: list[str] = []

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._load, name="model-loader", daemon=True)
        thread.start()
        return thread

    def _load(self) -> None:
        settings = self.settings
        try:
            if self.preloaded is not None:
                self.handler = self.store.adopt(NAME, self.preloaded)
                return
            archives = routed_archives(settings)
            if archives:
                self.archives = archives
                log.info("no default model; %d model archives to route to", len(archives))
                return
            # Every worker loads the model at the same time: each gets its share of the room.
            self.handler = self.store.load(
                NAME, settings.model_dir, sharers=settings.workers, phase=self._set_phase
            )
        except (ModelLoadError, InferenceError) as exc:
            self.error = str(exc)
            log.error("model load failed: %s\n%s", exc, traceback.format_exc())
        except Exception as exc:  # whatever user code raises, /ping must say it
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("model load failed: %s\n%s", exc, traceback.format_exc())
        finally:
            self._done.set()

    def _set_phase(self, phase: str) -> None:
        self.phase = phase

    # --- what the routes ask ------------------------------------------------------------

    def health(self) -> InferenceError | None:
        """None when /ping should say 200, else why not."""
        if self.handler is not None or self.archives:
            return None
        if self.error is not None:
            return ModelLoadFailed(f"the model failed to load: {self.error}")
        return ModelNotReady(f"the model is loading ({self.phase})")

    def default(self) -> ModelHandler:
        self._done.wait(self.settings.timeout)
        if self.handler is not None:
            return self.handler
        if self.archives:
            raise BadRequest(
                f"{len(self.archives)} models are here ({', '.join(self.archives[:5])}) and no default "
                "one; name one with the X-Amzn-SageMaker-Target-Model header"
            )
        problem = self.health()
        assert problem is not None
        raise ModelNotReady(problem.message)

    def target(self, name: str) -> ModelHandler:
        return self.targets.get(name)

    @property
    def user_module(self) -> ModuleType | None:
        return self.handler.user_module if self.handler is not None else None
