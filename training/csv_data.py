"""Parsing headerless CSV files (label first, then features) into arrays."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.channels import Channel
from training.errors import ClientError
from training.log import say


@dataclass(frozen=True)
class Dataset:
    channel: str
    features: np.ndarray
    labels: np.ndarray

    @property
    def rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])


@dataclass
class _Shape:
    """The column count every row must have, and where it was first seen (for messages)."""

    width: int | None = None
    origin: str = ""


def _bad_cell(path: Path, line: int, row: list[str]) -> ClientError:
    for column, cell in enumerate(row, start=1):
        try:
            float(cell)
        except ValueError:
            shown = "an empty value" if not cell.strip() else repr(cell[:40])
            hint = " (this trainer expects no header row)" if line == 1 else ""
            return ClientError(f"{path}:{line}: column {column} is {shown}, not a number{hint}")
    return ClientError(f"{path}:{line}: cannot read the row as numbers")


def read_csv(path: Path, shape: _Shape) -> np.ndarray:
    values: list[list[float]] = []
    lines: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                if shape.width is None:
                    if len(row) < 2:
                        raise ClientError(
                            f"{path}:{line}: one column only; rows need the label first, then the features"
                        )
                    shape.width, shape.origin = len(row), f"{path}:{line}"
                elif len(row) != shape.width:
                    raise ClientError(
                        f"{path}:{line}: {len(row)} columns, but {shape.origin} has {shape.width}; "
                        "every row needs the label and the same number of features"
                    )
                try:
                    values.append([float(cell) for cell in row])
                except ValueError:
                    raise _bad_cell(path, line, row) from None
                lines.append(line)
    except UnicodeDecodeError as exc:
        raise ClientError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ClientError(f"{path}: not readable as CSV: {exc}") from None

    array = np.array(values, dtype=np.float64).reshape(len(values), shape.width or 0)
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise ClientError(
            f"{path}:{lines[row]}: column {column + 1} is {array[row, column]}; values must be finite numbers"
        )
    return array


def read_channel(channel: Channel, expected_features: int | None = None) -> Dataset:
    """All rows of a channel's CSV files; `expected_features` makes validation match train."""
    started = time.perf_counter()
    shape = _Shape() if expected_features is None else _Shape(expected_features + 1, "the train channel")
    parts = []
    for path in channel.files:
        part = read_csv(path, shape)
        say(f"channel {channel.name}: read {part.shape[0]} rows from {path.relative_to(channel.directory)}")
        parts.append(part)
    # Empty files are skipped, not stacked: one read before the column count was known is 0x0.
    non_empty = [part for part in parts if part.shape[0]]
    if not non_empty:
        raise ClientError(
            f"channel {channel.name} has no data rows in its {len(channel.files)} CSV file(s) "
            f"in {channel.directory}"
        )
    data = np.concatenate(non_empty)
    dataset = Dataset(channel.name, features=data[:, 1:], labels=data[:, 0])
    say(
        f"channel {channel.name}: {dataset.rows} rows x {dataset.n_features} features "
        f"from {len(channel.files)} file(s) in {time.perf_counter() - started:.2f} s"
    )
    return dataset
