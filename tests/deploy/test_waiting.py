"""The polling loop on its own: moto's resources settle at once, real ones take minutes.

`describe` here is a plain sequence of answers, the shape SageMaker's describe calls return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deploy.errors import DeployError
from deploy.waiting import wait_for


def answers(*statuses: str, reason: str | None = None) -> Callable[[], dict[str, Any]]:
    queue = list(statuses)

    def describe() -> dict[str, Any]:
        status = queue.pop(0) if len(queue) > 1 else queue[0]
        return {"EndpointStatus": status} | ({"FailureReason": reason} if reason else {})

    return describe


def wait(describe: Callable[[], dict[str, Any]], **options: Any) -> None:
    """deploy.waiting.wait_for on an endpoint, without sleeping between looks unless told to."""
    settings: dict[str, Any] = {"progress": lambda _: None, "poll_s": 0} | options
    wait_for(
        describe,
        what="endpoint e",
        status_key="EndpointStatus",
        done={"InService"},
        failed={"Failed"},
        **settings,
    )


def test_reports_each_status_change_once() -> None:
    lines: list[str] = []
    wait(answers("Creating", "Creating", "Creating", "InService"), progress=lines.append)
    assert [line.split(" (")[0] for line in lines] == ["endpoint e: Creating", "endpoint e: InService"]


def test_a_failed_resource_raises_with_its_reason() -> None:
    with pytest.raises(
        DeployError, match="endpoint e is Failed: The primary container did not pass the ping"
    ):
        wait(
            answers("Creating", "Failed", reason="The primary container did not pass the ping health check.")
        )


def test_gives_up_after_the_timeout() -> None:
    with pytest.raises(DeployError, match="endpoint e is still Creating after"):
        wait(answers("Creating"), poll_s=0.01, timeout_s=0.05)
