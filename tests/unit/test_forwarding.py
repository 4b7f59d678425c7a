"""Passing a request on to another worker's socket, and when a model is busy enough to copy."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, request

from serving.models.multi import Heat
from serving.web import forwarding
from serving.web.forwarding import FORWARDED, Peers, Unreachable, listen, socket_path


def echo_app() -> Flask:
    app = Flask("peer")

    @app.post("/models/<name>/invoke")
    def echo(name: str) -> Response:
        seen = {
            "name": name,
            "query": request.query_string.decode(),
            "forwarded": request.headers.get(FORWARDED),
            "from_peer": forwarding.from_peer(),
            "body": request.get_data().decode(),
        }
        return Response(
            json.dumps(seen), status=201, content_type="text/x-seen", headers={"X-Custom": "kept"}
        )

    return app


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Unix socket paths are limited to about 100 bytes; pytest's tmp_path can be longer.
    directory = Path(tempfile.mkdtemp(prefix="peers-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_request_and_its_answer_pass_unchanged(state_dir: Path) -> None:
    server = listen(echo_app(), socket_path(state_dir, 1))
    try:
        peers = Peers(state_dir)
        answer = peers.forward(1, "POST", "/models/a%20b/invoke?x=1", {FORWARDED: "1"}, b"1,2,3")
        again = peers.forward(1, "POST", "/models/c/invoke", {}, b"")
    finally:
        server.shutdown()
    assert answer.status == 201
    headers = dict(answer.headers)
    assert headers["Content-Type"] == "text/x-seen" and headers["X-Custom"] == "kept"
    assert not {"Date", "Server", "Content-Length"} & set(headers)
    assert json.loads(answer.body) == {
        "name": "a b",
        "query": "x=1",
        "forwarded": "1",
        "from_peer": True,
        "body": "1,2,3",
    }
    assert again.status == 201 and json.loads(again.body)["name"] == "c"


def test_a_restarted_peer_is_reached_again(state_dir: Path) -> None:
    peers = Peers(state_dir)
    first = listen(echo_app(), socket_path(state_dir, 2))
    assert peers.forward(2, "POST", "/models/a/invoke", {}, b"x").status == 201
    first.shutdown()
    first.server_close()
    second = listen(echo_app(), socket_path(state_dir, 2))
    try:
        assert peers.forward(2, "POST", "/models/a/invoke", {}, b"y").status == 201
    finally:
        second.shutdown()


def test_a_peer_without_a_socket_is_unreachable(state_dir: Path) -> None:
    with pytest.raises(Unreachable):
        Peers(state_dir).forward(3, "POST", "/models/a/invoke", {}, b"")


def test_a_model_is_hot_past_the_threshold_within_the_window() -> None:
    heat = Heat(threshold=3, window_s=1.0)
    assert not any(heat.add("m", now=10.0 + i * 0.1) for i in range(3))
    assert heat.add("m", now=10.35)  # four within a second
    assert not heat.add("other", now=10.4)
    assert not heat.add("m", now=12.0)  # the earlier ones have left the window
    heat.forget("m")
    assert not heat.add("m", now=12.1)
