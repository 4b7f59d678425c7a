"""Writing application/x-recordio-protobuf: rows and predictions as SageMaker's records.

`encode` writes byte for byte what the SageMaker SDK's writer writes; see `recordio` for
the format and for reading it.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from serving.codecs.recordio import _BYTES, _KINDS, _LENGTH_MASK, MAGIC, _uvarint
from serving.errors import NotAcceptable


def _uvarints(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Packed varints and where each value's bytes start, for all rows' keys in one numpy pass."""
    values = np.asarray(values, np.uint64).ravel()
    if not values.size or int(values.max()) < 0x80:
        return values.astype(np.uint8).tobytes(), np.arange(values.size + 1)
    column = np.arange((int(values.max()).bit_length() + 6) // 7)
    groups = (values[:, None] >> (column * 7).astype(np.uint64)).astype(np.uint8) & 0x7F
    count = 1 + (values[:, None] >> (column[1:] * 7).astype(np.uint64) != 0).sum(axis=1)
    groups[column < count[:, None] - 1] |= 0x80
    return groups[column < count[:, None]].tobytes(), np.concatenate(([0], np.cumsum(count)))


def _field(number: int, payload: bytes) -> bytes:
    if len(payload) < 0x80:
        return bytes((number << 3 | 2, len(payload))) + payload
    return _uvarint(number << 3 | 2) + _uvarint(len(payload)) + payload


def _tensor_value(kind: int, values: bytes, keys: bytes = b"", shape: bytes = b"") -> bytes:
    """A Value holding one tensor; empty repeated fields are left out, as protobuf writers do."""
    return _field(kind, b"".join(_field(n, part) for n, part in ((1, values), (2, keys), (3, shape)) if part))


def _entry(map_field: int, key: str, value: bytes) -> bytes:
    return _field(map_field, _field(1, key.encode()) + _field(2, value))


def _header(length: int) -> bytes:
    if length > _LENGTH_MASK:
        raise ValueError(f"a record of {length} bytes is over RecordIO's 512 MiB limit")
    return struct.pack("<II", MAGIC, length)


def _row_records(n: int, entries: list[tuple[int, str, Callable[[int], bytes]]]) -> bytes:
    """One framed Record per row, each entry's Value made for that row: for sparse rows and strings."""
    out = []
    for i in range(n):
        payload = b"".join(_entry(map_field, key, value(i)) for map_field, key, value in entries)
        out += [_header(len(payload)), payload, bytes(-len(payload) % 4)]
    return b"".join(out)


def _dense_records(entries: list[tuple[int, str, int, np.ndarray]]) -> bytes:
    """One framed Record per row when every entry has as many values on every row: the records then
    differ only in their values' bytes, and are laid out at once as one uint8 matrix."""
    n = entries[0][3].shape[0]
    if n == 0:
        return b""

    def constant(data: bytes) -> np.ndarray:
        return np.broadcast_to(np.frombuffer(data, np.uint8), (n, len(data)))

    columns = []
    for map_field, key, kind, values in entries:
        block = np.ascontiguousarray(values).reshape(n, -1).view(np.uint8)
        entry = _entry(map_field, key, _tensor_value(kind, bytes(block.shape[1])))
        columns += [constant(entry[: len(entry) - block.shape[1]]), block]
    length = sum(column.shape[1] for column in columns)
    return np.concatenate(
        [constant(_header(length)), *columns, constant(bytes(-length % 4))], axis=1
    ).tobytes()


def encode(matrix: Any, *, labels: Any = None, label_key: str = "values", dtype: str = "float32") -> bytes:
    """One framed Record per row: `features["values"]` dense, or sparse (values, keys, shape=[n_cols])
    for a scipy sparse matrix; a 1-D array is one value per record. Numbers are written as `dtype`,
    float32 by default because SageMaker's built-in algorithms read float32 (integers too, where the
    SDK would write an Int32Tensor). `labels`, one number per row, go in `label[label_key]`."""
    if dtype not in _KINDS:
        raise ValueError(f"dtype must be one of {sorted(_KINDS)}, not {dtype!r}")
    kind, element = _KINDS[dtype]
    sparse = sp.issparse(matrix)
    rows = sp.csr_matrix(matrix) if sparse else np.asarray(matrix)
    rows = rows.reshape(-1, 1) if rows.ndim == 1 else rows
    if rows.ndim != 2 or rows.dtype.kind not in "biuf":
        raise NotAcceptable(f"recordio-protobuf carries 2-D numbers, not {rows.ndim}-D {rows.dtype}")
    label_values = None if labels is None else np.asarray(labels).reshape(-1).astype(element)
    if label_values is not None and label_values.size != rows.shape[0]:
        raise ValueError(f"{label_values.size} labels for {rows.shape[0]} rows")
    if not sparse:
        entries = [(1, "values", kind, rows.astype(element))]
        return _dense_records(
            entries + ([] if label_values is None else [(2, label_key, kind, label_values)])
        )
    data, size = rows.data.astype(element).tobytes(), element.itemsize
    keys, offsets = _uvarints(rows.indices)
    row_at, key_at = rows.indptr.tolist(), offsets[rows.indptr].tolist()
    shape = _uvarints(np.array([rows.shape[1]]))[0]

    def features(i: int) -> bytes:
        values = data[size * row_at[i] : size * row_at[i + 1]]
        return _tensor_value(kind, values, keys[key_at[i] : key_at[i + 1]], shape)

    entries: list[tuple[int, str, Callable[[int], bytes]]] = [(1, "values", features)]
    if label_values is not None:
        entries.append((2, label_key, lambda i: _tensor_value(kind, label_values[i : i + 1].tobytes())))
    return _row_records(rows.shape[0], entries)


def encode_predictions(columns: dict[str, np.ndarray]) -> bytes:
    """One Record per row with every column in `label[name]`, as the built-in algorithms and XGBoost
    answer: numbers as a float32 tensor (a 2-D column, like probabilities, gives its row), integers
    beyond float32's exact range as float64; strings as a Bytes value, one UTF-8 value per cell."""
    entries: list[tuple[int, str, int, np.ndarray]] = []
    for name, column in columns.items():
        array = np.asarray(column)
        array = array.reshape(-1, 1) if array.ndim < 2 else array.reshape(array.shape[0], -1)
        if array.dtype.kind in "biuf":
            wide = array.dtype.kind in "iu" and array.size and (array.max() > 2**24 or array.min() < -(2**24))
            kind, element = _KINDS["float64" if wide else "float32"]
            array = array.astype(element)
        elif array.dtype.kind in "OUS":
            kind = _BYTES
        else:
            raise NotAcceptable(f"recordio-protobuf cannot carry {name!r} of dtype {array.dtype}")
        if entries and array.shape[0] != entries[0][3].shape[0]:
            raise ValueError(f"column {name!r} has {array.shape[0]} rows, the first {entries[0][3].shape[0]}")
        entries.append((2, name, kind, array))
    if not entries or all(kind != _BYTES for _, _, kind, _ in entries):
        return _dense_records(entries) if entries else b""

    def value(kind: int, array: np.ndarray, i: int) -> bytes:
        if kind != _BYTES:
            return _tensor_value(kind, array[i].tobytes())
        cells = (cell if isinstance(cell, bytes) else str(cell).encode() for cell in array[i].tolist())
        return _field(_BYTES, b"".join(_field(1, cell) for cell in cells))

    rows = entries[0][3].shape[0]
    return _row_records(rows, [(m, key, functools.partial(value, kind, a)) for m, key, kind, a in entries])
