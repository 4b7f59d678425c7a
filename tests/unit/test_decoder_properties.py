"""Property tests of the decoders: whatever a client sends, `decode` either returns rows or says why not.

The contract, for every decoder: the result is a 2-D float64 ndarray with at least one row
and one column, or the call raises `BadRequest` / `UnsupportedMediaType` (which become
400 / 415). Any other exception would be a 500 for what is the client's mistake.

The tests at the end pin inputs that once escaped as other exceptions (500s).
"""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from serving.codecs.content_types import CSV, JSON, JSONLINES, NPY, MediaType
from serving.codecs.decoder import decode
from serving.codecs.encoder import encode_csv, encode_json, encode_jsonlines, encode_npy
from serving.errors import BadRequest, UnsupportedMediaType

# A body that is only a UTF-8 byte-order mark makes np.loadtxt warn "input contained no data"
# before the decoder refuses it; the refusal is what is tested here.
pytestmark = pytest.mark.filterwarnings("ignore:loadtxt. input contained no data")

# No example database: it would write .hypothesis/ into the working tree.
FAST = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
MEDIUM = settings(FAST, max_examples=250)

DECODED_TYPES = (CSV, JSON, JSONLINES, NPY)
OTHER_TYPES = ("text/plain", "application/octet-stream", "application/x-jsonlines", "image/png", "", "*/*")
CHARSETS = (
    None,
    "utf-8",
    "utf8",
    "UTF-8",
    "latin-1",
    "ascii",
    "cp1252",
    "utf-16",
    "utf-16-le",
    "utf-32",
    "utf-7",
    "unicode_escape",
    "raw_unicode_escape",
    "base64",
    "rot13",
    "no-such-charset",
)
LONGEST_MESSAGE = 2000


def check_contract(body: bytes, media_type: MediaType) -> np.ndarray | None:
    """Decode and check the contract; returns the rows, or None for a proper client error."""
    try:
        rows = decode(body, media_type)
    except (BadRequest, UnsupportedMediaType) as exc:
        assert isinstance(exc.message, str) and exc.message.strip(), "an error must say what is wrong"
        assert len(exc.message) <= LONGEST_MESSAGE, f"message of {len(exc.message)} characters"
        return None
    assert isinstance(rows, np.ndarray), type(rows)
    assert rows.dtype == np.float64, rows.dtype
    assert rows.ndim == 2, rows.shape
    assert rows.shape[0] >= 1 and rows.shape[1] >= 1, rows.shape
    return rows


media_types = st.builds(
    MediaType, st.sampled_from(DECODED_TYPES + OTHER_TYPES), st.sampled_from(CHARSETS)
) | st.builds(MediaType, st.sampled_from(DECODED_TYPES))


# --- any bytes ------------------------------------------------------------------------


@MEDIUM
@given(body=st.binary(max_size=300), media_type=media_types)
def test_arbitrary_bytes(body: bytes, media_type: MediaType) -> None:
    check_contract(body, media_type)


@FAST
@given(
    body=st.sampled_from([b"", b" ", b"\n", b"\r\n", b"\t \n", b"\n\n\n", b"\x00", b"\xef\xbb\xbf"]),
    media_type=st.builds(MediaType, st.sampled_from(DECODED_TYPES)),
)
def test_empty_bodies_are_bad_requests(body: bytes, media_type: MediaType) -> None:
    with pytest.raises(BadRequest):
        decode(body, media_type)


def test_unsupported_types_are_415() -> None:
    for media_type in OTHER_TYPES:
        with pytest.raises(UnsupportedMediaType, match="not supported"):
            decode(b"1,2,3", MediaType(media_type))


# --- CSV ------------------------------------------------------------------------------

CELL_WORDS = (
    "a",
    "x1",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e-400",
    "1.7976931348623157e308",
    "1_0",
    "0x10",
    "1e",
    "e1",
    ".",
    "-",
    "+1",
    " 1 ",
    "\t2",
    "",
    '"1"',
    '""',
    '"',
    '"1,2"',
    '"1\n2"',
    "\u0661",
    "½",
    "1j",
    "True",
    "None",
    "\x00",
    "\x0b",
    "\x0c",
    "\u2028",
    "\u00a0",
    "\ufeff1",
    "#1",
    "1;2",
    "9" * 3000,
    "y" * 3000,
)
cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.sampled_from(CELL_WORDS),
    st.text(max_size=6),
)
rows_of_cells = st.lists(st.lists(cells, min_size=0, max_size=6), min_size=0, max_size=6)


@st.composite
def csv_bodies(draw: st.DrawFn) -> tuple[bytes, MediaType]:
    rows = draw(rows_of_cells)
    lines = [",".join(row) for row in rows]
    if draw(st.booleans()):
        lines.insert(0, ",".join(f"feature_{i}" for i in range(draw(st.integers(1, 6)))))
    if lines and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", " ", "\t", ","])))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n", " "]))
    charset = draw(st.sampled_from([None, "utf-8", "latin-1", "utf-16", "ascii"]))
    body = text.encode(charset or "utf-8", errors="replace")
    if draw(st.booleans()):
        # Non-UTF-8 bytes or a NUL somewhere in the body.
        at = draw(st.integers(0, len(body)))
        body = (
            body[:at]
            + draw(st.sampled_from([b"\xff", b"\xe9", b"\x00", b"\xc3", b"\xef\xbb\xbf"]))
            + body[at:]
        )
    return body, MediaType(CSV, charset)


@MEDIUM
@given(case=csv_bodies())
def test_csv_malformed(case: tuple[bytes, MediaType]) -> None:
    check_contract(*case)


@FAST
@given(
    width=st.integers(1, 8),
    good_rows=st.integers(1, 5),
    bad_width=st.integers(1, 12),
)
def test_csv_ragged_rows_name_the_row(width: int, good_rows: int, bad_width: int) -> None:
    if bad_width == width:
        bad_width += 1
    lines = [",".join(["1"] * width)] * good_rows + [",".join(["2"] * bad_width)]
    with pytest.raises(BadRequest, match=f"row {good_rows + 1}"):
        decode("\n".join(lines).encode(), MediaType(CSV))


@FAST
@given(
    header=st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_ ]{0,10}", fullmatch=True), min_size=1, max_size=6)
)
def test_csv_header_row_is_named(header: list[str]) -> None:
    body = (",".join(header) + "\n" + ",".join(["1"] * len(header))).encode()
    with pytest.raises(BadRequest, match="header"):
        decode(body, MediaType(CSV))


# --- JSON and JSON Lines ----------------------------------------------------------------

ENVELOPE_KEYS = ("instances", "inputs", "features", "data", "")
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["1", "1.5", "nan", "1e400", "", "x" * 3000]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.sampled_from(ENVELOPE_KEYS) | st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=40,
)


@st.composite
def json_documents(draw: st.DrawFn) -> object:
    """Values of every shape, often wrapped the way real clients wrap rows."""
    value = draw(json_values)
    wrap = draw(st.sampled_from(["none", "instances", "inputs", "features", "list", "list-features"]))
    if wrap in ("instances", "inputs"):
        return {wrap: value}
    if wrap == "features":
        return {"instances": [{"features": value}]}
    if wrap == "list":
        return [value]
    if wrap == "list-features":
        return [{"features": value}, value]
    return value


def _dump(value: object) -> str:
    return json.dumps(value, allow_nan=True)


@MEDIUM
@given(document=json_documents(), charset=st.sampled_from([None, "utf-8", "utf-16", "latin-1"]))
def test_json_wrong_shapes(document: object, charset: str | None) -> None:
    body = _dump(document).encode(charset or "utf-8")
    check_contract(body, MediaType(JSON, charset))


@FAST
@given(
    depth=st.integers(1, 6000),
    inner=st.sampled_from(["", "1", "1,2", '"x"', "{}", "null"]),
    media=st.sampled_from([JSON, JSONLINES]),
)
def test_json_nested_to_any_depth(depth: int, inner: str, media: str) -> None:
    body = ("[" * depth + inner + "]" * depth).encode()
    check_contract(body, MediaType(media))


@FAST
@given(
    document=json_documents(),
    cut=st.integers(min_value=0, max_value=400),
    media=st.sampled_from([JSON, JSONLINES]),
)
def test_json_truncated(document: object, cut: int, media: str) -> None:
    body = _dump(document).encode()
    check_contract(body[: min(cut, max(len(body) - 1, 0))], MediaType(media))


@st.composite
def jsonlines_bodies(draw: st.DrawFn) -> bytes:
    lines = [_dump(v) for v in draw(st.lists(json_documents(), min_size=0, max_size=5))]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", " ", "{", "[1,", "nope"])))
    newline = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return (newline.join(lines) + draw(st.sampled_from(["", "\n", "\r\n"]))).encode()


@MEDIUM
@given(body=jsonlines_bodies())
def test_jsonlines_malformed(body: bytes) -> None:
    check_contract(body, MediaType(JSONLINES))


# --- NPY ------------------------------------------------------------------------------

npy_dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(),
    hnp.complex_number_dtypes(),
    hnp.datetime64_dtypes(),
    hnp.unicode_string_dtypes(max_len=4),
    hnp.byte_string_dtypes(max_len=4),
)
npy_arrays = hnp.arrays(npy_dtypes, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


@MEDIUM
@given(array=npy_arrays, fortran=st.booleans())
def test_npy_any_dtype_and_shape(array: np.ndarray, fortran: bool) -> None:
    if fortran:
        array = np.asfortranarray(array)
    rows = check_contract(_npy(array), MediaType(NPY))
    if rows is not None:
        assert array.dtype.kind in "biuf"
        expected = array.reshape(1, -1) if array.ndim == 1 else array
        np.testing.assert_array_equal(rows, expected.astype(np.float64))


@FAST
@given(array=npy_arrays, data=st.data())
def test_npy_truncated(array: np.ndarray, data: st.DataObject) -> None:
    body = _npy(array)
    cut = data.draw(st.integers(0, len(body) - 1))
    check_contract(body[:cut], MediaType(NPY))


@FAST
@given(array=npy_arrays, data=st.data())
def test_npy_corrupted_header(array: np.ndarray, data: st.DataObject) -> None:
    body = bytearray(_npy(array))
    header_end = body.index(b"\n") + 1
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, header_end - 1))
        body[at] = data.draw(st.integers(0, 255))
    check_contract(bytes(body), MediaType(NPY))


@FAST
@given(
    value=st.sampled_from(
        [
            np.array([{"a": 1}], dtype=object),
            np.array([[1, "x"], [2, None]], dtype=object),
            np.array([1.0, 2.0], dtype=object),
        ]
    ),
    raw_pickle=st.booleans(),
)
def test_npy_pickled_data_is_refused(value: np.ndarray, raw_pickle: bool) -> None:
    body = pickle.dumps(value) if raw_pickle else _npy(value, allow_pickle=True)
    with pytest.raises(BadRequest):
        decode(body, MediaType(NPY))


@FAST
@given(tail=st.binary(max_size=200))
def test_npy_magic_then_garbage(tail: bytes) -> None:
    check_contract(b"\x93NUMPY" + tail, MediaType(NPY))


def test_npz_archive_is_named() -> None:
    out = io.BytesIO()
    np.savez(out, rows=np.ones((2, 3)))
    with pytest.raises(BadRequest, match="npz"):
        decode(out.getvalue(), MediaType(NPY))


# --- round trips ----------------------------------------------------------------------

matrices = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
    elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
)
finite_matrices = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
    elements=st.floats(allow_nan=False, allow_infinity=False, width=64),
)


@MEDIUM
@given(matrix=matrices, charset=st.sampled_from([None, "utf-8", "utf-16", "latin-1", "ascii"]))
def test_round_trip_csv(matrix: np.ndarray, charset: str | None) -> None:
    body = encode_csv(matrix).decode().encode(charset or "utf-8")
    np.testing.assert_array_equal(decode(body, MediaType(CSV, charset)), matrix)


@MEDIUM
@given(matrix=matrices, envelope=st.sampled_from(["rows", "instances", "inputs", "features"]))
def test_round_trip_json(matrix: np.ndarray, envelope: str) -> None:
    if envelope == "rows":
        body = encode_json(matrix)
    elif envelope == "features":
        body = _dump([{"features": row} for row in matrix.tolist()]).encode()
    else:
        body = _dump({envelope: matrix.tolist()}).encode()
    np.testing.assert_array_equal(decode(body, MediaType(JSON)), matrix)


@FAST
@given(row=finite_matrices.map(lambda m: m[0]))
def test_round_trip_json_single_row(row: np.ndarray) -> None:
    decoded = decode(_dump(row.tolist()).encode(), MediaType(JSON))
    np.testing.assert_array_equal(decoded, row.reshape(1, -1))


@MEDIUM
@given(matrix=matrices, newline=st.sampled_from(["\n", "\r\n"]), trailing=st.booleans())
def test_round_trip_jsonlines(matrix: np.ndarray, newline: str, trailing: bool) -> None:
    body = encode_jsonlines(matrix).decode().replace("\n", newline) + (newline if trailing else "")
    np.testing.assert_array_equal(decode(body.encode(), MediaType(JSONLINES)), matrix)


@MEDIUM
@given(
    matrix=matrices,
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.uint16, np.bool_]),
    fortran=st.booleans(),
)
def test_round_trip_npy(matrix: np.ndarray, dtype: type, fortran: bool) -> None:
    if np.dtype(dtype).kind != "f":
        matrix = np.nan_to_num(matrix, posinf=0, neginf=0)
        matrix = np.clip(matrix, -100, 100)
    with np.errstate(over="ignore"):
        typed = matrix.astype(dtype)
    if fortran:
        typed = np.asfortranarray(typed)
    decoded = decode(encode_npy(typed), MediaType(NPY))
    assert decoded.dtype == np.float64
    np.testing.assert_array_equal(decoded, typed.astype(np.float64))


# --- known product bugs: each fails today; strict, so a fix shows up as XPASS ------------


@pytest.mark.parametrize("media", [JSON, JSONLINES])
def test_once_a_500_huge_json_integer(media: str) -> None:
    with pytest.raises((BadRequest, UnsupportedMediaType)):
        decode(b"[1" + b"0" * 400 + b", 2]", MediaType(media))


@pytest.mark.parametrize("media", [JSON, JSONLINES])
def test_once_a_500_json_integer_digit_limit(media: str) -> None:
    with pytest.raises((BadRequest, UnsupportedMediaType)):
        decode(b"[1" + b"0" * 5000 + b", 2]", MediaType(media))


def test_once_a_500_npy_header_with_huge_shape() -> None:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 6)})
    with pytest.raises((BadRequest, UnsupportedMediaType)):
        decode(out.getvalue() + b"\0" * 48, MediaType(NPY))


@pytest.mark.parametrize("body", [b"\x93NUMPY\x01\x00\x02\x00(\n", b"\x93NUMPY\x02\x00\x02\x00\x00\x00[\n"])
def test_once_a_500_npy_header_unbalanced_bracket(body: bytes) -> None:
    with pytest.raises((BadRequest, UnsupportedMediaType)):
        decode(body, MediaType(NPY))


@pytest.mark.parametrize(("charset", "body"), [("punycode", b"99999999999"), ("idna", b"xn--zz")])
def test_once_a_500_punycode_charset(charset: str, body: bytes) -> None:
    with pytest.raises((BadRequest, UnsupportedMediaType)):
        decode(body, MediaType(CSV, charset))


@pytest.mark.parametrize("shape", [(2, 0), (0,)])
def test_once_a_500_npy_without_columns(shape: tuple[int, ...]) -> None:
    with pytest.raises(BadRequest):
        decode(_npy(np.ones(shape)), MediaType(NPY))


@pytest.mark.parametrize("cell", ["1_0", "\u0661"])
def test_once_a_500_csv_message_names_the_cell(cell: str) -> None:
    with pytest.raises(BadRequest, match=r"row 1, column 2"):
        decode(f"1,{cell},3".encode(), MediaType(CSV))


def test_once_a_500_json_object_keys_are_echoed_in_full() -> None:
    with pytest.raises(BadRequest) as caught:
        decode(json.dumps({"k" * 100_000: 1}).encode(), MediaType(JSON))
    assert len(caught.value.message) <= LONGEST_MESSAGE


def test_once_a_500_npy_long_header_is_not_pickled_data() -> None:
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 6), }".ljust(19_989) + b"\n"
    body = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + np.ones(6).tobytes()
    with pytest.raises(BadRequest, match="header"):
        decode(body, MediaType(NPY))


@MEDIUM
@given(st.lists(st.text("0123456789eE.+-", min_size=1, max_size=8), min_size=1, max_size=8))
def test_the_one_row_fast_path_reads_as_numpys_parser_does(cells: list[str]) -> None:
    """A plain one-row body takes a shortcut past loadtxt; it must accept and refuse the same."""
    text = ",".join(cells)
    try:
        expected = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        with pytest.raises(BadRequest):
            decode(text.encode(), MediaType(CSV))
        return
    got = decode(text.encode(), MediaType(CSV))
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
