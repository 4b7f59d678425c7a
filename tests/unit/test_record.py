import os
from pathlib import Path

from serving.models.record import Entry, Record


def test_changes_are_seen_by_another_reader(tmp_path: Path) -> None:
    writer, reader = Record(tmp_path), Record(tmp_path)
    assert reader.entries() == {}
    with writer.transaction() as models:
        models["a"] = Entry("a", "/opt/ml/models/a/model", "/x", 10)
    assert set(reader.entries()) == {"a"}
    with writer.transaction() as models:
        del models["a"]
    assert reader.entries() == {}


def test_holdings_of_live_workers_only(tmp_path: Path) -> None:
    registry = Record(tmp_path)
    registry.publish_holdings(os.getpid(), {"a"})
    registry.publish_holdings(999_999_999, {"a"})  # no such process
    assert registry.holders("a") == [os.getpid()]
    assert registry.holders("b") == []
    assert not (tmp_path / "holds-999999999.json").exists()


def test_a_forgotten_holder_holds_nothing(tmp_path: Path) -> None:
    registry = Record(tmp_path)
    registry.publish_holdings(os.getpid(), {"a"})
    registry.forget_holder(os.getpid())
    registry.forget_holder(os.getpid())  # twice: the arbiter may be told late
    assert registry.holders("a") == []
