from pathlib import Path

from serving.models import memory


def test_reading_is_consistent() -> None:
    reading = memory.read(headroom_mb=100)
    assert reading.limit > 0
    assert reading.headroom == 100 * 1024 * 1024
    assert reading.budget == reading.limit - reading.headroom
    assert reading.fits(0) == (reading.used <= reading.budget)
    assert not reading.fits(reading.limit)


def test_default_headroom_is_a_tenth_at_least_128_mb() -> None:
    reading = memory.read()
    assert reading.headroom == max(reading.limit // 10, 128 * 1024 * 1024)


def test_cgroup_v1_limit_and_working_set(tmp_path: Path, monkeypatch) -> None:
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text(str(1024 * 1024 * 1024))
    (v1 / "memory.usage_in_bytes").write_text(str(300 * 1024 * 1024))
    (v1 / "memory.stat").write_text(f"rss 1\ntotal_inactive_file {100 * 1024 * 1024}\n")
    monkeypatch.setattr(memory, "CGROUP", tmp_path)
    reading = memory.read(headroom_mb=0)
    assert reading.limit == 1024 * 1024 * 1024
    assert reading.used == 200 * 1024 * 1024


def test_cgroup_v2(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "memory.max").write_text(str(512 * 1024 * 1024))
    (tmp_path / "memory.current").write_text(str(64 * 1024 * 1024))
    (tmp_path / "memory.stat").write_text(f"anon 1\ninactive_file {16 * 1024 * 1024}\n")
    monkeypatch.setattr(memory, "CGROUP", tmp_path)
    reading = memory.read(headroom_mb=0)
    assert (reading.limit, reading.used) == (512 * 1024 * 1024, 48 * 1024 * 1024)


def test_footprint_counts_model_files_not_code(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"x" * 1000)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_bytes(b"y" * 5000)
    assert memory.model_footprint(tmp_path) == int(1000 * memory.FOOTPRINT_FACTOR)


def test_working_set_is_the_cgroups_own_even_without_a_limit(tmp_path: Path, monkeypatch) -> None:
    v1 = tmp_path / "memory"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712")
    (v1 / "memory.usage_in_bytes").write_text(str(90 * 1024 * 1024))
    (v1 / "memory.stat").write_text(f"total_inactive_file {10 * 1024 * 1024}\n")
    monkeypatch.setattr(memory, "CGROUP", tmp_path)
    assert memory.working_set() == 80 * 1024 * 1024
