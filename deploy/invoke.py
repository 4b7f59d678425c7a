"""Calling an endpoint and turning its answer back into text."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from deploy.aws import Aws
from deploy.errors import DeployError

# The request types the container decodes, by the file extensions people use for them.
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": "application/jsonlines",
    ".jsonlines": "application/jsonlines",
    ".npy": "application/x-npy",
}


def content_type_for(path: Path) -> str:
    try:
        return CONTENT_TYPES[path.suffix.lower()]
    except KeyError:
        known = ", ".join(CONTENT_TYPES)
        raise DeployError(f"cannot tell the content type of {path} ({known}); pass --content-type") from None


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str
    variant: str | None = None

    def decoded(self) -> str:
        """The answer as text: JSON re-serialised, CSV and JSON Lines as sent, NumPy arrays
        as JSON lists. Bytes that are none of these cannot be printed usefully."""
        media = self.content_type.split(";")[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            return json.dumps(json.loads(self.body))
        if media == "application/x-npy":
            import numpy as np  # only this answer type needs it

            return json.dumps(np.load(io.BytesIO(self.body), allow_pickle=False).tolist())
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise DeployError(
                f"the answer is {len(self.body)} bytes of {self.content_type}; save it with --output FILE"
            ) from None


def invoke_endpoint(
    aws: Aws,
    endpoint: str,
    body: bytes,
    *,
    content_type: str = "text/csv",
    accept: str = "application/json",
    target_model: str | None = None,
    custom_attributes: str | None = None,
) -> Answer:
    params: dict[str, object] = {
        "EndpointName": endpoint,
        "Body": body,
        "ContentType": content_type,
        "Accept": accept,
    }
    if target_model:
        params["TargetModel"] = target_model
    if custom_attributes:
        params["CustomAttributes"] = custom_attributes
    response = aws.client("sagemaker-runtime").invoke_endpoint(**params)
    return Answer(
        body=response["Body"].read(),
        content_type=response.get("ContentType", "application/octet-stream"),
        variant=response.get("InvokedProductionVariant"),
    )
