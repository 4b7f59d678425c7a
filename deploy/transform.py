"""Batch transform: one job over S3 input, its .out files brought back to disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploy import names, s3
from deploy.aws import Aws
from deploy.errors import DeployError
from deploy.s3 import S3Uri
from deploy.waiting import DEFAULT_WAITING, TRANSFORM_JOB, Progress, Waiting, to_stderr, wait_until_settled


@dataclass(frozen=True)
class TransformSettings:
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    max_payload_mb: int = 6
    # 0 leaves it to the container's /execution-parameters (one per worker).
    max_concurrent_transforms: int = 0
    content_type: str = "text/csv"
    accept: str = "text/csv"
    # Line split + MultiRecord + Line assembly: many rows per request, and one output line
    # per input line in the same order, which the container guarantees for CSV.
    split_type: str = "Line"
    batch_strategy: str = "MultiRecord"
    assemble_with: str = "Line"

    def check(self) -> None:
        if self.instance_count < 1:
            raise DeployError("the instance count must be at least 1")
        if not 0 <= self.max_payload_mb <= 100:
            raise DeployError("MaxPayloadInMB must be between 0 and 100")
        if self.max_concurrent_transforms * self.max_payload_mb > 100:
            raise DeployError("MaxConcurrentTransforms x MaxPayloadInMB must not exceed 100")


@dataclass(frozen=True)
class TransformResult:
    job_name: str
    output: S3Uri
    files: list[Path]


def run_transform(
    aws: Aws,
    *,
    model_name: str,
    data: str,
    output: str | None = None,
    job_name: str | None = None,
    settings: TransformSettings = TransformSettings(),
    download_to: Path | None = None,
    waiting: Waiting = DEFAULT_WAITING,
    progress: Progress = to_stderr,
) -> TransformResult:
    """Run `model_name` over `data` (an s3:// prefix, or a local file or directory that is
    uploaded first) and, once the job completes, download its .out files to `download_to`."""
    settings.check()
    job_name = names.check(job_name, "job name") if job_name else names.timestamped(model_name)
    if s3.is_s3(data):
        source = S3Uri.parse(data)
    else:
        source = _upload_input(aws, Path(data), _scratch(aws, job_name).join("input/"), progress)
    target = S3Uri.parse(output).as_prefix() if output else _scratch(aws, job_name).join("output/")

    request: dict[str, object] = {
        "TransformJobName": job_name,
        "ModelName": model_name,
        "MaxPayloadInMB": settings.max_payload_mb,
        "BatchStrategy": settings.batch_strategy,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(source)}},
            "ContentType": settings.content_type,
            "SplitType": settings.split_type,
        },
        "TransformOutput": {
            "S3OutputPath": str(target),
            "Accept": settings.accept,
            "AssembleWith": settings.assemble_with,
        },
        "TransformResources": {
            "InstanceType": settings.instance_type,
            "InstanceCount": settings.instance_count,
        },
    }
    if settings.max_concurrent_transforms:
        request["MaxConcurrentTransforms"] = settings.max_concurrent_transforms
    sagemaker = aws.client("sagemaker")
    sagemaker.create_transform_job(**request)
    progress(f"created transform job {job_name}: {source} -> {target}")
    if not waiting.wait:
        return TransformResult(job_name, target, [])
    wait_until_settled(
        lambda: sagemaker.describe_transform_job(TransformJobName=job_name),
        f"transform job {job_name}",
        TRANSFORM_JOB,
        progress,
        waiting,
    )
    files = download_outputs(aws, target, download_to, progress) if download_to else []
    return TransformResult(job_name, target, files)


def _scratch(aws: Aws, job_name: str) -> S3Uri:
    """Where a job's local input and its output go when no S3 location is given."""
    bucket = aws.default_bucket()
    s3.ensure_bucket(aws, bucket)
    return S3Uri(bucket, f"{job_name}/")


def _upload_input(aws: Aws, path: Path, prefix: S3Uri, progress: Progress) -> S3Uri:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise DeployError(f"input not found: {path}")
    if not files:
        raise DeployError(f"no input files in {path}")
    root = path if path.is_dir() else path.parent
    for file in files:
        s3.upload(aws, file, prefix.join(file.relative_to(root).as_posix()))
    progress(f"uploaded {len(files)} input file(s) to {prefix}")
    return prefix


def download_outputs(aws: Aws, output: S3Uri, directory: Path, progress: Progress) -> list[Path]:
    """Each input file gives one `<name>.out` under the output prefix; fetch them all."""
    keys = [key for key in s3.list_keys(aws, output) if key.endswith(".out")]
    if not keys:
        progress(f"note: no .out files under {output}")
    files = [s3.download(aws, output.join(key), directory / key) for key in keys]
    for file in files:
        progress(f"downloaded {file}")
    return files
