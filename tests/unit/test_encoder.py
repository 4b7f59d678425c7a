import io
import json

import numpy as np
import pytest

from serving.codecs.encoder import encode
from serving.errors import NotAcceptable


def test_json_keeps_dtypes() -> None:
    assert json.loads(encode(np.array([1, 2]), "application/json")) == [1, 2]
    assert encode(np.array([1, 2]), "application/json") == b"[1, 2]"
    assert json.loads(encode(np.array(["cat", "dog"], dtype=object), "application/json")) == ["cat", "dog"]
    assert json.loads(encode(np.array([0.5]), "application/json")) == [0.5]


def test_csv_one_line_per_row_without_trailing_newline() -> None:
    assert encode(np.array([1.5, 2.25]), "text/csv") == b"1.5\n2.25"
    assert encode(np.array([[1, 2], [3, 4]]), "text/csv") == b"1,2\n3,4"
    assert encode(np.array(["a,b", "c"]), "text/csv") == b'"a,b"\nc'


def test_csv_floats_round_trip() -> None:
    values = np.random.default_rng(0).random(50)
    decoded = np.array([float(x) for x in encode(values, "text/csv").decode().split("\n")])
    np.testing.assert_array_equal(decoded, values)


def test_jsonlines() -> None:
    assert encode(np.array([[1, 2], [3, 4]]), "application/jsonlines") == b"[1, 2]\n[3, 4]"
    assert encode(np.array([7]), "application/jsonlines") == b"7"


def test_npy_keeps_labels_without_pickle() -> None:
    body = encode(np.array(["cat", "dog"], dtype=object), "application/x-npy")
    loaded = np.load(io.BytesIO(body), allow_pickle=False)
    assert loaded.tolist() == ["cat", "dog"]
    ints = np.load(io.BytesIO(encode(np.array([3, 4]), "application/x-npy")))
    assert ints.dtype.kind == "i"


def test_unknown_accept() -> None:
    with pytest.raises(NotAcceptable):
        encode(np.array([1]), "image/png")
