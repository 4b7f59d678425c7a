from pathlib import Path

import pytest

from serving import blas, cpus
from serving.config import Settings


def v2(root: Path, text: str) -> Path:
    (root / "cpu.max").write_text(text + "\n")
    return root


def v1(root: Path, quota: str, period: str = "100000", directory: str = "cpu") -> Path:
    (root / directory).mkdir()
    (root / directory / "cpu.cfs_quota_us").write_text(quota + "\n")
    (root / directory / "cpu.cfs_period_us").write_text(period + "\n")
    return root


def test_v2_quota_of_half_a_cpu_is_one_cpu(tmp_path: Path) -> None:
    found = cpus.usable(v2(tmp_path, "50000 100000"), affinity=32)
    assert (found.available, found.count) == (0.5, 1)
    assert found.describe() == "1 CPU from the cgroup quota 0.5"


def test_v2_fractional_quota_rounds_up(tmp_path: Path) -> None:
    found = cpus.usable(v2(tmp_path, "150000 100000"), affinity=8)
    assert (found.available, found.count) == (1.5, 2)


def test_v2_without_quota_is_the_affinity(tmp_path: Path) -> None:
    assert cpus.cgroup_quota(v2(tmp_path, "max 100000")) is None
    found = cpus.usable(tmp_path, affinity=3)
    assert found.count == 3
    assert found.available == 3.0


def test_v1_quota(tmp_path: Path) -> None:
    found = cpus.usable(v1(tmp_path, "200000"), affinity=16)
    assert (found.available, found.count) == (2.0, 2)
    assert "cgroup quota 2" in found.source


def test_v1_in_the_joint_cpu_directory(tmp_path: Path) -> None:
    assert cpus.cgroup_quota(v1(tmp_path, "25000", "50000", directory="cpu,cpuacct")) == 0.5


def test_v1_minus_one_is_no_quota(tmp_path: Path) -> None:
    assert cpus.cgroup_quota(v1(tmp_path, "-1")) is None
    assert cpus.usable(tmp_path, affinity=5).count == 5


def test_v2_is_read_before_v1(tmp_path: Path) -> None:
    v1(v2(tmp_path, "100000 100000"), "400000")
    assert cpus.cgroup_quota(tmp_path) == 1.0


def test_no_cgroup_files_is_no_quota(tmp_path: Path) -> None:
    assert cpus.cgroup_quota(tmp_path) is None


def test_quota_larger_than_the_affinity_is_the_affinity(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cpus.os, "cpu_count", lambda: 64)
    found = cpus.usable(v2(tmp_path, "800000 100000"), affinity=2)
    assert (found.available, found.count) == (2.0, 2)
    assert found.describe() == "2 CPUs from the CPU affinity"


def test_all_of_the_host(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cpus.os, "cpu_count", lambda: 4)
    assert cpus.usable(tmp_path, affinity=4).describe() == "4 CPUs from the host"


@pytest.mark.parametrize("text", ["garbage", "0 100000", "100000 0", ""])
def test_unreadable_quota_is_no_quota(tmp_path: Path, text: str) -> None:
    assert cpus.cgroup_quota(v2(tmp_path, text)) is None


def test_the_affinity_mask_is_read_by_default(tmp_path: Path) -> None:
    assert cpus.usable(tmp_path).count == (cpus.affinity_count() or 1)


def test_workers_default_to_the_containers_cpus(monkeypatch) -> None:
    monkeypatch.setattr(cpus, "usable", lambda: cpus.Cpus(0.5, 1, "the cgroup quota 0.5"))
    assert Settings.from_env({}).workers == 1
    assert Settings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "3"}).workers == 3


# --- BLAS threads per worker ----------------------------------------------------------

EIGHT = cpus.Cpus(8.0, 8, "the host")


def test_workers_times_threads_fit_the_cpus() -> None:
    assert blas.per_worker(EIGHT, 8, None, {}).threads == 1
    assert blas.per_worker(EIGHT, 2, None, {}).threads == 4
    assert blas.per_worker(EIGHT, 3, None, {}).threads == 2
    # More workers than CPUs still get a thread each.
    assert blas.per_worker(cpus.Cpus(0.5, 1, "the cgroup quota 0.5"), 4, None, {}).threads == 1


def test_the_setting_overrides_the_computed_count() -> None:
    assert blas.per_worker(EIGHT, 8, 3, {}).threads == 3
    assert Settings.from_env({"SAGEMAKER_MODEL_SERVER_BLAS_THREADS": "3"}).blas_threads == 3
    assert Settings.from_env({}).blas_threads is None


def test_the_users_own_variables_stand() -> None:
    plan = blas.per_worker(EIGHT, 8, 2, {"OMP_NUM_THREADS": "4"})
    assert plan.threads is None
    env = {"OMP_NUM_THREADS": "4"}
    blas.export(plan, env)
    assert env == {"OMP_NUM_THREADS": "4"}
    assert plan.describe() == "8 CPUs from the host; BLAS threads as OMP_NUM_THREADS=4 say"


def test_export_sets_every_library_variable() -> None:
    env: dict[str, str] = {"PATH": "/bin"}
    blas.export(blas.per_worker(EIGHT, 4, None, env), env)
    assert env == {
        "PATH": "/bin",
        "OMP_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
    }


def test_the_start_line_says_what_it_sized_from() -> None:
    quota = cpus.Cpus(0.5, 1, "the cgroup quota 0.5")
    assert (
        blas.per_worker(quota, 1, None, {}).describe()
        == "1 CPU from the cgroup quota 0.5; 1 BLAS thread per worker"
    )


def test_limit_loaded_limits_this_process() -> None:
    import numpy  # noqa: F401  (its BLAS is the pool to limit)
    from threadpoolctl import threadpool_info, threadpool_limits

    if not threadpool_info():
        pytest.skip("no BLAS or OpenMP pool is loaded")
    # Two threads first, so the limit below has something to change even on one CPU;
    # leaving the block puts the original limits back.
    with threadpool_limits(limits=2):
        blas.limit_loaded(blas.BlasThreads(1, EIGHT))
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}
        blas.limit_loaded(blas.BlasThreads(None, EIGHT, ("OMP_NUM_THREADS=2",)))
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}
