"""Where a multi-model worker serves a registered model: here, at a holder, or here after all."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from serving.config import Settings
from serving.inference.pipeline import ModelHandler
from serving.models import memory, multi
from serving.models.locations import ModelLocations
from serving.models.multi import Elsewhere, MultiModel
from serving.models.record import Record
from serving.models.store import ModelStore
from serving.models.targets import Targets
from tests.support import wait_until, write_regressor

# Alive for the whole test, and not this process: stands for another worker.
OTHER_WORKER = os.getppid()


def worker(base: Path) -> MultiModel:
    """One worker's MultiModel over a record in `base`, as build_mode wires it (no watcher)."""
    settings = dataclasses.replace(Settings.from_env({}), state_dir=base / "state", base_dir=base)
    record = Record(base / "state" / "registry")
    store = ModelStore(settings, on_change=lambda names: record.publish_holdings(os.getpid(), names))
    locations = ModelLocations([base / "models"], base / "unpacked")
    return MultiModel(settings, store, record, Targets(store, locations))


@pytest.fixture
def models(tmp_path: Path) -> MultiModel:
    write_regressor(tmp_path / "models" / "a" / "model", trees=2)
    return worker(tmp_path)


def held_elsewhere(models: MultiModel, name: str) -> None:
    """Register `name` as if another worker had loaded it."""
    model_dir = models.locations.resolve_url(str(models.settings.models_dir / name / "model"))
    with models.record.transaction() as entries:
        entries[name] = multi.Entry(name, "url", str(model_dir), memory.model_footprint(model_dir))
    models.record.publish_holdings(OTHER_WORKER, {name})


def test_the_loader_is_the_one_holder_and_its_footprint_is_one_copy(models: MultiModel) -> None:
    entry = models.load("a", str(models.settings.models_dir / "a" / "model"))
    assert models.record.holders("a") == [os.getpid()]
    assert entry.footprint == memory.model_footprint(Path(entry.path))
    assert isinstance(models.route("a"), ModelHandler)


def test_a_model_held_by_another_worker_is_routed_there(models: MultiModel) -> None:
    held_elsewhere(models, "a")
    assert models.route("a") == Elsewhere("a", [OTHER_WORKER])
    assert models.store.kept() == {}
    # Asked directly (a request passed on to this worker), it loads its own copy.
    assert isinstance(models.get("a"), ModelHandler)
    assert isinstance(models.route("a"), ModelHandler)


def test_a_model_no_live_worker_holds_is_loaded_here(models: MultiModel) -> None:
    held_elsewhere(models, "a")
    models.record.forget_holder(OTHER_WORKER)
    assert isinstance(models.route("a"), ModelHandler)
    assert models.record.holders("a") == [os.getpid()]


def test_a_model_passed_on_often_enough_is_copied_here(models: MultiModel) -> None:
    held_elsewhere(models, "a")
    for _ in range(multi.HOT_FORWARDS_PER_S):
        models.passed_on("a")
    assert models.store.kept() == {}  # not yet: at the threshold, not past it
    models.passed_on("a")
    wait_until(
        lambda: set(models.store.kept()), 60, "a copy of the busy model", ready=lambda kept: kept == {"a"}
    )
    assert sorted(models.record.holders("a")) == sorted([OTHER_WORKER, os.getpid()])


def test_a_busy_model_that_does_not_fit_is_not_copied(models: MultiModel, monkeypatch) -> None:
    held_elsewhere(models, "a")
    full = memory.MemoryReading(limit=100, used=100, headroom=0)
    monkeypatch.setattr(memory, "read", lambda _headroom=None: full)
    assert not models._take_copy("a")
    assert models.store.kept() == {}
