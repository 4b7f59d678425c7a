"""Media types: parsing Content-Type and choosing a response type from Accept."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header, parse_options_header

from serving.errors import NotAcceptable

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"
RECORDIO = "application/x-recordio-protobuf"

# Other spellings clients send for the same formats.
ALIASES = {
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-ndjson": JSONLINES,
    "application/npy": NPY,
}

TEXT_TYPES = frozenset({CSV, JSON, JSONLINES})


@dataclass(frozen=True)
class MediaType:
    """A Content-Type header reduced to what decoding needs."""

    type: str
    charset: str | None = None
    # True when no usable Content-Type came with the request and `type` is the default.
    assumed: bool = False
    # RFC 4180's `header=present|absent` on text/csv.
    header: str | None = None

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES or self.type.startswith("text/")


def normalize(media_type: str) -> str:
    media_type = media_type.strip().lower()
    return ALIASES.get(media_type, media_type)


def parse_content_type(header: str | None, default: str = JSON) -> MediaType:
    """Parse Content-Type, parameters and all (`text/csv; charset=utf-8` is `text/csv`)."""
    value, params = parse_options_header(header or "")
    if not value or "/" not in value:
        return MediaType(default, assumed=True)
    charset, header = params.get("charset"), params.get("header")
    return MediaType(
        normalize(value),
        charset.strip().lower() if charset else None,
        header=header.strip().lower() if header else None,
    )


def _parse_accept(header: str) -> MIMEAccept:
    # Parameters such as charset say nothing about which encoder to use; drop them so
    # `application/json; charset=utf-8` matches `application/json`.
    parsed = parse_accept_header(header, MIMEAccept)
    if not parsed:
        raise NotAcceptable(f"could not parse the Accept header {header[:200]!r}")
    return MIMEAccept([(normalize(value.split(";", 1)[0]), q) for value, q in parsed])


def _is_wildcard_only(accept: MIMEAccept) -> bool:
    return all(value == "*/*" for value, _ in accept)


def _refuses_everything(accept: MIMEAccept) -> bool:
    return all(q <= 0 for _, q in accept)


# Clients send the same few Accept headers again and again; parsing one costs about 40 µs.
@functools.lru_cache(maxsize=256)
def negotiate(header: str | None, supported: tuple[str, ...], default: str) -> str:
    """The response type for the built-in encoders: best match from Accept, q-values honoured.

    A missing Accept, or one that only says `*/*`, gets the configured default.
    """
    if not header or not header.strip():
        return default
    accept = _parse_accept(header)
    if _refuses_everything(accept):
        raise NotAcceptable(f"the Accept header {header[:200]!r} accepts no type at all (every q is 0)")
    if _is_wildcard_only(accept):
        return default
    # The default first: among equally acceptable types it wins.
    ordered = (default, *[t for t in supported if t != default]) if default in supported else supported
    match = accept.best_match(ordered)
    if match is None:
        raise NotAcceptable(
            f"none of the types in Accept {header[:200]!r} can be produced; supported: {', '.join(supported)}"
        )
    return match


def preferred(header: str | None, default: str) -> str:
    """The single type a user's output_fn is asked for: the highest-ranked concrete type."""
    if not header or not header.strip():
        return default
    accept = _parse_accept(header)
    concrete = [(value, q) for value, q in accept if "*" not in value and q > 0]
    if not concrete:
        return default
    return max(concrete, key=lambda item: item[1])[0]
