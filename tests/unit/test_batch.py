"""The transform job between input and output objects, with a fake model and file:// storage."""

from __future__ import annotations

import gzip
import json
import random
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sagemaker_local import batch
from sagemaker_local.batch import JobSpec, Reply, Stopped, TransformFailed, resolve, run
from sagemaker_local.storage import Storage


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "RETRY_DELAY_S", 0.0)


class Model:
    """A fake invoke: answers with `answer(body)` (upper-case by default), or with the queued replies."""

    def __init__(self, answer: Callable[[bytes], bytes] = bytes.upper, content_type: str = "text/csv"):
        self.answer = answer
        self.content_type = content_type
        self.requests: list[bytes] = []
        self.queued: list[Reply | OSError] = []
        self.lock = threading.Lock()

    def __call__(self, body: bytes, content_type: str | None, accept: str | None) -> Reply:
        with self.lock:
            self.requests.append(body)
            queued = self.queued.pop(0) if self.queued else None
        if isinstance(queued, OSError):
            raise queued
        if queued is not None:
            return queued
        return Reply(200, self.answer(body), self.content_type)


def spec(input_url: str, output_url: str, **changes: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "input_url": input_url,
        "s3_data_type": "S3Prefix",
        "output_url": output_url,
        "content_type": "text/csv",
        "accept": "text/csv",
        "split_type": "Line",
        "batch_strategy": "MultiRecord",
        "max_payload_mb": 6,
        "max_concurrent": 1,
        "assemble_with": "Line",
    }
    fields.update(changes)
    return JobSpec(**fields)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "in").mkdir()
    return tmp_path / "in", tmp_path / "out"


def outputs(out: Path) -> dict[str, bytes]:
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def test_an_object_and_a_prefix_with_a_sub_folder_get_relative_out_names(dirs) -> None:
    inputs, out = dirs
    (inputs / "part1.csv").write_bytes(b"a\nb\n")
    (inputs / "sub").mkdir()
    (inputs / "sub" / "part2.csv").write_bytes(b"c\n")
    summary = run(spec(inputs.as_uri() + "/", out.as_uri()), Model(), Storage())
    assert outputs(out) == {"part1.csv.out": b"A\nB\n", "sub/part2.csv.out": b"C\n"}
    assert (summary.objects, summary.records, summary.requests) == (2, 3, 2)

    single = out.parent / "single"
    run(spec((inputs / "sub" / "part2.csv").as_uri(), single.as_uri()), Model(), Storage())
    assert outputs(single) == {"part2.csv.out": b"C\n"}


def test_order_is_kept_with_four_requests_in_flight(dirs) -> None:
    inputs, out = dirs
    lines = [f"row{i}".encode() for i in range(40)]
    (inputs / "a.csv").write_bytes(b"\n".join(lines) + b"\n")
    (inputs / "b.csv").write_bytes(b"\n".join(lines[:7]))
    inflight = 0
    most = 0
    lock = threading.Lock()

    def answer(body: bytes) -> bytes:
        nonlocal inflight, most
        with lock:
            inflight += 1
            most = max(most, inflight)
        time.sleep(random.uniform(0, 0.005))
        with lock:
            inflight -= 1
        return body.upper()

    model = Model(answer)
    run(
        spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord", max_concurrent=4), model, Storage()
    )
    assert outputs(out) == {
        "a.csv.out": b"".join(line.upper() + b"\n" for line in lines),
        "b.csv.out": b"".join(line.upper() + b"\n" for line in lines[:7]),
    }
    assert len(model.requests) == 47 and most <= 4


def test_max_concurrent_requests_are_sent_at_once(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"".join(b"%d\n" % i for i in range(8)))
    # Each request waits for three others: with fewer than four in flight the barrier breaks.
    together = threading.Barrier(4, timeout=10)

    def answer(body: bytes) -> bytes:
        together.wait()
        return body

    run(
        spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord", max_concurrent=4),
        Model(answer),
        Storage(),
    )
    assert outputs(out)["a.csv.out"] == b"".join(b"%d\n" % i for i in range(8))


def test_multi_record_packs_whole_records_up_to_the_payload_limit(dirs) -> None:
    inputs, out = dirs
    limit = 1024 * 1024
    # 300 KB lines: three fit in 1 MB (with their newlines), a fourth does not.
    records = [bytes([ord("a") + i]) * (300 * 1024) for i in range(10)]
    (inputs / "big.csv").write_bytes(b"\n".join(records) + b"\n")
    model = Model()
    summary = run(spec(inputs.as_uri(), out.as_uri(), max_payload_mb=1), model, Storage())
    assert [len(request) for request in model.requests] == [3 * (300 * 1024 + 1)] * 3 + [300 * 1024 + 1]
    assert all(len(request) <= limit for request in model.requests)
    assert b"".join(model.requests) == b"".join(record + b"\n" for record in records)
    assert summary.requests == 4 and summary.records == 10
    assert outputs(out)["big.csv.out"] == b"".join(record.upper() + b"\n" for record in records)


def test_no_payload_limit_sends_the_whole_object_in_one_request(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"x" * (2 * 1024 * 1024) + b"\ny\n")
    model = Model()
    run(spec(inputs.as_uri(), out.as_uri(), max_payload_mb=0), model, Storage())
    assert len(model.requests) == 1


def test_single_record_sends_one_line_per_request(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"1,2\r\n3,4\r\n\r\n5,6")
    model = Model()
    run(spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord"), model, Storage())
    # CRLF ends a line like LF; the blank line is no record; the last line counts without a newline.
    assert model.requests == [b"1,2\n", b"3,4\n", b"5,6\n"]
    assert outputs(out)["a.csv.out"] == b"1,2\n3,4\n5,6\n"


def test_a_record_larger_than_the_payload_limit_fails_the_job(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"small\n" + b"x" * (1024 * 1024) + b"\n")
    with pytest.raises(
        TransformFailed, match=r"a\.csv: the record on line 2 is .* larger than the MaxPayloadInMB limit"
    ):
        run(spec(inputs.as_uri(), out.as_uri(), max_payload_mb=1), Model(), Storage())
    assert not (out / "a.csv.out").exists()


def test_split_type_none_sends_each_object_whole_and_checks_its_size(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"1\n2\n")
    model = Model(lambda body: b"[1, 2]", content_type="application/json")
    run(spec(inputs.as_uri(), out.as_uri(), split_type="None", assemble_with="None"), model, Storage())
    assert model.requests == [b"1\n2\n"]
    assert outputs(out)["a.csv.out"] == b"[1, 2]"

    (inputs / "a.csv").write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(
        TransformFailed, match=re.escape("a.csv: the object is 1048577 bytes, larger than the MaxPayloadInMB")
    ):
        run(spec(inputs.as_uri(), out.as_uri(), split_type="None", max_payload_mb=1), Model(), Storage())


def test_a_4xx_reply_fails_the_job_at_once_naming_the_object_status_and_message(dirs) -> None:
    inputs, out = dirs
    (inputs / "good.csv").write_bytes(b"1\n")
    (inputs / "bad.csv").write_bytes(b"1\n2\n")
    model = Model()
    model.queued = [Reply(400, b"could not parse " + b"x" * 2000, "text/plain")]
    # bad.csv is listed first.
    with pytest.raises(TransformFailed) as failed:
        run(spec(inputs.as_uri(), out.as_uri()), model, Storage())
    reason = str(failed.value)
    assert reason.startswith("bad.csv: the model returned 400: could not parse xxx")
    assert len(reason) <= 1000
    assert len(model.requests) == 1
    assert not (out / "bad.csv.out").exists()


def test_5xx_and_connection_errors_are_retried_up_to_max_retries(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"a\n")
    model = Model()
    model.queued = [Reply(503, b"busy", None), ConnectionResetError("reset"), Reply(500, b"oops", None)]
    run(spec(inputs.as_uri(), out.as_uri()), model, Storage())
    assert len(model.requests) == 4
    assert outputs(out)["a.csv.out"] == b"A\n"

    model = Model()
    model.queued = [Reply(500, b"broken", None)] * 3
    with pytest.raises(TransformFailed, match=r"^a\.csv: the model returned 500: broken$"):
        run(spec(inputs.as_uri(), out.as_uri(), max_retries=2), model, Storage())
    assert len(model.requests) == 3

    model = Model()
    model.queued = [TimeoutError("timed out")]
    with pytest.raises(TransformFailed, match=re.escape("a.csv: the request to the model failed: timed out")):
        run(spec(inputs.as_uri(), out.as_uri(), max_retries=0), model, Storage())


def test_a_failed_object_gets_no_output_but_those_before_it_keep_theirs(dirs) -> None:
    inputs, out = dirs
    (inputs / "1.csv").write_bytes(b"a\n")
    (inputs / "2.csv").write_bytes(b"b\nboom\n")

    def invoke(body: bytes, content_type: str | None, accept: str | None) -> Reply:
        return Reply(422, b"bad row", None) if b"boom" in body else Reply(200, body.upper(), None)

    with pytest.raises(TransformFailed, match=re.escape("2.csv: the model returned 422: bad row")):
        run(spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord"), invoke, Storage())
    assert outputs(out) == {"1.csv.out": b"A\n"}


def test_assemble_with_line_adds_one_newline_per_record_and_none_concatenates(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"a\nb\nc\n")

    # A reply that already ends with a newline does not get a second one.
    with_newline = Model(lambda body: body.upper())
    run(spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord"), with_newline, Storage())
    assert outputs(out)["a.csv.out"] == b"A\nB\nC\n"

    bare = Model(lambda body: body.strip().upper())
    run(spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord"), bare, Storage())
    assert outputs(out)["a.csv.out"] == b"A\nB\nC\n"

    run(
        spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord", assemble_with="None"),
        bare,
        Storage(),
    )
    assert outputs(out)["a.csv.out"] == b"ABC"

    # MultiRecord with Line: the reply to k records is k lines, each ended with one newline.
    lines = Model(lambda body: body.upper().rstrip(b"\n"))
    run(spec(inputs.as_uri(), out.as_uri()), lines, Storage())
    assert lines.requests == [b"a\nb\nc\n"]
    assert outputs(out)["a.csv.out"] == b"A\nB\nC\n"


def test_a_reply_with_another_number_of_lines_than_records_fails_the_job(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"a\nb\nc\n")
    with pytest.raises(
        TransformFailed, match=re.escape("a.csv: the model returned 2 output records for a request of 3")
    ):
        run(spec(inputs.as_uri(), out.as_uri()), Model(lambda body: b"1\n2\n"), Storage())
    assert not (out / "a.csv.out").exists()

    # A JSON reply is not cut into lines when nothing needs it to be.
    model = Model(lambda body: b'{"predictions": [1, 2, 3]}', content_type="application/json")
    run(spec(inputs.as_uri(), out.as_uri(), accept="application/json"), model, Storage())
    assert outputs(out)["a.csv.out"] == b'{"predictions": [1, 2, 3]}\n'


def test_gzip_input_is_decompressed_before_it_is_sent(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv.gz").write_bytes(gzip.compress(b"a\nb\n"))
    model = Model()
    run(spec(inputs.as_uri(), out.as_uri(), compression="Gzip"), model, Storage())
    assert model.requests == [b"a\nb\n"]
    assert outputs(out) == {"a.csv.gz.out": b"A\nB\n"}

    (inputs / "a.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(TransformFailed, match=re.escape("a.csv.gz: cannot decompress the Gzip input")):
        run(spec(inputs.as_uri(), out.as_uri(), compression="Gzip"), model, Storage())


def test_an_empty_object_gets_an_empty_output_without_a_request(dirs) -> None:
    inputs, out = dirs
    (inputs / "empty.csv").write_bytes(b"")
    (inputs / "blank.csv").write_bytes(b"\n\n")
    model = Model()
    summary = run(spec(inputs.as_uri(), out.as_uri()), model, Storage())
    assert outputs(out) == {"blank.csv.out": b"", "empty.csv.out": b""}
    assert model.requests == [] and summary.requests == 0


def test_resolve_takes_unset_values_from_the_execution_parameters() -> None:
    unset = JobSpec("file:///in", "S3Prefix", "file:///out", "text/csv", None, split_type="Line")
    found = resolve(
        unset, {"MaxConcurrentTransforms": 2, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 3}
    )
    assert (found.batch_strategy, found.max_payload_mb, found.max_concurrent) == ("SingleRecord", 3, 2)
    assert resolve(unset, {"BatchStrategy": "MULTI_RECORD"}).batch_strategy == "MultiRecord"

    defaults = resolve(unset, None)
    assert (defaults.batch_strategy, defaults.max_payload_mb, defaults.max_concurrent) == (
        "MultiRecord",
        6,
        1,
    )
    assert resolve(unset, {"MaxConcurrentTransforms": 0, "BatchStrategy": "?"}) == defaults

    given = JobSpec(
        "file:///in",
        "S3Prefix",
        "file:///out",
        None,
        None,
        "Line",
        batch_strategy="MultiRecord",
        max_payload_mb=0,
    )
    found = resolve(
        given, {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 6}
    )
    assert (found.batch_strategy, found.max_payload_mb, found.max_concurrent) == ("MultiRecord", 0, 4)
    # MaxConcurrentTransforms 0 in the request means: ask the container.
    zero = JobSpec.from_request(request(MaxConcurrentTransforms=0))
    assert resolve(zero, {"MaxConcurrentTransforms": 3}).max_concurrent == 3

    with pytest.raises(ValueError, match="resolve"):
        run(unset, Model(), Storage())


def test_should_stop_stops_the_job_before_more_output_is_written(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.csv").write_bytes(b"a\n")
    (inputs / "b.csv").write_bytes(b"b\nc\nd\n")
    model = Model()

    def should_stop() -> bool:
        return len(model.requests) >= 2

    with pytest.raises(Stopped):
        run(spec(inputs.as_uri(), out.as_uri(), batch_strategy="SingleRecord"), model, Storage(), should_stop)
    assert len(model.requests) == 2
    assert outputs(out) == {"a.csv.out": b"A\n"}


def test_unsupported_inputs_fail_the_job_with_a_reason(dirs) -> None:
    inputs, out = dirs
    (inputs / "a.rec").write_bytes(b"x")
    with pytest.raises(TransformFailed, match="ManifestFile is not supported"):
        run(spec(inputs.as_uri(), out.as_uri(), s3_data_type="ManifestFile"), Model(), Storage())
    with pytest.raises(TransformFailed, match="SplitType RecordIO is not supported"):
        run(spec(inputs.as_uri(), out.as_uri(), split_type="RecordIO"), Model(), Storage())
    with pytest.raises(TransformFailed, match="no such file or directory"):
        run(spec(inputs.as_uri() + "/missing", out.as_uri()), Model(), Storage())


def request(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "TransformJobName": "job",
        "ModelName": "model",
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": "s3://b/out", "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "local", "InstanceCount": 1},
    }
    params.update(changes)
    return params


def test_from_request_reads_the_parameters() -> None:
    job = JobSpec.from_request(
        request(
            BatchStrategy="SingleRecord",
            MaxPayloadInMB=10,
            MaxConcurrentTransforms=10,
            ModelClientConfig={"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 0},
        )
    )
    assert job == JobSpec(
        input_url="s3://b/in/",
        s3_data_type="S3Prefix",
        output_url="s3://b/out",
        content_type="text/csv",
        accept="text/csv",
        split_type="Line",
        batch_strategy="SingleRecord",
        max_payload_mb=10,
        max_concurrent=10,
        assemble_with="Line",
        invocations_timeout_s=30,
        max_retries=0,
    )
    plain = JobSpec.from_request(request())
    assert (plain.batch_strategy, plain.max_payload_mb, plain.max_concurrent) == (None, None, None)
    assert (plain.invocations_timeout_s, plain.max_retries, plain.compression) == (600, 3, "None")
    # A batch strategy without a split type is accepted: each object is one request.
    no_split = request(BatchStrategy="MultiRecord")
    no_split["TransformInput"] = {**no_split["TransformInput"], "SplitType": "None"}
    assert JobSpec.from_request(no_split).split_type == "None"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"MaxPayloadInMB": 101}, "MaxPayloadInMB must be between 0 and 100"),
        ({"MaxPayloadInMB": 20, "MaxConcurrentTransforms": 6}, "must not exceed 100 MB"),
        ({"MaxConcurrentTransforms": -1}, "MaxConcurrentTransforms must be at least 0"),
        ({"BatchStrategy": "Both"}, "BatchStrategy must be one of MultiRecord, SingleRecord"),
        (
            {"ModelClientConfig": {"InvocationsMaxRetries": 4}},
            "InvocationsMaxRetries must be between 0 and 3",
        ),
        ({"ModelClientConfig": {"InvocationsTimeoutInSeconds": 0}}, "InvocationsTimeoutInSeconds must be"),
        ({"TransformOutput": {"AssembleWith": "Line"}}, "S3OutputPath is required"),
        ({"TransformOutput": {"S3OutputPath": "s3://b/o", "AssembleWith": "Record"}}, "AssembleWith must be"),
        (
            {"TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/"}}}},
            "S3DataType is required",
        ),
        ({"TransformInput": {"DataSource": {}}}, "S3Uri is required"),
    ],
)
def test_from_request_rejects_invalid_parameters(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JobSpec.from_request(request(**changes))


def test_from_request_checks_the_data_processing_against_the_job() -> None:
    params = request(DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input"})
    params["TransformOutput"] = {**params["TransformOutput"], "AssembleWith": "None"}
    with pytest.raises(ValueError):
        JobSpec.from_request(params)


def test_csv_filters_and_join_keep_the_id_next_to_the_prediction(dirs) -> None:
    inputs, out = dirs
    (inputs / "rows.csv").write_bytes(b"id7,5.1,3.5\nid8,6.0,2.9\nid9,4.4,3.0\n")

    def predict(body: bytes) -> bytes:
        rows = [line.split(b",") for line in body.splitlines()]
        return b"".join(b"%.2f\n" % (float(row[0]) + float(row[1])) for row in rows)

    model = Model(predict)
    params = request(
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    )
    params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] = inputs.as_uri()
    params["TransformOutput"]["S3OutputPath"] = out.as_uri()
    job = resolve(JobSpec.from_request(params), None)
    assert job.data_processing == batch.DataProcessing(
        input_filter="$[1:]", output_filter="$[0,-1]", join_source="Input"
    )
    run(job, model, Storage())
    assert model.requests == [b"5.1,3.5\n6.0,2.9\n4.4,3.0\n"]
    assert outputs(out) == {"rows.csv.out": b"id7,8.60\nid8,8.90\nid9,7.40\n"}

    single = out.parent / "single"
    model = Model(predict)
    run(
        spec(
            inputs.as_uri(),
            single.as_uri(),
            batch_strategy="SingleRecord",
            data_processing=job.data_processing,
        ),
        model,
        Storage(),
    )
    assert model.requests == [b"5.1,3.5\n", b"6.0,2.9\n", b"4.4,3.0\n"]
    assert outputs(single) == {"rows.csv.out": b"id7,8.60\nid8,8.90\nid9,7.40\n"}


def test_json_lines_are_joined_under_sagemaker_output(dirs) -> None:
    inputs, out = dirs
    (inputs / "rows.jsonl").write_bytes(b'{"id":1,"features":[1,2]}\n{"id":2,"features":[3,4]}\n')

    def score(body: bytes) -> bytes:
        return b"".join(b'{"score":%d}\n' % sum(json.loads(line)) for line in body.splitlines())

    model = Model(score, content_type="application/jsonlines")
    processing = batch.DataProcessing(
        input_filter="$.features", output_filter="$['id','SageMakerOutput']", join_source="Input"
    )
    job = spec(
        inputs.as_uri(),
        out.as_uri(),
        content_type="application/jsonlines",
        accept="application/jsonlines",
        data_processing=processing,
    )
    run(job, model, Storage())
    assert model.requests == [b"[1,2]\n[3,4]\n"]
    assert outputs(out)["rows.jsonl.out"] == (
        b'{"id":1,"SageMakerOutput":{"score":3}}\n{"id":2,"SageMakerOutput":{"score":7}}\n'
    )


def test_split_type_none_takes_a_json_document_as_one_record(dirs) -> None:
    inputs, out = dirs
    (inputs / "doc.json").write_bytes(b'{"instances": [[1, 2], [3, 4]]}\n')
    model = Model(lambda body: b'{\n  "predictions": [3, 7]\n}\n', content_type="application/json")
    processing = batch.DataProcessing(input_filter="$.instances", join_source="Input")
    job = spec(
        inputs.as_uri(),
        out.as_uri(),
        content_type="application/json",
        accept="application/json",
        split_type="None",
        assemble_with="None",
        data_processing=processing,
    )
    run(job, model, Storage())
    assert model.requests == [b"[[1,2],[3,4]]"]
    assert (
        outputs(out)["doc.json.out"]
        == b'{"instances":[[1,2],[3,4]],"SageMakerOutput":{"predictions":[3,7]}}\n'
    )


def test_a_record_the_filters_cannot_handle_fails_the_job(dirs) -> None:
    inputs, out = dirs
    (inputs / "rows.csv").write_bytes(b"id7,5.1,3.5\n")
    job = spec(inputs.as_uri(), out.as_uri(), data_processing=batch.DataProcessing(output_filter="$[5]"))
    with pytest.raises(TransformFailed, match=r"^rows\.csv: OutputFilter '\$\[5\]': index 5 is outside"):
        run(job, Model(), Storage())
    job = spec(inputs.as_uri(), out.as_uri(), data_processing=batch.DataProcessing(input_filter="$[3:]"))
    with pytest.raises(TransformFailed, match=r"^rows\.csv: line 1: InputFilter"):
        run(job, Model(), Storage())
    assert not (out / "rows.csv.out").exists()
