"""Loading the single model once, in the server's main process, before the workers fork.

Each worker then starts with the model already in its memory, in pages it shares with
the others until one writes to them: a forest's node arrays are never written, so N
workers hold about one copy instead of N. The collector is told to leave what exists
now alone (`gc.freeze`), since marking an object writes to its page and copies it.

The price: the port opens only once the model has loaded, so until then /ping is
refused rather than answered 503. A load that fails here is not final: the workers load
the model themselves, as without preloading, and /ping says why it failed.
"""

from __future__ import annotations

import gc
import logging

from serving.config import Settings
from serving.inference.pipeline import ModelHandler
from serving.models import lifecycle
from serving.models.single import NAME, routed_archives

log = logging.getLogger(__name__)


def preload(settings: Settings) -> ModelHandler | None:
    """The single model, loaded here; None when preloading is off, there is no default model,
    or the load failed (logged)."""
    if settings.multi_model or not settings.preload_model:
        return None
    if routed_archives(settings):
        return None
    try:
        handler = lifecycle.load(NAME, settings.model_dir, settings, sharers=1)
    except Exception as exc:
        log.warning(
            "preloading the model failed (%s: %s); each worker loads it instead", type(exc).__name__, exc
        )
        return None
    gc.collect()
    gc.freeze()
    log.info("model preloaded before the workers start: they share its memory", extra={"event": "preload"})
    return handler
