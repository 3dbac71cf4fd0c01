"""A TCP relay that delays what a client sends to Redis, like a node across a slow network.

Locally a SUBSCRIBE written to the socket nearly always reaches Redis before another node's
PUBLISH, so a broker that returned before Redis confirmed would still pass. Behind this relay
it loses the event, which is what the confirmation tests need to be able to show.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit


class SlowLink:
    def __init__(self, redis_url: str, delay: float) -> None:
        parts = urlsplit(redis_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._path = parts.path
        self._delay = delay
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._relays: set[asyncio.Task[None]] = set()
        self._cut = False
        self.url = ""

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}{self._path}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        # Closed sockets end every relay; wait so none is left for the loop to cancel.
        await asyncio.gather(*self._relays, return_exceptions=True)
        await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones, like Redis going down."""
        self._cut = True
        for writer in list(self._writers):
            writer.close()

    def restore(self) -> None:
        """Relay again, like Redis coming back."""
        self._cut = False

    async def _relay(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._cut:
            client.close()
            return
        redis_reader, redis = await asyncio.open_connection(*self._target)
        self._writers.update((client, redis))
        relay = asyncio.current_task()
        assert relay is not None
        self._relays.add(relay)
        try:
            await asyncio.gather(
                self._pipe(client_reader, redis, self._delay),
                self._pipe(redis_reader, client, 0),
            )
        finally:
            self._relays.discard(relay)
            for writer in (client, redis):
                self._writers.discard(writer)
                writer.close()

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                sink.write(data)
                await sink.drain()
        sink.close()
