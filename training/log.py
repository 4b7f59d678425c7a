"""Progress lines for the job log."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    # Flushed at once: SageMaker streams the container's stdout to CloudWatch, and a block-buffered
    # pipe would hold progress back until exit, or lose it when the job is killed.
    print(message, file=sys.stdout, flush=True)
