"""Getting a model onto S3: a model.tar.gz, a model directory, or an s3:// URI as it is."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from deploy import s3
from deploy.aws import Aws
from deploy.errors import DeployError
from deploy.s3 import S3Uri


def pack(model_dir: Path, archive: Path) -> Path:
    """Write model_dir's contents at the root of a gzipped tarball, the layout SageMaker
    unpacks into /opt/ml/model (a top-level folder would end up one level too deep)."""
    with tarfile.open(archive, "w:gz") as tar:
        for child in sorted(model_dir.iterdir()):
            tar.add(child, arcname=child.name)
    return archive


def stage(aws: Aws, source: str, target: S3Uri) -> S3Uri:
    """Return an S3 URI for the model at `source`, uploading it to `target` if it is local."""
    if s3.is_s3(source):
        return S3Uri.parse(source)
    path = Path(source)
    if path.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            return s3.upload(aws, pack(path, Path(tmp) / "model.tar.gz"), target)
    if not path.is_file():
        raise DeployError(f"model not found: {source} (give a model.tar.gz, a model directory or s3:// URI)")
    if not path.name.endswith((".tar.gz", ".tgz")):
        raise DeployError(f"{source}: SageMaker needs a gzipped tarball (model.tar.gz) or a model directory")
    return s3.upload(aws, path, target)
