"""Loading the single model in the background while /ping says so.

The server answers from the moment it binds: /ping is 503 with the reason until the
model is loaded, 200 after, and 503 with the error if loading failed. A request that
arrives during loading waits for it (up to the request timeout) instead of failing.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from serving import memory, memory_guard, metrics, requirements
from serving.config import Settings
from serving.errors import BadRequest, ModelLoadError, ModelNotReady
from serving.handler import ModelHandler
from serving.model_store import archives_in

log = logging.getLogger(__name__)


class ModelState:
    def __init__(self) -> None:
        self._done = threading.Event()
        self.handler: ModelHandler | None = None
        self.error: str | None = None
        self.phase = "starting"
        # A model directory holding only archives (the SDK's local multi-model layout)
        # has no default model: every request names its model in a header.
        self.archives: list[str] = []

    def status(self) -> tuple[bool, str]:
        if self.handler is not None or self.archives:
            return True, ""
        if self.error is not None:
            return False, f"the model failed to load: {self.error}"
        return False, f"the model is loading ({self.phase})"

    def expire(self, timeout: float) -> None:
        """Give up on a load that has not finished in time; /ping then says why."""
        if not self._done.wait(timeout) and self.handler is None:
            self.error = (
                f"the model did not load within {timeout:g} s (SAGEMAKER_MODEL_LOAD_TIMEOUT), {self.phase}"
            )
            log.error("model load timed out after %g s while %s", timeout, self.phase)
            self._done.set()

    def wait(self, timeout: float) -> ModelHandler:
        self._done.wait(timeout)
        if self.handler is None:
            if self.archives:
                raise BadRequest(
                    f"{len(self.archives)} models are here ({', '.join(self.archives[:5])}) and no default "
                    "one; name one with the X-Amzn-SageMaker-Target-Model header"
                )
            raise ModelNotReady(self.status()[1])
        return self.handler

    def load(self, settings: Settings) -> None:
        started = time.monotonic()
        try:
            self.phase = "installing requirements"
            requirements.install(settings.code_dir, settings.requirements_timeout)
            archives = archives_in(settings.model_dir)
            if archives and not (settings.code_dir / settings.program).is_file():
                self.archives = archives
                log.info("no default model; %d model archives to route to", len(archives))
                return
            self.phase = "running model_fn"
            # Every worker loads the model at the same time: each gets its share of the room.
            with memory_guard.guarded(settings.memory_headroom_mb, sharers=settings.workers):
                handler = ModelHandler.load("model", settings.model_dir, settings.code_dir, settings)
            if self.error is None:  # a load that outlived its timeout stays failed
                self.handler = handler
            seconds = time.monotonic() - started
            recorder = metrics.get()
            recorder.load_seconds.observe(seconds)
            recorder.loaded_models.set(1)
            log.info(
                "model ready in %.2f s",
                seconds,
                extra={"event": "load", "model": "model", "seconds": seconds},
            )
        except ModelLoadError as exc:
            self.error = str(exc)
            log.error("model load failed: %s\n%s", exc, traceback.format_exc())
        except MemoryError as exc:
            # The frames of the interrupted model_fn hold what it allocated: drop them.
            traceback.clear_frames(exc.__traceback__)
            memory.release_freed()
            reading = memory.read(settings.memory_headroom_mb)
            self.error = f"loading the model went past the memory budget ({reading.describe()})"
            log.error("model load failed: %s", self.error)
        except Exception as exc:  # whatever user code raises, /ping must say it
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("model load failed: %s\n%s", exc, traceback.format_exc())
        finally:
            self._done.set()

    def start_loading(self, settings: Settings) -> threading.Thread:
        thread = threading.Thread(target=self.load, args=(settings,), name="model-loader", daemon=True)
        thread.start()
        watchdog = threading.Thread(
            target=self.expire, args=(settings.model_load_timeout,), name="model-load-timeout", daemon=True
        )
        watchdog.start()
        return thread
