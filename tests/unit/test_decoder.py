import io
import json

import numpy as np
import pytest

from serving.codecs.content_types import MediaType
from serving.codecs.decoder import decode
from serving.errors import BadRequest, UnsupportedMediaType

CSV = MediaType("text/csv")
JSON = MediaType("application/json")
JSONL = MediaType("application/jsonlines")
NPY = MediaType("application/x-npy")


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


def test_one_csv_row_is_a_batch_of_one() -> None:
    rows = decode(b"1,2,3", CSV)
    assert rows.shape == (1, 3)
    assert rows.dtype == np.float64


def test_csv_rows_with_trailing_newline_crlf_quotes_and_bom() -> None:
    rows = decode('\ufeff1,"2",3\r\n4,5,6\r\n'.encode(), MediaType("text/csv", "utf-8"))
    np.testing.assert_array_equal(rows, [[1, 2, 3], [4, 5, 6]])


def test_csv_single_column_keeps_one_row_per_line() -> None:
    assert decode(b"1\n2\n3", CSV).shape == (3, 1)


def test_csv_latin1_charset_is_honoured() -> None:
    # A charset the body really is in decodes; utf-8 would fail on the 0xe9 byte.
    assert decode("1,2".encode("latin-1"), MediaType("text/csv", "latin-1")).shape == (1, 2)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"sqft,beds\n1,2", "row 1, column 1: 'sqft' is not a number"),
        (b"1,2,3\n4,5", "row 2 has 2 columns, but row 1 has 3"),
        (b"1,2\n\n3,4", "row 2 is empty"),
        (b"1,x,3", "row 1, column 2: 'x' is not a number"),
        (b"1,,3", "row 1, column 2"),
        (b"1,2\x00", "NUL"),
        (b"\xff\xfe1,2", "not valid utf-8"),
    ],
)
def test_bad_csv_says_where(body: bytes, words: str) -> None:
    with pytest.raises(BadRequest) as err:
        decode(body, CSV)
    assert words in err.value.message
    assert err.value.status == 400


def test_csv_nan_and_inf_reach_the_model() -> None:
    rows = decode(b"nan,inf,-inf", CSV)
    assert np.isnan(rows[0, 0]) and np.isinf(rows[0, 1])


@pytest.mark.parametrize(
    "document",
    [
        [[1, 2], [3, 4]],
        {"instances": [[1, 2], [3, 4]]},
        {"inputs": [[1, 2], [3, 4]]},
        {"instances": [{"features": [1, 2]}, {"features": [3, 4]}]},
    ],
)
def test_json_shapes(document) -> None:
    np.testing.assert_array_equal(decode(json.dumps(document).encode(), JSON), [[1, 2], [3, 4]])


def test_json_single_row() -> None:
    assert decode(b"[1, 2, 3]", JSON).shape == (1, 3)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{", "invalid JSON"),
        (b"5", "expected a JSON list of rows, got int"),
        (b"[]", "no rows"),
        (b"[[]]", "no values"),
        (b'{"rows": [[1]]}', '"instances" or "inputs"'),
        (b"[[1, 2], [3]]", "row 2 has 1 values, but row 1 has 2"),
        (b'[[1, "a"]]', 'row 1, column 2: "a" is not a number'),
        (b"[[[1, 2]]]", "row 1, column 1"),
        (b"[" * 100000 + b"]" * 100000, "JSON"),
    ],
)
def test_bad_json_says_what(body: bytes, words: str) -> None:
    with pytest.raises(BadRequest) as err:
        decode(body, JSON)
    assert words in err.value.message


def test_jsonlines_rows() -> None:
    np.testing.assert_array_equal(decode(b'[1, 2]\n{"features": [3, 4]}\n', JSONL), [[1, 2], [3, 4]])


def test_jsonlines_bad_line_is_named() -> None:
    with pytest.raises(BadRequest) as err:
        decode(b"[1, 2]\n[3,", JSONL)
    assert "row 2" in err.value.message


def test_npy_roundtrip_and_1d() -> None:
    np.testing.assert_array_equal(decode(npy(np.arange(6).reshape(2, 3)), NPY), [[0, 1, 2], [3, 4, 5]])
    assert decode(npy(np.arange(3.0)), NPY).shape == (1, 3)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (npy(np.array([{"a": 1}], dtype=object), allow_pickle=True), "refused"),
        (npy(np.arange(6.0))[:-5], "not a valid .npy"),
        (b"not npy at all", "not a valid .npy"),
        (npy(np.array(["a", "b"])), "numeric"),
        (npy(np.zeros((2, 2, 2))), "2-D"),
    ],
)
def test_bad_npy(body: bytes, words: str) -> None:
    with pytest.raises(BadRequest) as err:
        decode(body, NPY)
    assert words in err.value.message


def test_unknown_content_type_is_415() -> None:
    with pytest.raises(UnsupportedMediaType) as err:
        decode(b"x", MediaType("image/png"))
    assert err.value.status == 415
    assert "text/csv" in err.value.message
