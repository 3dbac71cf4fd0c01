"""A lean WebSocket client for load generation: one asyncio Protocol per socket, no task per frame.

The ``websockets`` client spends tens of microseconds per received frame, which on a two-core
machine would make the load generator, not the server, the bottleneck. This client parses the
server's (unmasked) frames straight from ``data_received`` and hands each text payload, as bytes,
to a callback. It speaks plain RFC 6455: the same handshake (Origin, session cookie) and frames a
browser sends, optionally with permessage-deflate.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit

from websockets.speedups import apply_mask  # type: ignore[import-not-found]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class HandshakeFailed(Exception):
    pass


class WSClient(asyncio.Protocol):
    """One socket. ``on_text(payload: bytes)`` is called for every frame (line) of every text
    message."""

    def __init__(self, on_text: Callable[[bytes], None], on_close: Callable[[int], None]) -> None:
        self.on_text = on_text
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.request = b""
        self.fragments: list[bytes] = []
        self.fragment_compressed = False
        self.inflater: zlib._Decompress | None = None
        self.deflate_offered = False
        self.close_code: int | None = None
        self.closed = asyncio.get_running_loop().create_future()

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.handshake.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            status = head.split(" ", 2)[1] if " " in head else "?"
            if status != "101":
                self.handshake.set_exception(HandshakeFailed(head.splitlines()[0]))
                self.transport.close()  # type: ignore[union-attr]
                return
            if "permessage-deflate" in head.lower():
                self.inflater = zlib.decompressobj(-15)
            self.handshake.set_result(None)
        self.parse()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(HandshakeFailed(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code or 1006)
            self.on_close(self.close_code or 1006)

    # -- frames ---------------------------------------------------------------------------------

    def parse(self) -> None:
        buffer = self.buffer
        position = 0
        size = len(buffer)
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if size - position < 4:
                    break
                (length,) = struct.unpack_from("!H", buffer, position + 2)
                header = 4
            elif length == 127:
                if size - position < 10:
                    break
                (length,) = struct.unpack_from("!Q", buffer, position + 2)
                header = 10
            end = position + header + length
            if end > size:
                break
            payload = bytes(buffer[position + header : end])
            position = end
            self.frame(first, payload)
        if position:
            del buffer[:position]

    def frame(self, first: int, payload: bytes) -> None:
        opcode = first & 0x0F
        fin = first & 0x80
        if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            if opcode != OP_CONT:
                self.fragment_compressed = bool(first & 0x40)
            if not fin:
                self.fragments.append(payload)
                return
            if self.fragments:
                self.fragments.append(payload)
                payload = b"".join(self.fragments)
                self.fragments = []
            if self.fragment_compressed and self.inflater is not None:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            # BWT Chat sends a burst as one message, a frame per line (docs/protocol.md).
            for frame in payload.split(b"\n"):
                self.on_text(frame)
        elif opcode == OP_PING:
            self.write_frame(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            if self.transport is not None and not self.transport.is_closing():
                self.write_frame(OP_CLOSE, payload[:2])
                self.transport.close()

    def write_frame(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        mask = os.urandom(4)
        self.transport.write(header + mask + apply_mask(payload, mask))

    def send_text(self, text: str | bytes) -> None:
        self.write_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self, code: int = 1000) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.write_frame(OP_CLOSE, struct.pack("!H", code))
            self.transport.close()


async def connect(
    url: str,
    *,
    origin: str,
    cookie: str | None,
    on_text: Callable[[bytes], None],
    on_close: Callable[[int], None] = lambda code: None,
    deflate: bool = False,
    timeout: float = 30.0,
    receive_buffer: int = 0,
) -> WSClient:
    """Open a socket to ``ws://host:port/path`` and finish the handshake."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {parts.path or '/'} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin}",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    loop = asyncio.get_running_loop()
    client = WSClient(on_text, on_close)
    client.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    client.deflate_offered = deflate
    sock = None
    if receive_buffer:
        # A small receive buffer before connecting, so a stalled reader backs up to the server
        # within seconds, like a phone on a bad link, not after megabytes of loopback buffers.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await asyncio.wait_for(loop.create_connection(lambda: client, sock=sock), timeout)
    else:
        await asyncio.wait_for(loop.create_connection(lambda: client, host, port), timeout)
    await asyncio.wait_for(client.handshake, timeout)
    return client
