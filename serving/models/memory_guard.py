"""Stopping a model load that eats memory before the kernel kills the container.

While a load runs, a watcher follows this process's resident memory every few
milliseconds; once its growth would take the container's working set past the budget,
it raises MemoryError in the loading thread. The watcher reads one small file with one
system call per look: every call lets the loading thread take the interpreter back, and
the watcher must get its turn often enough to catch a fast-growing load. Python
delivers it at the thread's next bytecode, so a model_fn that builds its model step by
step stops there, its memory is freed, and the failure is reported like any other (503
on /ping for the single model, 507 for a multi-model load). A single C call that takes
all the memory at once cannot be interrupted this way.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from serving.models import memory

log = logging.getLogger(__name__)

INTERVAL_S = 0.005
PAGE = os.sysconf("SC_PAGE_SIZE")


def _resident(fd: int) -> int:
    """Resident bytes of this process, from /proc/self/statm in a single read."""
    return int(os.pread(fd, 128, 0).split()[1]) * PAGE


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
    )


@contextmanager
def guarded(headroom_mb: int | None, sharers: int = 1) -> Iterator[None]:
    """Raise MemoryError in this thread if memory passes the budget inside the block.

    `sharers`: how many processes load at the same time and split what is left.
    """
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False}
    start = memory.read(headroom_mb)
    allowance = (start.budget - start.used) // max(sharers, 1)
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    resident_at_start = _resident(statm)

    def watch() -> None:
        while True:
            grown = _resident(statm) - resident_at_start
            with lock:
                if state["done"]:
                    return
                if grown > allowance:
                    log.error(
                        "memory passed the budget while loading: grew %d MB with %d MB left (%s at start)",
                        grown // 2**20,
                        allowance // 2**20,
                        start.describe(),
                    )
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
        os.close(statm)
