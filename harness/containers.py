"""The image under Docker, as SageMaker runs it: started, reached on loopback, always removed.

Containers are driven through the Docker SDK (the `docker` package), which talks to the
engine's API directly: no CLI process per call and no parsing of its output. `docker()`
runs the CLI for the few things a test wants to do exactly as a user types them.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.net import LOOPBACK
from harness.waiting import DEFAULT_DEADLINE_S, WaitTimeout, wait_for_ping

_LOG_TAIL = 3000
_client: Any = None


def image_for(image: str, engine: str) -> str:
    """The tag that runs `engine`: the slim image has ours only; multi-model-server needs the
    full image that container/build-image.sh tags beside it as TAG-full."""
    return f"{image}-full" if engine == "mms" else image


def client() -> Any:
    """The Docker SDK's client for the engine DOCKER_HOST names (the local socket by default)."""
    global _client
    if _client is None:
        import docker as docker_sdk

        # API calls that wait on the engine (stop, wait, remove) may take minutes on a busy machine.
        _client = docker_sdk.from_env(timeout=300)
    return _client


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The docker CLI, as a user would type it."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=timeout)


@dataclass
class Container:
    id: str
    url: str
    # Seconds from `docker run` to the first 200 from /ping, for containers started by serving().
    ready_s: float | None = None

    def _api(self) -> Any:
        return client().api

    def inspect(self) -> dict[str, Any]:
        return self._api().inspect_container(self.id)

    def state(self) -> dict[str, Any]:
        return self.inspect()["State"]

    def logs(self) -> str:
        return self._api().logs(self.id, stdout=True, stderr=True).decode(errors="replace")

    def pids(self) -> set[str]:
        """Host process ids of everything running in the container."""
        return {row[0] for row in self._api().top(self.id, ps_args="-eo pid")["Processes"]}

    def exec_python(self, code: str, *args: str) -> str:
        """Run `code` with the image's Python inside the container; its stdout, stripped."""
        api = self._api()
        run = api.exec_create(self.id, ["python", "-c", code, *args])
        stdout, stderr = api.exec_start(run["Id"], demux=True)
        code_ = api.exec_inspect(run["Id"])["ExitCode"]
        if code_ != 0:
            raise RuntimeError(f"python in {self.id[:12]} exited {code_}: {(stderr or b'').decode()[-2000:]}")
        return (stdout or b"").decode().strip()

    def memory_used_mb(self) -> float:
        """The container's own working set (its cgroup, page cache that can be dropped left out),
        read from the engine as `docker stats` reads it, whatever else runs on the machine."""
        memory = self._api().stats(self.id, stream=False, one_shot=True)["memory_stats"]
        usage, stats = memory["usage"], memory.get("stats", {})
        inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0))
        return (usage - inactive if inactive < usage else usage) / 2**20

    def stop(self, timeout_s: int = 30) -> int:
        """`docker stop -t timeout_s`; the exit code."""
        self._api().stop(self.id, timeout=timeout_s)
        return self._api().wait(self.id)["StatusCode"]

    def exited(self) -> str | None:
        """None while the container runs; once it has stopped, why, with the end of its log."""
        state = self.state()
        if state["Running"]:
            return None
        return (
            f"the container exited with code {state['ExitCode']}; its log ends:\n{self.logs()[-_LOG_TAIL:]}"
        )


def _cli_options(extra: Sequence[str]) -> dict[str, str]:
    """The `docker run` options callers pass as CLI words, as Docker SDK keywords."""
    known = {"--memory": "mem_limit", "--memory-swap": "memswap_limit", "--entrypoint": "entrypoint"}
    options: dict[str, str] = {}
    words = list(extra)
    while words:
        word = words.pop(0)
        flag, has_value, value = word.partition("=")
        if flag not in known:
            raise ValueError(f"docker run option {word!r} is not supported here; give it a keyword")
        if not has_value:
            if not words:
                raise ValueError(f"docker run option {flag} needs a value")
            value = words.pop(0)
        options[known[flag]] = value
    return options


def _start(
    image: str,
    command: Sequence[str],
    volumes: Mapping[Path | str, str] | None,
    env: Mapping[str, str] | None,
    name_prefix: str = "skl",
    **options: Any,
) -> Any:
    """`docker run -d`: the SDK's container, started."""
    return client().containers.run(
        image,
        list(command) or None,
        detach=True,
        name=f"{name_prefix}-{uuid.uuid4().hex[:10]}",
        volumes=[f"{host}:{target}" for host, target in (volumes or {}).items()],
        environment=dict(env or {}),
        **options,
    )


@contextmanager
def run_container(
    image: str,
    *command: str,
    volumes: Mapping[Path | str, str] | None = None,
    env: Mapping[str, str] | None = None,
    port: int = 8080,
    extra: Sequence[str] = (),
    memory: str | None = None,
    entrypoint: str | None = None,
    labels: Mapping[str, str] | None = None,
    name_prefix: str = "skl",
    options: Mapping[str, Any] | None = None,
) -> Iterator[Container]:
    """`docker run -d IMAGE COMMAND...` with `port` published on a free loopback port.

    `volumes` maps host paths to `TARGET` or `TARGET:ro`. `memory` is `--memory` and
    `--memory-swap` both (no swap). `extra` takes `--memory`, `--memory-swap` and
    `--entrypoint` in their CLI spelling; `options` any other Docker SDK keywords
    (`nano_cpus`, `read_only`, `tmpfs`, `user`, `shm_size`, ...). The container is removed
    when the block ends, however it ends.
    """
    keywords: dict[str, Any] = _cli_options(extra) | dict(options or {})
    if memory is not None:
        keywords |= {"mem_limit": memory, "memswap_limit": memory}
    if entrypoint is not None:
        keywords["entrypoint"] = entrypoint
    sdk = _start(
        image,
        command,
        volumes,
        env,
        name_prefix,
        labels=dict(labels or {}),
        ports={f"{port}/tcp": (LOOPBACK, None)},
        **keywords,
    )
    try:
        sdk.reload()
        bindings = (sdk.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
        if not bindings:
            raise RuntimeError(
                f"{image} published no port {port} (state {sdk.attrs['State']['Status']}):\n"
                + sdk.logs().decode(errors="replace")[-_LOG_TAIL:]
            )
        yield Container(sdk.id, f"http://{LOOPBACK}:{bindings[0]['HostPort']}")
    finally:
        sdk.remove(force=True)


def _throttled(check: Callable[[], str | None], every_s: float) -> Callable[[], str | None]:
    last = 0.0

    def throttled() -> str | None:
        nonlocal last
        if time.monotonic() - last < every_s:
            return None
        last = time.monotonic()
        return check()

    return throttled


@contextmanager
def serving(
    image: str,
    volumes: Mapping[Path | str, str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    command: Sequence[str] = ("serve",),
    deadline_s: float = DEFAULT_DEADLINE_S,
    interval_s: float = 0.01,
    **options: Any,
) -> Iterator[Container]:
    """`docker run IMAGE serve`, yielded once /ping answers 200, with `ready_s` set: the seconds
    from `docker run` to that answer. Fails early, with the container's log, if it exits."""
    began = time.monotonic()
    with run_container(image, *command, volumes=volumes, env=env, **options) as container:
        try:
            wait_for_ping(
                container.url, deadline_s, interval_s=interval_s, give_up=_throttled(container.exited, 1.0)
            )
        except WaitTimeout as exc:
            if "log ends" in str(exc):
                raise
            raise WaitTimeout(f"{exc}\nthe container's log ends:\n{container.logs()[-_LOG_TAIL:]}") from None
        container.ready_s = time.monotonic() - began
        yield container


@dataclass(frozen=True)
class Finished:
    exit_code: int
    stdout: str
    stderr: str


def run_to_completion(
    image: str,
    *command: str,
    volumes: Mapping[Path | str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 1800,
) -> Finished:
    """`docker run --rm IMAGE COMMAND...`: wait for it to exit; its exit code and output."""
    sdk = _start(image, command, volumes, env)
    try:
        code = sdk.wait(timeout=timeout_s)["StatusCode"]
        return Finished(
            code,
            sdk.logs(stdout=True, stderr=False).decode(errors="replace"),
            sdk.logs(stdout=False, stderr=True).decode(errors="replace"),
        )
    finally:
        sdk.remove(force=True)
