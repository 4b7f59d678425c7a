"""Batch transform's DataProcessing (InputFilter, JoinSource, OutputFilter), applied per record.

SageMaker does this outside the container (DG `batch-transform-data-processing.md`, API
`DataProcessing`): `InputFilter` picks what the container receives, `JoinSource: Input` joins the
original record with the container's reply, and `OutputFilter` picks what is written. Only CSV, JSON
and JSON Lines are supported; a CSV row is taken as a JSON array of its cells.

The JSONPath subset is the DG's operator table, implemented here rather than with a JSONPath library
because AWS's documented semantics (a CSV row as an array, indexes outside the data are errors, the
63-character limit, no dots inside bracketed names) are not any one library's. Where the DG is silent,
the results follow Jayway JsonPath, which AWS's service is understood to use: a definite path (single
names and single indexes only) gives the value itself, any other path gives the list of its matches,
and several names as the last step give an object with those keys.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

CONTENT_TYPES = ("text/csv", "application/json", "application/jsonlines")
CSV = "text/csv"
JOIN_SOURCES = ("None", "Input")
# API DataProcessing: InputFilter and OutputFilter are "JsonPath" strings of at most 63 characters.
MAX_PATH_LENGTH = 63
# The DG says "$[1:4] specifies the second through fifth columns" (an inclusive end), but AWS's
# service is understood to use Jayway JsonPath, whose slice ends are exclusive like Python's, and
# the DG's sentence is unconfirmed. Exclusive it is; flip this one constant if AWS proves otherwise.
SLICE_END_INCLUSIVE = False
# The join's attributes for JSON (DG); SageMakerOutput is reserved in the input.
OUTPUT_KEY = "SageMakerOutput"
INPUT_KEY = "SageMakerInput"
# Records quoted in error messages are cut to this, as the message becomes a FailureReason.
_QUOTED_RECORD_CHARS = 100

# A name after a dot runs up to the next operator; quotes and spaces there are mistakes, not names.
_DOT_NAME = re.compile(r"[^.\[\]\s'\"*,()?]+")
_INDEX_ITEM = re.compile(r"\s*(-?\d+)?\s*(?:(:)\s*(-?\d+)?\s*)?")


class DataProcessingError(ValueError):
    """A path or a record that DataProcessing cannot handle; the message says what and why (it becomes a
    ValidationException or a job's FailureReason)."""


class _Miss(Exception):
    """A path step that finds nothing in a record; the caller adds the path and the record."""


class _Slice(NamedTuple):
    start: int | None
    end: int | None


@dataclass(frozen=True)
class _Names:
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Indexes:
    items: tuple[int | _Slice, ...]


_Segment = _Names | _Wildcard | _Indexes


@dataclass(frozen=True)
class _Path:
    text: str
    segments: tuple[_Segment, ...]

    @property
    def definite(self) -> bool:
        """Whether the path names one value (Jayway returns it bare) rather than a list of matches."""
        last = len(self.segments) - 1
        for position, segment in enumerate(self.segments):
            if isinstance(segment, _Names):
                # Several names as the last step merge into one object: still one value.
                if len(segment.names) > 1 and position != last:
                    return False
            elif not (
                isinstance(segment, _Indexes)
                and len(segment.items) == 1
                and isinstance(segment.items[0], int)
            ):
                return False
        return True

    @property
    def fits_csv(self) -> bool:
        """Whether the path can apply to a CSV row: one index-based step at most, since cells are strings."""
        return len(self.segments) <= 1 and all(isinstance(s, _Indexes | _Wildcard) for s in self.segments)


def _compile(text: Any, parameter: str) -> _Path:
    where = f"DataProcessing.{parameter}"
    if not isinstance(text, str):
        raise DataProcessingError(f"{where} must be a string, not {type(text).__name__}")
    if len(text) > MAX_PATH_LENGTH:
        raise DataProcessingError(
            f"{where} is {len(text)} characters long; JSONPath expressions are limited to {MAX_PATH_LENGTH}"
        )
    if not text.startswith("$"):
        raise DataProcessingError(f"{where} {text!r} must start with the root '$'")
    segments: list[_Segment] = []
    pos, end = 1, len(text)
    while pos < end:
        char = text[pos]
        if char == ".":
            pos += 1
            if pos == end:
                raise _syntax(where, text, pos, "a path cannot end with '.'")
            if text.startswith(".", pos):
                raise _syntax(where, text, pos, "recursive descent '..' is not supported")
            if text.startswith("[", pos):
                # The DG's nesting form `$.field1.['child1','child2']`: the bracket is the step.
                continue
            if text.startswith("*", pos):
                segments.append(_Wildcard())
                pos += 1
                continue
            match = _DOT_NAME.match(text, pos)
            if match is None:
                raise _syntax(where, text, pos, "expected a name or '*' after '.'")
            segments.append(_Names((match.group(),)))
            pos = match.end()
        elif char == "[":
            segment, pos = _bracket(where, text, pos + 1)
            segments.append(segment)
        else:
            raise _syntax(where, text, pos, f"unexpected {char!r}; a step is '.<name>', '.*' or '[...]'")
    return _Path(text, tuple(segments))


def _syntax(where: str, text: str, pos: int, reason: str) -> DataProcessingError:
    return DataProcessingError(f"{where} {text!r}: {reason} (at position {pos})")


def _bracket(where: str, text: str, pos: int) -> tuple[_Segment, int]:
    """One `[...]` step, `pos` just after the `[`; returns the step and the position after the `]`."""

    def fail(reason: str) -> DataProcessingError:
        return _syntax(where, text, pos, reason)

    while text.startswith(" ", pos):
        pos += 1
    if text.startswith("*", pos):
        pos += 1
        while text.startswith(" ", pos):
            pos += 1
        if not text.startswith("]", pos):
            raise fail("expected ']' after '*'")
        return _Wildcard(), pos + 1
    if text.startswith(("?", "("), pos):
        raise fail("filter and script expressions are not supported")
    if text.startswith(("'", '"'), pos):
        names: list[str] = []
        while True:
            quote = text[pos]
            close = text.find(quote, pos + 1)
            if close < 0:
                raise fail("unterminated quoted name")
            name = text[pos + 1 : close]
            if not name:
                raise fail("empty name")
            if "." in name:
                # DG: "$.field1.['child1','child2.grandchild']" is not supported.
                raise fail(
                    f"a bracketed name cannot contain '.' (paths cannot nest inside brackets): {name!r}"
                )
            names.append(name)
            pos = close + 1
            while text.startswith(" ", pos):
                pos += 1
            if text.startswith("]", pos):
                return _Names(tuple(names)), pos + 1
            if not text.startswith(",", pos):
                raise fail("expected ',' or ']' after a quoted name")
            pos += 1
            while text.startswith(" ", pos):
                pos += 1
            if not text.startswith(("'", '"'), pos):
                raise fail("expected a quoted name after ','")
    items: list[int | _Slice] = []
    while True:
        match = _INDEX_ITEM.match(text, pos)
        assert match is not None  # every group is optional
        number, colon, slice_end = match.groups()
        if number is None and colon is None:
            raise fail("expected an index, a slice '<start>:<end>', a quoted name or '*'")
        if colon is None:
            items.append(int(number))
        else:
            items.append(_Slice(_optional_int(number), _optional_int(slice_end)))
        pos = match.end()
        if text.startswith("]", pos):
            return _Indexes(tuple(items)), pos + 1
        if text.startswith(":", pos):
            raise fail("slice steps '<start>:<end>:<step>' are not supported")
        if not text.startswith(",", pos):
            raise fail("expected ',' or ']' in an index list")
        pos += 1


def _optional_int(digits: str | None) -> int | None:
    return None if digits is None else int(digits)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _index(items: list[Any], index: int) -> Any:
    position = index + len(items) if index < 0 else index
    if not 0 <= position < len(items):
        # API OutputFilter: "If you specify indexes that aren't within the dimension size of the joined
        # dataset, you get an error."
        raise _Miss(f"index {index} is outside an array of {len(items)}")
    return items[position]


def _slice(items: list[Any], part: _Slice) -> list[Any]:
    size = len(items)
    for bound in part:
        # The same rule as for indexes; a bound equal to the length is the end, not outside.
        if bound is not None and not -size <= bound <= size:
            raise _Miss(f"slice bound {bound} is outside an array of {size}")
    end = part.end
    if SLICE_END_INCLUSIVE and end is not None:
        end = (end + size if end < 0 else end) + 1
    return items[part.start : end]


def _step(segment: _Segment, node: Any, leaf: bool) -> list[Any]:
    if isinstance(segment, _Names):
        if not isinstance(node, dict):
            raise _Miss(f"{_names_text(segment)} needs an object, found {_kind(node)}")
        missing = [name for name in segment.names if name not in node]
        if missing:
            raise _Miss(f"no attribute {missing[0]!r}")
        if len(segment.names) > 1 and leaf:
            return [{name: node[name] for name in segment.names}]
        return [node[name] for name in segment.names]
    if isinstance(segment, _Wildcard):
        if isinstance(node, dict):
            return list(node.values())
        if isinstance(node, list):
            return list(node)
        raise _Miss(f"'*' needs an object or an array, found {_kind(node)}")
    if not isinstance(node, list):
        raise _Miss(f"an index needs an array, found {_kind(node)}")
    picked: list[Any] = []
    for item in segment.items:
        if isinstance(item, _Slice):
            picked.extend(_slice(node, item))
        else:
            picked.append(_index(node, item))
    return picked


def _names_text(segment: _Names) -> str:
    if len(segment.names) == 1:
        return f"'.{segment.names[0]}'"
    return "[" + ",".join(repr(name) for name in segment.names) + "]"


def _select(path: _Path, value: Any) -> Any:
    nodes = [value]
    last = len(path.segments) - 1
    for position, segment in enumerate(path.segments):
        nodes = [found for node in nodes for found in _step(segment, node, position == last)]
    return nodes[0] if path.definite else nodes


def _quoted(record: bytes) -> str:
    text = record.decode("utf-8", "replace")
    return text if len(text) <= _QUOTED_RECORD_CHARS else text[: _QUOTED_RECORD_CHARS - 3] + "..."


def _media(content_type: str | None, parameter: str) -> str:
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base not in CONTENT_TYPES:
        raise DataProcessingError(
            f"{parameter} must be text/csv, application/json or application/jsonlines when DataProcessing "
            f"is set, not {content_type!r}"
        )
    return base


def _decode(record: bytes, what: str) -> str:
    try:
        # utf-8-sig: the first record of a file may carry a byte order mark, which is not data.
        return record.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataProcessingError(f"the {what} is not UTF-8 ({exc.reason}): {_quoted(record)}") from None


def _parse(record: bytes, media: str, what: str) -> Any:
    text = _decode(record, what)
    if media == CSV:
        try:
            rows = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise DataProcessingError(
                f"the {what} is not an RFC 4180 CSV row ({exc}): {_quoted(record)}"
            ) from None
        return rows[0] if rows else []
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataProcessingError(f"the {what} is not JSON ({exc.msg}): {_quoted(record)}") from None


def _write(value: Any, media: str) -> bytes:
    if media != CSV:
        # Compact, so that a JSON Lines record stays one line (json escapes newlines in strings).
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode()
        except UnicodeEncodeError:
            # A lone surrogate ("\ud800" in the input) has no UTF-8 form; escaped, it stays valid JSON.
            return json.dumps(value, separators=(",", ":")).encode()
    cells = value if isinstance(value, list) else [value]
    buffer = io.StringIO()
    # The terminator is cut off below; having "\r\n" there makes the writer quote cells holding a CR.
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().removesuffix("\r\n").encode()


@dataclass(frozen=True)
class DataProcessing:
    """A transform job's DataProcessing, with its paths compiled once for every record."""

    input_filter: str = "$"
    output_filter: str = "$"
    join_source: str = "None"  # "None" or "Input"
    _input: _Path = field(init=False, repr=False, compare=False)
    _output: _Path = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.join_source not in JOIN_SOURCES:
            raise DataProcessingError(
                f"DataProcessing.JoinSource must be one of {', '.join(JOIN_SOURCES)}, "
                f"not {self.join_source!r}"
            )
        # Frozen, yet the compiled paths are derived state: set once here, never changed.
        object.__setattr__(self, "_input", _compile(self.input_filter, "InputFilter"))
        object.__setattr__(self, "_output", _compile(self.output_filter, "OutputFilter"))

    @classmethod
    def from_request(cls, spec: Mapping[str, Any] | None) -> DataProcessing:
        """The CreateTransformJob request's DataProcessing (None or missing keys take the defaults)."""
        spec = spec or {}
        if not isinstance(spec, Mapping):
            raise DataProcessingError(f"DataProcessing must be an object, not {type(spec).__name__}")
        join_source = spec.get("JoinSource")
        if join_source is None:
            join_source = "None"
        elif not isinstance(join_source, str):
            raise DataProcessingError(
                f"DataProcessing.JoinSource must be a string, not {type(join_source).__name__}"
            )
        return cls(
            input_filter="$" if spec.get("InputFilter") is None else spec["InputFilter"],
            output_filter="$" if spec.get("OutputFilter") is None else spec["OutputFilter"],
            join_source=join_source,
        )

    @property
    def is_identity(self) -> bool:
        return not self._input.segments and not self._output.segments and self.join_source == "None"

    @property
    def _joins(self) -> bool:
        return self.join_source == "Input"

    def check_job(
        self, content_type: str | None, accept: str | None, split_type: str, assemble_with: str
    ) -> None:
        """AWS's constraints on a job that uses DataProcessing; raises naming the parameter at fault."""
        if self.is_identity:
            return
        input_media = _media(content_type, "TransformInput.ContentType")
        output_media = _media(accept, "TransformOutput.Accept")
        if CSV in (input_media, output_media):
            # DG: CSV needs SplitType and AssembleWith Line; the DG does not say which side makes it
            # apply, and a CSV record is one line on either side, so either side does.
            if split_type != "Line":
                raise DataProcessingError(
                    f"TransformInput.SplitType must be Line for text/csv with DataProcessing, "
                    f"not {split_type!r}"
                )
            if assemble_with != "Line":
                raise DataProcessingError(
                    f"TransformOutput.AssembleWith must be Line for text/csv with DataProcessing, "
                    f"not {assemble_with!r}"
                )
        if self._joins:
            _check_join_types(input_media, output_media)
        joined_media = input_media if self._joins else output_media
        for parameter, path, media in (
            ("InputFilter", self._input, input_media),
            ("OutputFilter", self._output, joined_media),
        ):
            if media == CSV and not path.fits_csv:
                # DG: "For CSV data, each row is taken as a JSON array, so only index based JSONPaths can
                # be applied"; the cells are strings, so a second step would find nothing either.
                raise DataProcessingError(
                    f"DataProcessing.{parameter} {path.text!r} cannot apply to text/csv: a CSV row is an "
                    "array of cells, so only one index-based step applies, such as $[0], $[1:] or $[0,-1]"
                )

    def filter_input(self, record: bytes, content_type: str) -> bytes:
        """One input record (a CSV or JSON Lines line without its newline, or a whole JSON document) → what
        the container receives."""
        if not self._input.segments:
            return record
        media = _media(content_type, "ContentType")
        selected = self._apply(
            self._input, "InputFilter", _parse(record, media, "input record"), record, media
        )
        return _write(selected, media)

    def finish(self, source: bytes, output: bytes, content_type: str, accept: str) -> bytes:
        """`source` the original input record, `output` the container's reply for it (one line, no newline)
        → the record written to the .out file (no newline added)."""
        if not self._joins and not self._output.segments:
            return output
        output_media = _media(accept, "Accept")
        if self._joins:
            input_media = _media(content_type, "ContentType")
            _check_join_types(input_media, output_media)
            reply = _parse(output, output_media, "model's output")
            if input_media == CSV:
                # DG: "the joined input data is followed by the transformed data", all of its cells.
                joined: Any = _parse(source, CSV, "input record") + reply
            else:
                joined = _join_json(_parse(source, input_media, "input record"), reply, source)
            media, described = input_media, source + b" + " + output
        else:
            joined, media, described = _parse(output, output_media, "model's output"), output_media, output
        if not self._output.segments:
            return _write(joined, media)
        return _write(self._apply(self._output, "OutputFilter", joined, described, media), media)

    @staticmethod
    def _apply(path: _Path, parameter: str, value: Any, record: bytes, media: str) -> Any:
        try:
            selected = _select(path, value)
            if media == CSV and selected == []:
                # An empty row is a blank line, which readers skip, so the records would no longer line up.
                raise _Miss("nothing is selected, and a CSV record cannot be empty")
        except _Miss as exc:
            raise DataProcessingError(
                f"{parameter} {path.text!r}: {exc} in the record {_quoted(record)}"
            ) from None
        return selected


def _check_join_types(input_media: str, output_media: str) -> None:
    if CSV in (input_media, output_media) and input_media != output_media:
        raise DataProcessingError(
            "DataProcessing.JoinSource Input needs the same format on both sides when either is text/csv "
            f"(ContentType {input_media}, Accept {output_media}): AWS documents no rule for joining CSV "
            "with JSON"
        )


def _join_json(source: Any, reply: Any, record: bytes) -> dict[str, Any]:
    if not isinstance(source, dict):
        # DG: a non-object input is stored under SageMakerInput next to SageMakerOutput.
        return {INPUT_KEY: source, OUTPUT_KEY: reply}
    if OUTPUT_KEY in source:
        raise DataProcessingError(
            f"the input record has an attribute {OUTPUT_KEY!r}, which is reserved for the join's output: "
            f"{_quoted(record)}"
        )
    # The DG's example keeps the input's attributes first and appends SageMakerOutput.
    return {**source, OUTPUT_KEY: reply}
