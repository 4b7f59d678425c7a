"""The process's metrics are made once, however many threads ask first."""

from __future__ import annotations

import threading
import time

from serving import metrics


def test_concurrent_first_use_makes_one_set_of_metrics(monkeypatch) -> None:
    monkeypatch.setattr(metrics, "_metrics", None)
    made: list[object] = []
    real = metrics.Metrics
    gate = threading.Barrier(8)

    class Slow(real):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            time.sleep(0.05)  # a slow construction: every thread arrives while it runs
            made.append(self)

    monkeypatch.setattr(metrics, "Metrics", Slow)

    def ask() -> object:
        gate.wait()
        return metrics.get()

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(ask())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert all(result is made[0] for result in results)
