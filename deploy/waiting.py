"""Polling a SageMaker resource until it settles, telling the user what it is doing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deploy.errors import DeployError

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Waiting:
    """Whether and how long to wait for a resource to settle (endpoints take 5-10 minutes)."""

    wait: bool = True
    poll_s: float = 15
    timeout_s: float = 3600


DEFAULT_WAITING = Waiting()


def to_stderr(message: str) -> None:
    # Progress goes to stderr so that stdout carries only the result, for $(...) capture.
    print(message, file=sys.stderr, flush=True)


def quiet(message: str) -> None:
    pass


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def wait_for(
    describe: Callable[[], dict[str, Any]],
    *,
    what: str,
    status_key: str,
    done: set[str],
    failed: set[str],
    progress: Progress,
    poll_s: float = 15,
    timeout_s: float = 3600,
    heartbeat_s: float = 60,
) -> dict[str, Any]:
    """Call `describe` until its status is in `done`; raise on `failed` or after `timeout_s`.

    Prints each status change, and otherwise a line every `heartbeat_s`, because endpoint
    creation takes minutes and a silent terminal looks hung.
    """
    start = time.monotonic()
    last_status: str | None = None
    last_report = start
    while True:
        description = describe()
        status = str(description.get(status_key))
        now = time.monotonic()
        if status != last_status or now - last_report >= heartbeat_s:
            progress(f"{what}: {status} ({_elapsed(now - start)})")
            last_status, last_report = status, now
        if status in done:
            return description
        if status in failed:
            reason = description.get("FailureReason") or "no reason given"
            raise DeployError(f"{what} is {status}: {reason}")
        if now - start > timeout_s:
            raise DeployError(
                f"{what} is still {status} after {_elapsed(now - start)}; it carries on in AWS, "
                "check it later in the console or with the AWS CLI"
            )
        time.sleep(poll_s)


@dataclass(frozen=True)
class Settling:
    """How a kind of SageMaker resource reports that it has settled, well or badly."""

    status_key: str
    done: frozenset[str]
    failed: frozenset[str]


ENDPOINT = Settling("EndpointStatus", frozenset({"InService"}), frozenset({"Failed", "OutOfService"}))
TRANSFORM_JOB = Settling("TransformJobStatus", frozenset({"Completed"}), frozenset({"Failed", "Stopped"}))


def wait_until_settled(
    describe: Callable[[], dict[str, Any]], what: str, kind: Settling, progress: Progress, waiting: Waiting
) -> dict[str, Any]:
    return wait_for(
        describe,
        what=what,
        status_key=kind.status_key,
        done=set(kind.done),
        failed=set(kind.failed),
        progress=progress,
        poll_s=waiting.poll_s,
        timeout_s=waiting.timeout_s,
    )
