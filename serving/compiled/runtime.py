"""Running a converted model: requests in as ONNX Runtime's inputs, scikit-learn's shapes out.

An input the compiled form was not verified for is declined (`None`), and scikit-learn
answers it, with its own answer or its own 400: a string no encoder was fitted on, a
missing value where the model was not verified with missing values, a number float32
cannot hold (when numbers enter as float32). The session runs on one thread; a large
input is cut into chunks that run on `threads` threads at once (ONNX Runtime lets go of
the GIL while it runs).

A session is made in the process that uses it: a model loaded before the server forks
its workers gets a session of its own in each worker, from the same verified bytes.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from serving.codecs.columns import Columns, frame_of, take
from serving.codecs.schema import STRING, Schema, fitted_parts
from serving.compiled.convert import ENCODERS

FLOAT32_MAX = float(np.finfo(np.float32).max)
DOUBLE_MAX = float(np.finfo(np.float64).max)
# Rows per chunk when a large input is shared among threads.
CHUNK_ROWS = 20_000
# Probabilities are float32's, within 1e-5 of scikit-learn's (see verify): two classes
# closer than twice that may be ordered either way.
TIE_GAP = 2e-5


def known_categories(model: Any, schema: Schema | None) -> dict[str, frozenset[str]]:
    """The strings the encoders were fitted on, per string column."""
    known: dict[str, set[str]] = {}
    for part, columns in fitted_parts(model):
        if type(part).__name__ in ENCODERS and len(columns) == len(part.categories_):
            for name, categories in zip(columns, part.categories_, strict=True):
                known.setdefault(name, set()).update(c for c in categories if isinstance(c, str))
    strings = [n for n, k in zip(schema.names, schema.kinds, strict=True) if k == STRING] if schema else []
    return {name: frozenset(known.get(name, ())) for name in strings}


def _session_options() -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class CompiledModel:
    """A verified ONNX graph of one model, and the session that runs it in this process."""

    def __init__(
        self, onnx: bytes, model: Any, schema: Schema | None, double: bool = False, threads: int = 1
    ) -> None:
        self.onnx = onnx
        self.double = double
        self.schema = schema
        self.classes = getattr(model, "classes_", None) if hasattr(model, "predict_proba") else None
        self._model = model
        self.known = known_categories(model, schema)
        # Set once verification has shown missing numbers give scikit-learn's answers.
        self.missing_ok = False
        self.threads = threads
        self._locks: dict[int, threading.Lock] = {}
        self._session: Any = None
        self._pid = -1
        self._pool: ThreadPoolExecutor | None = None

    def session(self) -> Any:
        if self._pid != os.getpid():
            import onnxruntime as ort

            # A lock of this process's own: one copied by a fork may be held by a thread the
            # child does not have.
            with self._locks.setdefault(os.getpid(), threading.Lock()):
                if self._pid != os.getpid():
                    self._session = ort.InferenceSession(
                        self.onnx, _session_options(), providers=["CPUExecutionProvider"]
                    )
                    self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
                    self._pid = os.getpid()
        return self._session

    # --- requests to inputs ---------------------------------------------------------------

    def _numbers(self, values: np.ndarray) -> np.ndarray | None:
        if values.dtype.kind not in "fiub":
            return None
        dtype, largest = (np.float64, DOUBLE_MAX) if self.double else (np.float32, FLOAT32_MAX)
        # One reduction tells all is well: NaN makes the peak NaN, and infinity is too large.
        # Otherwise: infinity, a number the type cannot hold, or NaN where the compiled form
        # was not verified with it.
        unverified = not np.abs(values).max(initial=0.0) <= largest and (
            not self.missing_ok or np.abs(values[~np.isnan(values)]).max(initial=0.0) > largest
        )
        return None if unverified else values.astype(dtype, copy=False)

    def _strings(self, name: str, values: np.ndarray) -> np.ndarray | None:
        known = self.known[name]
        if not all(isinstance(v, str) and v in known for v in values):
            return None
        return values.astype(object).reshape(-1, 1)

    def feed(self, data: Any) -> dict[str, np.ndarray] | None:
        """ONNX Runtime's inputs for `data`, or None when the compiled form does not take it."""
        if self.schema is None:
            if not isinstance(data, np.ndarray) or data.ndim != 2:
                return None
            numbers = self._numbers(data)
            return None if numbers is None else {"X": numbers}
        if isinstance(data, Columns):
            arrays = data.arrays
        elif isinstance(data, pd.DataFrame):
            arrays = {name: data[name].to_numpy() for name in self.schema.names}
        else:
            return None
        inputs: dict[str, np.ndarray] = {}
        for name, kind in zip(self.schema.names, self.schema.kinds, strict=True):
            values = arrays[name]
            if kind == STRING:
                column = self._strings(name, values)
            else:
                numbers = self._numbers(values)
                column = None if numbers is None else numbers.reshape(-1, 1)
            if column is None:
                return None
            inputs[name] = column
        return inputs

    # --- running ---------------------------------------------------------------------------

    def _run(self, output: int, inputs: dict[str, np.ndarray]) -> np.ndarray:
        session = self.session()
        name = session.get_outputs()[output].name
        rows = len(next(iter(inputs.values())))
        if self._pool is None or rows < 2 * CHUNK_ROWS:
            return session.run([name], inputs)[0]
        chunks = math.ceil(rows / CHUNK_ROWS)
        bounds = [(i * rows // chunks, (i + 1) * rows // chunks) for i in range(chunks)]
        parts_ = self._pool.map(
            lambda b: session.run([name], {k: v[b[0] : b[1]] for k, v in inputs.items()})[0], bounds
        )
        return np.concatenate(list(parts_))

    def predict(self, data: Any) -> np.ndarray | None:
        inputs = self.feed(data)
        if inputs is None:
            return None
        if self.classes is None:
            return self._run(0, inputs).reshape(-1).astype(np.float64)
        proba = self._run(1, inputs)
        labels = self.classes.take(np.argmax(proba, axis=1), axis=0)
        if proba.shape[1] > 1:
            # Where the two likeliest classes are within float32's reach of a tie, the label
            # could go either way: scikit-learn decides those rows.
            top = np.partition(proba, -2, axis=1)
            near = np.flatnonzero(top[:, -1] - top[:, -2] <= TIE_GAP)
            if near.size:
                labels[near] = self._model.predict(frame_of(take(data, near)))
        return labels

    def predict_proba(self, data: Any) -> np.ndarray | None:
        inputs = self.feed(data)
        if inputs is None or self.classes is None:
            return None
        return self._run(1, inputs).astype(np.float64)
