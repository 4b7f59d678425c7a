"""Where model data, transform input and transform output live: s3:// or file://.

s3:// URLs are read and written with boto3 through one S3 endpoint: the `--s3-endpoint-url`
option, else the variables boto3 itself reads (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`),
else AWS. file:// URLs (and plain paths) are the host's files, which is what a user without
any S3 at all has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


class StorageError(Exception):
    """An object cannot be listed, read or written; the message names the URL and why."""


@dataclass(frozen=True)
class Object:
    url: str
    # The part of the key after the prefix that was listed: what a transform job's output
    # name is built from.
    relative: str


@dataclass
class Storage:
    s3_endpoint_url: str | None = None
    region: str | None = None
    _s3: Any = field(default=None, init=False, repr=False)

    def client(self) -> Any:
        if self._s3 is None:
            import boto3

            region = self.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            self._s3 = boto3.client(
                "s3", region_name=region or "us-east-1", endpoint_url=self.s3_endpoint_url
            )
        return self._s3

    def list(self, url: str) -> list[Object]:
        """Every object at `url`: the one object it names, or all objects under the prefix."""
        if url.startswith("s3://"):
            return self._list_s3(url)
        path = local_path(url)
        if path.is_file():
            return [Object(path.as_uri(), path.name)]
        if path.is_dir():
            return [
                Object(found.as_uri(), found.relative_to(path).as_posix())
                for found in sorted(path.rglob("*"))
                if found.is_file()
            ]
        raise StorageError(f"{url}: no such file or directory")

    def read(self, url: str) -> bytes:
        if url.startswith("s3://"):
            bucket, key = _bucket_key(url)
            return self._s3_call(url, lambda s3: s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        try:
            return local_path(url).read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {url}: {exc.strerror}") from None

    def download(self, url: str, target: Path) -> None:
        if url.startswith("s3://"):
            bucket, key = _bucket_key(url)
            self._s3_call(url, lambda s3: s3.download_file(bucket, key, str(target)))
            return
        target.write_bytes(self.read(url))

    def write(self, url: str, data: bytes) -> None:
        if url.startswith("s3://"):
            bucket, key = _bucket_key(url)
            self._s3_call(url, lambda s3: s3.put_object(Bucket=bucket, Key=key, Body=data))
            return
        path = local_path(url)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise StorageError(f"cannot write {url}: {exc.strerror}") from None

    def _list_s3(self, url: str) -> list[Object]:
        bucket, prefix = _bucket_key(url, key_required=False)

        def listing(s3: Any) -> list[Object]:
            found = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key.endswith("/"):
                        continue
                    # An exact key is one object; otherwise the prefix is a folder.
                    relative = Path(key).name if key == prefix else key[len(prefix) :].lstrip("/")
                    found.append(Object(f"s3://{bucket}/{key}", relative))
            return found

        objects = self._s3_call(url, listing)
        if not objects:
            raise StorageError(f"{url}: no objects under this S3 prefix")
        return objects

    def _s3_call(self, url: str, call: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call(self.client())
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = {"404": "NoSuchKey", "403": "AccessDenied"}.get(error.get("Code", ""), error.get("Code"))
            raise StorageError(f"{url}: {code}: {error.get('Message') or exc}") from None
        except BotoCoreError as exc:
            raise StorageError(f"{url}: {exc}") from None


def local_path(url: str) -> Path:
    return Path(urlparse(url).path if url.startswith("file://") else url)


def _bucket_key(url: str, key_required: bool = True) -> tuple[str, str]:
    parsed = urlparse(url)
    key = parsed.path.lstrip("/")
    if not parsed.netloc or (key_required and not key):
        raise StorageError(f"{url} is not an s3://bucket/key URL")
    return parsed.netloc, key


def join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name
