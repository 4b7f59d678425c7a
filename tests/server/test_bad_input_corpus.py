"""A corpus of bad requests against the real `serve` process, in single- and multi-model mode.

Every case must get a 4xx (never a 5xx) whose body is JSON {"error", "message"} with a
message that names the problem (a key word per case), must leave the worker processes as
they were, and must not disturb the next good request, which gets 200.

Requests go out through http.client, byte for byte as written here: no client
normalizes "/models/../invoke" or re-encodes a header on the way.

Cases marked `bug` fail today and are strict xfails: each names a product bug, and a fix
shows up as XPASS, the reminder to drop the mark.
"""

from __future__ import annotations

import http.client
import io
import json
import pickle
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pytest

from tests.server.process import serve, started_workers, workers_of
from tests.support import wait_for_ping, write_regressor

MB = 1024 * 1024
GOOD_ROW = b"1,2,3,4,5,6"
CSV = {"Content-Type": "text/csv"}
JSON_CT = {"Content-Type": "application/json"}
JSONL = {"Content-Type": "application/jsonlines"}
NPY = {"Content-Type": "application/x-npy"}
TARGET = "X-Amzn-SageMaker-Target-Model"


# --- the server ------------------------------------------------------------------------


def model_tree(base: Path) -> Path:
    """model/ (the single model), models/alpha, symlinks out of the roots, and bad archives."""
    write_regressor(base / "model")
    models = base / "models"
    write_regressor(models / "alpha" / "model")
    write_regressor(base / "outside" / "model")
    (models / "escape").symlink_to(base / "outside", target_is_directory=True)
    _archive(base / "outside" / "elsewhere.tar.gz", [("model.joblib", b"x")])
    (models / "escape.tar.gz").symlink_to(base / "outside" / "elsewhere.tar.gz")
    (models / "garbage.tar.gz").write_bytes(b"this is not a tarball")
    _archive(models / "traversal.tar.gz", [("../../planted.txt", b"x")])
    _archive(models / "link.tar.gz", [("model.joblib", "/etc/passwd")])
    _archive(models / "not-a-model.tar.gz", [("model.joblib", b"not a pickle")])
    (models / "truncated.tar.gz").write_bytes((models / "not-a-model.tar.gz").read_bytes()[:30])
    return base


def _archive(path: Path, members: list[tuple[str, bytes | str]]) -> None:
    """A .tar.gz of regular files (bytes) and symlinks (str: the link target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    base: Path
    good: tuple[str, str, bytes, dict[str, str]]

    def workers(self) -> set[int]:
        return workers_of(self.process.pid)


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = model_tree(tmp_path_factory.mktemp("single"))
    with serve(base, SAGEMAKER_MAX_PAYLOAD_IN_MB="1") as (url, process):
        wait_for_ping(url)
        server = Server(url, process, base, ("POST", "/invocations", GOOD_ROW, CSV))
        _wait_for_workers(server)
        yield server


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = model_tree(tmp_path_factory.mktemp("multi"))
    with serve(base, SAGEMAKER_MAX_PAYLOAD_IN_MB="1", SAGEMAKER_MULTI_MODEL="true") as (url, process):
        wait_for_ping(url)
        body = json.dumps({"model_name": "alpha", "url": str(base / "models" / "alpha")}).encode()
        loaded = send(url, "POST", "/models", body, JSON_CT)
        assert loaded.status == 200, loaded.body
        server = Server(url, process, base, ("POST", "/models/alpha/invoke", GOOD_ROW, CSV))
        _wait_for_workers(server)
        yield server


def _wait_for_workers(server: Server) -> None:
    started_workers(server.process)


# --- raw HTTP -------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def send(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    chunks: list[bytes] | None = None,
) -> Answer:
    """One request as written: the path is not normalized, headers go out as they are."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        headers = dict(headers or {})
        if chunks is not None:
            headers["Transfer-Encoding"] = "chunked"
        elif not any(name.lower() == "content-length" for name in headers):
            headers["Content-Length"] = str(len(body))
        for name, value in headers.items():
            connection.putheader(name, value.encode("latin-1"))
        try:
            connection.endheaders()
            if chunks is not None:
                for chunk in chunks:
                    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                connection.send(b"0\r\n\r\n")
            elif body:
                connection.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413) and close before reading everything
        response = connection.getresponse()
        return Answer(response.status, response.getheader("Content-Type") or "", response.read())
    finally:
        connection.close()


# --- the corpus -----------------------------------------------------------------------


@dataclass
class Case:
    id: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    keyword: str = ""
    method: str = "POST"
    status: int | None = None
    chunks: list[bytes] | None = None
    bug: str | None = None

    def param(self) -> object:
        marks = [pytest.mark.xfail(strict=True, reason=f"product bug: {self.bug}")] if self.bug else []
        return pytest.param(self, id=self.id, marks=marks)


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


def npy_header(shape: tuple[int, ...], payload: bytes = b"\0" * 48) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return out.getvalue() + payload


def long_npy_header() -> bytes:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 6), }".ljust(19_989) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + np.ones(6).tobytes()


def csv_of_size(size: int) -> bytes:
    """Valid CSV rows of exactly `size` bytes (the last value padded with leading zeros)."""
    row = b"1,2,3,4,5,6\n"
    rows = size // len(row)
    body = row * rows
    pad = size - len(body)
    return body[:-1] + b"0" * pad + b"\n" if pad else body


def invocation_cases(path: str, extra_headers: dict[str, str]) -> list[Case]:
    """Bad bodies, types and Accept headers: the same for /invocations and /models/<name>/invoke."""

    def case(id: str, body: bytes, headers: dict[str, str], keyword: str, **kw: object) -> Case:
        return Case(id, path, body, {**headers, **extra_headers}, keyword, **kw)  # type: ignore[arg-type]

    ones = np.ones((2, 6))
    # Thousands of types, within gunicorn's limit of 8190 bytes for a header line.
    thousands = ",".join(f"a/{i}" for i in range(1200))
    return [
        # CSV
        case("csv-header-row", b"a,b,c,d,e,f\n" + GOOD_ROW, CSV, "header", status=400),
        case("csv-ragged-rows", GOOD_ROW + b"\n1,2", CSV, "row 2", status=400),
        case("csv-blank-line", GOOD_ROW + b"\n\n" + GOOD_ROW, CSV, "empty", status=400),
        case("csv-blank-line-crlf", GOOD_ROW + b"\r\n\r\n" + GOOD_ROW, CSV, "empty", status=400),
        case("csv-unbalanced-quote", b'"1,2,3,4,5,6', CSV, "not a number", status=400),
        case("csv-quoted-newline", b'"1\n",2,3,4,5,6', CSV, "row", status=400),
        case("csv-cr-line-ends", GOOD_ROW + b"\r" + GOOD_ROW, CSV, "new-line", status=400),
        case("csv-inf", b"inf,2,3,4,5,6", CSV, "infinity", status=400),
        case("csv-huge-number", b"1e400,2,3,4,5,6", CSV, "infinity", status=400),
        case("csv-beyond-float32", b"1e300,2,3,4,5,6", CSV, "too large", status=400),
        case("csv-nul-byte", b"1,2,3,4,5,\x006", CSV, "NUL", status=400),
        case("csv-not-utf8", b"1,2,3,4,5,\xe96", CSV, "utf-8", status=400),
        case("csv-utf16-declared-utf8", "1,2,3,4,5,6".encode("utf-16"), CSV, "utf-8", status=400),
        case(
            "csv-unknown-charset",
            GOOD_ROW,
            {"Content-Type": "text/csv; charset=bogus"},
            "charset",
            status=415,
        ),
        case("csv-codec-not-a-charset", GOOD_ROW, {"Content-Type": "text/csv; charset=base64"}, "charset"),
        case("csv-five-features", b"1,2,3,4,5", CSV, "6 features", status=400),
        case("csv-300000-columns", b",".join([b"1"] * 300_000), CSV, "6 features", status=400),
        case("csv-empty-cell", b"1,,3,4,5,6", CSV, "column 2", status=400),
        case("csv-trailing-comma", GOOD_ROW + b",", CSV, "column 7", status=400),
        case("csv-semicolons", b"1;2;3;4;5;6", CSV, "not a number", status=400),
        case("csv-hex", b"0x1,2,3,4,5,6", CSV, "not a number", status=400),
        case("csv-empty-body", b"", CSV, "empty", status=400),
        case("csv-whitespace-body", b" \n\t \n", CSV, "empty", status=400),
        case(
            "csv-underscore-number",
            b"1,1_0,3,4,5,6",
            CSV,
            "column 2",
        ),
        # JSON
        case("json-invalid", b"{{", JSON_CT, "invalid JSON", status=400),
        case("json-truncated", b"[[1,2,3", JSON_CT, "invalid JSON", status=400),
        case("json-ragged", b"[[1,2,3,4,5,6],[1]]", JSON_CT, "row 2", status=400),
        case("json-3d", b"[[[1,2,3,4,5,6]]]", JSON_CT, "not a number", status=400),
        case("json-nested-100000", b"[" * 100_000 + b"]" * 100_000, JSON_CT, "nested too deeply", status=400),
        case("json-string", b'"1,2,3"', JSON_CT, "list of rows", status=400),
        case("json-null", b"null", JSON_CT, "list of rows", status=400),
        case("json-number", b"5", JSON_CT, "list of rows", status=400),
        case("json-object-without-instances", b'{"rows": [[1]]}', JSON_CT, "instances", status=400),
        case("json-instances-null", b'{"instances": null}', JSON_CT, "list of rows", status=400),
        case("json-empty-list", b"[]", JSON_CT, "no rows", status=400),
        case("json-empty-row", b"[[]]", JSON_CT, "no values", status=400),
        case("json-bools", b"[true,false,true,true,true,true]", JSON_CT, "bool", status=400),
        case("json-dict-rows", b'[{"a": 1}]', JSON_CT, "dict", status=400),
        case("json-features-not-a-list", b'[{"features": 5}]', JSON_CT, "int", status=400),
        case("json-infinity", b"[Infinity,1,2,3,4,5]", JSON_CT, "infinity", status=400),
        case("json-utf16-without-charset", "[[1,2,3,4,5,6]]".encode("utf-16"), JSON_CT, "utf-8", status=400),
        case(
            "json-integer-beyond-float",
            b"[1" + b"0" * 400 + b",2,3,4,5,6]",
            JSON_CT,
            "number",
        ),
        case(
            "json-integer-over-4300-digits",
            b"[1" + b"0" * 5000 + b",2,3,4,5,6]",
            JSON_CT,
            "number",
        ),
        # JSON Lines
        case("jsonl-blank-line", b"[1,2,3,4,5,6]\n\n[1,2,3,4,5,6]", JSONL, "row 2 is empty", status=400),
        case("jsonl-invalid-line", b"[1,2,3,4,5,6]\n[1,2", JSONL, "not valid JSON", status=400),
        case("jsonl-number-rows", b"5\n6", JSONL, "row 1", status=400),
        case("jsonl-nested-100000", b"[" * 100_000 + b"]" * 100_000, JSONL, "nested too deeply", status=400),
        case(
            "jsonl-integer-beyond-float",
            b"[1" + b"0" * 400 + b",2,3,4,5,6]",
            JSONL,
            "number",
        ),
        # NPY
        case("npy-truncated", npy(ones)[:-5], NPY, "npy", status=400),
        case("npy-header-only", npy(ones)[:20], NPY, "npy", status=400),
        case("npy-magic-only", b"\x93NUMPY", NPY, "npy", status=400),
        case("npy-pickled-objects", npy(np.array([{"a": 1}], dtype=object), True), NPY, "pickle", status=400),
        case("npy-raw-pickle", pickle.dumps([[1.0] * 6]), NPY, "header", status=400),
        case("npy-npz-archive", _npz(), NPY, "npz", status=400),
        case("npy-3d", npy(np.ones((2, 3, 6))), NPY, "2-D", status=400),
        case("npy-0d", npy(np.array(5.0)), NPY, "2-D", status=400),
        case("npy-no-rows", npy(np.ones((0, 6))), NPY, "shape", status=400),
        case("npy-no-columns", npy(np.ones((2, 0))), NPY, "features", status=400),
        case("npy-strings", npy(np.array(["a"] * 6)), NPY, "numeric", status=400),
        case("npy-complex", npy(np.ones(6, dtype=complex)), NPY, "numeric", status=400),
        case("npy-five-features", npy(np.ones((1, 5))), NPY, "6 features", status=400),
        case("npy-negative-shape", npy_header((-1, 6)), NPY, "negative", status=400),
        case(
            "npy-header-claims-10e12-rows",
            npy_header((10**12, 6)),
            NPY,
            "shape",
        ),
        case(
            "npy-header-unbalanced-bracket",
            b"\x93NUMPY\x01\x00\x02\x00(\n",
            NPY,
            "header",
        ),
        case(
            "npy-header-over-10000-bytes",
            long_npy_header(),
            NPY,
            "header",
        ),
        # Content types
        case("ct-text-plain", GOOD_ROW, {"Content-Type": "text/plain"}, "text/plain", status=415),
        case("ct-image-png", GOOD_ROW, {"Content-Type": "image/png"}, "not supported", status=415),
        case("ct-5000-chars", GOOD_ROW, {"Content-Type": "a/" + "b" * 5000}, "not supported", status=415),
        case("ct-multipart", GOOD_ROW, {"Content-Type": "multipart/form-data; boundary=x"}, "multipart"),
        case("ct-form", b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}, "not supported"),
        case("ct-csv-body-sent-as-npy", GOOD_ROW, NPY, "npy", status=400),
        case("ct-npy-body-sent-as-csv", npy(ones), CSV, "utf-8", status=400),
        case(
            "ct-missing",
            GOOD_ROW,
            {},
            "Content-Type",
        ),
        case(
            "ct-garbage",
            GOOD_ROW,
            {"Content-Type": ";;;"},
            "Content-Type",
        ),
        # Accept
        case("accept-image", GOOD_ROW, {**CSV, "Accept": "image/png"}, "Accept", status=406),
        case("accept-7000-chars", GOOD_ROW, {**CSV, "Accept": "a/" + "b" * 7000}, "Accept", status=406),
        case("accept-q-garbage", GOOD_ROW, {**CSV, "Accept": "text/csv;q=abc"}, "Accept", status=406),
        case("accept-q-2", GOOD_ROW, {**CSV, "Accept": "text/csv;q=2"}, "Accept", status=406),
        case("accept-q-negative", GOOD_ROW, {**CSV, "Accept": "text/csv;q=-1"}, "Accept", status=406),
        case("accept-q-nan", GOOD_ROW, {**CSV, "Accept": "text/csv;q=nan"}, "Accept", status=406),
        case("accept-q-0", GOOD_ROW, {**CSV, "Accept": "text/csv;q=0"}, "Accept", status=406),
        case("accept-commas", GOOD_ROW, {**CSV, "Accept": ",,,"}, "Accept", status=406),
        case("accept-semicolons", GOOD_ROW, {**CSV, "Accept": ";;;"}, "Accept", status=406),
        case("accept-1200-types", GOOD_ROW, {**CSV, "Accept": thousands}, "Accept", status=406),
        case(
            "accept-4000-types",
            GOOD_ROW,
            {**CSV, "Accept": ",".join(f"a/{i}" for i in range(4000))},
            "header",
        ),
        case(
            "accept-anything-but-q-0",
            GOOD_ROW,
            {**CSV, "Accept": "*/*;q=0"},
            "Accept",
        ),
        # Payload size (SAGEMAKER_MAX_PAYLOAD_IN_MB=1)
        case("body-1-byte-over-limit", csv_of_size(MB + 1), CSV, "SAGEMAKER_MAX_PAYLOAD_IN_MB", status=413),
        case("body-1mb-over-limit", csv_of_size(2 * MB), CSV, "SAGEMAKER_MAX_PAYLOAD_IN_MB", status=413),
        case(
            "content-length-claims-1tb",
            GOOD_ROW,
            {**CSV, "Content-Length": str(10**12)},
            "SAGEMAKER_MAX_PAYLOAD_IN_MB",
            status=413,
        ),
        case(
            "chunked-over-limit",
            b"",
            CSV,
            "SAGEMAKER_MAX_PAYLOAD_IN_MB",
            chunks=[b"1,2,3,4,5,6\n" * 1000] * 100,
        ),
        case(
            "chunked-over-limit-on-row-boundary",
            b"",
            {**CSV, "Accept": "text/csv"},
            "SAGEMAKER_MAX_PAYLOAD_IN_MB",
            chunks=[b"1,2,3,4,5,6.000\n" * 1000] * 70,
        ),
    ]


def _npz() -> bytes:
    out = io.BytesIO()
    np.savez(out, rows=np.ones((2, 6)))
    return out.getvalue()


def target_cases(path: str) -> list[Case]:
    """Bad X-Amzn-SageMaker-Target-Model names on /invocations."""

    def case(id: str, name: str, keyword: str, status: int | None = 400, bug: str | None = None) -> Case:
        return Case(id, path, GOOD_ROW, {**CSV, TARGET: name}, keyword, status=status, bug=bug)

    return [
        case("target-dotdot", "..", "relative name"),
        case("target-dotdot-slash", "../model", "relative name"),
        case("target-dotdot-deep", "alpha/../../outside", "relative name"),
        case("target-absolute", "/etc/passwd", "relative name"),
        case("target-absolute-model-root", "/tmp", "relative name"),
        case("target-url-encoded-traversal", "..%2F..%2Fetc%2Fpasswd", "relative name"),
        case("target-url-encoded-dots", "%2e%2e/outside", "relative name"),
        case("target-url-encoded-absolute", "%2Fetc%2Fpasswd", "relative name"),
        case("target-symlink-out", "escape", "outside the model directories"),
        case("target-through-symlink-out", "escape/model", "outside the model directories"),
        case("target-2000-chars", "a" * 2000, "1024"),
        case("target-nul", "a%00b", "forbidden character"),
        case("target-backslash", "..\\..\\etc", "forbidden character"),
        case("target-missing", "no-such-model", "not found", status=404),
        case("target-a-file", "alpha/model/model.joblib", "neither a model directory"),
        case("target-archive-symlink-out", "escape.tar.gz", "outside the model directories"),
        case("target-archive-garbage", "garbage.tar.gz", "cannot be read"),
        case("target-archive-truncated", "truncated.tar.gz", "cannot be read"),
        case("target-archive-traversal", "traversal.tar.gz", "unsafe path"),
        case("target-archive-symlink-member", "link.tar.gz", "link"),
        case("target-archive-not-a-model", "not-a-model.tar.gz", "failed to load"),
        case(
            "target-300-chars",
            "a" * 300,
            "name",
        ),
        case(
            "target-1024-chars",
            "a" * 1024,
            "name",
        ),
    ]


SINGLE_CASES = [
    *invocation_cases("/invocations", {}),
    *target_cases("/invocations"),
    Case("get-invocations", "/invocations", method="GET", keyword="method", status=405),
    Case("unknown-route", "/predict", GOOD_ROW, CSV, keyword="not found", status=404),
    Case("models-api-in-single-mode", "/models", method="GET", keyword="not found", status=404),
]


def multi_cases() -> list[Case]:
    def load(id: str, body: object, keyword: str, status: int | None = 400, bug: str | None = None) -> Case:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return Case(id, "/models", raw, JSON_CT, keyword, status=status, bug=bug)

    def invoke(id: str, name: str, keyword: str, status: int | None = 404) -> Case:
        return Case(id, f"/models/{name}/invoke", GOOD_ROW, CSV, keyword, status=status)

    # multi-model-server's words for a load url it will not serve from.
    RELATIVE = "Relative path is not allowed in url"
    # Placeholders: {base} becomes the server's tmp tree in the test.
    return [
        *invocation_cases("/models/alpha/invoke", {}),
        *target_cases("/invocations"),
        Case("invocations-without-target", "/invocations", GOOD_ROW, CSV, TARGET, status=400),
        # /models/<name>/invoke with names that try to leave
        invoke("invoke-dotdot", "..", "Model not found"),
        invoke("invoke-encoded-dotdot", "%2e%2e", "Model not found"),
        invoke("invoke-encoded-traversal", "..%2F..%2Fetc", "not found"),
        invoke("invoke-encoded-slash", "alpha%2F..%2Falpha", "not found"),
        invoke("invoke-symlink-out", "escape", "Model not found"),
        invoke("invoke-absolute", quote("/etc/passwd", safe=""), "not found"),
        invoke("invoke-2000-chars", "a" * 2000, "Model not found"),
        invoke("invoke-nul", "a%00b", "Model not found"),
        Case("describe-unknown", "/models/nope", method="GET", keyword="Model not found", status=404),
        Case("describe-dotdot", "/models/%2e%2e", method="GET", keyword="Model not found", status=404),
        Case("unload-unknown", "/models/nope", method="DELETE", keyword="Model not found", status=404),
        Case("unload-dotdot", "/models/..", method="DELETE", keyword="Model not found", status=404),
        # POST /models
        load("load-url-etc", {"model_name": "x", "url": "/etc"}, "outside the model directories", 404),
        load("load-url-outside", {"model_name": "x", "url": "{base}/outside/model"}, "outside", 404),
        load("load-url-dotdot", {"model_name": "x", "url": "{base}/models/../outside/model"}, RELATIVE, 404),
        load(
            "load-url-encoded-dotdot",
            {"model_name": "x", "url": "{base}/models/%2e%2e/outside"},
            RELATIVE,
            404,
        ),
        load("load-url-relative-dotdot", {"model_name": "x", "url": "../outside/model"}, RELATIVE, 404),
        load("load-url-symlink-out", {"model_name": "x", "url": "{base}/models/escape"}, "outside", 404),
        load("load-url-relative-symlink-out", {"model_name": "x", "url": "escape/model"}, "outside", 404),
        load(
            "load-url-missing",
            {"model_name": "x", "url": "{base}/models/nope"},
            "not found in model store",
            404,
        ),
        load("load-url-2000-chars", {"model_name": "x", "url": "a" * 2000}, "long"),
        load(
            "load-url-a-file", {"model_name": "x", "url": "{base}/models/alpha/model/model.joblib"}, "neither"
        ),
        load("load-url-models-root", {"model_name": "x", "url": "{base}/models"}, "no model file"),
        load("load-url-not-a-string", {"model_name": "x", "url": 5}, "non-empty strings"),
        load("load-name-slash", {"model_name": "a/b", "url": "{base}/models/alpha"}, "'/'"),
        load("load-name-2000-chars", {"model_name": "a" * 2000, "url": "{base}/models/alpha"}, "1024"),
        load(
            "load-name-taken",
            {"model_name": "alpha", "url": "{base}/models/alpha"},
            "already registered",
            409,
        ),
        load("load-not-json", b"{{", "JSON"),
        load("load-json-list", b"[1, 2]", "JSON"),
        load("load-empty-body", b"", "model_name"),
        Case(
            "load-over-limit", "/models", b" " * (MB + 1), JSON_CT, "SAGEMAKER_MAX_PAYLOAD_IN_MB", status=413
        ),
        load(
            "load-url-300-chars",
            {"model_name": "x", "url": "a" * 300},
            "url",
        ),
        load(
            "load-url-absolute-300-chars",
            {"model_name": "x", "url": "{base}/models/" + "a" * 300},
            "url",
        ),
        load(
            "load-url-nul",
            {"model_name": "x", "url": "{base}/models/al\u0000pha"},
            "url",
        ),
        load(
            "load-name-dotdot",
            {"model_name": "..", "url": "{base}/models/alpha"},
            "model_name",
        ),
        load(
            "load-name-nul",
            {"model_name": "a\u0000", "url": "{base}/models/alpha"},
            "model_name",
        ),
        # GET /models
        Case("list-limit-0", "/models?limit=0", method="GET", keyword="limit", status=400),
        Case("list-limit-word", "/models?limit=ten", method="GET", keyword="limit", status=400),
        Case("list-limit-1001", "/models?limit=1001", method="GET", keyword="limit", status=400),
        Case(
            "list-token-word",
            "/models?next_page_token=x",
            method="GET",
            keyword="next_page_token",
            status=400,
        ),
        Case("list-token-negative", "/models?next_page_token=-1", method="GET", keyword="next_page_token"),
        Case("list-token-past-end", "/models?next_page_token=99", method="GET", keyword="next_page_token"),
        Case(
            "list-limit-superscript-two",
            "/models?limit=%C2%B2",
            method="GET",
            keyword="limit",
        ),
        Case(
            "request-line-over-4094-bytes",
            "/models/" + "a" * 5000,
            method="GET",
            keyword="long",
        ),
    ]


MULTI_CASES = multi_cases()


# --- the checks -----------------------------------------------------------------------


def _expand(case: Case, base: Path) -> Case:
    body = case.body.replace(b"{base}", json.dumps(str(base))[1:-1].encode())
    return Case(**{**case.__dict__, "body": body})


def check_case(server: Server, case: Case) -> None:
    case = _expand(case, server.base)
    before = server.workers()
    answer = send(server.url, case.method, case.path, case.body, case.headers, case.chunks)
    shown = f"{case.method} {case.path[:80]} -> {answer.status} {answer.content_type} {answer.body[:300]!r}"

    assert 400 <= answer.status < 500, shown
    if case.status is not None:
        assert answer.status == case.status, shown
    assert answer.content_type.startswith("application/json"), shown
    error = answer.json()
    assert isinstance(error, dict) and {"error", "message"} <= set(error), shown
    assert isinstance(error["error"], str) and error["error"], shown
    assert isinstance(error["message"], str) and error["message"], shown
    assert case.keyword.lower() in error["message"].lower(), f"{case.keyword!r} not in the message: {shown}"

    method, path, body, headers = server.good
    good = send(server.url, method, path, body, headers)
    assert good.status == 200, f"the next good request: {good.status} {good.body[:300]!r}"
    assert server.process.poll() is None, "serve exited"
    assert server.workers() == before, "a worker process was replaced"


@pytest.mark.parametrize("case", [case.param() for case in SINGLE_CASES])
def test_single_model(single: Server, case: Case) -> None:
    check_case(single, case)


@pytest.mark.parametrize("case", [case.param() for case in MULTI_CASES])
def test_multi_model(multi: Server, case: Case) -> None:
    try:
        check_case(multi, case)
    finally:
        # A case that loaded a model by mistake must not change the ones after it.
        listed = send(multi.url, "GET", "/models?limit=1000")
        # A failed listing must not hide the failure of the case itself.
        for model in json.loads(listed.body)["models"] if listed.status == 200 else []:
            if model["modelName"] != "alpha":
                send(multi.url, "DELETE", "/models/" + quote(model["modelName"], safe=""))


def test_body_exactly_at_the_limit_is_served(single: Server) -> None:
    body = csv_of_size(MB)
    assert len(body) == MB
    answer = send(single.url, "POST", "/invocations", body, {**CSV, "Accept": "text/csv"})
    assert answer.status == 200, answer.body[:300]
    assert len(answer.body.split(b"\n")) == body.count(b"\n")


def test_chunked_body_under_the_limit_is_served(single: Server) -> None:
    chunks = [b"1,2,3,4,5,6\n" * 1000] * 10
    answer = send(single.url, "POST", "/invocations", headers={**CSV, "Accept": "text/csv"}, chunks=chunks)
    assert answer.status == 200, answer.body[:300]
    assert len(answer.body.split(b"\n")) == 10_000


@pytest.mark.parametrize("server", ["single", "multi"])
def test_target_model_inside_the_root_is_served(request: pytest.FixtureRequest, server: str) -> None:
    """The good twin of the target cases: the refusals above are not refusing everything."""
    running: Server = request.getfixturevalue(server)
    answer = send(running.url, "POST", "/invocations", GOOD_ROW, {**CSV, TARGET: "alpha"})
    assert answer.status == 200, answer.body[:300]
