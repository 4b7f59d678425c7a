"""application/x-recordio-protobuf against the SageMaker SDK's own writer and reader.

The SDK (a test dependency, not in the image) is the oracle: what `encode` writes must be the SDK's
bytes, what the SDK writes must decode to the original matrix, and what `encode_predictions`
answers must read back through the SDK's `read_records` with the right label tensors.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from serving.codecs.recordio import MAGIC, decode, decode_labels
from serving.codecs.recordio_write import encode, encode_predictions
from serving.errors import BadRequest, NotAcceptable

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
from sagemaker.amazon.common import (
    read_records,
    write_numpy_to_dense_tensor,
    write_spmatrix_to_sparse_tensor,
)

# No example database: it would write .hypothesis/ into the working tree.
FAST = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# The reference's examples, spaced as there ("76616c756573" is "values").
DENSE_EXAMPLE = bytes.fromhex(
    "0a23d7ce 2c000000  0a16 0a06 76616c756573 120c 120a 0a08 0000803f 00000040"
    "  1212 0a06 76616c756573 1208 1206 0a04 00000000"
)
SPARSE_EXAMPLE = bytes.fromhex(
    "0a23d7ce 1a000000  0a18 0a06 76616c756573 120e 120c 0a04 0000a040 1201 03 1a01 0a  0000"
)


def sdk_dense(array: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    out = io.BytesIO()
    write_numpy_to_dense_tensor(out, array, labels)
    return out.getvalue()


def sdk_sparse(matrix: sp.spmatrix, labels: np.ndarray | None = None) -> bytes:
    out = io.BytesIO()
    write_spmatrix_to_sparse_tensor(out, matrix, labels)
    return out.getvalue()


def sdk_read(body: bytes) -> list:
    return read_records(io.BytesIO(body))


def frame(payload: bytes, flag: int = 0) -> bytes:
    return struct.pack("<II", MAGIC, len(payload) | flag << 29) + payload + bytes(-len(payload) % 4)


def ld(field: int, *payload: bytes) -> bytes:
    """A length-delimited protobuf field (short payloads only)."""
    joined = b"".join(payload)
    return bytes([field << 3 | 2, len(joined)]) + joined


def features(*tensor: bytes, kind: int = 2) -> bytes:
    """A framed Record whose features["values"] is a tensor of the given fields."""
    return frame(ld(1, ld(1, b"values"), ld(2, ld(kind, *tensor))))


def f32(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


ONE = ld(1, f32(1.0))


def sdk_rows(body: bytes) -> list[list[float]]:
    """features["values"] of each record as the SDK's protobuf parser reads it."""
    records = sdk_read(body)
    return [
        list(getattr(r.features["values"], r.features["values"].WhichOneof("value")).values) for r in records
    ]


# --- the reference's byte examples


def test_dense_example_from_the_reference() -> None:
    assert len(DENSE_EXAMPLE) == 52
    assert encode(np.array([[1.0, 2.0]]), labels=np.array([0.0])) == DENSE_EXAMPLE
    assert sdk_dense(np.array([[1.0, 2.0]], np.float32), np.array([0.0], np.float32)) == DENSE_EXAMPLE
    np.testing.assert_array_equal(decode(DENSE_EXAMPLE), [[1.0, 2.0]])
    assert decode_labels(DENSE_EXAMPLE) == [{"values": [0.0]}]


def test_sparse_example_from_the_reference() -> None:
    matrix = sp.csr_matrix(([5.0], ([0], [3])), shape=(1, 10))
    assert len(SPARSE_EXAMPLE) == 8 + 26 + 2
    assert encode(matrix) == SPARSE_EXAMPLE
    assert sdk_sparse(matrix.astype(np.float32)) == SPARSE_EXAMPLE
    decoded = decode(SPARSE_EXAMPLE)
    assert sp.isspmatrix_csr(decoded) and decoded.dtype == np.float64 and decoded.shape == (1, 10)
    np.testing.assert_array_equal(decoded.toarray(), matrix.toarray())


# --- encode == the SDK's bytes


def test_dense_float32_and_float64_are_the_sdk_bytes() -> None:
    array = np.random.default_rng(0).normal(size=(7, 5))
    assert encode(array) == sdk_dense(array.astype(np.float32))
    assert encode(array, dtype="float64") == sdk_dense(array)
    labels = np.arange(7.0)
    assert encode(array, labels=labels, dtype="float64") == sdk_dense(array, labels)
    assert encode(array.astype(np.float32), labels=labels) == sdk_dense(
        array.astype(np.float32), labels.astype(np.float32)
    )


def test_integers_are_written_as_floats() -> None:
    # The SDK writes int64 as an Int32Tensor; built-in algorithms read float32.
    assert encode(np.array([[1, 2], [3, 4]])) == sdk_dense(np.array([[1, 2], [3, 4]], np.float32))


def test_one_dimensional_input_is_one_value_per_record() -> None:
    assert encode(np.array([1.5, 2.5])) == sdk_dense(np.array([[1.5], [2.5]], np.float32))


def test_sparse_is_the_sdk_bytes() -> None:
    dense = np.zeros((4, 300))
    dense[0, [0, 5, 299]] = [1.0, -2.0, 3.5]  # key 299 takes a two-byte varint
    dense[2, 128] = 7.0
    matrix = sp.csr_matrix(dense)
    assert encode(matrix) == sdk_sparse(matrix.astype(np.float32))
    assert encode(matrix, dtype="float64") == sdk_sparse(matrix)
    labels = np.array([1.0, 0.0, 1.0, 0.0])
    assert encode(matrix, labels=labels, dtype="float64") == sdk_sparse(matrix, labels)
    assert encode(sp.coo_matrix(dense)) == encode(matrix)


def test_empty_inputs() -> None:
    assert encode(np.empty((0, 3))) == b""
    assert encode(np.empty((2, 0))) == sdk_dense(np.empty((2, 0), np.float32))
    assert encode_predictions({}) == b""


def test_labels_go_under_the_given_key() -> None:
    (record,) = sdk_read(encode(np.array([[1.0]]), labels=[3.0], label_key="target"))
    assert list(record.label["target"].float32_tensor.values) == [3.0]


# --- decode of what the SDK writes


def test_decode_sdk_dense_float32_float64_int() -> None:
    array = np.random.default_rng(1).normal(size=(6, 4))
    for written in (array, array.astype(np.float32)):
        decoded = decode(sdk_dense(written))
        assert isinstance(decoded, np.ndarray) and decoded.dtype == np.float64
        np.testing.assert_array_equal(decoded, written)
    ints = np.array([[1, -2], [2**31 - 1, -(2**31)]])
    np.testing.assert_array_equal(decode(sdk_dense(ints, np.array([7, -7]))), ints)
    assert decode_labels(sdk_dense(ints, np.array([7, -7]))) == [{"values": [7.0]}, {"values": [-7.0]}]


def test_keys_of_every_varint_length() -> None:
    columns = [0, 127, 128, 2**14, 2**21, 2**28, 2**35, 2**42, 2**49, 2**56, 2**62]
    matrix = sp.csr_matrix((np.arange(1.0, 12.0), (np.zeros(11, int), columns)), shape=(1, 2**62 + 1))
    assert encode(matrix) == sdk_sparse(matrix.astype(np.float32))
    decoded = decode(sdk_sparse(matrix))
    assert decoded.shape == matrix.shape and decoded.indices.tolist() == columns
    assert decoded.data.tolist() == list(range(1, 12))


def test_decode_sdk_sparse_with_an_all_zero_row() -> None:
    dense = np.zeros((3, 1000))
    dense[0, 999] = 1.25
    dense[2, [1, 500]] = [-3.0, 4.0]
    for written in (sp.csr_matrix(dense), sp.csr_matrix(dense.astype(np.float32))):
        decoded = decode(sdk_sparse(written))
        assert sp.isspmatrix_csr(decoded) and decoded.dtype == np.float64 and decoded.shape == (3, 1000)
        np.testing.assert_array_equal(decoded.toarray(), dense)
    only_zeros = decode(sdk_sparse(sp.csr_matrix((2, 5))))
    assert only_zeros.shape == (2, 5) and only_zeros.nnz == 0


def test_dense_and_sparse_records_together_give_csr() -> None:
    body = sdk_dense(np.array([[1.0, 0.0, 2.0]])) + sdk_sparse(sp.csr_matrix([[0.0, 5.0, 0.0]]))
    decoded = decode(body)
    assert sp.isspmatrix_csr(decoded)
    np.testing.assert_array_equal(decoded.toarray(), [[1.0, 0.0, 2.0], [0.0, 5.0, 0.0]])


def test_a_bare_record_without_framing() -> None:
    np.testing.assert_array_equal(decode(DENSE_EXAMPLE[8:]), [[1.0, 2.0]])
    np.testing.assert_array_equal(decode(SPARSE_EXAMPLE[8:-2]).toarray(), [[0, 0, 0, 5.0, 0, 0, 0, 0, 0, 0]])


def test_records_whose_padding_was_stripped() -> None:
    unpadded = SPARSE_EXAMPLE[:-2]
    np.testing.assert_array_equal(decode(unpadded + unpadded).toarray()[:, 3], [5.0, 5.0])


PROTOBUF_READINGS = {
    # values as an unpacked float (wire type 5) then a packed run; shape [1, 3] as unpacked varints
    "unpacked and packed": features(b"\x0d" + f32(1.0), ld(1, f32(2.0, 3.0)), b"\x18\x01\x18\x03"),
    "a tensor given twice merges": frame(ld(1, ld(1, b"values"), ld(2, ld(2, ONE), ld(2, ld(1, f32(2.0)))))),
    "a Value given twice merges": frame(
        ld(1, ld(1, b"values"), ld(2, ld(2, ONE)), ld(2, ld(2, ld(1, f32(2.0)))))
    ),
    "a later oneof member wins": frame(
        ld(1, ld(1, b"values"), ld(2, ld(2, ld(1, f32(9.0))), ld(3, ld(1, struct.pack("<d", 0.5)))))
    ),
    "a repeated map key keeps the last": frame(
        ld(1, ld(1, b"values"), ld(2, ld(2, ONE))) + ld(1, ld(1, b"values"), ld(2, ld(2, ld(1, f32(4.0)))))
    ),
    "negative int32, packed and unpacked": features(
        ld(1, b"\x7f" + b"\xff" * 9 + b"\x01"), b"\x08\x05", kind=7
    ),
}


@pytest.mark.parametrize("case", PROTOBUF_READINGS)
def test_protobuf_reading_rules_agree_with_the_sdk(case: str) -> None:
    body = PROTOBUF_READINGS[case]
    rows = sdk_rows(body)
    assert decode(body).tolist() == [[float(v) for v in row] for row in rows]


def test_other_features_uid_and_configuration_are_ignored() -> None:
    payload = DENSE_EXAMPLE[8:52] + b"\x1a\x02id" + b"\x2a\x02{}" + b"\x0a\x09\x0a\x05other\x12\x00"
    np.testing.assert_array_equal(decode(frame(payload)), [[1.0, 2.0]])


# --- malformed input is a BadRequest naming the record


GOOD = frame(DENSE_EXAMPLE[8:])
MALFORMED = {
    "empty": (b"", "the recordio-protobuf body is empty"),
    "truncated header": (GOOD + GOOD[:6], "record 2: its header is truncated (6 of 8 bytes)"),
    "bad magic": (GOOD + bytes(4) + GOOD[4:], "record 2: it starts with 0x00000000 at byte 52"),
    "non-zero flag": (frame(DENSE_EXAMPLE[8:], flag=1), "record 1: its length word has flag 1 set"),
    "length past the end": (
        GOOD[:4] + struct.pack("<I", 1000) + GOOD[8:],
        "record 1: its length 1000 runs past",
    ),
    "truncated payload": (GOOD[:30], "record 1: its length 44 runs past the end of the body (22 left)"),
    "field length past the end": (frame(b"\x0a\x7f\x00"), "claims 127 bytes but only 1 remain"),
    "wrong wire type": (frame(b"\x08\x01"), "record 1: the record: field 1 has wire type 0, expected 2"),
    "group wire type": (frame(b"\x0b"), "field 1 has wire type 3, which this format does not use"),
    "field zero": (frame(b"\x02\x00"), "a field is numbered 0"),
    "garbage": (b"\xff" * 20, "record 1: a varint is longer than 10 bytes"),
    "ends inside a varint": (frame(b"\x0a"), "it ends inside a varint"),
    "no values": (
        frame(ld(1, ld(1, b"other"), ld(2))),
        "it has no features[\"values\"] (features: ['other'])",
    ),
    "bytes, not a tensor": (frame(ld(1, ld(1, b"values"), ld(2, ld(9)))), "holds bytes, not a tensor"),
    "no value": (frame(ld(1, ld(1, b"values"))), "holds no value, not a tensor"),
    "key not UTF-8": (frame(ld(1, ld(1, b"\xff"), ld(2))), "a features entry has a key that is not UTF-8"),
    "three-dimensional shape": (features(ld(3, b"\x01\x01\x01")), "has a shape of more than 2 dimensions"),
    "key outside the shape": (
        features(ONE, ld(2, b"\x05"), ld(3, b"\x03")),
        'record 1: features["values"] has key 5, outside its 3 columns',
    ),
    "keys without a shape": (features(ONE, ld(2, b"\x00")), "is sparse (it has keys) but has no shape"),
    "fewer keys than values": (
        features(ld(1, bytes(8)), ld(2, b"\x00"), ld(3, b"\x03")),
        "has 1 keys for 2 values",
    ),
    "values against the shape": (
        features(ld(1, bytes(8)), ld(3, b"\x03")),
        "has 2 values but its shape [3] holds 3",
    ),
    "a ragged float": (features(ld(1, bytes(3))), "not whole 4-byte numbers"),
    "a wrong unpacked float": (features(b"\x09" + bytes(8)), "field 1 has wire type 1, expected 5"),
    "a packed key cut short": (
        features(ld(2, b"\x80"), ld(3, b"\x03")),
        "field 2 holds a malformed packed varint",
    ),
    "an overlong packed key": (
        features(ld(2, b"\x80" * 10 + b"\x01"), ld(3, b"\x03")),
        "field 2 holds a malformed packed varint",
    ),
    "too many columns": (features(ld(3, b"\x80" * 9 + b"\x01")), "more columns than can be indexed"),
    "keys in record 2 against its values": (
        features(ONE, ld(2, b"\x00"), ld(3, b"\x03")) + features(ONE, ld(2, b"\x00\x01"), ld(3, b"\x03")),
        'record 2: features["values"] has 2 keys for 1 values',
    ),
    "a key in record 3 outside the shape": (
        SPARSE_EXAMPLE * 2 + features(ONE, ld(2, b"\x8a\x01"), ld(3, b"\x0a")),
        'record 3: features["values"] has key 138, outside its 10 columns',
    ),
    "a packed int32 value cut short": (
        features(ld(1, b"\x81"), kind=7),
        "field 1 holds a malformed packed varint",
    ),
    "rows of different widths": (
        GOOD + sdk_dense(np.ones((1, 3), np.float32)),
        "record 2 has 3 columns; record 1 has 2",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_input_is_a_bad_request(case: str) -> None:
    body, message = MALFORMED[case]
    with pytest.raises(BadRequest) as raised:
        decode(body)
    assert message in raised.value.message


def test_a_huge_all_zero_sparse_row_allocates_nothing() -> None:
    decoded = decode(features(ld(3, b"\x80" * 8 + b"\x40")))  # shape [2**62], no keys
    assert decoded.shape == (1, 2**62) and decoded.nnz == 0


@FAST
@given(st.binary(max_size=200), st.booleans())
def test_any_bytes_decode_or_are_a_bad_request(body: bytes, framed: bool) -> None:
    for reader in (decode, decode_labels):
        with contextlib.suppress(BadRequest):
            reader(frame(body) if framed else body)


@FAST
@given(st.data())
def test_corrupted_streams_decode_or_are_a_bad_request(data: st.DataObject) -> None:
    body = bytearray(
        GOOD + SPARSE_EXAMPLE + encode_predictions({"p": np.array([[0.5, 0.5]]), "l": np.array(["a"])})
    )
    for _ in range(data.draw(st.integers(1, 4))):
        body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    body = body[: data.draw(st.integers(0, len(body)))]
    for reader in (decode, decode_labels):
        with contextlib.suppress(BadRequest):
            reader(bytes(body))


def sdk_matrix(body: bytes) -> np.ndarray:
    """features["values"] of each record, densified, as the SDK's protobuf parser reads them."""
    rows = []
    for record in sdk_read(body):
        value = record.features["values"]
        tensor = getattr(value, value.WhichOneof("value"))
        width = int(np.prod(tensor.shape)) if len(tensor.shape) else len(tensor.values)
        if not len(tensor.keys) and len(tensor.values) == width:
            rows.append(np.array(tensor.values, np.float64))
        else:
            rows.append(np.zeros(width))
            np.add.at(rows[-1], np.array(tensor.keys, np.int64), np.array(tensor.values, np.float64))
    return np.array(rows)


STREAM = (
    GOOD + encode(np.array([[1.5, -2.0]]), labels=[1.0]) + encode(sp.csr_matrix([[0, 3.0]]), labels=[2.0])
)


@settings(FAST, max_examples=500)
@given(st.data())
def test_what_we_accept_the_sdk_reads_the_same(data: st.DataObject) -> None:
    """Random byte changes past the first header: whatever decode accepts, the SDK reads the same."""
    body = bytearray(STREAM)
    for _ in range(data.draw(st.integers(1, 3))):
        body[data.draw(st.integers(8, len(body) - 1))] = data.draw(st.integers(0, 255))
    try:
        ours = decode(bytes(body))
    except BadRequest:
        return
    ours = ours.toarray() if sp.issparse(ours) else ours
    np.testing.assert_array_equal(ours, sdk_matrix(bytes(body)))


# --- predictions


def test_predictions_read_back_through_the_sdk() -> None:
    body = encode_predictions(
        {
            "predicted_label": np.array([0, 1]),
            "probability": np.array([0.25, 0.75]),
            "probabilities": np.array([[0.75, 0.25], [0.25, 0.75]]),
        }
    )
    first, second = sdk_read(body)
    assert list(first.label["predicted_label"].float32_tensor.values) == [0.0]
    assert list(second.label["predicted_label"].float32_tensor.values) == [1.0]
    assert list(second.label["probability"].float32_tensor.values) == [0.75]
    assert list(first.label["probabilities"].float32_tensor.values) == [0.75, 0.25]
    assert not first.features
    assert decode_labels(body)[1] == {
        "predicted_label": [1.0],
        "probability": [0.75],
        "probabilities": [0.25, 0.75],
    }


def test_string_labels_are_bytes_values() -> None:
    body = encode_predictions(
        {
            "predicted_label": np.array(["cat", "dög"], dtype=object),
            "probability": np.array([0.5, 1.0]),
            "labels": np.array([["cat", "dög"], ["cat", "dög"]]),
        }
    )
    first, second = sdk_read(body)
    assert list(second.label["predicted_label"].bytes.value) == ["dög".encode()]
    assert not second.label["predicted_label"].bytes.HasField("content_type")
    assert list(first.label["labels"].bytes.value) == [b"cat", "dög".encode()]
    assert list(first.label["probability"].float32_tensor.values) == [0.5]
    assert decode_labels(body)[0] == {
        "predicted_label": [b"cat"],
        "probability": [0.5],
        "labels": [b"cat", "dög".encode()],
    }


def test_integers_beyond_float32_stay_exact() -> None:
    first, second = sdk_read(encode_predictions({"predicted_label": np.array([2**30 + 1, -(2**63)])}))
    assert list(first.label["predicted_label"].float64_tensor.values) == [2**30 + 1]
    assert list(second.label["predicted_label"].float64_tensor.values) == [-(2**63)]


def test_what_recordio_cannot_carry() -> None:
    with pytest.raises(NotAcceptable):
        encode(np.array([["a"]]))
    with pytest.raises(NotAcceptable):
        encode(np.zeros((1, 1, 1)))
    with pytest.raises(ValueError, match="dtype"):
        encode(np.zeros((1, 1)), dtype="int8")
    with pytest.raises(ValueError, match="2 labels for 1 rows"):
        encode(np.zeros((1, 1)), labels=[1, 2])


# --- properties: round trips through the SDK

FLOATS = st.floats(width=32, allow_nan=False)
DENSE = hnp.arrays(
    np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12), elements=FLOATS
)
SPARSE = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12).map(lambda s: (s[0], s[1] * 20)),
    elements=st.one_of(st.just(0.0), FLOATS.filter(bool)),
).map(sp.csr_matrix)


@FAST
@given(DENSE, st.booleans())
def test_dense_round_trips_through_the_sdk(array: np.ndarray, wide: bool) -> None:
    written = array.astype(np.float64) if wide else array
    ours = encode(written, dtype="float64" if wide else "float32")
    assert ours == sdk_dense(written)
    for row, record in zip(written, sdk_read(ours), strict=True):
        tensor = (
            record.features["values"].float64_tensor if wide else record.features["values"].float32_tensor
        )
        np.testing.assert_array_equal(np.array(tensor.values, written.dtype), row)
    np.testing.assert_array_equal(decode(sdk_dense(written)), written)


@FAST
@given(SPARSE)
def test_sparse_round_trips_through_the_sdk(matrix: sp.csr_matrix) -> None:
    ours = encode(matrix)
    assert ours == sdk_sparse(matrix)
    for i, record in enumerate(sdk_read(ours)):
        tensor = record.features["values"].float32_tensor
        row = matrix.getrow(i)
        assert list(tensor.keys) == row.indices.tolist() and list(tensor.shape) == [matrix.shape[1]]
        np.testing.assert_array_equal(np.array(tensor.values, np.float32), row.data)
    decoded = decode(sdk_sparse(matrix))
    assert decoded.shape == matrix.shape
    np.testing.assert_array_equal(decoded.toarray(), matrix.toarray())


@FAST
@given(DENSE.map(lambda a: np.where(np.abs(a) < 1, np.nan, a)))
def test_nan_survives_decode(array: np.ndarray) -> None:
    np.testing.assert_array_equal(decode(sdk_dense(array)), array)
