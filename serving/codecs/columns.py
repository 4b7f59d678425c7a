"""A decoded table as one array per model column; the pandas DataFrame is made only when asked.

Making a DataFrame costs more than the compiled predict path's whole prediction for one
row (about 135 µs for seven columns), and that path reads the arrays directly. So
while it serves, decoded records stay `Columns`, and scikit-learn, when it answers
instead, gets `frame()`: the DataFrame the decoder would have made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


class Columns:
    __slots__ = ("_frame", "arrays")

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays
        self._frame: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values()))) if self.arrays else 0

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), len(self.arrays)

    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = pd.DataFrame(self.arrays, copy=False)
        return self._frame

    def __getitem__(self, rows: slice | np.ndarray) -> Columns:
        return Columns({name: values[rows] for name, values in self.arrays.items()})

    def kind(self) -> tuple[Any, ...]:
        """What must match for two tables to be merged into one call."""
        return tuple((name, values.dtype) for name, values in self.arrays.items())

    @staticmethod
    def concat(tables: Sequence[Columns]) -> Columns:
        names = tables[0].arrays
        return Columns({name: np.concatenate([t.arrays[name] for t in tables]) for name in names})


def frame_of(data: Any) -> Any:
    """What scikit-learn takes: a DataFrame in place of `Columns`, anything else as it is."""
    return data.frame() if isinstance(data, Columns) else data


def take(data: Any, rows: slice | np.ndarray) -> Any:
    """Those rows of a model input: a DataFrame, `Columns` or an array."""
    return data.iloc[rows] if isinstance(data, pd.DataFrame) else data[rows]
