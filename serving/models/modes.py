"""The mode a worker serves, wired from the settings: a store, and the mode over it."""

from __future__ import annotations

import os

from serving.config import Settings
from serving.inference.pipeline import ModelHandler
from serving.models.locations import ModelLocations
from serving.models.multi import MultiModel
from serving.models.record import Record
from serving.models.single import SingleModel
from serving.models.store import ModelStore
from serving.models.targets import Targets

Mode = SingleModel | MultiModel


def registry(settings: Settings) -> Record:
    """The record of the models loaded through /models, shared by the server's workers."""
    assert settings.state_dir is not None
    return Record(settings.state_dir / "registry")


def build_mode(settings: Settings, preloaded: ModelHandler | None = None) -> Mode:
    """This worker's store and the mode that serves from it, its loading under way
    (`preloaded`: the single model, loaded before the fork)."""
    assert settings.state_dir is not None
    unpacked = (settings.scratch_dir or settings.state_dir) / "unpacked"
    locations = ModelLocations([settings.models_dir, settings.model_dir], unpacked)
    if settings.multi_model:
        record = registry(settings)
        store = ModelStore(settings, on_change=lambda names: record.publish_holdings(os.getpid(), names))
        multi = MultiModel(settings, store, record, Targets(store, locations))
        multi.start_watcher()
        return multi
    store = ModelStore(settings)
    single = SingleModel(settings, store, Targets(store, locations), preloaded)
    single.start()
    return single
