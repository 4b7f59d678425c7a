"""S3 locations: parsing s3:// URIs, and the few transfers the commands need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError

from deploy.aws import Aws
from deploy.errors import DeployError, error_code


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not uri.startswith("s3://"):
            raise DeployError(f"not an S3 URI (s3://bucket/key): {uri}")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket:
            raise DeployError(f"no bucket in S3 URI: {uri}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def as_prefix(self) -> S3Uri:
        """The same location as a "folder": SageMaker joins model names onto it."""
        return self if self.key == "" or self.key.endswith("/") else S3Uri(self.bucket, self.key + "/")

    def join(self, name: str) -> S3Uri:
        return S3Uri(self.bucket, self.as_prefix().key + name.lstrip("/"))


# What S3 answers for a missing bucket or key; a HEAD request can only say "404".
_MISSING = {"404", "NoSuchKey", "NoSuchBucket"}


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def ensure_bucket(aws: Aws, bucket: str) -> None:
    """Create the bucket when it is missing, as the SageMaker SDK does for its default bucket."""
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if error_code(exc) == "403":
            raise DeployError(
                f"AccessDenied: bucket {bucket} exists but these credentials cannot use it"
            ) from exc
        if error_code(exc) not in _MISSING:
            raise
    # us-east-1 is the one region that refuses an explicit LocationConstraint.
    if aws.region_name == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region_name})


def upload(aws: Aws, path: Path, target: S3Uri) -> S3Uri:
    aws.client("s3").upload_file(str(path), target.bucket, target.key)
    return target


def copy(aws: Aws, source: S3Uri, target: S3Uri) -> S3Uri:
    # copy() rather than copy_object(): it switches to multipart above 5 GB.
    try:
        aws.client("s3").copy({"Bucket": source.bucket, "Key": source.key}, target.bucket, target.key)
    except ClientError as exc:
        # copy() starts with a HEAD, whose error is a bare "404: Not Found" naming nothing.
        if error_code(exc) in _MISSING:
            raise DeployError(f"NoSuchKey: {source} does not exist") from exc
        raise
    return target


def list_keys(aws: Aws, prefix: S3Uri) -> list[str]:
    """Keys under the prefix, relative to it."""
    paginator = aws.client("s3").get_paginator("list_objects_v2")
    base = prefix.key
    keys: list[str] = []
    for page in paginator.paginate(Bucket=prefix.bucket, Prefix=base):
        keys += [item["Key"][len(base) :] for item in page.get("Contents", [])]
    return keys


def download(aws: Aws, source: S3Uri, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        aws.client("s3").download_file(source.bucket, source.key, str(target))
    except ClientError as exc:
        if error_code(exc) in _MISSING:
            raise DeployError(f"NoSuchKey: {source} does not exist") from exc
        raise
    return target
