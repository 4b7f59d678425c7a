"""Predictions to response bodies: one encoder per content type.

Predictions keep their dtype: integer labels stay integers and string labels stay
strings. Line-oriented formats end without a trailing newline, because batch transform
appends one after each response and would otherwise add blank records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse

from serving.codecs import recordio_write
from serving.codecs.content_types import CSV, JSON, JSONLINES, NPY, RECORDIO
from serving.errors import NotAcceptable

Encoder = Callable[[Any], bytes]


def as_array(prediction: Any) -> np.ndarray:
    if hasattr(prediction, "to_numpy"):  # pandas objects
        prediction = prediction.to_numpy()
    return np.asarray(prediction)


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones, which json knows."""
    return value.item() if isinstance(value, np.generic) else value


def encode_json(prediction: Any) -> bytes:
    if isinstance(prediction, (dict, list, str, int, float, bool)) or prediction is None:
        return json.dumps(prediction, default=_plain).encode()
    return json.dumps(as_array(prediction).tolist()).encode()


def encode_jsonlines(prediction: Any) -> bytes:
    rows = as_array(prediction)
    if rows.ndim == 0:
        rows = rows.reshape(1)
    return "\n".join(json.dumps(row) for row in rows.tolist()).encode()


def encode_csv(prediction: Any) -> bytes:
    rows = as_array(prediction)
    if rows.ndim == 0:
        rows = rows.reshape(1)
    if rows.dtype.kind in "biuf":
        # Numbers need no quoting: str() gives the shortest repr that round-trips.
        if rows.ndim == 1:
            return "\n".join(map(str, rows.tolist())).encode()
        return "\n".join(",".join(map(str, row)) for row in rows.tolist()).encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if rows.ndim == 1:
        writer.writerows([value] for value in rows.tolist())
    else:
        writer.writerows(rows.tolist())
    return out.getvalue().rstrip("\n").encode()


def encode_npy(prediction: Any) -> bytes:
    array = as_array(prediction)
    if array.dtype.kind == "O":
        # Object arrays would need pickle to load; labels are strings, so store them as such.
        array = array.astype(str)
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


ENCODERS: dict[str, Encoder] = {
    JSON: encode_json,
    CSV: encode_csv,
    JSONLINES: encode_jsonlines,
    NPY: encode_npy,
    RECORDIO: recordio_write.encode,
}

SUPPORTED = tuple(ENCODERS)


def encode(prediction: Any, media_type: str) -> bytes:
    encoder = ENCODERS.get(media_type)
    if encoder is None:
        raise NotAcceptable(f"cannot produce {media_type!r}; supported: {', '.join(SUPPORTED)}")
    if sparse.issparse(prediction) and media_type != RECORDIO:
        # A transformer's sparse output: the text formats write every value.
        prediction = prediction.toarray()
    return encoder(prediction)
