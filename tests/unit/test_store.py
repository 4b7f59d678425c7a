from pathlib import Path

import pytest

from serving.config import Settings
from serving.errors import InsufficientMemory
from serving.models import memory
from serving.models.store import ModelStore
from tests.support import write_regressor


@pytest.fixture
def two_models(tmp_path: Path) -> tuple[Path, Path]:
    write_regressor(tmp_path / "a", trees=2)
    write_regressor(tmp_path / "b", trees=3)
    return tmp_path / "a", tmp_path / "b"


def test_a_name_is_loaded_once_and_reloaded_from_a_new_place(two_models) -> None:
    a, b = two_models
    changes: list[set[str]] = []
    models = ModelStore(Settings.from_env({}), on_change=changes.append)
    first = models.load("m", a)
    assert models.load("m", a) is first
    assert models.get("m", a) is first and models.get("m", b) is None
    second = models.load("m", b)
    assert second is not first and models.kept() == {"m": b}
    assert models.unload("m") and not models.unload("m")
    assert changes == [{"m"}, {"m"}, set()]


def test_target_models_never_replace_kept_ones(two_models) -> None:
    a, b = two_models
    models = ModelStore(Settings.from_env({}))
    kept = models.load("m", a)
    routed = models.load("m", b, evictable=True)
    assert models.get("m") is kept and models.get("m", evictable=True) is routed
    assert models.kept() == {"m": a}


def test_memory_runs_short_evicts_target_models_least_recently_used_first(two_models, monkeypatch) -> None:
    a, b = two_models
    models = ModelStore(Settings.from_env({}))
    models.load("old", a, evictable=True)
    models.load("new", b, evictable=True)
    models.load("kept", a)
    models.get("old", evictable=True)  # now "new" is the least recently used

    def reading(_headroom: int | None = None) -> memory.MemoryReading:
        # Each model held takes 10 of 100, and the memory is full.
        return memory.MemoryReading(limit=100, used=70 + 10 * models.count(), headroom=0)

    monkeypatch.setattr(memory, "read", reading)
    models.make_room(5)
    assert models.get("new", evictable=True) is None and models.get("old", evictable=True) is not None
    models.make_room(15)
    assert models.get("old", evictable=True) is None and models.get("kept") is not None
    with pytest.raises(InsufficientMemory):
        models.make_room(50)
    assert models.get("kept") is not None
