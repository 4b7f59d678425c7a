"""Fixtures for SDK local-mode tests: offline environment, guard, local sessions, clean-up."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.sdk.compose import LABEL, ComposeJanitor
from tests.sdk.offline import OutboundGuard, apply_environment, sdk_environment, write_sdk_config
from tests.support import free_port

# Deadlines for SDK calls that have none of their own (the SDK's own /ping wait gives up
# after about two minutes), generous enough for a slow machine.
FIT_DEADLINE_S = 600
SERVE_DEADLINE_S = 300
CALL_DEADLINE_S = 180


class Timings:
    """How long each step of a flow took, printed after the test (pytest -s shows it)."""

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self.steps: list[tuple[str, float]] = []
        self.start = time.perf_counter()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.steps.append((name, time.perf_counter() - start))

    def report(self) -> None:
        total = time.perf_counter() - self.start
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.steps)
        print(f"\n[sdk local mode] {self.flow}: {total:.1f} s in all ({steps})", flush=True)


@pytest.fixture
def timings(request: pytest.FixtureRequest) -> Iterator[Timings]:
    clock = Timings(request.node.name)
    yield clock
    clock.report()


# Read when `sagemaker` is imported, which happens when the test module is collected.
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


@pytest.fixture(scope="session")
def sdk_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str | None]]:
    """The offline environment (see tests/sdk/offline.py), for the whole session."""
    base = tmp_path_factory.mktemp("sdk-env")
    variables = sdk_environment(write_sdk_config(base / "sagemaker"), base / "aws")
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_environment(monkeypatch, variables)
        yield variables


@pytest.fixture
def outbound_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[OutboundGuard]:
    guard = OutboundGuard()
    guard.install(monkeypatch)
    yield guard
    assert not guard.attempts, "calls that would leave the machine:\n" + "\n".join(guard.attempts)


@pytest.fixture
def janitor(image: str) -> Iterator[ComposeJanitor]:
    keeper = ComposeJanitor()
    try:
        yield keeper
    finally:
        keeper.clean_up()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """A per-test directory local mode accepts (not under /root, /etc, /var/lib, ...)."""
    from sagemaker.utils import _SENSITIVE_SYSTEM_PATHS

    resolved = str(tmp_path.resolve())
    assert not any(resolved.startswith(p) for p in _SENSITIVE_SYSTEM_PATHS), (
        f"{resolved} is under a path local mode refuses; set --basetemp or TMPDIR elsewhere"
    )
    return tmp_path


@pytest.fixture
def local_session(
    sdk_env: dict[str, str | None], outbound_guard: OutboundGuard, janitor: ComposeJanitor, work_dir: Path
) -> Callable[..., object]:
    """Make `LocalSession`s whose containers carry this test's label and serve on a free port."""
    import boto3
    from sagemaker.local import LocalSession

    container_root = work_dir / "container-root"
    container_root.mkdir()
    port = free_port()

    def make(s3_endpoint_url: str | None = None) -> LocalSession:
        # Region and dummy credentials come from the environment (sdk_env). With
        # s3_endpoint_url the session must be given a boto session: LocalSession uses it
        # unguarded to build its S3 client.
        session = LocalSession(boto_session=boto3.Session(), s3_endpoint_url=s3_endpoint_url)
        session.config = {
            "local": {
                "local_code": True,
                # Not the default 8080: other containers on this machine may hold it.
                "serving_port": port,
                "container_root": str(container_root),
                "container_config": {"labels": {LABEL: janitor.run_id}},
            }
        }
        return session

    return make
