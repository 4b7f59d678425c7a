"""Request bodies to the model's own table: a pandas DataFrame with its columns, or texts.

For models that know their columns (see `schema`). Every shape clients send
comes down to rows, either records (column name → value) or lists in the model's
column order, and then to one column per name with the type the model takes:
numbers (empty or null is NaN, a missing value) or strings. Anything a client can get
wrong is a BadRequest that names the row, the column and the value.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from serving.codecs.columns import Columns
from serving.codecs.content_types import CSV, JSON, JSONLINES, NPY, MediaType
from serving.codecs.decoder import decode_npy, decode_text, json_document
from serving.codecs.schema import NUMBER, STRING, Schema
from serving.errors import BadRequest, UnsupportedMediaType

Row = list[Any] | dict[str, Any]


# --- rows to a DataFrame ----------------------------------------------------------------


def _number(value: Any, row: int, column: str) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        raise BadRequest(f"row {row}, column {column!r}: {json.dumps(value)} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        shown = value[:50] if isinstance(value, str) else json.dumps(value)[:50]
        raise BadRequest(f"row {row}, column {column!r}: {shown!r} is not a number") from None


def _string(value: Any) -> Any:
    if value is None or value == "":
        return np.nan
    return value if isinstance(value, str) else json.dumps(value)


def _column(values: list[Any], kind: str, name: str) -> np.ndarray:
    if kind == NUMBER:
        return np.array([_number(v, row, name) for row, v in enumerate(values, start=1)], dtype=np.float64)
    if kind == STRING:
        return np.array([_string(v) for v in values], dtype=object)
    # Nothing in the model says: numbers if every value is one, else strings.
    try:
        return np.array([_number(v, 1, name) for v in values], dtype=np.float64)
    except BadRequest:
        return np.array([_string(v) for v in values], dtype=object)


def _columns_of(rows: list[Row], schema: Schema, header: list[str] | None) -> dict[str, list[Any]]:
    """Values per model column, from records or from positional rows."""
    names = schema.names
    if header is None and any(isinstance(row, dict) for row in rows):
        # Records, or (JSON Lines) records and rows mixed: rows take the model's order.
        rows = [dict(zip(names, row, strict=False)) if isinstance(row, list) else row for row in rows]
    if rows and all(isinstance(row, dict) for row in rows):
        keys: dict[str, None] = {}
        for row in rows:
            keys.update(dict.fromkeys(row))  # type: ignore[arg-type]
        _check_names(list(keys), schema, "records")
        return {name: [row.get(name) for row in rows] for name in names}  # type: ignore[union-attr]
    order = header if header is not None else list(names)
    if header is not None:
        _check_names(header, schema, "the header")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            raise BadRequest(
                f"row {number} is a {type(row).__name__}; send records (objects) or lists of values"
            )
        if len(row) != len(order):
            raise BadRequest(
                f"row {number} has {len(row)} values; the model takes {len(order)} columns: "
                + ", ".join(order)
            )
    by_position = {name: [row[i] for row in rows] for i, name in enumerate(order)}  # type: ignore[index]
    return {name: by_position[name] for name in names}


def _check_names(sent: list[str], schema: Schema, where: str) -> None:
    expected = set(schema.names)
    missing = [name for name in schema.names if name not in sent]
    extra = [name for name in sent if name not in expected]
    if missing:
        raise BadRequest(
            f"{where} lack the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            f"; the model takes {', '.join(schema.names)}"
        )
    if extra:
        raise BadRequest(
            f"{where} have the unknown column{'s' if len(extra) > 1 else ''} {', '.join(map(str, extra))}"
            f"; the model takes {', '.join(schema.names)}"
        )


def to_columns(rows: list[Row], schema: Schema, header: list[str] | None = None) -> Columns:
    if not rows:
        raise BadRequest("the input has no rows")
    values = _columns_of(rows, schema, header)
    columns = {
        name: _column(values[name], kind, name) for name, kind in zip(schema.names, schema.kinds, strict=True)
    }
    return Columns(columns)


# --- content types to rows --------------------------------------------------------------


def _csv_rows(text: str) -> list[list[str]]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise BadRequest(f"the CSV body cannot be parsed: {exc}") from None
    for number, row in enumerate(rows, start=1):
        if not row:
            raise BadRequest(f"CSV row {number} is empty; send one record per line with no blank lines")
    return rows


def _csv(text: str, media_type: MediaType, schema: Schema) -> Columns:
    rows = _csv_rows(text)
    declared = media_type.header or ""
    # RFC 4180's parameter, or a first line that is exactly the model's column names.
    if declared == "present" or (declared != "absent" and rows and set(rows[0]) == set(schema.names)):
        return to_columns(rows[1:], schema, header=[name.strip() for name in rows[0]])  # type: ignore[arg-type]
    return to_columns(rows, schema)  # type: ignore[arg-type]


ENVELOPES = ("instances", "inputs", "dataframe_records")


def _json_rows(document: Any) -> tuple[list[Row], list[str] | None]:
    """Records or rows, and the column names a columns/data document gives them."""
    if isinstance(document, dict):
        split = document.get("dataframe_split", document)
        if isinstance(split, dict) and "columns" in split and "data" in split:
            if not isinstance(split["columns"], list) or not isinstance(split["data"], list):
                raise BadRequest('"columns" and "data" must be lists')
            return split["data"], [str(name) for name in split["columns"]]
        for key in ENVELOPES:
            if key in document:
                return _json_rows(document[key])
        return [document], None  # one record
    if not isinstance(document, list):
        raise BadRequest(f"expected a JSON list of records or rows, got {type(document).__name__}")
    if document and not isinstance(document[0], (list, dict)):
        return [document], None  # one row of values
    return document, None


def _json(text: str, schema: Schema) -> Columns:
    rows, header = _json_rows(json_document(text))
    return to_columns(rows, schema, header)


def _jsonlines(text: str, schema: Schema) -> Columns:
    rows = [json_document(line, f"JSON Lines row {n}") for n, line in enumerate(_lines(text), start=1)]
    return to_columns(rows, schema)


def _lines(text: str) -> list[str]:
    lines = text.rstrip("\r\n").split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise BadRequest(f"row {number} is empty; send one record per line with no blank lines")
    return [line.rstrip("\r") for line in lines]


# --- texts, for a Pipeline that starts with a vectorizer ---------------------------------


def _texts(values: list[Any]) -> list[str]:
    if not values:
        raise BadRequest("the input has no texts")
    for number, value in enumerate(values, start=1):
        if not isinstance(value, str):
            raise BadRequest(f"text {number} is a {type(value).__name__}; send one string per row")
    return values


def _texts_from_json(document: Any) -> list[Any]:
    if isinstance(document, dict):
        for key in ("instances", "inputs"):
            if key in document:
                return _texts_from_json(document[key])
    return document if isinstance(document, list) else [document]


def decode_texts(text: str, media_type: MediaType) -> list[str]:
    if media_type.type == CSV:
        # A line is one text; a line in quotes may hold commas and quotes of its own.
        return _texts([row[0] if len(row) == 1 else ",".join(row) for row in _csv_rows(text)])
    if media_type.type == JSON:
        return _texts(_texts_from_json(json_document(text)))
    return _texts(
        [json_document(line, f"JSON Lines row {n}") for n, line in enumerate(_lines(text), start=1)]
    )


def decode_rows(body: bytes, media_type: MediaType) -> list[list[str]]:
    """CSV rows of strings, as a label-encoding stage reads the previous stage's answer."""
    if media_type.type != CSV:
        raise UnsupportedMediaType(f"content type {media_type.type!r} is not supported here; send text/csv")
    if not body.strip():
        raise BadRequest("the request body is empty; send at least one row")
    return _csv_rows(decode_text(body, media_type))


TABLES: dict[str, Callable[[str, MediaType, Schema], Columns]] = {
    CSV: _csv,
    JSON: lambda text, _media, schema: _json(text, schema),
    JSONLINES: lambda text, _media, schema: _jsonlines(text, schema),
}


def _numbers(body: bytes, media_type: MediaType, schema: Schema) -> Columns:
    """An npy array stays numbers: its columns are the model's, in order."""
    array = decode_npy(body, media_type)
    if schema.text or array.shape[1] != len(schema.names):
        raise BadRequest(
            f"the npy array has {array.shape[1]} columns; the model takes {len(schema.names)}: "
            + ", ".join(schema.names)
        )
    return Columns({name: array[:, i] for i, name in enumerate(schema.names)})


def decode(
    body: bytes, media_type: MediaType, schema: Schema, columnar: bool = False
) -> pd.DataFrame | Columns | list[str]:
    """The body as the model's DataFrame (or its texts); `columnar`: as `Columns` instead."""
    table = _table(body, media_type, schema)
    if columnar or not isinstance(table, Columns):
        return table
    return table.frame()


def _table(body: bytes, media_type: MediaType, schema: Schema) -> Columns | list[str]:
    if media_type.type == NPY:
        return _numbers(body, media_type, schema)
    if media_type.type not in TABLES:
        raise UnsupportedMediaType(
            f"content type {media_type.type!r} is not supported for a model of named columns; "
            f"send one of: {', '.join((*TABLES, NPY))}"
        )
    if not body.strip():
        raise BadRequest("the request body is empty; send at least one row")
    text = decode_text(body, media_type)
    if "\x00" in text:
        raise BadRequest("the body contains a NUL byte")
    if schema.text:
        return decode_texts(text, media_type)
    return TABLES[media_type.type](text, media_type, schema)
