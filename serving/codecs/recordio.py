"""application/x-recordio-protobuf: SageMaker's record format, read and written without protobuf.

SageMaker's built-in algorithms, its XGBoost and Autopilot's pipeline stages exchange proto2
`aialgs.data.Record` messages, each in a RecordIO frame: little-endian uint32 magic 0xCED7230A,
uint32 length (low 29 bits; the top 3 are a multi-part flag these writers never set), the payload,
zero padding to 4 bytes. The wire format is written by hand so that the image needs neither the
protobuf package nor the SageMaker SDK; `encode` writes byte for byte what the SDK writes.

One record is one row, its features in `features["values"]`: a dense tensor (no keys) or a sparse
one (values, uint64 keys, shape). Predictions go in `label[name]` as float32 tensors, as the
built-in algorithms answer. String labels, which the format leaves open, go as the `Bytes` Value
(field 9), one UTF-8 `value` per string and no `content_type`.

This module reads; `recordio_write` writes.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

from serving.errors import BadRequest

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_LENGTH_MASK = (1 << 29) - 1
_BYTES = 9  # Value.bytes
# The tensors, by their field number in Value, with the dtype of their values (None: int32 varints).
_TENSORS: dict[int, np.dtype | None] = {2: np.dtype("<f4"), 3: np.dtype("<f8"), 7: None}
_KINDS = {"float32": (2, np.dtype("<f4")), "float64": (3, np.dtype("<f8"))}
_OVERLONG = re.compile(rb"[\x80-\xff]{10}")  # a varint of more than 10 bytes
_MAX_COLUMNS = int(np.iinfo(np.int64).max)
T = TypeVar("T")


class _Malformed(Exception):
    """What is wrong inside one record; `_parse` adds the record's number."""


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while pos < end:
        byte = buf[pos]
        result |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        if shift >= 70:
            raise _Malformed("a varint is longer than 10 bytes")
    raise _Malformed("it ends inside a varint")


def _fields(buf: bytes, pos: int, end: int, what: str) -> Iterator[tuple[int, int, Any]]:
    """(field, wire type, value) of a message: an int for a varint, (start, stop) for a length-delimited
    field, the bytes of a fixed32/fixed64. A length is checked against the message's end before it
    is used, so a corrupt length is an error, never an allocation."""
    while pos < end:
        tag, pos = (buf[pos], pos + 1) if buf[pos] < 0x80 else _varint(buf, pos, end)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire == 2:
            length, pos = (buf[pos], pos + 1) if pos < end and buf[pos] < 0x80 else _varint(buf, pos, end)
            if length > end - pos:
                raise _Malformed(f"{what}: field {field} claims {length} bytes but only {end - pos} remain")
            value, pos = (pos, pos + length), pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if size > end - pos:
                raise _Malformed(f"{what}: field {field} is cut short")
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise _Malformed(f"{what}: field {field} has wire type {wire}, which this format does not use")
        if field == 0:
            raise _Malformed(f"{what}: a field is numbered 0")
        yield field, wire, value


def _want(what: str, field: int, wire: int, expected: int) -> None:
    if wire != expected:
        raise _Malformed(f"{what}: field {field} has wire type {wire}, expected {expected}")


def _varints(raw: np.ndarray) -> np.ndarray:
    """Packed varints (whole, none over 10 bytes), decoded with numpy: the keys of sparse rows are many."""
    last = np.flatnonzero(raw < 0x80)
    if last.size == raw.size:
        return raw.astype(np.uint64)
    first = np.concatenate(([0], last[:-1] + 1))
    position = np.arange(raw.size) - np.repeat(first, last - first + 1)
    groups = (raw & 0x7F).astype(np.uint64) << (position * 7).astype(np.uint64)
    return np.bitwise_or.reduceat(groups, first)


def _record(buf: bytes, start: int, stop: int) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """The `features` and `label` maps, each key to its Value read by `_contents`. As in protobuf
    readers, a message field given twice merges, and a map key given twice keeps its last entry."""
    maps: tuple[dict[str, list], dict[str, list]] = ({}, {})
    for field, wire, value in _fields(buf, start, stop, "the record"):
        if field in (1, 2, 3, 4, 5):  # features, label, uid, metadata, configuration
            _want("the record", field, wire, 2)
        if field in (1, 2):
            what, key, parts = f"a {('features', 'label')[field - 1]} entry", b"", []
            for entry_field, entry_wire, part in _fields(buf, *value, what):
                if entry_field in (1, 2):
                    _want(what, entry_field, entry_wire, 2)
                    if entry_field == 1:
                        key = buf[slice(*part)]
                    else:
                        parts.append(part)
            try:
                maps[field - 1][key.decode()] = parts
            except UnicodeDecodeError:
                raise _Malformed(f"{what} has a key that is not UTF-8") from None
    features, label = (
        {key: _contents(buf, parts, f'{name}["{key}"]') for key, parts in entries.items()}
        for name, entries in zip(("features", "label"), maps, strict=True)
    )
    return features, label


def _contents(buf: bytes, parts: list, what: str) -> tuple[int, Any]:
    """Which member of the Value oneof is set (0: none) and what it holds: a tensor's (values, packed
    keys, packed shape), a Bytes' values. Every entry is read, also those that decode does not use:
    a protobuf reader refuses a record with any malformed part, and so does this one."""
    kind, pieces = 0, []
    for start, stop in parts:
        for field, wire, value in _fields(buf, start, stop, what):
            if field in _TENSORS or field == _BYTES:
                _want(what, field, wire, 2)
                if field != kind:  # a later member of a oneof replaces an earlier one
                    kind, pieces = field, []
                pieces.append(value)
    if kind != _BYTES:
        return kind, _tensor(buf, kind, pieces, what) if kind else None
    cells = []
    for piece in pieces:
        for field, wire, value in _fields(buf, *piece, what):
            if field in (1, 2):  # value, content_type
                _want(what, field, wire, 2)
                cells += [buf[slice(*value)]] if field == 1 else []
    return kind, cells


def _tensor(buf: bytes, kind: int, pieces: list, what: str) -> tuple[np.ndarray, bytes, bytes]:
    """float64 values, keys and shape still packed as varints: the keys are decoded for all records
    at once. Unpacked repeated fields are read too, as proto2 readers must."""
    dtype = _TENSORS[kind]
    chunks: tuple[list, list, list] = ([], [], [])
    for start, stop in pieces:
        for field, wire, value in _fields(buf, start, stop, what):
            if field == 1 and dtype is not None and wire == 2:
                count, ragged = divmod(value[1] - value[0], dtype.itemsize)
                if ragged:
                    raise _Malformed(f"{what}: packed values are not whole {dtype.itemsize}-byte numbers")
                chunks[0].append(np.frombuffer(buf, dtype, count, value[0]))
            elif field == 1 and dtype is not None:
                _want(what, field, wire, 5 if dtype.itemsize == 4 else 1)
                chunks[0].append(np.frombuffer(value, dtype))
            elif field in (1, 2, 3) and wire == 0:
                chunks[field - 1].append(_uvarint(value))
            elif field in (1, 2, 3):
                _want(what, field, wire, 2)
                if (value[1] > value[0] and buf[value[1] - 1] >= 0x80) or _OVERLONG.search(buf, *value):
                    raise _Malformed(f"{what}: field {field} holds a malformed packed varint")
                chunks[field - 1].append(buf[slice(*value)])
    if dtype is None:
        values = _varints(np.frombuffer(b"".join(chunks[0]), np.uint8)).astype(np.int32)  # low 32 bits
    else:
        values = np.concatenate(chunks[0]) if chunks[0] else np.empty(0, dtype)
    return values.astype(np.float64), b"".join(chunks[1]), b"".join(chunks[2])


def _row(tensor: tuple[np.ndarray, bytes, bytes], what: str) -> tuple[np.ndarray, bytes | None, int]:
    """(values, packed keys or None when dense, width) of a tensor as one row. A 2-D shape is
    flattened: a record is always one row, so that predictions line up with the records."""
    values, keys, packed_shape = tensor
    shape, pos = [], 0
    while pos < len(packed_shape):
        if len(shape) == 2:
            raise _Malformed(f"{what} has a shape of more than 2 dimensions")
        dim, pos = _varint(packed_shape, pos, len(packed_shape))
        shape.append(dim)
    width = math.prod(shape) if shape else values.size
    if width > _MAX_COLUMNS:
        raise _Malformed(f"{what} has shape {shape}, more columns than can be indexed")
    if not keys and values.size not in (0, width):
        raise _Malformed(f"{what} has {values.size} values but its shape {shape} holds {width}")
    if keys and not shape:
        raise _Malformed(f"{what} is sparse (it has keys) but has no shape")
    return values, keys if keys or values.size != width else None, width


def _payloads(body: bytes) -> Iterator[tuple[int, int]]:
    """(start, stop) of each record's payload. A body without the magic is one bare Record, as batch
    transform's SingleRecord split may send; a stream whose padding was stripped goes on at the next
    magic."""
    if not body.startswith(_MAGIC_BYTES):
        yield 0, len(body)
        return
    pos = 0
    while pos < len(body):
        if len(body) - pos < 8:
            raise _Malformed(f"its header is truncated ({len(body) - pos} of 8 bytes)")
        magic, word = struct.unpack_from("<II", body, pos)
        if magic != MAGIC:
            raise _Malformed(f"it starts with 0x{magic:08x} at byte {pos}, not the magic 0x{MAGIC:08x}")
        if word >> 29:
            raise _Malformed(f"its length word has flag {word >> 29} set (multi-part records are not used)")
        start, length = pos + 8, word & _LENGTH_MASK
        if length > len(body) - start:
            raise _Malformed(f"its length {length} runs past the end of the body ({len(body) - start} left)")
        yield start, start + length
        pos = start + length
        if body[pos : pos + 4] != _MAGIC_BYTES:
            pos += -length % 4


def _parse(body: bytes, read: Callable[[bytes, int, int], T]) -> list[T]:
    body = bytes(body)
    if not body:
        raise BadRequest("the recordio-protobuf body is empty")
    records: list[T] = []
    try:
        for start, stop in _payloads(body):
            records.append(read(body, start, stop))
    except _Malformed as error:
        raise BadRequest(f"recordio-protobuf record {len(records) + 1}: {error}") from None
    return records


def _features(body: bytes, start: int, stop: int) -> tuple[np.ndarray, bytes | None, int]:
    features = _record(body, start, stop)[0]
    if "values" not in features:
        raise _Malformed(f'it has no features["values"] (features: {sorted(features) or "none"})')
    kind, contents = features["values"]
    if kind not in _TENSORS:
        raise _Malformed('features["values"] holds ' + ("bytes" if kind else "no value") + ", not a tensor")
    return _row(contents, 'features["values"]')


def decode(body: bytes) -> np.ndarray | sp.csr_matrix:
    """The features of every record as the rows of one float64 matrix: an ndarray when every record
    is dense, CSR as soon as one is sparse. Malformed input is a BadRequest naming the record."""
    rows = _parse(body, _features)
    width = rows[0][2]
    for number, (_, _, columns) in enumerate(rows, 1):
        if columns != width:
            raise BadRequest(f"recordio-protobuf record {number} has {columns} columns; record 1 has {width}")
    if all(keys is None for _, keys, _ in rows):
        return np.concatenate([values for values, _, _ in rows]).reshape(len(rows), width)
    return _csr(rows, width)


def _csr(rows: list[tuple[np.ndarray, bytes | None, int]], width: int) -> sp.csr_matrix:
    """Rows of which some are sparse. The keys of all records are decoded in one numpy pass: per
    record, numpy's calls would cost more than the keys."""
    packed = np.frombuffer(b"".join(keys or b"" for _, keys, _ in rows), np.uint8)
    ends = np.cumsum([len(keys or b"") for _, keys, _ in rows])
    offsets = np.concatenate(([0], np.cumsum(packed < 0x80)))[np.concatenate(([0], ends))]
    counts, sizes = np.diff(offsets), np.array([values.size for values, _, _ in rows])
    every_key = _varints(packed)
    wrong = np.flatnonzero((counts != sizes) & np.array([k is not None for _, k, _ in rows]))
    if wrong.size:
        number = wrong[0]
        raise BadRequest(
            f'recordio-protobuf record {number + 1}: features["values"] has {counts[number]} keys '
            f"for {sizes[number]} values"
        )
    if every_key.size and int(every_key.max()) >= width:
        first = int(np.argmax(every_key >= width))
        number = int(np.searchsorted(offsets, first, side="right"))
        raise BadRequest(
            f'recordio-protobuf record {number}: features["values"] has key {int(every_key[first])}, '
            f"outside its {width} columns"
        )
    every_key, starts = every_key.astype(np.int64), offsets.tolist()
    indices = [
        np.arange(width) if k is None else every_key[starts[i] : starts[i + 1]]
        for i, (_, k, _) in enumerate(rows)
    ]
    indptr = np.concatenate(([0], np.cumsum([i.size for i in indices])))
    data = np.concatenate([values for values, _, _ in rows])
    matrix = sp.csr_matrix((data, np.concatenate(indices), indptr), shape=(len(rows), width))
    matrix.sum_duplicates()  # sorted indices; a key given twice adds up, as in scipy's COO
    return matrix


def _labels(body: bytes, start: int, stop: int) -> dict[str, list[float] | list[bytes]]:
    out: dict[str, list[float] | list[bytes]] = {}
    for key, (kind, contents) in _record(body, start, stop)[1].items():
        if kind in _TENSORS:
            values, keys, _ = _row(contents, f'label["{key}"]')
            if keys is not None:
                raise _Malformed(f'label["{key}"] is a sparse tensor; labels are read dense only')
            contents = values.tolist()
        out[key] = contents or []
    return out


def decode_labels(body: bytes) -> list[dict[str, list[float] | list[bytes]]]:
    """Each record's `label` map, as a next stage of an inference pipeline (or a test) reads an answer:
    tensors as lists of floats, Bytes values as lists of bytes."""
    return _parse(body, _labels)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
