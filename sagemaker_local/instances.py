"""One ML instance: the containers of a model, started as SageMaker starts them.

Every container of a model runs on every instance (DG `inference-pipelines.md`), in one
network namespace: a pipeline's containers reach each other on localhost, which is why the
platform gives each its own `SAGEMAKER_BIND_TO_PORT`. Here the first container owns the
namespace and publishes every container's port on 127.0.0.1; the others join it.
Each container's output is copied to a log file for as long as it runs.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

BIND_TO_PORT_LABEL = "com.amazonaws.sagemaker.capabilities.accept-bind-to-port"
MULTI_MODEL_LABEL = "com.amazonaws.sagemaker.capabilities.multi-models"
OWNER_LABEL = "sagemaker-local.server"
RESOURCE_LABEL = "sagemaker-local.resource"
FIRST_PORT = 8080
# SageMaker's ping timeout is 2 s; a loaded machine gets a little more here.
PING_TIMEOUT_S = 5
_client: Any = None


def docker_client() -> Any:
    global _client
    if _client is None:
        import docker

        _client = docker.from_env(timeout=300)
    return _client


class InstanceFailed(Exception):
    """The instance did not come up; the message is the endpoint's or job's FailureReason."""


@dataclass(frozen=True)
class ContainerSpec:
    hostname: str
    image: str
    environment: Mapping[str, str]
    # Host folders mounted read-only at /opt/ml/model, and read-write at /opt/ml/models (MME).
    model_dir: Path | None = None
    models_dir: Path | None = None


@dataclass
class RunningContainer:
    spec: ContainerSpec
    id: str
    port: int
    url: str = ""
    log_path: Path | None = None

    def logs(self, tail: int = 40) -> str:
        try:
            raw = docker_client().api.logs(self.id, stdout=True, stderr=True, tail=tail)
        except Exception:
            return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""
        return raw.decode(errors="replace")


@dataclass
class Instance:
    """The containers of one instance of a model; `start` returns once each answers /ping."""

    name: str
    specs: Sequence[ContainerSpec]
    labels: Mapping[str, str]
    log_dir: Path
    memory: str | None = None
    containers: list[RunningContainer] = field(default_factory=list)
    _followers: list[threading.Thread] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.name

    def start(self, deadline_s: float) -> None:
        client = docker_client()
        pipeline = len(self.specs) > 1
        ports = [FIRST_PORT + index for index in range(len(self.specs))]
        owner: str | None = None
        for index, spec in enumerate(self.specs):
            _check_image(spec.image, pipeline, spec.models_dir is not None)
            environment = dict(spec.environment)
            if pipeline:
                # Distinct ports and port ranges: the containers share one network namespace.
                environment["SAGEMAKER_BIND_TO_PORT"] = str(ports[index])
                low = 20000 + 1000 * index
                environment["SAGEMAKER_SAFE_PORT_RANGE"] = f"{low}-{low + 999}"
            volumes = {}
            if spec.model_dir is not None:
                volumes[str(spec.model_dir)] = {"bind": "/opt/ml/model", "mode": "ro"}
            if spec.models_dir is not None:
                volumes[str(spec.models_dir)] = {"bind": "/opt/ml/models", "mode": "rw"}
            options: dict[str, Any] = {}
            if owner is None:
                options["ports"] = {f"{port}/tcp": ("127.0.0.1", None) for port in ports}
                options["hostname"] = spec.hostname if len(spec.hostname) <= 63 else None
            else:
                options["network_mode"] = f"container:{owner}"
            if self.memory:
                options["mem_limit"] = self.memory
            container = client.containers.run(
                spec.image,
                ["serve"],
                name=f"sagemaker-local-{self.name}-{spec.hostname}-{uuid.uuid4().hex[:6]}"[:120],
                environment=environment,
                volumes=volumes,
                labels=dict(self.labels),
                detach=True,
                **options,
            )
            owner = owner or container.id
            running = RunningContainer(spec, container.id, ports[index])
            self.containers.append(running)
            self._follow(running)
        published = client.api.inspect_container(owner)["NetworkSettings"]["Ports"]
        for running in self.containers:
            host_port = published[f"{running.port}/tcp"][0]["HostPort"]
            running.url = f"http://127.0.0.1:{host_port}"
        self._wait_healthy(deadline_s)

    def _follow(self, running: RunningContainer) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        running.log_path = self.log_dir / f"{self.name}-{running.spec.hostname}.log"

        def copy() -> None:
            with running.log_path.open("ab") as out:  # type: ignore[union-attr]
                try:
                    for chunk in docker_client().api.logs(running.id, stream=True, follow=True):
                        out.write(chunk)
                        out.flush()
                except Exception:
                    # The container was removed: its log ends here.
                    return

        thread = threading.Thread(target=copy, name=f"logs-{running.id[:12]}", daemon=True)
        thread.start()
        self._followers.append(thread)

    def _wait_healthy(self, deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        pending = list(self.containers)
        last: dict[str, str] = {}
        while pending:
            for running in list(pending):
                state = docker_client().api.inspect_container(running.id)["State"]
                if not state["Running"]:
                    raise InstanceFailed(
                        f"container {running.spec.hostname} exited with code {state['ExitCode']} before it "
                        f"passed the ping health check; its log ends with: {_tail(running.logs())}"
                    )
                try:
                    answer = requests.get(f"{running.url}/ping", timeout=PING_TIMEOUT_S)
                    if answer.status_code == 200:
                        pending.remove(running)
                        continue
                    last[running.spec.hostname] = f"/ping answered {answer.status_code}: {answer.text[:300]}"
                except requests.RequestException as exc:
                    last[running.spec.hostname] = f"/ping did not answer ({type(exc).__name__})"
            if not pending:
                return
            if time.monotonic() > deadline:
                reasons = "; ".join(
                    f"{running.spec.hostname}: {last.get(running.spec.hostname, 'no answer')}, log: "
                    f"{_tail(running.logs())}"
                    for running in pending
                )
                raise InstanceFailed(f"did not pass the ping health check: {reasons}")
            time.sleep(0.2)

    def stop(self) -> None:
        client = docker_client()
        # Joined containers first: the namespace owner goes last.
        for running in reversed(self.containers):
            with contextlib.suppress(Exception):
                client.api.remove_container(running.id, force=True)
        for thread in self._followers:
            thread.join(timeout=10)


def _tail(text: str, limit: int = 800) -> str:
    text = " | ".join(line.strip() for line in text.strip().splitlines()[-8:] if line.strip())
    return text[-limit:] or "(empty)"


def _check_image(image: str, pipeline: bool, multi_model: bool) -> None:
    """The image exists here and carries the labels the platform requires for its use."""
    import docker.errors

    try:
        labels = docker_client().images.get(image).labels or {}
    except docker.errors.ImageNotFound:
        try:
            # An image pushed to a registry (build_and_push.sh) is pulled from it, as SageMaker does.
            labels = docker_client().images.pull(image).labels or {}
        except docker.errors.APIError as exc:
            raise InstanceFailed(
                f"Requested image {image} not found on this machine, and pulling it failed: {exc.explanation}"
            ) from None
    if pipeline and labels.get(BIND_TO_PORT_LABEL) != "true":
        raise InstanceFailed(
            f"Your Ecr Image {image} does not contain required {BIND_TO_PORT_LABEL}=true Docker label(s)."
        )
    if multi_model and labels.get(MULTI_MODEL_LABEL) != "true":
        raise InstanceFailed(
            f"Your Ecr Image {image} does not contain required {MULTI_MODEL_LABEL}=true Docker label(s)."
        )


def remove_all(labels: Mapping[str, str]) -> int:
    """Remove every container carrying `labels`: what a stopped server leaves behind."""
    client = docker_client()
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    removed = 0
    for container in client.containers.list(all=True, filters=filters):
        try:
            container.remove(force=True)
            removed += 1
        except Exception:
            pass
    return removed
