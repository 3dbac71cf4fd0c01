"""The 256 KiB JSON limit must be enforced while reading, not after buffering the whole body:
today a 300 MB body to any JSON endpoint is read into memory first (~700 MB peak RSS)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

from tests.client import ChatUser


async def test_oversized_json_body_is_refused_without_reading_it_all(users, live_server) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    url = urlparse(live_server.url)
    cookie = "; ".join(f"{k}={v}" for k, v in anna.http.cookies.items())
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        (
            f"POST /api/networks/{network}/messages HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Cookie: {cookie}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {1_000_000_000}\r\n\r\n"
        ).encode()
        + b'{"client_id": "big-body-1", "body": "'
        + b"x" * 300_000
    )
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), 5)
    except TimeoutError:
        raise AssertionError("no answer: the server is still buffering the 1 GB body") from None
    finally:
        writer.close()
    assert b" 413 " in status_line, status_line
