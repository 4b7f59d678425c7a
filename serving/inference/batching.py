"""Adaptive batching: concurrent predictions for one model become one predict call.

A scikit-learn forest costs about the same for 1 row as for 100, so merging requests
that are in flight at the same moment is where throughput comes from. There is no
batching thread and no fixed window: the first request to arrive runs the model on
its own rows at once; requests that arrive while the model is busy queue up, and when
it finishes one of them runs everything queued as one batch. A lone request is never
delayed, and under load the batches grow by themselves. `max_delay_s` can add a short
wait for more requests to join.

Each caller gets exactly the rows of the prediction that belong to it; when a batch
fails (one request's rows upset the model), every request in it is retried alone, so
one bad request cannot fail the others.

Rows are numpy arrays or, for models fitted on tables, pandas DataFrames (or `Columns`):
requests are merged only with others of the same width and types (the same columns and dtypes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from serving.codecs.columns import Columns

Rows = np.ndarray | pd.DataFrame | Columns
Predict = Callable[[Any], Any]


def _kind(rows: Rows) -> tuple[Any, ...]:
    """What must match for two requests' rows to go into one call."""
    if isinstance(rows, Columns):
        return rows.kind()
    if isinstance(rows, pd.DataFrame):
        return (tuple(rows.columns), tuple(rows.dtypes))
    return (rows.shape[1:], rows.dtype)


def _merge(batch: list[Rows]) -> Rows:
    if isinstance(batch[0], Columns):
        return Columns.concat(batch)  # type: ignore[arg-type]
    if isinstance(batch[0], pd.DataFrame):
        return pd.concat(batch, ignore_index=True)
    return np.concatenate(batch)


@dataclass
class _Item:
    rows: Rows
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    result: Any = None
    error: BaseException | None = None


class Batcher:
    def __init__(
        self,
        predict: Predict,
        max_rows: int = 512,
        max_delay_s: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._predict = predict
        self._on_batch = on_batch
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self._lock = threading.Lock()
        self._pending: list[_Item] = []
        self._running = False

    def predict(self, rows: Rows) -> Any:
        item = _Item(rows)
        with self._lock:
            self._pending.append(item)
            leader = not self._running
            self._running = True
        if not leader:
            item.done.wait()
            if item.lead:
                self._lead()
                item.done.wait()
        else:
            self._lead()
        if item.error is not None:
            raise item.error
        return item.result

    def _take(self) -> list[_Item]:
        """The next batch: queued requests of one kind, up to max_rows (at least one)."""
        if len(self._pending) == 1:
            # Alone: nothing to compare it with (a DataFrame's kind costs about 30 µs).
            return [self._pending.pop()]
        batch: list[_Item] = []
        total = 0
        kind = _kind(self._pending[0].rows)
        rest = []
        for item in self._pending:
            fits = total == 0 or total + len(item.rows) <= self.max_rows
            if fits and _kind(item.rows) == kind:
                batch.append(item)
                total += len(item.rows)
            else:
                rest.append(item)
        self._pending = rest
        return batch

    def _lead(self) -> None:
        if self.max_delay_s > 0:
            deadline = time.monotonic() + self.max_delay_s
            while time.monotonic() < deadline:
                with self._lock:
                    if sum(len(i.rows) for i in self._pending) >= self.max_rows:
                        break
                time.sleep(self.max_delay_s / 10)
        with self._lock:
            batch = self._take()
        self._run(batch)
        with self._lock:
            if self._pending:
                # Hand over: the next queued request runs the next batch, so this
                # request's own answer is not held back by other people's work.
                successor = self._pending[0]
                successor.lead = True
                successor.done.set()
            else:
                self._running = False

    def _run(self, batch: list[_Item]) -> None:
        rows = sum(len(item.rows) for item in batch)
        if self._on_batch is not None:
            self._on_batch(len(batch))
        if len(batch) == 1:
            self._run_alone(batch[0])
            return
        try:
            merged = _merge([item.rows for item in batch])
            prediction = np.asarray(self._predict(merged))
            if prediction.ndim == 0 or prediction.shape[0] != rows:
                raise ValueError("the prediction does not have one entry per row")
        except Exception:
            for item in batch:
                self._run_alone(item)
            return
        start = 0
        for item in batch:
            end = start + len(item.rows)
            item.result = prediction[start:end]
            start = end
            item.lead = False
            item.done.set()

    def _run_alone(self, item: _Item) -> None:
        try:
            item.result = self._predict(item.rows)
        except BaseException as exc:  # delivered to the caller, who re-raises it
            item.error = exc
        item.lead = False
        item.done.set()
