"""The platform's side of a multi-model endpoint, for one container of one instance.

On the first request for a TargetModel the platform downloads `<ModelDataUrl prefix><TargetModel>`,
extracts it to `/opt/ml/models/<model_name>/model` and asks the container to load it with
`POST /models`; `<model_name>` is opaque to the container (sagemaker-contract.md 2.1). When
the container answers 507 it has no room: the platform unloads the least recently used
model and tries again. Requests then go to `POST /models/<model_name>/invoke`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import requests

from sagemaker_local.instances import RunningContainer
from sagemaker_local.invocation import Answer, Call, model_error, post
from sagemaker_local.models import ModelDataError, extract, remove
from sagemaker_local.storage import Storage, join
from sagemaker_local.wire import RUNTIME, ApiError, validation

log = logging.getLogger(__name__)
LOAD_TIMEOUT_S = 360


def model_name(target_model: str) -> str:
    return hashlib.sha1(target_model.encode()).hexdigest()


class LoadedModels:
    """Which target models one MME container holds, least recently used first."""

    def __init__(self, container: RunningContainer, host_dir: Path, prefix: str, storage: Storage) -> None:
        self.container = container
        self.host_dir = host_dir
        self.prefix = prefix
        self.storage = storage
        self.loaded: OrderedDict[str, str] = OrderedDict()
        self.unloads = 0
        self._lock = threading.Lock()

    def invoke(self, call: Call, log_location: str) -> Answer:
        assert call.target_model
        for _attempt in range(2):
            name = self._ensure(call.target_model, log_location)
            answer = post(self.container, f"/models/{name}/invoke", call, call.accept)
            if answer.status == 404:
                # Unloaded by a concurrent request making room between the load and this call.
                with self._lock:
                    self.loaded.pop(call.target_model, None)
                continue
            if answer.status >= 400:
                raise model_error(answer, self.container, log_location)
            return answer
        raise model_error(answer, self.container, log_location)

    def _ensure(self, target_model: str, log_location: str) -> str:
        with self._lock:
            if target_model in self.loaded:
                self.loaded.move_to_end(target_model)
                return self.loaded[target_model]
            name = model_name(target_model)
            self._download(target_model, name)
            while True:
                answer = self._load(name)
                if answer.status in (200, 409):
                    self.loaded[target_model] = name
                    return name
                if answer.status == 507 and self.loaded:
                    self._unload_oldest()
                    continue
                remove(self.host_dir / name)
                raise model_error(answer, self.container, log_location)

    def _download(self, target_model: str, name: str) -> None:
        url = join(self.prefix, target_model)
        target = self.host_dir / name / "model"
        if target.is_dir():
            return
        try:
            extract(self.storage, url, target)
        except ModelDataError as exc:
            remove(self.host_dir / name)
            raise validation(
                f"Failed to download model data({url}). Please ensure that there is an object located at the "
                f"URL and that the role passed to CreateModel has permissions to download the model. ({exc})",
                RUNTIME,
            ) from None

    def _load(self, name: str) -> Answer:
        body = {"model_name": name, "url": f"/opt/ml/models/{name}/model"}
        try:
            response = requests.post(f"{self.container.url}/models", json=body, timeout=LOAD_TIMEOUT_S)
        except requests.RequestException as exc:
            raise ApiError(
                "ModelError",
                f"Model container {self.container.spec.hostname} failed while loading a model: {exc}",
                OriginalStatusCode=502,
                OriginalMessage=str(exc)[:500],
            ) from None
        return Answer(response.status_code, response.content, response.headers.get("Content-Type"))

    def _unload_oldest(self) -> None:
        target_model, name = self.loaded.popitem(last=False)
        response = requests.delete(f"{self.container.url}/models/{name}", timeout=LOAD_TIMEOUT_S)
        self.unloads += 1
        log.info(
            "unloaded %s from %s (%s) to make room", target_model, self.container.spec.hostname, response
        )
        remove(self.host_dir / name)
