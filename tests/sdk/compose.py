"""The containers and network local mode starts through docker compose, and their removal.

Every compose service local mode writes gets our label (through the SDK's
`local.container_config`), so a test finds exactly the containers it started, never another
developer's, and removes them even when the SDK gave up half-way.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from harness.waiting import WaitTimeout, wait_until
from tests.support import docker

LABEL = "sklearn-sagemaker-sdk-test"
NETWORK = "sagemaker-local"


class ComposeJanitor:
    def __init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:12]
        self.label = f"{LABEL}={self.run_id}"

    def containers(self, running_only: bool = False) -> list[str]:
        args = ["ps", "-q", "--filter", f"label={self.label}"]
        if not running_only:
            args.insert(1, "-a")
        return docker(*args, check=False).stdout.split()

    def logs(self) -> str:
        parts = []
        for container in self.containers():
            result = docker("logs", "--tail", "60", container, check=False)
            parts.append(f"--- {container}\n{result.stdout}{result.stderr}")
        return "\n".join(parts)

    def remove_all(self) -> list[str]:
        found = self.containers()
        if found:
            docker("rm", "-f", *found, check=False)
        return found

    @contextmanager
    def deadline(self, seconds: float, what: str) -> Iterator[None]:
        """Bound an SDK call that has no deadline of its own.

        When `seconds` pass, our containers are removed: `docker compose up` then exits, and the
        SDK call fails instead of hanging. That failure is reported as the deadline. (A deploy
        that is still polling /ping notices only when its own ~2 minute limit runs out.)
        """
        fired = threading.Event()

        def expire() -> None:
            fired.set()
            self.remove_all()

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception as exc:
            if fired.is_set():
                raise AssertionError(f"{what} did not finish within {seconds} s") from exc
            raise
        finally:
            timer.cancel()
        if fired.is_set():
            raise AssertionError(f"{what} did not finish within {seconds} s")

    def wait_until_stopped(self, deadline_s: float = 120) -> None:
        """Fail unless none of our containers is running within `deadline_s`."""
        try:
            wait_until(
                lambda: self.containers(running_only=True),
                deadline_s,
                "local mode's containers to stop",
                ready=lambda running: not running,
                interval_s=0.2,
            )
        except WaitTimeout as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def clean_up(self, deadline_s: float = 120) -> None:
        """Stop what the SDK left running, remove our containers, drop the compose network."""
        self._stop_hosting_threads(deadline_s)
        self.remove_all()
        # Fails harmlessly while another compose project still has containers on it.
        docker("network", "rm", NETWORK, check=False)
        left = self.containers()
        if left:
            raise AssertionError(f"containers left behind: {left}")

    @staticmethod
    def _stop_hosting_threads(deadline_s: float) -> None:
        """End the `docker compose up` processes of endpoints a failed test did not delete,
        the way the SDK's own `delete_endpoint` does (they were started for this test)."""
        from sagemaker.local.image import _HostingContainer

        end = time.monotonic() + deadline_s
        for thread in threading.enumerate():
            if not isinstance(thread, _HostingContainer) or thread.process is None:
                continue
            if thread.process.poll() is None:
                thread.down()
            thread.join(max(0.0, end - time.monotonic()))
            if thread.is_alive():
                thread.process.kill()
                thread.join(10)
