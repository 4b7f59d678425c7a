"""Request bodies to 2-D numpy arrays: one decoder per content type.

Every decoder returns a two-dimensional array with one row per record, so a single
CSV line or JSON row is a batch of one, never a 1-D vector the model rejects.
Everything a client can get wrong is a `BadRequest` that names the row and column.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from serving.codecs import recordio
from serving.codecs.content_types import CSV, JSON, JSONLINES, NPY, RECORDIO, MediaType
from serving.errors import BadRequest, UnsupportedMediaType

Decoder = Callable[[bytes, MediaType], Any]


def decode_text(body: bytes, media_type: MediaType) -> str:
    charset = media_type.charset or "utf-8"
    # A byte-order mark is not part of the first value.
    if charset in ("utf-8", "utf8"):
        charset = "utf-8-sig"
    try:
        return body.decode(charset)
    except LookupError:
        raise UnsupportedMediaType(f"unknown charset {media_type.charset!r}") from None
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the body is not valid {media_type.charset or 'utf-8'} text (bad byte at offset {exc.start})"
        ) from None
    except UnicodeError as exc:  # codecs such as idna and punycode raise the base class
        raise BadRequest(f"the body is not valid {media_type.charset} text: {exc}"[:300]) from None


def _require_body(body: bytes) -> None:
    if not body.strip():
        raise BadRequest("the request body is empty; send at least one row")


# --- CSV -------------------------------------------------------------------------------


# Digits, signs, points and exponents only: no spaces, underscores, quotes, words or line breaks.
PLAIN_ROW = re.compile(r"[0-9eE.+\-]+(?:,[0-9eE.+\-]+)*")


def decode_csv(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    text = decode_text(body, media_type).rstrip("\r\n")
    if not text.strip():  # a byte-order mark and nothing else
        raise BadRequest("the request body is empty; send at least one row")
    if "\x00" in text:
        raise BadRequest("the CSV body contains a NUL byte")
    if PLAIN_ROW.fullmatch(text):
        # One row of plain decimal numbers, the common real-time request: Python's float()
        # reads these exactly as numpy's parser does, at a tenth of loadtxt's cost.
        try:
            return np.array([[float(cell) for cell in text.split(",")]])
        except ValueError:
            pass  # loadtxt below says what is wrong
    try:
        rows = np.loadtxt(
            io.StringIO(text),
            delimiter=",",
            dtype=np.float64,
            ndmin=2,
            quotechar='"',
            comments=None,
        )
    except ValueError:
        raise _csv_problem(text) from None
    # loadtxt skips blank lines; a batch transform needs one answer per input line,
    # so a blank line in the middle is an error, not something to drop silently.
    if rows.shape[0] != text.count("\n") + 1:
        raise _csv_problem(text)
    return rows


def _is_csv_number(cell: str) -> bool:
    """The same test the fast path applies (numpy's parser, which refuses '1_0' and '0x10')."""
    if not cell.strip():
        return False
    try:
        np.loadtxt(io.StringIO(cell), dtype=np.float64, ndmin=1, comments=None, quotechar='"')
    except ValueError:
        return False
    return "\n" not in cell


def _csv_rows(text: str) -> Iterator[list[str]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            raise BadRequest(f"CSV row {number} is empty; send one record per line with no blank lines")
        try:
            yield next(csv.reader([line.rstrip("\r")]))
        except csv.Error as exc:
            raise BadRequest(f"CSV row {number} cannot be parsed: {exc}") from None


def _csv_cell_problem(cell: str, row: int) -> str | None:
    if _is_csv_number(cell):
        return None
    hint = " (CSV input must be numbers only, with no header row)" if row == 1 else ""
    return f"{cell[:50]!r} is not a number{hint}"


def _first_problem(
    rows: Iterable[list[Any]], source: str, unit: str, cell_problem: Callable[[Any, int], str | None]
) -> BadRequest:
    """The first row or cell that is not a number in a rectangle, named 1-based."""
    width = None
    for number, cells in enumerate(rows, start=1):
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            return BadRequest(f"{source} row {number} has {len(cells)} {unit}, but row 1 has {width}")
        for column, cell in enumerate(cells, start=1):
            problem = cell_problem(cell, number)
            if problem is not None:
                return BadRequest(f"{source} row {number}, column {column}: {problem}")
    return BadRequest(f"the {source} input could not be read as rows of numbers")


def _csv_problem(text: str) -> BadRequest:
    return _first_problem(_csv_rows(text), "CSV", "columns", _csv_cell_problem)


# --- JSON ------------------------------------------------------------------------------


def _rows_from_json(document: Any) -> list[Any]:
    """Accept the shapes clients send: rows, one row, or an envelope around rows."""
    if isinstance(document, dict):
        for key in ("instances", "inputs"):
            if key in document:
                document = document[key]
                break
        else:
            keys = ", ".join(repr(key[:40]) for key in sorted(document)[:5])
            raise BadRequest(f'a JSON object body must have an "instances" or "inputs" list; got keys {keys}')
    if not isinstance(document, list):
        raise BadRequest(f"expected a JSON list of rows, got {type(document).__name__}")
    if not document:
        raise BadRequest("the JSON input has no rows")
    if all(_is_number(value) for value in document):
        return [document]
    # SageMaker's built-in algorithms send {"features": [...]} per instance.
    return [row["features"] if isinstance(row, dict) and "features" in row else row for row in document]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fits_float(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def json_document(text: str, where: str = "") -> Any:
    """json.loads, with every way it fails as a BadRequest; `where` names a JSON Lines row."""
    problem = f"{where} is not valid JSON" if where else "invalid JSON"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"{problem}: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise BadRequest(f"{problem}: nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts
        raise BadRequest(f"{problem}: a number has too many digits") from None


def rows_to_array(rows: list[Any], source: str) -> np.ndarray:
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        raise _rows_problem(rows, source) from None
    if array.ndim != 2:
        raise _rows_problem(rows, source)
    if array.shape[1] == 0:
        raise BadRequest(f"the {source} rows have no values")
    return array


def _json_rows(rows: list[Any], source: str) -> Iterator[list[Any]]:
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            raise BadRequest(f"{source} row {number} is a {type(row).__name__}, expected a list of numbers")
        yield row


def _json_cell_problem(value: Any, _row: int) -> str | None:
    if not _is_number(value):
        return f"{json.dumps(value)[:50]} is not a number"
    if isinstance(value, int) and not _fits_float(value):
        return "the number is too large"
    return None


def _rows_problem(rows: list[Any], source: str) -> BadRequest:
    return _first_problem(_json_rows(rows, source), source, "values", _json_cell_problem)


def decode_json(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    document = json_document(decode_text(body, media_type))
    return rows_to_array(_rows_from_json(document), "JSON")


def decode_jsonlines(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    lines = decode_text(body, media_type).rstrip("\r\n").split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise BadRequest(f"JSON Lines row {number} is empty")
        row = json_document(line, f"JSON Lines row {number}")
        if isinstance(row, dict) and "features" in row:
            row = row["features"]
        rows.append(row)
    return rows_to_array(rows, "JSON Lines")


# --- NPY -------------------------------------------------------------------------------


def _npy_header(body: bytes) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset, read from the header alone: nothing is allocated yet."""
    stream = io.BytesIO(body)
    version = np.lib.format.read_magic(stream)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    # numpy's own bound: a longer header is costly to parse and no real array needs one.
    shape, _, dtype = read(stream, max_header_size=10_000)
    return shape, dtype, stream.tell()


def decode_npy(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    if not body.startswith(b"\x93NUMPY"):
        kind = "an .npz archive" if body.startswith(b"PK") else "data without the .npy header"
        raise BadRequest(f"not a valid .npy array: got {kind}")
    try:
        shape, dtype, offset = _npy_header(body)
    except Exception as exc:  # whatever numpy makes of a malformed header
        raise BadRequest(
            f"not a valid .npy array: the header cannot be read ({type(exc).__name__})"
        ) from None
    if dtype.hasobject:
        # Never unpickle: an object array in a request would run the sender's code here.
        raise BadRequest("npy arrays of Python objects (pickled data) are refused")
    if dtype.kind not in "biuf":
        raise BadRequest(f"npy arrays must be numeric, got dtype {dtype}")
    if len(shape) not in (1, 2):
        raise BadRequest(f"expected a 1-D or 2-D array of rows, got shape {shape}")
    if any(size < 0 for size in shape):
        raise BadRequest(f"not a valid .npy array: the header's shape {shape} has a negative size")
    expected = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if len(body) - offset < expected:
        raise BadRequest(
            f"not a valid .npy array: the header's shape {shape} needs {expected} bytes of data, "
            f"the body has {len(body) - offset}"
        )
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as exc:
        raise BadRequest(f"not a valid .npy array: {type(exc).__name__}") from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.shape[0] == 0:
        raise BadRequest(f"the npy array has no rows (shape {shape})")
    if array.shape[1] == 0:
        raise BadRequest(f"the npy array's rows have no values (0 features, shape {shape})")
    return array.astype(np.float64, copy=False)


DECODERS: dict[str, Decoder] = {
    CSV: decode_csv,
    JSON: decode_json,
    JSONLINES: decode_jsonlines,
    NPY: decode_npy,
    RECORDIO: lambda body, _media_type: recordio.decode(body),
}


def decode(body: bytes, media_type: MediaType) -> np.ndarray:
    decoder = DECODERS.get(media_type.type)
    if decoder is None:
        raise UnsupportedMediaType(
            f"content type {media_type.type!r} is not supported; send one of: {', '.join(DECODERS)}"
        )
    try:
        return decoder(body, media_type)
    except BadRequest as exc:
        if media_type.assumed:
            # Say why the body was read as this type: the client may not know it sent none.
            raise BadRequest(
                f"no usable Content-Type was sent, so the body was read as {media_type.type}: {exc.message}"
            ) from None
        raise
