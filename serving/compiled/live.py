"""Live requests checked again: one compiled answer in `every` is recomputed by scikit-learn,
in the background, and the first disagreement ends the compiled path for the model.

The check runs on its own thread and never holds a request: a sample that arrives while
the previous one is still being checked is skipped. Only the first `ROWS` rows of a
sample are recomputed, so a batch-transform payload costs no more to check than a request.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from serving.codecs.columns import take
from serving.compiled.verify import disagreement

ROWS = 64

Recompute = Callable[[Any], Any]


class LiveCheck:
    def __init__(self, name: str, every: int, on_disagreement: Callable[[str], None]) -> None:
        self.name = name
        self.every = every
        self._on_disagreement = on_disagreement
        self._count = 0
        self._samples: queue.Queue[tuple[Recompute, Any, Any, bool, bool]] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None

    def offer(self, recompute: Recompute, data: Any, answer: Any, labels: bool, proba: bool = False) -> None:
        """A compiled answer; kept for checking when its turn comes."""
        self._count += 1
        if self._count % self.every:
            return
        # When the one before is still waiting, this one is skipped.
        with contextlib.suppress(queue.Full):
            self._samples.put_nowait((recompute, take(data, slice(ROWS)), answer[:ROWS], labels, proba))
        # Started again if it has stopped, even for a skipped sample: a checker that stopped
        # as the previous sample arrived would otherwise leave it waiting for good.
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._check, name=f"live-check-{self.name[:40]}", daemon=True
            )
            self._thread.start()

    def _check(self) -> None:
        while True:
            try:
                recompute, data, answer, labels, proba = self._samples.get(timeout=5)
            except queue.Empty:
                return
            try:
                found = disagreement(recompute(data), answer, labels, proba)
            except Exception as exc:  # scikit-learn refusing what the compiled form answered
                found = f"scikit-learn raised {type(exc).__name__}: {exc}"
            if found is not None:
                self._on_disagreement(found)
                return
