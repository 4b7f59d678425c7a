"""transform against moto: the job's request, and the .out download.

moto completes a transform job at once and writes no output; a real job writes one
`<input>.out` per input file. The test puts such a file where the job writes, to check
that the command brings it back.
"""

from __future__ import annotations

from pathlib import Path

from tests.deploy.conftest import DEFAULT_BUCKET, IMAGE, ROLE, Moto
from tests.support import csv_rows, features


def make_model(moto: Moto, name: str = "housing") -> None:
    moto.client("sagemaker").create_model(
        ModelName=name,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://m/model.tar.gz"},
        ExecutionRoleArn=ROLE,
    )


def test_transform_creates_the_job_and_downloads_the_out_files(moto: Moto, tmp_path: Path) -> None:
    make_model(moto)
    data = tmp_path / "batch.csv"
    data.write_text(csv_rows(features(4)))
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=DEFAULT_BUCKET)
    s3.put_object(Bucket=DEFAULT_BUCKET, Key="nightly/output/batch.csv.out", Body=b"1.0\n2.0\n3.0\n4.0\n")

    result = moto.ok(
        "transform",
        "--model-name", "housing",
        "--input", str(data),
        "--job-name", "nightly",
        "--instance-type", "ml.c5.2xlarge",
        "--instance-count", "3",
        "--max-payload-mb", "20",
        "--max-concurrent", "4",
        "--download", str(tmp_path / "results"),
    )  # fmt: skip

    job = moto.client("sagemaker").describe_transform_job(TransformJobName="nightly")
    assert job["ModelName"] == "housing"
    assert job["TransformJobStatus"] == "Completed"
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["MaxPayloadInMB"] == 20
    assert job["MaxConcurrentTransforms"] == 4
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformInput"]["ContentType"] == "text/csv"
    source = job["TransformInput"]["DataSource"]["S3DataSource"]
    assert source == {"S3DataType": "S3Prefix", "S3Uri": f"s3://{DEFAULT_BUCKET}/nightly/input/"}
    assert job["TransformOutput"]["AssembleWith"] == "Line"
    assert job["TransformOutput"]["Accept"] == "text/csv"
    assert job["TransformOutput"]["S3OutputPath"] == f"s3://{DEFAULT_BUCKET}/nightly/output/"
    assert job["TransformResources"] == {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 3}

    # The input went up as it was.
    uploaded = s3.get_object(Bucket=DEFAULT_BUCKET, Key="nightly/input/batch.csv")["Body"].read()
    assert uploaded == data.read_bytes()

    downloaded = tmp_path / "results" / "batch.csv.out"
    assert result.stdout.splitlines() == [str(downloaded)]
    assert downloaded.read_text() == "1.0\n2.0\n3.0\n4.0\n"
    assert "transform job nightly: Completed" in result.stderr


def test_transform_of_s3_input_to_s3_output(moto: Moto, tmp_path: Path) -> None:
    make_model(moto)
    moto.client("s3").create_bucket(Bucket="data")
    result = moto.ok(
        "transform", "--model-name", "housing", "--input", "s3://data/in/", "--output", "s3://data/out",
        "--no-download",
    )  # fmt: skip
    assert result.stdout.strip() == "s3://data/out/"
    (job,) = moto.client("sagemaker").list_transform_jobs()["TransformJobSummaries"]
    assert job["TransformJobName"].startswith("housing-")
    described = moto.client("sagemaker").describe_transform_job(TransformJobName=job["TransformJobName"])
    assert described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://data/in/"
    assert described["MaxPayloadInMB"] == 6
    assert "MaxConcurrentTransforms" not in described or not described["MaxConcurrentTransforms"]
    # Nothing was created in the default bucket.
    assert [b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]] == ["data"]


def test_transform_checks_payload_limits_before_calling_aws(moto: Moto, tmp_path: Path) -> None:
    result = moto.cli(
        "transform", "--model-name", "housing", "--input", "s3://data/in/", "--output", "s3://data/out",
        "--max-payload-mb", "30", "--max-concurrent", "4",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == "error: MaxConcurrentTransforms x MaxPayloadInMB must not exceed 100"
    assert moto.client("sagemaker").list_transform_jobs()["TransformJobSummaries"] == []
