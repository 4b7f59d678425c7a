"""What a transform job does between its input and output objects (CreateTransformJob).

The server starts the model's containers and hands over `invoke`, which sends one request through
the model and returns its final reply. This module reads each input object, splits it into records,
packs them into requests, sends those with bounded concurrency, applies DataProcessing and writes
one `<relative>.out` object per input object, the way SageMaker's batch transform does.
"""

from __future__ import annotations

import dataclasses
import gzip
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sagemaker_local.data_processing import DataProcessing
from sagemaker_local.storage import Storage, StorageError, join

# DescribeTransformJob's FailureReason holds at most 1024 characters.
REASON_LIMIT = 1000
# Seconds before the n-th retry is n times this: a container answering 503 because it is busy gets
# a moment; the tests set it to 0.
RETRY_DELAY_S = 0.2
# How often a wait for replies looks at should_stop(), so StopTransformJob is not held up by a
# long request.
POLL_S = 0.1

SPLIT_TYPES = ("None", "Line", "RecordIO", "TFRecord")
S3_DATA_TYPES = ("S3Prefix", "ManifestFile", "AugmentedManifestFile")
COMPRESSION_TYPES = ("None", "Gzip")
BATCH_STRATEGIES = ("MultiRecord", "SingleRecord")
ASSEMBLE_WITH = ("None", "Line")
# The container's GET /execution-parameters spells the strategies the way the environment does.
_STRATEGY_NAMES = {
    "MULTI_RECORD": "MultiRecord",
    "MULTIRECORD": "MultiRecord",
    "SINGLE_RECORD": "SingleRecord",
    "SINGLERECORD": "SingleRecord",
}
# Replies whose records are lines, so a reply to k records can be cut into k outputs.
_LINE_TYPES = ("text/csv", "application/jsonlines", "application/x-jsonlines", "application/jsonl")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str | None


# body, content_type, accept -> the model's reply
Invoke = Callable[[bytes, str | None, str | None], Reply]


class TransformFailed(Exception):
    """The job fails; str(exc) is the FailureReason shown by DescribeTransformJob."""


class Stopped(Exception):
    """StopTransformJob was called; the job ends Stopped."""


@dataclass(frozen=True)
class Summary:
    objects: int
    records: int
    requests: int


@dataclass(frozen=True)
class JobSpec:
    input_url: str
    s3_data_type: str
    output_url: str
    content_type: str | None
    accept: str | None
    split_type: str = "None"
    compression: str = "None"
    # None until resolve(): then what the request said, else what the container said, else the default.
    batch_strategy: str | None = None
    max_payload_mb: int | None = None
    max_concurrent: int | None = None
    assemble_with: str = "None"
    data_processing: DataProcessing = field(default_factory=DataProcessing)
    # Applied by the server's invoke; kept here because it is part of the job.
    invocations_timeout_s: int = 600
    max_retries: int = 3

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> JobSpec:
        """The job a botocore-parsed CreateTransformJob request describes; ValueError says what is wrong."""
        transform_input = request.get("TransformInput") or {}
        transform_output = request.get("TransformOutput") or {}
        source = (transform_input.get("DataSource") or {}).get("S3DataSource") or {}
        input_url = source.get("S3Uri")
        if not input_url:
            raise ValueError("TransformInput.DataSource.S3DataSource.S3Uri is required")
        output_url = transform_output.get("S3OutputPath")
        if not output_url:
            raise ValueError("TransformOutput.S3OutputPath is required")
        s3_data_type = source.get("S3DataType")
        if s3_data_type is None:
            raise ValueError("TransformInput.DataSource.S3DataSource.S3DataType is required")
        _choice(source, "S3DataType", S3_DATA_TYPES, None, "TransformInput.DataSource.S3DataSource.")
        split_type = _choice(transform_input, "SplitType", SPLIT_TYPES, "None", "TransformInput.")
        compression = _choice(
            transform_input, "CompressionType", COMPRESSION_TYPES, "None", "TransformInput."
        )
        assemble_with = _choice(transform_output, "AssembleWith", ASSEMBLE_WITH, "None", "TransformOutput.")
        # BatchStrategy without a SplitType is accepted: every object is then one request anyway.
        batch_strategy = _choice(request, "BatchStrategy", BATCH_STRATEGIES, None, "")
        max_payload_mb = _integer(request, "MaxPayloadInMB", 0, 100)
        max_concurrent = _integer(request, "MaxConcurrentTransforms", 0, None)
        if max_payload_mb is not None and max_concurrent and max_concurrent * max_payload_mb > 100:
            raise ValueError(
                f"MaxConcurrentTransforms ({max_concurrent}) x MaxPayloadInMB ({max_payload_mb}) "
                "must not exceed 100 MB"
            )
        client_config = request.get("ModelClientConfig") or {}
        timeout = _integer(client_config, "InvocationsTimeoutInSeconds", 1, 3600, "ModelClientConfig.")
        retries = _integer(client_config, "InvocationsMaxRetries", 0, 3, "ModelClientConfig.")
        content_type = transform_input.get("ContentType")
        accept = transform_output.get("Accept")
        data_processing = DataProcessing.from_request(request.get("DataProcessing"))
        data_processing.check_job(content_type, accept, split_type, assemble_with)
        return cls(
            input_url=input_url,
            s3_data_type=s3_data_type,
            output_url=output_url,
            content_type=content_type,
            accept=accept,
            split_type=split_type or "None",
            compression=compression or "None",
            batch_strategy=batch_strategy,
            max_payload_mb=max_payload_mb,
            max_concurrent=max_concurrent or None,
            assemble_with=assemble_with or "None",
            data_processing=data_processing,
            invocations_timeout_s=600 if timeout is None else timeout,
            max_retries=3 if retries is None else retries,
        )


def _choice(
    params: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str | None, where: str
) -> str | None:
    value = params.get(key)
    if value is None:
        return default
    if value not in allowed:
        raise ValueError(f"{where}{key} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def _integer(params: Mapping[str, Any], key: str, low: int, high: int | None, where: str = "") -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}{key} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{where}{key} must be {bounds}, not {value}")
    return value


def resolve(spec: JobSpec, execution_parameters: Mapping[str, Any] | None) -> JobSpec:
    """`spec` with what the request left unset taken from the container's GET /execution-parameters.

    A value the container gets wrong is ignored in favour of the default, as if the endpoint were
    missing: the container is not the user's request, so it does not fail the job.
    """
    found = execution_parameters or {}
    strategy = spec.batch_strategy
    if strategy is None:
        named = found.get("BatchStrategy")
        if isinstance(named, str):
            strategy = _STRATEGY_NAMES.get(named.strip().upper())
    payload = spec.max_payload_mb
    if payload is None:
        offered = found.get("MaxPayloadInMB")
        if isinstance(offered, int) and not isinstance(offered, bool) and 0 <= offered <= 100:
            payload = offered
    concurrent = spec.max_concurrent or None
    if concurrent is None:
        offered = found.get("MaxConcurrentTransforms")
        if isinstance(offered, int) and not isinstance(offered, bool) and offered >= 1:
            concurrent = offered
    return dataclasses.replace(
        spec,
        batch_strategy=strategy or "MultiRecord",
        max_payload_mb=6 if payload is None else payload,
        max_concurrent=concurrent or 1,
    )


def run(
    spec: JobSpec, invoke: Invoke, storage: Storage, should_stop: Callable[[], bool] = lambda: False
) -> Summary:
    """Transform every input object of a resolved `spec`; TransformFailed or Stopped end the job early.

    Output objects already written stay when the job fails later, as on AWS, where each `.out` is
    written once its own input object has succeeded.
    """
    if spec.batch_strategy is None or spec.max_payload_mb is None or not spec.max_concurrent:
        raise ValueError("run() needs a resolved JobSpec: call resolve() first")
    if spec.s3_data_type != "S3Prefix":
        raise TransformFailed(
            f"S3DataType {spec.s3_data_type} is not supported by this local SageMaker; use S3Prefix"
        )
    if spec.split_type not in ("None", "Line"):
        raise TransformFailed(
            f"SplitType {spec.split_type} is not supported by this local SageMaker; use Line or None"
        )
    return _Job(spec, invoke, storage, should_stop).run()


@dataclass
class _Batch:
    # The records as read (what a JoinSource joins) and what is sent for them.
    sources: list[bytes]
    payload: bytes
    # SplitType None with one document: the reply is that document's one output, never cut into lines.
    whole: bool


@dataclass
class _Pending:
    relative: str
    url: str
    replies: list[Future[bytes]] = field(default_factory=list)
    # Every request of the object has been sent: once they are all answered, its output is whole.
    submitted: bool = False


class _Job:
    def __init__(self, spec: JobSpec, invoke: Invoke, storage: Storage, should_stop: Callable[[], bool]):
        self.spec = spec
        self.invoke = invoke
        self.storage = storage
        self.should_stop = should_stop
        self.concurrency = spec.max_concurrent or 1
        self.limit = (spec.max_payload_mb or 0) * 1024 * 1024  # 0: no limit
        self.processing = spec.data_processing
        self.content_type = spec.content_type or ""
        self.line_assembled = spec.assemble_with == "Line"
        self.records = 0
        self.requests = 0

    def run(self) -> Summary:
        try:
            objects = self.storage.list(self.spec.input_url)
        except StorageError as exc:
            raise TransformFailed(_shorten(str(exc))) from None
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="transform")
        pending: deque[_Pending] = deque()
        inflight: set[Future[bytes]] = set()
        completed = False
        try:
            for found in objects:
                job = _Pending(found.relative, join(self.spec.output_url, found.relative + ".out"))
                pending.append(job)
                for batch in self._batches(found.relative, self._read(found.url, found.relative)):
                    while len(inflight) >= self.concurrency:
                        inflight = self._wait(inflight)
                        self._write_finished(pending)
                    self._check_stop()
                    reply = executor.submit(self._send, found.relative, batch)
                    self.requests += 1
                    self.records += len(batch.sources)
                    inflight.add(reply)
                    job.replies.append(reply)
                job.submitted = True
                self._write_finished(pending)
            while inflight:
                inflight = self._wait(inflight)
                self._write_finished(pending)
            completed = True
        finally:
            # On failure or stop, requests not started are dropped and those under way are left to
            # end on their own (the server stops the containers), so the job ends now.
            executor.shutdown(wait=completed, cancel_futures=True)
        return Summary(objects=len(objects), records=self.records, requests=self.requests)

    def _check_stop(self) -> None:
        if self.should_stop():
            raise Stopped()

    def _wait(self, inflight: set[Future[bytes]]) -> set[Future[bytes]]:
        """Wait until a reply is in (raising its failure), looking at should_stop() meanwhile."""
        while True:
            done, rest = wait(inflight, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for reply in done:
                reply.result()
            if done:
                return rest
            self._check_stop()

    def _write_finished(self, pending: deque[_Pending]) -> None:
        # In listing order, so a failure leaves the outputs of the objects before it.
        while pending and pending[0].submitted and all(reply.done() for reply in pending[0].replies):
            job = pending.popleft()
            output = b"".join(reply.result() for reply in job.replies)
            self._check_stop()
            try:
                self.storage.write(job.url, output)
            except StorageError as exc:
                raise TransformFailed(_shorten(str(exc))) from None

    def _read(self, url: str, relative: str) -> bytes:
        try:
            body = self.storage.read(url)
        except StorageError as exc:
            raise TransformFailed(_shorten(str(exc))) from None
        if self.spec.compression == "Gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as exc:
                raise TransformFailed(
                    _shorten(f"{relative}: cannot decompress the Gzip input: {exc}")
                ) from None
        return body

    def _batches(self, relative: str, body: bytes) -> Iterator[_Batch]:
        # An empty object has no records: its .out is written empty without asking the model.
        if not body:
            return
        if self.spec.split_type == "None":
            yield self._whole_object(relative, body)
            return
        single = self.spec.batch_strategy == "SingleRecord"
        sources: list[bytes] = []
        parts: list[bytes] = []
        size = 0
        for number, record in _lines(body):
            part = self._filter(relative, number, record) + b"\n"
            if self.limit and len(part) > self.limit:
                raise TransformFailed(
                    f"{relative}: the record on line {number} is {len(part)} bytes, larger than the "
                    f"MaxPayloadInMB limit of {self.spec.max_payload_mb} MB ({self.limit} bytes)"
                )
            if sources and (single or (self.limit and size + len(part) > self.limit)):
                yield _Batch(sources, b"".join(parts), whole=False)
                sources, parts, size = [], [], 0
            sources.append(record)
            parts.append(part)
            size += len(part)
        if sources:
            yield _Batch(sources, b"".join(parts), whole=False)

    def _whole_object(self, relative: str, body: bytes) -> _Batch:
        if self.processing.is_identity:
            batch = _Batch([body], body, whole=True)
        elif _base_type(self.content_type) in _LINE_TYPES:
            # JSON Lines sent whole is still one record per line for the filters and the join.
            numbered = list(_lines(body))
            payload = b"".join(self._filter(relative, number, record) + b"\n" for number, record in numbered)
            batch = _Batch([record for _, record in numbered], payload, whole=False)
        else:
            # One JSON document is one record.
            document = body.rstrip(b"\r\n")
            batch = _Batch([document], self._filter(relative, 1, document), whole=True)
        if self.limit and len(batch.payload) > self.limit:
            raise TransformFailed(
                f"{relative}: the object is {len(batch.payload)} bytes, larger than the MaxPayloadInMB "
                f"limit of {self.spec.max_payload_mb} MB; set SplitType to send it in records"
            )
        return batch

    def _filter(self, relative: str, number: int, record: bytes) -> bytes:
        if self.processing.is_identity:
            return record
        try:
            return self.processing.filter_input(record, self.content_type)
        except ValueError as exc:
            raise TransformFailed(_shorten(f"{relative}: line {number}: {exc}")) from None

    def _send(self, relative: str, batch: _Batch) -> bytes:
        """Runs in a worker: the request with its retries, then the reply made into output bytes."""
        attempt = 0
        while True:
            try:
                reply = self.invoke(batch.payload, self.spec.content_type, self.spec.accept)
            except OSError as exc:
                if attempt >= self.spec.max_retries:
                    raise TransformFailed(
                        _shorten(f"{relative}: the request to the model failed: {exc}")
                    ) from None
            else:
                if reply.status < 400:
                    return self._output(relative, batch, reply)
                if reply.status < 500 or attempt >= self.spec.max_retries:
                    raise TransformFailed(_failure(relative, reply))
            attempt += 1
            self._check_stop()
            time.sleep(RETRY_DELAY_S * attempt)

    def _output(self, relative: str, batch: _Batch, reply: Reply) -> bytes:
        body = reply.body
        reply_type = _base_type(reply.content_type or self.spec.accept)
        identity = self.processing.is_identity
        multi = self.spec.batch_strategy == "MultiRecord" and self.spec.split_type == "Line"
        if batch.whole or (identity and not (self.line_assembled and multi and reply_type in _LINE_TYPES)):
            if identity:
                # AssembleWith Line adds one newline per record; a reply that already ends with one is
                # not given a second (unconfirmed on AWS; XGBoost's CSV replies end with "\n" and a
                # doubled newline would be an empty record for whoever reads the output).
                return _strip_newline(body) + b"\n" if self.line_assembled else body
            outputs = [_strip_newline(body)]
        elif len(batch.sources) == 1 and reply_type == "application/json":
            # One JSON document may span lines.
            outputs = [_strip_newline(body)]
        else:
            outputs = _reply_lines(body)
            if len(outputs) != len(batch.sources):
                raise TransformFailed(
                    f"{relative}: the model returned {len(outputs)} output records for a request of "
                    f"{len(batch.sources)} input records; it must return one line per record"
                )
        if not identity:
            outputs = [
                self._finish(relative, source, output)
                for source, output in zip(batch.sources, outputs, strict=True)
            ]
        if self.line_assembled:
            return b"".join(output + b"\n" for output in outputs)
        # AssembleWith None concatenates replies as returned, so each keeps its own shape.
        return b"\n".join(outputs) + (b"\n" if body.endswith(b"\n") else b"")

    def _finish(self, relative: str, source: bytes, output: bytes) -> bytes:
        try:
            return self.processing.finish(source, output, self.content_type, self.spec.accept or "")
        except ValueError as exc:
            raise TransformFailed(_shorten(f"{relative}: {exc}")) from None


def _lines(body: bytes) -> Iterator[tuple[int, bytes]]:
    """The records of SplitType Line with their line numbers.

    A CRLF line ending is a line ending, so no record keeps a stray "\\r". Blank lines (often a
    final extra newline) are not records: sending them would get an error or an extra prediction
    that matches no input row.
    """
    for number, line in enumerate(body.split(b"\n"), 1):
        record = line[:-1] if line.endswith(b"\r") else line
        if record:
            yield number, record


def _reply_lines(body: bytes) -> list[bytes]:
    pieces = body.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    return [piece[:-1] if piece.endswith(b"\r") else piece for piece in pieces]


def _strip_newline(body: bytes) -> bytes:
    if body.endswith(b"\r\n"):
        return body[:-2]
    return body[:-1] if body.endswith(b"\n") else body


def _base_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _failure(relative: str, reply: Reply) -> str:
    message = reply.body.decode("utf-8", "replace").strip() or "(empty body)"
    return _shorten(f"{relative}: the model returned {reply.status}: {message}")


def _shorten(reason: str) -> str:
    return reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 3] + "..."
