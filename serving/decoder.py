"""Request bodies to 2-D numpy arrays: one decoder per content type.

Every decoder returns a two-dimensional array with one row per record, so a single
CSV line or JSON row is a batch of one, never a 1-D vector the model rejects.
Everything a client can get wrong is a `BadRequest` that names the row and column.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from serving.content_types import CSV, JSON, JSONLINES, NPY, MediaType
from serving.errors import BadRequest, UnsupportedMediaType

Decoder = Callable[[bytes, MediaType], np.ndarray]


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


def _require_body(body: bytes) -> None:
    if not body.strip():
        raise BadRequest("the request body is empty; send at least one row")


# --- CSV -------------------------------------------------------------------------------


def decode_csv(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    text = decode_text(body, media_type).rstrip("\r\n")
    if "\x00" in text:
        raise BadRequest("the CSV body contains a NUL byte")
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
        raise BadRequest(_csv_problem(text)) from None
    # loadtxt skips blank lines; a batch transform needs one answer per input line,
    # so a blank line in the middle is an error, not something to drop silently.
    if rows.shape[0] != text.count("\n") + 1:
        raise BadRequest(_csv_problem(text))
    return rows


def _csv_problem(text: str) -> str:
    """Find the first bad cell and say what is wrong with it, 1-based."""
    width = None
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            return f"CSV row {number} is empty; send one record per line with no blank lines"
        try:
            cells = next(csv.reader([line.rstrip("\r")]))
        except csv.Error as exc:
            return f"CSV row {number} cannot be parsed: {exc}"
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            return f"CSV row {number} has {len(cells)} columns, but row 1 has {width}"
        for column, cell in enumerate(cells, start=1):
            try:
                float(cell)
            except ValueError:
                hint = " (CSV input must be numbers only, with no header row)" if number == 1 else ""
                return f"CSV row {number}, column {column}: {cell[:50]!r} is not a number{hint}"
    return "the CSV body could not be parsed as rows of numbers"


# --- JSON ------------------------------------------------------------------------------


def _rows_from_json(document: Any) -> list[Any]:
    """Accept the shapes clients send: rows, one row, or an envelope around rows."""
    if isinstance(document, dict):
        for key in ("instances", "inputs"):
            if key in document:
                document = document[key]
                break
        else:
            raise BadRequest(
                'a JSON object body must have an "instances" or "inputs" list; '
                f"got keys {sorted(document)[:10]}"
            )
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


def rows_to_array(rows: list[Any], source: str) -> np.ndarray:
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError):
        raise BadRequest(_rows_problem(rows, source)) from None
    if array.ndim != 2:
        raise BadRequest(_rows_problem(rows, source))
    if array.shape[1] == 0:
        raise BadRequest(f"the {source} rows have no values")
    return array


def _rows_problem(rows: list[Any], source: str) -> str:
    width = None
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            return f"{source} row {number} is a {type(row).__name__}, expected a list of numbers"
        if width is None:
            width = len(row)
        elif len(row) != width:
            return f"{source} row {number} has {len(row)} values, but row 1 has {width}"
        for column, value in enumerate(row, start=1):
            if not _is_number(value):
                shown = json.dumps(value)[:50]
                return f"{source} row {number}, column {column}: {shown} is not a number"
    return f"the {source} input could not be read as rows of numbers"


def decode_json(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    text = decode_text(body, media_type)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"invalid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise BadRequest("invalid JSON: nested too deeply") from None
    return rows_to_array(_rows_from_json(document), "JSON")


def decode_jsonlines(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    lines = decode_text(body, media_type).rstrip("\r\n").split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise BadRequest(f"JSON Lines row {number} is empty")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"JSON Lines row {number} is not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise BadRequest(f"JSON Lines row {number} is nested too deeply") from None
        if isinstance(row, dict) and "features" in row:
            row = row["features"]
        rows.append(row)
    return rows_to_array(rows, "JSON Lines")


# --- NPY -------------------------------------------------------------------------------


def decode_npy(body: bytes, media_type: MediaType) -> np.ndarray:
    _require_body(body)
    if not body.startswith(b"\x93NUMPY"):
        kind = "an .npz archive" if body.startswith(b"PK") else "data without the .npy header"
        raise BadRequest(f"not a valid .npy array: got {kind}")
    try:
        # Never unpickle: an object array in a request would run the sender's code here.
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise BadRequest("npy arrays of Python objects (pickled data) are refused") from None
        raise BadRequest(f"not a valid .npy array: {exc}") from None
    except (EOFError, OSError) as exc:
        raise BadRequest(f"not a valid .npy array: {exc or 'truncated'}") from None
    if array.dtype.kind not in "biuf":
        raise BadRequest(f"npy arrays must be numeric, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.shape[0] == 0:
        raise BadRequest(f"expected a 2-D array of rows, got shape {array.shape}")
    return array.astype(np.float64, copy=False)


DECODERS: dict[str, Decoder] = {
    CSV: decode_csv,
    JSON: decode_json,
    JSONLINES: decode_jsonlines,
    NPY: decode_npy,
}


def decode(body: bytes, media_type: MediaType) -> np.ndarray:
    decoder = DECODERS.get(media_type.type)
    if decoder is None:
        raise UnsupportedMediaType(
            f"content type {media_type.type!r} is not supported; send one of: {', '.join(DECODERS)}"
        )
    return decoder(body, media_type)
