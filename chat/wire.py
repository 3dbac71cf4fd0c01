"""An event's WebSocket frame, built once per fan-out and written to each plain socket as is.

Sent through uvicorn's ``send``, the same text is encoded and framed again for every socket
(websockets' ``Frame``, its extensions loop, a list join, the state checks and the flow-control
wait): about a tenth of the server's CPU per delivery when an event goes to a thousand sockets
(docs/performance.md). A server-to-client frame carries no mask, so without an extension its
bytes are the same for every socket: the hub frames each message once and hands those bytes to
each socket's transport.

Only where that is exactly what uvicorn's ``send`` would write: uvicorn's websockets-sansio
protocol (its default with the websockets package), a socket with no extension (a client that
negotiated permessage-deflate, as browsers do, has a compressor of its own), open, not closing,
and taking data (not paused by flow control). Everything else, and any socket of another
server, goes through ``send`` as before; so does everything that might have to wait.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - another server, or uvicorn without websockets
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]


def plain_socket(send: Any) -> Any | None:
    """The uvicorn protocol behind ``send`` if pre-framed bytes may be written to it, else None.

    Call once the handshake is done: the extensions are what it negotiated.
    """
    protocol = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or type(protocol) is not WebSocketsSansIOProtocol:
        return None
    if protocol.conn.extensions:
        return None
    return protocol


def utf8_length(text: str) -> int:
    """The length of ``text`` in UTF-8, what a client's message-size limit counts.

    Asked for each frame once per socket it goes to: ASCII text is measured without encoding
    (``isascii`` reads a flag the string keeps), other text is encoded once per frame, not once
    per socket (0.4 µs for an event's frame, against ~17 µs for the delivery)."""
    return len(text) if text.isascii() else _encoded_length(text)


@lru_cache(maxsize=1024)
def _encoded_length(text: str) -> int:
    return len(text.encode())


def text_frame(text: str) -> bytes:
    """The unmasked, unfragmented text frame of ``text``, as uvicorn would write it."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


def write_framed(protocol: Any, frame: bytes) -> bool:
    """Write ``frame`` if the socket takes it now as uvicorn's ``send`` would; False if not
    (closed, closing, or paused because the client is not reading): then use ``send``."""
    if (
        protocol.writable.is_set()
        and not protocol.disconnected
        and not protocol.close_sent
        and protocol.conn.state is State.OPEN
        and not protocol.transport.is_closing()
    ):
        protocol.transport.write(frame)
        return True
    return False
