"""Models named by `X-Amzn-SageMaker-Target-Model`, loaded into the store on first use.

In either mode a request may name a model directory or archive under the model roots;
it is loaded the first time and kept while memory allows (evictable, least recently
used first), as SageMaker's multi-model endpoints do with the archives they copy in.
"""

from __future__ import annotations

from serving.errors import BadRequest, ModelLoadError
from serving.inference.pipeline import ModelHandler
from serving.models.locations import ModelLocations
from serving.models.store import ModelStore


class Targets:
    def __init__(self, store: ModelStore, locations: ModelLocations) -> None:
        self.store = store
        self.locations = locations

    def get(self, target: str) -> ModelHandler:
        handler = self.store.get(target, evictable=True)
        if handler is not None:
            return handler
        model_dir = self.locations.resolve_target(target)
        try:
            return self.store.load(target, model_dir, evictable=True)
        except ModelLoadError as exc:
            raise BadRequest(f"target model {target!r} failed to load: {exc}") from exc
