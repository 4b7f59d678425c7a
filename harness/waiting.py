"""Waiting for something outside this process to happen: a server to answer, a file, a state.

One loop for every wait. The deadline is how long to wait before giving up, not how long
things take: on a slow or busy machine the same wait simply takes longer, so deadlines are
generous and only a real failure pays for them. A wait that fails says what it waited for
and the last state it saw, which is what a reader needs to tell "slow" from "wrong".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

T = TypeVar("T")

# Long enough for a loaded machine several times slower than a developer's laptop.
DEFAULT_DEADLINE_S = 120.0
_SHOWN = 400  # characters of the last state kept in a failure message


class WaitTimeout(AssertionError):
    """A wait that ran out of time, or was told to give up. An AssertionError, so a test that
    waits fails like a test whose check failed."""


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def wait_until(
    condition: Callable[[], T],
    deadline_s: float,
    what: str,
    *,
    ready: Callable[[T], Any] = bool,
    interval_s: float = 0.1,
    errors: tuple[type[BaseException], ...] = (),
    describe: Callable[[T], str] = repr,
    give_up: Callable[[], str | None] | None = None,
) -> T:
    """Call `condition()` until `ready(result)` holds; return that result.

    `errors` raised by `condition` count as "not yet" (a server that refuses connections
    while it starts). `give_up`, checked after every miss, returns a reason to stop waiting at
    once (the server process exited) or None. On failure raises WaitTimeout naming `what`,
    the deadline and the last result (through `describe`) or exception seen.
    """
    end = time.monotonic() + deadline_s
    last = "nothing yet"
    while True:
        try:
            result = condition()
        except errors as exc:
            last = f"raised {exc!r}"
        else:
            if ready(result):
                return result
            last = describe(result)
        if give_up is not None and (reason := give_up()):
            raise WaitTimeout(f"gave up waiting for {what}: {reason}; last seen: {_shorten(last)}")
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"{what}: not within {deadline_s:g} s; last seen: {_shorten(last)}")
        time.sleep(min(interval_s, remaining))


def describe_response(response: requests.Response) -> str:
    return f"HTTP {response.status_code} {response.text}"


def wait_for_http(
    url: str,
    deadline_s: float = DEFAULT_DEADLINE_S,
    what: str | None = None,
    *,
    status: int = 200,
    ok: Callable[[requests.Response], bool] | None = None,
    interval_s: float = 0.1,
    request_timeout_s: float = 5,
    give_up: Callable[[], str | None] | None = None,
) -> requests.Response:
    """GET `url` until it answers `status` (or until `ok(response)` holds); return the answer.

    Refused connections and request timeouts count as "not up yet".
    """
    accepted = ok or (lambda response: response.status_code == status)
    return wait_until(
        lambda: requests.get(url, timeout=request_timeout_s),
        deadline_s,
        what or f"GET {url} to answer {status}",
        ready=accepted,
        interval_s=interval_s,
        errors=(requests.RequestException,),
        describe=describe_response,
        give_up=give_up,
    )


def _error_name(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def wait_for_ping(
    url: str,
    deadline_s: float = DEFAULT_DEADLINE_S,
    expect: int = 200,
    error: str | None = None,
    *,
    interval_s: float = 0.1,
    give_up: Callable[[], str | None] | None = None,
) -> requests.Response:
    """Poll `url`/ping until it answers `expect` and, if given, the JSON `error` name.

    Name the error whenever one 503 is not as good as another: while a model loads /ping
    answers 503 ModelNotReady, and only later 503 ModelLoadFailed.
    """
    wanted = f"{expect}" + (f" {error}" if error else "")
    return wait_for_http(
        f"{url}/ping",
        deadline_s,
        f"/ping at {url} to answer {wanted}",
        ok=lambda r: r.status_code == expect and (error is None or _error_name(r) == error),
        interval_s=interval_s,
        give_up=give_up,
    )
