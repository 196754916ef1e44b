"""A request body must arrive within ``body_timeout_seconds`` (30 s) of the app's first read.

A client that sends its headers and then trickles the body (or stops) used to hold the request
open forever. Now it gets a 408 with the usual error body and the connection is closed; other
clients are served meanwhile. The ASGI-level tests use a short deadline on the middleware
around a small app that reads its body; the real-server test sends bytes on a raw socket to
``switchover serve`` with the default deadline.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.body_limit import BODY_TIMEOUT_S, BodyLimitMiddleware
from migrator import Limits
from tests.server import ServerProcess

DEADLINE_S = 0.3  # the ASGI-level tests' deadline


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads its whole body and answers how many bytes it got."""
    body = await Request(scope, receive).body()
    await JSONResponse({"received": len(body)})(scope, receive, send)


def scope() -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


def answer(receive: Callable[[], Awaitable[dict[str, Any]]]) -> tuple[int, dict[str, Any], float]:
    """Run one request through the middleware: (status, body, seconds until it answered)."""
    app = BodyLimitMiddleware(echo, Limits(), body_timeout_s=DEADLINE_S)
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        with anyio.fail_after(10):  # bounded even if the deadline never fires
            await app(scope(), receive, send)

    started = time.monotonic()
    anyio.run(run)
    elapsed = time.monotonic() - started
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = dict(start["headers"])
    if start["status"] == 408:
        assert headers[b"connection"] == b"close"
    return int(start["status"]), json.loads(body), elapsed


def test_a_body_that_stops_arriving_gets_408_at_the_deadline() -> None:
    calls = 0
    never = anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b'{"documents": [', "more_body": True}
        await never.wait()  # the client went quiet
        raise AssertionError("unreachable")

    status, body, elapsed = answer(receive)
    assert status == 408
    assert body == {
        "error": {
            "type": "request_timeout",
            "message": f"the request body did not arrive within {DEADLINE_S:g} s",
        }
    }
    assert DEADLINE_S <= elapsed < DEADLINE_S + 2


def test_a_trickled_body_gets_408_at_the_deadline_though_it_never_goes_quiet() -> None:
    async def receive() -> dict[str, Any]:
        await anyio.sleep(DEADLINE_S / 10)  # a byte every tenth of the deadline, forever
        return {"type": "http.request", "body": b" ", "more_body": True}

    status, body, elapsed = answer(receive)
    assert status == 408
    assert body["error"]["type"] == "request_timeout"
    assert DEADLINE_S <= elapsed < DEADLINE_S + 2


def test_a_body_in_many_chunks_within_the_deadline_is_read_whole() -> None:
    chunks = [b"[" + b" " * 48, b" " * 50, b"]"]

    async def receive() -> dict[str, Any]:
        await anyio.sleep(DEADLINE_S / 10)
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    status, body, _ = answer(receive)
    assert (status, body) == (200, {"received": 100})


def hash_home(home: Path) -> Path:
    home.mkdir(parents=True)
    (home / "switchover.toml").write_text(
        '[default_index]\nname = "v1"\n[default_index.embedder]\nkind = "hash"\ndim = 64\n'
    )
    return home


@pytest.mark.slow
def test_a_real_server_answers_a_trickled_body_with_408_and_serves_others_meanwhile(
    tmp_path: Path,
) -> None:
    with ServerProcess(hash_home(tmp_path / "home")) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        head = (
            "PUT /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"documents": [')
        started = time.monotonic()
        stop = threading.Event()

        def trickle() -> None:  # one byte a second until the server answers or closes
            while not stop.wait(1.0):
                try:
                    sock.sendall(b" ")
                except OSError:
                    return

        feeder = threading.Thread(target=trickle, daemon=True)
        feeder.start()
        health = []
        with httpx.Client(base_url=server.url, timeout=5) as http:
            for _ in range(5):  # other clients are served while the body trickles
                begun = time.monotonic()
                assert http.get("/healthz").status_code == 200
                health.append(time.monotonic() - begun)
                time.sleep(1)
        sock.settimeout(BODY_TIMEOUT_S + 15)
        received = b""
        try:
            while chunk := sock.recv(65536):  # until the server closes the connection
                received += chunk
        finally:
            stop.set()
            sock.close()
            feeder.join(timeout=5)
        elapsed = time.monotonic() - started
    head_part, _, payload = received.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 408"), received[:300]
    assert json.loads(payload)["error"]["type"] == "request_timeout"
    assert BODY_TIMEOUT_S - 1 <= elapsed < BODY_TIMEOUT_S + 10
    assert max(health) < 1.0, health
