"""Answers made of named outputs (`predicted_label`, `probabilities`, ...), as AWS writes them.

The formats are those of AWS's algorithm and Autopilot containers, so that the next
container of a pipeline, or a client written for them, reads ours unchanged:

- `text/csv`: one line per record, the keys' values in the order asked for; a list is
  its Python repr in double quotes (`1,"[0.3, 0.7]"`);
- `application/json`: `{"predictions": [{"predicted_label": 1, "probabilities": [...]}, ...]}`;
- `application/jsonlines`: one such object per line;
- `application/x-recordio-protobuf`: one Record per row, each key in its `label` map.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from serving.codecs import recordio_write
from serving.codecs.content_types import CSV, JSON, JSONLINES, RECORDIO
from serving.errors import NotAcceptable

Columns = dict[str, Any]


def _plain(values: Any) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def records(columns: Columns) -> list[dict[str, Any]]:
    plain = {key: _plain(values) for key, values in columns.items()}
    count = len(next(iter(plain.values()))) if plain else 0
    return [{key: values[row] for key, values in plain.items()} for row in range(count)]


def _csv_cell(value: Any) -> str:
    if isinstance(value, list):
        return '"{}"'.format(str(value).replace('"', '""'))
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([value])
    return out.getvalue()


def encode_csv(columns: Columns) -> bytes:
    return "\n".join(",".join(map(_csv_cell, row.values())) for row in records(columns)).encode()


def encode_json(columns: Columns) -> bytes:
    return json.dumps({"predictions": records(columns)}).encode()


def encode_jsonlines(columns: Columns) -> bytes:
    return "\n".join(json.dumps(row) for row in records(columns)).encode()


def encode_recordio(columns: Columns) -> bytes:
    arrays = {key: np.asarray(_plain(values)) for key, values in columns.items()}
    return recordio_write.encode_predictions(arrays)


ENCODERS: dict[str, Callable[[Columns], bytes]] = {
    JSON: encode_json,
    CSV: encode_csv,
    JSONLINES: encode_jsonlines,
    RECORDIO: encode_recordio,
}
SUPPORTED = tuple(ENCODERS)


def encode(columns: Columns, media_type: str) -> bytes:
    encoder = ENCODERS.get(media_type)
    if encoder is None:
        raise NotAcceptable(f"cannot produce {media_type!r}; supported: {', '.join(SUPPORTED)}")
    return encoder(columns)
