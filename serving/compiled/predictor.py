"""A loaded model's predict and predict_proba, answered by its compiled form once it is trusted.

What becomes of a model's compiled path, each told in one log line:

    building ──verified──▶ serving ──a live check disagrees──▶ fallen back (for good)
        └──unsupported, conversion error, mismatch, no memory──▶ refused

While it builds, and in every state but `serving`, scikit-learn answers. Building runs
on one background thread per process, at a lower priority than requests, one model at a
time, after the model's first answer (or a second without one), and skl2onnx itself runs
in a child process, so /ping and the first requests are not held (SAGEMAKER_COMPILED_PREDICT=on);
with `require` it runs inside the load, and a model that cannot be compiled fails it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serving import metrics
from serving.codecs.columns import frame_of
from serving.codecs.schema import Schema
from serving.compiled import convert, verify
from serving.compiled.live import LiveCheck
from serving.compiled.runtime import CompiledModel
from serving.config import Settings
from serving.errors import ModelLoadError
from serving.models import memory

log = logging.getLogger(__name__)

BUILDING, SERVING, REFUSED, FALLEN_BACK = "building", "serving", "refused", "fallen back"
PREDICT, PROBA = "predict", "predict_proba"
# ONNX Runtime's session holds about this many times the serialized graph.
SESSION_BYTES_PER_GRAPH_BYTE = 3
# The converter child's memory: measured 210 MB once it has converted RF-100, 235 MB at its
# peak while converting; with room for a larger model.
CONVERTER_BYTES = 300 * 2**20
# Background builds run at this niceness: requests come first.
BUILD_NICENESS = 10
# How long a background build waits for the model's first answer before it starts anyway.
FIRST_ANSWER_WAIT_S = 1.0

Predict = Callable[[Any], Any]


def _threads() -> int:
    # `serve` sizes each worker's share of the CPUs into OMP_NUM_THREADS (serving.blas).
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    except ValueError:
        return 1


class _Builder:
    """This process's one background builder thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[CompiledPredict] = queue.Queue()
        self._pid = -1
        self._lock = threading.Lock()
        # A fork (gunicorn's workers, after a preloaded model) copies the lock as it is at
        # that moment, perhaps held by a thread the child does not have.
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1

    def submit(self, job: CompiledPredict) -> None:
        with self._lock:
            if self._pid != os.getpid():  # none yet, or the one before the fork
                self._jobs = queue.Queue()
                threading.Thread(target=self._run, name="compile", daemon=True).start()
                self._pid = os.getpid()
            self._jobs.put(job)

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BUILD_NICENESS)
        jobs = self._jobs
        while True:
            job = jobs.get()
            # Pickling a model for the converter holds the GIL: a freshly loaded model's
            # first request goes first (multi-model endpoints load on a request's behalf).
            job.answered.wait(FIRST_ANSWER_WAIT_S)
            job.build()


_builder = _Builder()


class CompiledPredict:
    def __init__(
        self,
        name: str,
        model: Any,
        schema: Schema | None,
        model_dir: Path,
        decode: verify.Decode,
        settings: Settings,
    ) -> None:
        self.name = name
        self.model = model
        self.schema = schema
        self.model_dir = model_dir
        self._decode = decode
        self._headroom = settings.memory_headroom_mb
        self._timeout = settings.model_load_timeout
        self.state = BUILDING
        self.reason = ""
        self.compiled: CompiledModel | None = None
        self.live = LiveCheck(name, settings.compiled_check_every, self._fall_back)
        self._pid = os.getpid()
        self._labels = hasattr(model, "predict_proba") and hasattr(model, "classes_")
        self.answered = threading.Event()
        if settings.compiled_predict == "require":
            self.build()
            if self.state != SERVING:
                raise ModelLoadError(f"SAGEMAKER_COMPILED_PREDICT=require: {self.reason}")
        else:
            _builder.submit(self)

    # --- building ------------------------------------------------------------------------

    def build(self) -> None:
        started = time.monotonic()
        try:
            outcome = self._build()
        except Exception as exc:  # any converter or runtime failure: scikit-learn answers
            outcome = f"{type(exc).__name__}: {str(exc)[:300]}"
        if outcome is None:
            self._settle(SERVING, f"verified in {time.monotonic() - started:.1f} s ({self.reason})")
        else:
            self.compiled = None
            self._settle(REFUSED, outcome)

    def _build(self) -> str | None:
        """None once the compiled form is verified; else why not."""
        why = convert.unsupported(self.model, self.schema)
        if why is not None:
            return why
        double = convert.compares_in_double(self.model)
        if not convert.converter_running():
            # The converter child imports scikit-learn and skl2onnx before it converts.
            reading = memory.read(self._headroom)
            if not reading.fits(CONVERTER_BYTES):
                return (
                    f"no memory for the conversion: it needs about {CONVERTER_BYTES // 2**20} MB "
                    f"and {reading.describe()}"
                )
        onnx = convert.in_child(self.model, self.schema, double, self._timeout)
        needed = len(onnx) * SESSION_BYTES_PER_GRAPH_BYTE
        reading = memory.read(self._headroom)
        if not reading.fits(needed):
            return f"no memory for it: it needs about {needed // 2**20 + 1} MB and {reading.describe()}"
        compiled = CompiledModel(onnx, self.model, self.schema, double, _threads())
        source, rows, missing = verify.verification_rows(
            self.model, self.schema, compiled, self.model_dir, self._decode
        )
        found = verify.compare(self.model, compiled, rows)
        if found is not None:
            return f"it differs from scikit-learn on {source}: {found}"
        self.reason = f"{len(rows)} {source}, {len(onnx) // 1024} KB"
        if missing is not None:
            # Rows with missing numbers are answered by the compiled form only if it
            # answers them as scikit-learn does; otherwise they stay with scikit-learn.
            compiled.missing_ok = True
            found = verify.compare(self.model, compiled, missing)
            compiled.missing_ok = found is None
            if found is not None:
                self.reason += f"; rows with missing numbers stay with scikit-learn: {found}"
        self.compiled = compiled
        return None

    def _settle(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        metrics.get().compiled.labels(model=self.name, state=state.replace(" ", "_")).inc()
        level = logging.INFO if state == SERVING else logging.WARNING
        log.log(
            level,
            "compiled predict for model %s: %s: %s",
            self.name,
            state,
            reason,
            extra={"event": "compiled", "model": self.name, "state": state},
        )

    def _fall_back(self, found: str) -> None:
        if self.state != SERVING:
            return
        self.compiled = None
        metrics.get().compiled_disagreements.labels(model=self.name).inc()
        self._settle(FALLEN_BACK, f"a live request's answer differs from scikit-learn's: {found}")

    # --- serving -------------------------------------------------------------------------

    def current(self) -> CompiledModel | None:
        """The compiled form while it serves; None while scikit-learn answers."""
        if self.state == BUILDING and self._pid != os.getpid():
            # Forked while building: the build thread stayed in the parent.
            self._pid = os.getpid()
            _builder.submit(self)
        return self.compiled if self.state == SERVING else None

    def wrap(self, method: Predict, kind: str) -> Predict:
        """`method` (scikit-learn's), answered by the compiled form where it is trusted."""
        labels = self._labels and kind == PREDICT

        def sklearn(data: Any) -> Any:
            return method(frame_of(data))

        def call(data: Any) -> Any:
            compiled = self.current()
            if compiled is not None:
                answer = compiled.predict(data) if kind == PREDICT else compiled.predict_proba(data)
                if answer is not None:
                    self.live.offer(sklearn, data, answer, labels, proba=kind == PROBA)
                    return answer
            try:
                return sklearn(data)
            finally:
                self.answered.set()

        return call
