"""Where the user's code is: an s3:// archive, a file:// or plain path to an archive, or a directory.

These are the forms AWS's toolkits accept for `sagemaker_submit_directory` (training)
and `SAGEMAKER_SUBMIT_DIRECTORY` (serving): the SDK uploads `sourcedir.tar.gz` to S3,
local mode mounts a directory, network isolation hands over a local archive. An s3://
archive is read with boto3 and the job's own credentials; `S3_ENDPOINT_URL` (the
toolkit's name) or `AWS_ENDPOINT_URL_S3` points it at another S3 endpoint.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from usercode.archives import UnsafeArchive, safe_extract


class CodeError(Exception):
    """The code cannot be fetched or unpacked; the message names the source and the reason."""


def _s3_download(url: str, into: Path) -> Path:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = urlparse(url)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if not bucket or not key:
        raise CodeError(f"{url} is not an s3://bucket/key URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("SAGEMAKER_REGION") or None
    # The toolkit's own variable first: it is set for the job alone, where the other may
    # be set for the whole machine (SDK local mode sets it to the host's view of S3).
    endpoint = os.environ.get("S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") or None
    target = into / Path(key).name
    try:
        boto3.client("s3", region_name=region, endpoint_url=endpoint).download_file(bucket, key, str(target))
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        # A missing object answers HEAD with a bare 404, which boto3 reports as code "404".
        named = {"404": "NoSuchKey (404 Not Found)", "403": "AccessDenied (403 Forbidden)"}.get(code, code)
        raise CodeError(f"cannot fetch {url}: {named}: {error.get('Message') or exc}") from None
    except BotoCoreError as exc:
        raise CodeError(f"cannot fetch {url}: {exc}") from None
    return target


def _local(source: str) -> Path:
    return Path(source.removeprefix("file://"))


def _unpack(archive: Path, destination: Path) -> None:
    try:
        safe_extract(archive, destination)
    except UnsafeArchive as exc:
        raise CodeError(str(exc)) from None


def is_remote(source: str) -> bool:
    return source.startswith("s3://")


def fetch_into(source: str, destination: Path) -> None:
    """Put the code at `source` into `destination`, as AWS's training toolkit does.

    A destination that already holds files is left as it is: local mode mounts the code
    there, and the toolkit abandons unpacking in that case too.
    """
    if destination.is_dir() and any(destination.iterdir()):
        return
    destination.mkdir(parents=True, exist_ok=True)
    if is_remote(source):
        with tempfile.TemporaryDirectory() as scratch:
            _unpack(_s3_download(source, Path(scratch)), destination)
        return
    path = _local(source)
    if path.is_dir():
        if path.resolve() != destination.resolve():
            shutil.copytree(path, destination, dirs_exist_ok=True)
    elif path.is_file() and tarfile.is_tarfile(path):
        _unpack(path, destination)
    elif path.is_file():
        shutil.copy2(path, destination / path.name)
    else:
        raise CodeError(f"{source}: no such file or directory")


def code_dir(source: str, scratch: Path) -> Path:
    """The code at `source` as a directory to import from: a directory as it is, an archive
    (local or s3://) unpacked once into `scratch`."""
    path = _local(source)
    if not is_remote(source) and path.is_dir():
        return path
    if not is_remote(source) and not path.is_file():
        raise CodeError(f"{source}: no such file or directory")
    if not is_remote(source) and not tarfile.is_tarfile(path):
        raise CodeError(f"{source} is neither a directory nor a .tar.gz archive")
    fetch_into(source, scratch)
    return scratch
