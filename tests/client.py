"""A test user as a browser would be one: an HTTP session with its cookie, and WebSockets."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections import deque
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect


class Socket:
    """One WebSocket of a test user, with helpers to wait for a given frame type."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.seen: list[dict[str, Any]] = []
        self.unread: deque[dict[str, Any]] = deque()
        #: WebSocket messages received: a burst of frames may arrive as one.
        self.messages = 0

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame. A WebSocket message from the server holds one frame per line."""
        if not self.unread:
            message = await asyncio.wait_for(self.connection.recv(), timeout)
            self.messages += 1
            self.unread.extend(json.loads(line) for line in message.split("\n"))
        frame = self.unread.popleft()
        self.seen.append(frame)
        return frame

    async def expect(self, frame_type: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        """The next frame of this type (and fields); frames of other types are kept in ``seen``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {frame_type} {fields} within {timeout}s; saw {self.seen}")
            frame = await self.receive(remaining)
            if frame["type"] == frame_type and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    async def nothing_for(self, seconds: float) -> list[dict[str, Any]]:
        """Frames that arrive within ``seconds`` (to show that something did NOT arrive)."""
        got = []
        try:
            while True:
                got.append(await self.receive(seconds))
        except TimeoutError:
            return got

    async def subscribe(self, network_id: int, since_seq: int | None = None) -> list[dict]:
        """Subscribe and return the backlog events that came before ``subscribed``."""
        frame: dict[str, Any] = {"type": "subscribe", "network_id": network_id}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        await self.send(frame)
        events = []
        while True:
            got = await self.receive()
            if got["type"] == "subscribed":
                return events
            if got["type"] == "error":
                raise AssertionError(f"subscribe failed: {got}")
            if got["type"] == "event":
                events.append(got)

    async def send_message(self, network_id: int, body: str, client_id: str | None = None) -> dict:
        client_id = client_id or uuid.uuid4().hex
        await self.send(
            {"type": "send", "network_id": network_id, "client_id": client_id, "body": body}
        )
        while True:
            got = await self.receive()
            if got["type"] == "ack" and got["client_id"] == client_id:
                return got
            if got["type"] == "error" and got.get("ref") == client_id:
                return got

    async def close(self) -> None:
        await self.connection.close()


class ChatUser:
    def __init__(self, base_url: str, username: str) -> None:
        self.base_url = base_url
        self.username = username
        self.http = httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=10)
        self.sockets: list[Socket] = []

    async def register(self, organisation: str = "Gemeente Utrecht", **overrides: str) -> ChatUser:
        form = {
            "display_name": self.username.replace(".", " ").title(),
            "username": self.username,
            "email": f"{self.username}@example.nl",
            "password": "correct horse battery",
            "role": "toezichthouder",
            "organisation_name": organisation,
            "organisation_type": "gemeente",
            **overrides,
        }
        response = await self.http.post("/register", data=form)
        assert response.status_code == 303, response.text[:2000]
        return self

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, path, **kwargs)

    async def network_id(self, slug: str) -> int:
        networks = (await self.http.get("/api/networks")).json()
        return next(n["id"] for n in networks if n["slug"] == slug)

    async def join(self, slug: str) -> int:
        network_id = await self.network_id(slug)
        response = await self.http.post(f"/api/networks/{network_id}/join")
        assert response.status_code == 200, response.text
        return network_id

    async def create_private_network(self, slug: str, name: str) -> int:
        """As an administrator: a new private network (its creator is not a member); its id."""
        created = await self.api(
            "POST",
            "/api/admin/networks",
            json={"slug": slug, "name": name, "description": "", "is_private": True},
        )
        assert created.status_code == 201, created.text
        return created.json()["id"]  # type: ignore[no-any-return]

    async def connect(
        self,
        origin: str | None = None,
        expect_welcome: bool = True,
        compression: str | None = "deflate",
    ) -> Socket:
        """A socket as a browser opens one: with permessage-deflate unless ``compression=None``."""
        ws_url = self.base_url.replace("http://", "ws://") + "/ws"
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        connection = await connect(
            ws_url,
            origin=origin or self.base_url,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie} if cookie else {},
            max_size=2**22,
            compression=compression,
        )
        socket = Socket(connection)
        self.sockets.append(socket)
        if expect_welcome:
            await socket.expect("welcome")
        return socket

    async def aclose(self) -> None:
        for socket in self.sockets:
            await socket.connection.close()
        await self.http.aclose()


async def run_bwt(server: Any, *arguments: str) -> str:
    """Run the `bwt` command on the server's database; answers its output (it must succeed)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chat", *arguments,
        cwd=server.workdir, env=server.environment(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    return output.decode()


async def make_admin(server: Any, username: str) -> ChatUser:
    """An administrator made the documented way, with `bwt create-user --admin`, then logged in."""
    password = "beheer wachtwoord 1"
    await run_bwt(
        server, "create-user", "--admin",
        "--username", username, "--display-name", username.title(),
        "--email", f"{username}@example.nl", "--password", password,
        "--organisation", "Ministerie van BZK", "--organisation-type", "rijk",
    )  # fmt: skip
    admin = ChatUser(server.url, username)
    response = await admin.http.post("/login", data={"login": username, "password": password})
    assert response.status_code == 303, response.text[:500]
    return admin
