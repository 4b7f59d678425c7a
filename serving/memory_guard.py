"""Stopping a model load that eats memory before the kernel kills the container.

While a load runs, a watcher reads the container's memory every few milliseconds; once
the working set passes the budget, it raises MemoryError in the loading thread. Python
delivers it at the thread's next bytecode, so a model_fn that builds its model step by
step stops there, its memory is freed, and the failure is reported like any other (503
on /ping for the single model, 507 for a multi-model load). A single C call that takes
all the memory at once cannot be interrupted this way.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from serving import memory

log = logging.getLogger(__name__)

INTERVAL_S = 0.01


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


@contextmanager
def guarded(headroom_mb: int | None) -> Iterator[None]:
    """Raise MemoryError in this thread if memory passes the budget inside the block."""
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def watch() -> None:
        while True:
            reading = memory.read(headroom_mb)
            with lock:
                if state["done"]:
                    return
                if not reading.fits(0):
                    log.error("memory passed the budget while loading: %s", reading.describe())
                    state["fired"] = True
                    _raise_in(target, MemoryError)
                    return
            threading.Event().wait(INTERVAL_S)

    watcher = threading.Thread(target=watch, name="memory-guard", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        with lock:
            state["done"] = True
            if state["fired"]:
                # Fired as the block ended: do not let it surface in unrelated code.
                _raise_in(target, None)
        watcher.join()
