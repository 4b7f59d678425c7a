"""Requests passed between workers, each of which also listens on a Unix socket of its own.

gunicorn hands a connection to whichever worker accepts it, but in multi-model mode a
model is held by only some workers (`serving.models.multi`). A worker asked for a model
it does not hold passes the request on, as it came, to a worker that does, over that
worker's socket in the server's state directory, and answers with what came back.
What arrives on a socket is served where it arrives, never passed on again: no loops.
The sockets live in the server's own directory (mode 0700), so only this server's user
can reach them, and a forwarded request is recognised by the socket it came in on, not
by its header, which a client could send too.
"""

from __future__ import annotations

import atexit
import http.client
import logging
import random
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)

# Sent with every forwarded request, so a holder's logs can tell them from the others.
FORWARDED = "X-Sklearn-Serve-Forwarded"
# Set in the WSGI environ of what came in on a worker's socket.
FROM_PEER = "serving.from_peer"

# Meaningful for one connection only; http.client sets Content-Length for the body sent.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
# The client's handshake with the worker it reached, already done: not for the holder.
NOT_PASSED_ON = HOP_BY_HOP | {"expect"}
# Written again by the server that answers the client.
NOT_PASSED_BACK = HOP_BY_HOP | {"date", "server"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def socket_path(state_dir: Path, pid: int) -> Path:
    return state_dir / f"worker-{pid}.sock"


def from_peer() -> bool:
    """Whether the current request was passed on by another worker."""
    return bool(request.environ.get(FROM_PEER))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The access line is written by the worker that answered the client.
        pass


def listen(app: WSGIApp, path: Path) -> BaseWSGIServer:
    """Serve `app` on the Unix socket `path` from a daemon thread, for the other workers."""

    def from_a_peer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ[FROM_PEER] = True
        return app(environ, start_response)

    # Threaded: one thread per request passed on, as many at once as the peers send.
    server = make_server(f"unix://{path}", 0, from_a_peer, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="peer-socket", daemon=True).start()
    atexit.register(path.unlink, missing_ok=True)
    return server


class Unreachable(Exception):
    """The peer could not be reached, or went away before it answered."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost")
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.socket_path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def response(self) -> Response:
        # Headers given up front: Flask adds its default Content-Type only when there is none.
        return Response(self.body, status=self.status, headers=self.headers)


def _exchange(
    connection: _UnixConnection, method: str, target: str, headers: dict[str, str], body: bytes
) -> Answer:
    connection.request(method, target, body=body, headers=headers)
    reply = connection.getresponse()
    content = reply.read()
    kept = [(name, value) for name, value in reply.getheaders() if name.lower() not in NOT_PASSED_BACK]
    return Answer(reply.status, kept, content)


class Peers:
    """The other workers' sockets, one connection per request passed on.

    Werkzeug's server closes every connection after its answer (its request handler
    cannot skip the unread rest of a body), so there is nothing to keep alive: a Unix
    socket connect costs tens of microseconds, and only models too idle to have a copy
    in every worker are passed on at all.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def forward(self, pid: int, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        """The answer of worker `pid` to the request, or Unreachable."""
        connection = _UnixConnection(socket_path(self.state_dir, pid))
        try:
            return _exchange(connection, method, target, headers, body)
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(f"worker {pid}: {exc}") from exc
        finally:
            connection.close()


def _request_headers() -> dict[str, str]:
    headers = {name: value for name, value in request.headers.items() if name.lower() not in NOT_PASSED_ON}
    headers[FORWARDED] = "1"
    return headers


def _request_target() -> str:
    # gunicorn keeps the path as it was sent; rebuilding it could re-encode a name.
    raw = request.environ.get("RAW_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def pass_on(peers: Peers, holders: list[int], body: bytes) -> Response | None:
    """The current request as answered by one of `holders`, or None if none could be reached.

    A holder that dies after the request was sent counts as unreachable: the caller then
    serves the request itself, so it may run twice, once in a process that is gone.
    """
    method, target, headers = request.method, _request_target(), _request_headers()
    for pid in random.sample(holders, len(holders)):  # spreads the load over the holders
        try:
            return peers.forward(pid, method, target, headers, body).response()
        except Unreachable as exc:
            log.warning("could not pass a request on to the holder %s", exc)
    return None
