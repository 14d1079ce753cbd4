"""The ASGI guard that answers 413 to request bodies over MAX_REQUEST_BODY_BYTES."""

from __future__ import annotations

import json
import socket

import pytest

from server.request_limits import RequestBodyLimit


def http_scope(body_length: int | None, path: str = "/library/contribute/") -> dict:
    headers = [(b"host", b"testserver")]
    if body_length is not None:
        headers.append((b"content-length", str(body_length).encode()))
    return {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": headers, "http_version": "1.1", "scheme": "http", "root_path": "",
            "client": ["127.0.0.1", 5000], "server": ["127.0.0.1", 8000]}


async def run(app, scope: dict, pieces: list[bytes]) -> tuple[list[dict], int]:
    """Call `app` with `pieces` as the streamed body; returns (messages sent, pieces read)."""
    queue = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1} for i, p in enumerate(pieces)]
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        if read < len(queue):
            read += 1
            return queue[read - 1]
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent, read


async def echo_length(scope, receive, send):
    """An application that reads the whole body and answers its length."""
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(total).encode()})


@pytest.mark.asyncio
async def test_declared_length_over_the_limit_is_refused_before_the_body_is_read():
    sent, read = await run(RequestBodyLimit(echo_length, max_bytes=1000), http_scope(5000), [b"x" * 5000])
    assert sent[0]["status"] == 413 and read == 0
    assert json.loads(sent[1]["body"])["code"] == "request_too_large"


@pytest.mark.asyncio
async def test_streamed_body_over_the_limit_is_refused_without_a_length():
    sent, read = await run(RequestBodyLimit(echo_length, max_bytes=1000), http_scope(None), [b"x" * 600] * 5)
    assert sent[0]["status"] == 413
    assert read == 2, "reading stops at the piece that crosses the limit"


@pytest.mark.asyncio
async def test_lying_content_length_is_caught_while_streaming():
    sent, _read = await run(RequestBodyLimit(echo_length, max_bytes=1000), http_scope(10), [b"x" * 800, b"x" * 800])
    assert sent[0]["status"] == 413


@pytest.mark.asyncio
async def test_body_under_the_limit_reaches_the_application():
    sent, _read = await run(RequestBodyLimit(echo_length, max_bytes=1000), http_scope(900), [b"x" * 450, b"x" * 450])
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"900"


@pytest.mark.asyncio
async def test_websocket_scope_passes_untouched():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    await RequestBodyLimit(app, max_bytes=1)({"type": "websocket", "headers": []}, None, None)
    assert seen == ["websocket"]


@pytest.mark.asyncio
async def test_django_application_behind_the_guard_answers_413_for_a_streamed_body(settings):
    from django.core.asgi import get_asgi_application

    settings.MAX_REQUEST_BODY_BYTES = 64 * 1024  # both refusals happen before any database access
    app = RequestBodyLimit(get_asgi_application())
    sent, _read = await run(app, http_scope(None, "/api/library/uploads"), [b"x" * 40_000] * 3)
    assert sent[0]["status"] == 413
    sent, _read = await run(app, http_scope(200_000, "/api/library/uploads"), [b"x" * 200_000])
    assert sent[0]["status"] == 413


@pytest.fixture
def limited_daphne(tmp_path):
    """A real daphne serving tests/server/request_limits_app.py (limit 1 MB) on loopback."""
    import subprocess
    import sys
    import time

    from tests.conftest import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tests.server.request_limits_app:application"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daphne.log", "wb"),
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("daphne did not start")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def _post(port: int, headers: str, body_pieces) -> bytes:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        for piece in body_pieces:
            try:
                sock.sendall(piece)
            except OSError:  # the server closed the connection after refusing: expected
                break
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"413" in answer[:20] and b"request_too_large" in answer:
                break
        return answer
    finally:
        sock.close()


@pytest.mark.realservices
def test_daphne_refuses_a_huge_declared_body_without_buffering_it(limited_daphne):
    port, pid = limited_daphne
    before = _status_kb(pid, "VmHWM")
    answer = _post(port, f"Content-Length: {256 * 1024 * 1024}\r\n", (b"\0" * 1024 * 1024 for _ in range(256)))
    assert answer.startswith(b"HTTP/1.1 413")
    assert _status_kb(pid, "VmHWM") - before < 32 * 1024, "256 MB announced, nothing like it held in memory"


@pytest.mark.realservices
def test_daphne_refuses_a_chunked_body_that_grows_past_the_limit(limited_daphne):
    port, pid = limited_daphne
    before = _status_kb(pid, "VmHWM")
    piece = b"\0" * (1024 * 1024)
    chunks = (b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(64))
    answer = _post(port, "Transfer-Encoding: chunked\r\n", chunks)
    assert answer.startswith(b"HTTP/1.1 413")
    assert _status_kb(pid, "VmHWM") - before < 32 * 1024


@pytest.mark.realservices
def test_daphne_still_serves_a_body_under_the_limit(limited_daphne):
    port, _pid = limited_daphne
    answer = _post(port, "Content-Length: 500000\r\nConnection: close\r\n", [b"x" * 500_000])
    assert answer.startswith(b"HTTP/1.1 200") and b"\r\n500000\r\n" in answer
