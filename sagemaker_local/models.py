"""A CreateModel request as containers to run: what each gets mounted and in its environment."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_local.instances import ContainerSpec
from sagemaker_local.storage import Storage, StorageError, local_path
from usercode.archives import UnsafeArchive, safe_extract


class ModelDataError(Exception):
    """The model's data cannot be fetched or unpacked."""


@dataclass
class Model:
    """A model as CreateModel defined it, with the time and ARN DescribeModel shows."""

    request: dict[str, Any]
    arn: str
    created: dt.datetime

    @property
    def name(self) -> str:
        return str(self.request["ModelName"])

    @property
    def containers(self) -> list[dict[str, Any]]:
        if "Containers" in self.request:
            return list(self.request["Containers"])
        return [self.request["PrimaryContainer"]]

    @property
    def mode(self) -> str:
        """Serial or Direct for several containers; Serial for one."""
        return str(self.request.get("InferenceExecutionConfig", {}).get("Mode", "Serial"))

    @property
    def multi_model(self) -> bool:
        return any(container.get("Mode") == "MultiModel" for container in self.containers)

    def hostnames(self) -> list[str]:
        containers = self.containers
        if len(containers) == 1:
            return [containers[0].get("ContainerHostname") or "primary"]
        return [c.get("ContainerHostname") or f"container-{index + 1}" for index, c in enumerate(containers)]

    def describe(self) -> dict[str, Any]:
        described = {k: v for k, v in self.request.items() if k != "Tags"}
        return {**described, "ModelArn": self.arn, "CreationTime": self.created}


class ModelData:
    """Model archives fetched and unpacked once per model and URL, shared by its instances."""

    def __init__(self, storage: Storage, work_dir: Path) -> None:
        self.storage = storage
        self.root = work_dir / "model-data"
        self._lock = threading.Lock()
        self._unpacked: dict[str, Path] = {}

    def specs(self, model: Model, extra_environment: Mapping[str, str], models_root: Path | None) -> list:
        """One ContainerSpec per container; `models_root` holds each MME container's models folder."""
        specs = []
        for hostname, container in zip(model.hostnames(), model.containers, strict=True):
            environment = {**container.get("Environment", {}), **extra_environment}
            models_dir = None
            model_dir = None
            if container.get("Mode") == "MultiModel":
                environment["SAGEMAKER_MULTI_MODEL"] = "true"
                assert models_root is not None
                models_dir = models_root / hostname
                models_dir.mkdir(parents=True, exist_ok=True)
            elif container.get("ModelDataUrl"):
                model_dir = self.unpacked(str(container["ModelDataUrl"]))
            specs.append(
                ContainerSpec(
                    hostname=hostname,
                    image=str(container["Image"]),
                    environment=environment,
                    model_dir=model_dir,
                    models_dir=models_dir,
                )
            )
        return specs

    def unpacked(self, url: str) -> Path:
        with self._lock:
            if url in self._unpacked:
                return self._unpacked[url]
            path = local_path(url)
            if not url.startswith("s3://") and path.is_dir():
                # An unpacked folder on this machine is mounted as it is.
                self._unpacked[url] = path.resolve()
                return self._unpacked[url]
            self.root.mkdir(parents=True, exist_ok=True)
            target = Path(tempfile.mkdtemp(prefix="model-", dir=self.root))
            extract(self.storage, url, target)
            self._unpacked[url] = target
            return target


def extract(storage: Storage, url: str, target: Path) -> None:
    """Fetch the model.tar.gz at `url` and unpack it into `target`, refusing unsafe members."""
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "model.tar.gz"
        try:
            storage.download(url, archive)
        except StorageError as exc:
            raise ModelDataError(str(exc)) from None
        try:
            safe_extract(archive, target)
        except UnsafeArchive as exc:
            raise ModelDataError(f"{url}: {exc}") from None
        except Exception as exc:
            raise ModelDataError(f"{url}: not a tar.gz archive: {exc}") from None
    # Containers may run as another user: everything they read must be readable by all.
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
