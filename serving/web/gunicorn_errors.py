"""JSON bodies for the errors gunicorn answers itself, before a request reaches the app.

A request line or header over gunicorn's limits gets a 414 or 431 from gunicorn's own
parser, as an HTML page. Every error this server answers is JSON, so gunicorn's
writer is replaced, once per worker process, by one that writes the same status with a
JSON body.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    message = f"{reason}: {mesg}" if mesg else reason
    body = json.dumps({"error": reason.replace(" ", "").replace("-", ""), "message": message}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


def install() -> None:
    util.write_error = write_json_error
