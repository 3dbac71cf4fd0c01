"""Adversarial: the history route's one-read authentication, and events framed once per write
round and written straight to sockets without permessage-deflate (chat/wire.py)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket as pysocket
import struct
from base64 import b64encode

import httpx
import itsdangerous
from websockets.protocol import State
from websockets.server import ServerProtocol

from chat import wire
from chat.protocol import LARGEST_ID
from tests.adversarial.stream_check import ends_clean, server_log_problems
from tests.client import ChatUser, make_admin
from tests.conftest import RUN_ID

SECRET = "test-secret-" + RUN_ID
SECRET_TEXT = "vertrouwelijk: het dossier Noordzijde"


def signed_session(session: dict) -> str:
    """A session cookie as Starlette's SessionMiddleware signs one, with the test server's key."""
    data = b64encode(json.dumps(session).encode())
    return itsdangerous.TimestampSigner(SECRET).sign(data).decode()


async def private_network_with_a_secret(server, member: ChatUser) -> int:
    admin = await make_admin(server, "beheerder")
    network = await admin.create_private_network("dicht", "Dicht")
    added = await admin.api(
        "POST", f"/api/admin/networks/{network}/members", json={"username": member.username}
    )
    assert added.status_code in (200, 201), added.text
    posted = await member.api(
        "POST",
        f"/api/networks/{network}/messages",
        json={"client_id": "secret-0001", "body": SECRET_TEXT},
    )
    assert posted.status_code == 200, posted.text
    await admin.aclose()
    return network


async def anna_and_bram_in_asbest(server) -> tuple[ChatUser, ChatUser, int]:
    """Two registered members of the network "asbest", and its id."""
    anna = await server.user("anna").register()
    bram = await server.user("bram").register()
    network = await anna.join("asbest")
    await bram.join("asbest")
    return anna, bram, network


async def answer(client: httpx.AsyncClient, path: str) -> tuple[int, str, str]:
    response = await client.get(path)
    assert response.status_code != 500, (path, response.text[:300])
    body = response.text
    code = response.json()["error"]["code"] if response.status_code >= 400 else ""
    return response.status_code, code, body


async def test_history_without_a_live_session_answers_401_like_the_other_routes(
    users, live_server
) -> None:
    """Whatever the query or network id, a request without a valid session is 'log in first',
    as on /members and every other route, and it never gets message text.

    The route reads the user and the page in one hop (ebf7452), so it parses the path id and
    the query (``path_id``, ``int_query`` in chat/api.py ``history``) before it reads the
    cookie's user; without a live session a bad parameter answered 400 invalid_request and an
    id past the database's integers 404 network_not_found, where /members (and the route before
    that change) answers 401 not_authenticated. A signed cookie with a user id past the id
    column's range made PostgreSQL answer 500 on both."""
    anna: ChatUser = await users("anna")
    network = await private_network_with_a_secret(live_server, anna)
    anna_id = (await anna.api("GET", "/api/me")).json()["id"]
    stolen = anna.http.cookies["bwt_session"]
    assert (await anna.http.post("/logout")).status_code == 303

    cookies = {
        "none": None,
        "garbage": "not-a-session",
        "copied before logout": stolen,
        "signed, old epoch": signed_session({"user_id": anna_id, "epoch": 0}),
        "signed, no such user": signed_session({"user_id": 987654, "epoch": 0}),
        "signed, user id a string": signed_session({"user_id": str(anna_id), "epoch": 1}),
        "signed, user id past the ids": signed_session({"user_id": LARGEST_ID + 1, "epoch": 0}),
    }
    queries = [
        "",
        "?limit=1",
        "?limit=abc",
        "?before_seq=-1",
        "?after_seq=" + str(2**64),
        "?before_seq=2&after_seq=0",
        "?around_seq=1.5",
    ]
    networks = [network, 99999, LARGEST_ID + 1, 10**30]
    wrong = []
    for name, cookie in cookies.items():
        jar = {"bwt_session": cookie} if cookie else {}
        async with httpx.AsyncClient(base_url=live_server.url, cookies=jar) as client:
            for network_id in networks:
                members = await answer(client, f"/api/networks/{network_id}/members")
                assert members[:2] == (401, "not_authenticated"), (name, network_id, members)
                for query in queries:
                    path = f"/api/networks/{network_id}/messages{query}"
                    status, code, body = await answer(client, path)
                    assert SECRET_TEXT not in body, (name, path)
                    if (status, code) != (401, "not_authenticated"):
                        wrong.append(f"{name}: {path} -> {status} {code}")
    assert not wrong, f"{len(wrong)} answers are not 401:\n" + "\n".join(wrong[:12])


async def test_non_member_cannot_tell_a_private_network_from_a_missing_one(
    users, live_server
) -> None:
    anna: ChatUser = await users("anna")
    network = await private_network_with_a_secret(live_server, anna)
    eva: ChatUser = await users("eva")
    missing = 99999
    for query in ("", "?before_seq=1", "?after_seq=0", "?around_seq=1", "?after_seq=5&limit=1"):
        mine = await answer(eva.http, f"/api/networks/{network}/messages{query}")
        none = await answer(eva.http, f"/api/networks/{missing}/messages{query}")
        assert mine[0] == 404 and SECRET_TEXT not in mine[2], (query, mine)
        assert mine == none, (query, mine, none)
    members = [await answer(eva.http, f"/api/networks/{n}/members") for n in (network, missing)]
    assert members[0] == members[1] and members[0][0] == 404
    # The member reads it, and bad parameters are a clean 400 for her, not a 500.
    page = (await anna.api("GET", f"/api/networks/{network}/messages")).json()
    assert [m["body"] for m in page["messages"]] == [SECRET_TEXT]
    for query in ("limit=abc", "before_seq=-1", f"after_seq={2**64}", "around_seq=1e3"):
        status, code, _ = await answer(anna.http, f"/api/networks/{network}/messages?{query}")
        assert (status, code) == (400, "invalid_request"), (query, status, code)


# -- the hub's pre-framed writes --------------------------------------------------------------


class RawSocket:
    """A WebSocket client on a bare TCP stream, without extensions: it sees every frame's header
    and every byte the server writes, and reads only when told (a client that stops reading)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        #: (opcode, payload length, bytes of the length field) of every frame read
        self.headers: list[tuple[int, int, int]] = []
        self.close_code: int | None = None

    @classmethod
    async def open(cls, user: ChatUser, rcvbuf: int | None = None) -> RawSocket:
        host, port = user.base_url.removeprefix("http://").split(":")
        tcp = pysocket.socket()
        if rcvbuf:
            tcp.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, rcvbuf)
        tcp.setblocking(False)
        await asyncio.get_running_loop().sock_connect(tcp, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=tcp, limit=2**16)
        cookie = "; ".join(f"{k}={v}" for k, v in user.http.cookies.items())
        key = b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {user.base_url}\r\nCookie: {cookie}\r\n\r\n".encode()
        )
        response = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        assert response.startswith("HTTP/1.1 101"), response
        assert "sec-websocket-extensions" not in response.lower(), response
        socket = cls(reader, writer)
        assert json.loads(await socket.message())["type"] == "welcome"
        return socket

    def send(self, frame: dict | str | bytes, opcode: int = 0x1) -> None:
        if isinstance(frame, dict):
            frame = json.dumps(frame)
        payload = frame.encode() if isinstance(frame, str) else frame
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            head = bytes([0x80 | opcode, 0x80 | size])
        elif size < 65536:
            head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", size)
        else:
            head = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", size)
        self.writer.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    async def frame(self) -> tuple[int, bytes]:
        """The next frame: its opcode and payload. Checks what RFC 6455 asks of a server frame."""
        first, second = await self.reader.readexactly(2)
        assert first & 0x80 and not first & 0x70, f"fragmented or RSV bits: {first:#x}"
        assert not second & 0x80, "a server frame must not be masked"
        size, field = second & 0x7F, 0
        if size == 126:
            size, field = struct.unpack("!H", await self.reader.readexactly(2))[0], 2
            assert size >= 126, f"16-bit length {size}: not the minimal encoding"
        elif size == 127:
            size, field = struct.unpack("!Q", await self.reader.readexactly(8))[0], 8
            assert size >= 65536, f"64-bit length {size}: not the minimal encoding"
        payload = await self.reader.readexactly(size)
        self.headers.append((first & 0x0F, size, field))
        return first & 0x0F, payload

    async def message(self, timeout: float = 5) -> str:
        """The next text message (answering pings); raises ClosedBy at a close frame."""
        while True:
            opcode, payload = await asyncio.wait_for(self.frame(), timeout)
            if opcode == 0x1:
                return payload.decode()  # strict UTF-8
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
                raise ClosedBy(self.close_code)
            if opcode == 0x9:
                self.send(payload, opcode=0xA)
            else:
                raise AssertionError(f"unexpected opcode {opcode}")

    async def after_close(self) -> bytes:
        """Answer the server's close frame and return whatever it still writes (must be none)."""
        self.send(struct.pack("!H", 1000), opcode=0x8)
        return await asyncio.wait_for(self.reader.read(), 5)

    def abort(self) -> None:
        self.writer.transport.abort()


class ClosedBy(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Stream:
    """What one socket received: each event's (seq, body)."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []

    def take(self, message: str) -> None:
        for line in message.split("\n"):
            frame = json.loads(line)
            if frame["type"] == "event":
                self.events.append((frame["seq"], frame["message"]["body"]))


async def read_raw(socket: RawSocket, stream: Stream, count: int, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while len(stream.events) < count:
            stream.take(await socket.message(timeout))


async def read_library(socket, stream: Stream, count: int, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while len(stream.events) < count:
            stream.take(await socket.connection.recv())


async def subscribe_raw(socket: RawSocket, network: int, since: int | None = None) -> list[str]:
    """Subscribe; the messages that came before ``subscribed`` (a backlog)."""
    frame = {"type": "subscribe", "network_id": network}
    if since is not None:
        frame["since_seq"] = since
    socket.send(frame)
    before = []
    while True:
        message = await socket.message()
        if json.loads(message.split("\n")[-1])["type"] == "subscribed":
            return before + ([message.rsplit("\n", 1)[0]] if "\n" in message else [])
        before.append(message)


def test_a_round_frame_is_byte_for_byte_what_uvicorn_would_write_at_every_length_boundary() -> None:
    """The frame the hub builds by itself against uvicorn's own framing (websockets' protocol
    in the OPEN state), at the payload lengths where the length field changes size, with text
    whose characters are 2, 3 and 4 bytes long."""
    for size in (125, 126, 127, 65535, 65536, 65537, 2**17 + 3):
        for letter in ("é", "中", "𝔘"):
            width = len(letter.encode())
            text = letter * (size // width) + "x" * (size % width)
            assert len(text.encode()) == size and len(text) != size
            server = ServerProtocol()
            server.state = State.OPEN
            server.send_text(text.encode())
            assert wire.text_frame(text) == b"".join(server.data_to_send()), (size, letter)


FAST = dict(BWT_FRAME_RATE="100000", BWT_FRAME_BURST="100000")


async def send_raw(socket, network: int, body: str, client_id: str) -> None:
    """A send frame in UTF-8 as a browser sends it (not \\u-escaped: six bytes a letter)."""
    frame = {"type": "send", "network_id": network, "client_id": client_id, "body": body}
    await socket.send(json.dumps(frame, ensure_ascii=False))


async def acks(socket, count: int) -> None:
    for _ in range(count):
        await socket.expect("ack", timeout=20)


async def test_plain_and_deflate_sockets_get_exact_events_across_length_boundaries(
    start_server,
) -> None:
    """Events whose frames are exactly 65,535 and 65,536 bytes (the 16-bit length's last and
    the 64-bit length's first), bursts joined into messages of more bytes than characters, to
    two raw plain sockets, a plain and a deflate socket of the same user: every socket gets
    every event once, in order, with the exact text, in minimally encoded unmasked frames."""
    server = start_server(**FAST, BWT_MAX_BODY_CHARS="70000")
    anna, bram, network = await anna_and_bram_in_asbest(server)
    sender = await anna.connect()
    for i in range(9):  # seqs and ids of two digits from here: frame sizes are predictable
        assert (await sender.send_message(network, f"vulling {i}"))["type"] == "ack"
    raws = [await RawSocket.open(bram) for _ in range(2)]
    plain, deflate = await bram.connect(compression=None), await bram.connect()
    for raw in raws:
        await subscribe_raw(raw, network)
    for socket in (plain, deflate):
        await socket.subscribe(network)

    async def sent_alone(body: str, client_id: str) -> int:
        """Send one event and wait until it arrived; its frame's payload length."""
        await send_raw(sender, network, body, client_id)
        await sender.expect("ack")
        frame = json.loads(await raws[0].message())
        assert frame["type"] == "event" and frame["message"]["body"] == body
        return raws[0].headers[-1][1]

    bodies: list[str] = []
    base_body, base_id = "é" * 1000, "cal-0001"
    base = await sent_alone(base_body, base_id)
    bodies.append(base_body)

    def predicted(body: str, client_id: str) -> int:
        # The body is in the frame twice (as text and as <p>…</p> HTML), the client_id once.
        return base + 2 * (len(body.encode()) - 2000) + len(client_id) - len(base_id)

    check_body, check_id = "中" * 1000, "cal-00002"
    assert await sent_alone(check_body, check_id) == predicted(check_body, check_id)
    bodies.append(check_body)
    for target in (65535, 65536):
        rest = target - predicted("", "")
        client_id = "edge" + "-" * (4 + rest % 2)
        body_bytes = (target - predicted("", client_id)) // 2
        body = "中" * (body_bytes // 3) + "x" * (body_bytes % 3)
        assert predicted(body, client_id) == target
        assert await sent_alone(body, client_id) == target
        bodies.append(body)
    # A burst: sends in flight, so events of 4-byte letters are joined into messages of up to
    # 65,536 bytes (frames past that length field: test_a_round_frame_is_byte_for_byte_…).
    burst = [f"𝔘{n}" + "𝔘" * (3000 + 97 * n) for n in range(12)]
    for n, body in enumerate(burst):
        await send_raw(sender, network, body, f"burst-{n:03d}")
    bodies.extend(burst)
    expected = list(enumerate(bodies, start=10))
    streams = [Stream() for _ in range(4)]
    streams[0].events = expected[:4]  # read one by one above
    await asyncio.gather(
        acks(sender, len(burst)),
        read_raw(raws[0], streams[0], len(expected)),
        read_raw(raws[1], streams[1], len(expected)),
        read_library(plain, streams[2], len(expected)),
        read_library(deflate, streams[3], len(expected)),
    )
    for name, stream in zip(("raw", "raw", "plain", "deflate"), streams, strict=True):
        assert stream.events == expected, name
    for raw in raws:
        sizes = {size for opcode, size, _ in raw.headers if opcode == 0x1}
        assert {65535, 65536} <= sizes
        assert max(sizes) <= 65536
    assert not server_log_problems(server), server_log_problems(server)
    for raw in raws:
        raw.abort()
    for user in (anna, bram):
        await user.aclose()


async def test_a_burst_of_non_ascii_events_leaves_in_messages_of_at_most_64_kib(
    start_server,
) -> None:
    """docs/protocol.md: a burst leaves "up to 64 KiB per message". Counted in characters,
    messages of the longest body (4,000 characters) of four-byte letters were joined into
    messages of up to 256 KiB, and a client that sized its limit by the document (websockets'
    max_size=65536) closed with 1009 in a burst; the hub counts bytes of UTF-8 now."""
    server = start_server(**FAST)
    anna, bram, network = await anna_and_bram_in_asbest(server)
    raw = await RawSocket.open(bram)
    await subscribe_raw(raw, network)
    sender = await anna.connect()
    bodies = [f"𝔘{n} " + "𝔘" * 3990 for n in range(16)]
    for n, body in enumerate(bodies):
        await send_raw(sender, network, body, f"burst-{n:03d}")
    stream = Stream()
    await asyncio.gather(acks(sender, len(bodies)), read_raw(raw, stream, len(bodies)))
    assert stream.events == list(enumerate(bodies, start=1))
    sizes = [size for opcode, size, _ in raw.headers if opcode == 0x1]
    assert max(sizes) <= 64 * 1024, f"messages of {sorted(sizes)[-3:]} bytes"
    raw.abort()
    for user in (anna, bram):
        await user.aclose()


async def test_plain_sockets_that_stop_reading_get_everything_in_order_or_a_clean_cut_off(
    start_server,
) -> None:
    """Plain sockets whose transport pauses while a flood of large events goes out: one reads
    again within the send timeout and gets every event once in order; one stays stalled, is cut
    off (4001, or dropped if even the close frame does not fit), gets nothing after the close
    frame, and catches up exactly with since_seq. A steady plain and a deflate socket of the
    same user get everything meanwhile."""
    server = start_server(**FAST, BWT_MAX_BODY_CHARS="50000", BWT_SEND_TIMEOUT_SECONDS="2")
    anna, bram, network = await anna_and_bram_in_asbest(server)
    steady, pauser, stalled = [
        await RawSocket.open(bram, rcvbuf=4096 if n else None) for n in range(3)
    ]
    deflate = await bram.connect()
    for raw in (steady, pauser, stalled):
        await subscribe_raw(raw, network)
    await deflate.subscribe(network)
    sender = await anna.connect()
    # 40 events of ~120 kB (é is two bytes, and the body is in the frame twice): far more than
    # the kernel's and the transport's buffers hold for a client that does not read.
    bodies = [f"é{n} " + "é" * 30000 for n in range(40)]
    expected = list(enumerate(bodies, start=1))
    streams = {name: Stream() for name in ("steady", "pauser", "stalled", "deflate")}

    async def pause_then_read() -> None:
        await asyncio.sleep(0.7)
        await read_raw(pauser, streams["pauser"], len(bodies))

    reading = [
        asyncio.create_task(read_raw(steady, streams["steady"], len(bodies))),
        asyncio.create_task(pause_then_read()),
        asyncio.create_task(read_library(deflate, streams["deflate"], len(bodies))),
    ]
    for n, body in enumerate(bodies):
        await send_raw(sender, network, body, f"flood-{n:03d}")
    await asyncio.gather(*reading, acks(sender, len(bodies)))
    for name in ("steady", "pauser", "deflate"):
        assert streams[name].events == expected, name

    await asyncio.sleep(3.5)  # the stalled socket is cut off 2 to 3 s after its write blocked
    got, tail = streams["stalled"], b""
    try:
        while True:
            got.take(await stalled.message(timeout=5))
    except ClosedBy as closed:
        assert closed.code == 4001
        tail = await stalled.after_close()
    except asyncio.IncompleteReadError:
        pass  # dropped without a close frame: it did not fit either
    assert tail == b"", f"{len(tail)} bytes written after the close frame"
    assert got.events == expected[: len(got.events)]
    assert len(got.events) < len(bodies), "it was cut off before it had everything"
    again = await RawSocket.open(bram)
    backlog = Stream()
    for message in await subscribe_raw(again, network, since=len(got.events)):
        backlog.take(message)
    assert got.events + backlog.events == expected
    assert not server_log_problems(server), server_log_problems(server)
    for raw in (steady, pauser, again):
        raw.abort()
    for user in (anna, bram):
        await user.aclose()


async def test_plain_sockets_closing_or_aborting_mid_burst_leave_the_others_whole(
    start_server,
) -> None:
    """While a flood goes out, plain sockets go away every way they can (the TCP connection
    aborted, a close frame, a frame over the size limit that uvicorn closes with 1009, their
    user logging out: 4401), sharing write rounds with sockets of the same users that stay:
    those get every event once in order; each that left got an unbroken run of events and
    nothing after a close frame; the server logs nothing and keeps no socket."""
    server = start_server(**FAST)
    anna = await server.user("anna").register()
    bram = await server.user("bram").register()
    carla = await server.user("carla").register()
    dirk = await server.user("dirk").register()
    network = await anna.join("asbest")
    for user in (bram, carla, dirk):
        await user.join("asbest")
    stayers = [await RawSocket.open(bram), await RawSocket.open(carla)]
    deflate = await bram.connect()
    ways = ["abort", "close", "too_big"] * 5 + ["logout"] * 3
    leavers = [
        await RawSocket.open(dirk if way == "logout" else bram if n % 3 else carla)
        for n, way in enumerate(ways)
    ]
    for raw in (*stayers, *leavers):
        await subscribe_raw(raw, network)
    await deflate.subscribe(network)
    sender = await anna.connect()
    bodies = [f"Ω{n} " + "ωé中𝔘" * (20 + n % 50) for n in range(150)]
    expected = list(enumerate(bodies, start=1))
    rnd = random.Random(7)
    problems: list[str] = []

    async def leave(raw: RawSocket, way: str) -> None:
        stream = Stream()

        async def read_until_closed() -> None:
            try:
                while True:
                    stream.take(await raw.message(timeout=10))
            except ClosedBy:
                pass

        reading = asyncio.create_task(read_until_closed())
        await asyncio.sleep(rnd.uniform(0.01, 0.12))
        if way == "abort":
            raw.abort()
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
        else:
            if way == "close":
                raw.send(struct.pack("!H", 1000), opcode=0x8)
            elif way == "too_big":  # only the header of a frame over the limit: no TCP reset
                raw.writer.write(bytes([0x81, 0xFF]) + struct.pack("!Q", 70_000) + os.urandom(4))
            await asyncio.wait_for(reading, 10)
            if raw.close_code != {"close": 1000, "too_big": 1009, "logout": 4401}[way]:
                problems.append(f"{way}: closed with {raw.close_code}")
            tail = await asyncio.wait_for(
                raw.after_close() if way == "logout" else raw.reader.read(), 5
            )
            if tail:
                problems.append(f"{way}: {len(tail)} bytes after the close frame")
            raw.abort()
        if stream.events:
            first = stream.events[0][0]
            if stream.events != expected[first - 1 : first - 1 + len(stream.events)]:
                problems.append(f"{way}: events out of order, repeated or changed")

    leaving = [asyncio.create_task(leave(raw, way)) for raw, way in zip(leavers, ways, strict=True)]

    async def log_out() -> None:
        await asyncio.sleep(0.05)
        assert (await dirk.http.post("/logout")).status_code == 303

    leaving.append(asyncio.create_task(log_out()))
    streams = [Stream() for _ in range(3)]
    reading = [
        asyncio.create_task(read_raw(stayers[0], streams[0], len(bodies))),
        asyncio.create_task(read_raw(stayers[1], streams[1], len(bodies))),
        asyncio.create_task(read_library(deflate, streams[2], len(bodies))),
    ]
    for n, body in enumerate(bodies):
        if n >= 8:
            await sender.expect("ack")  # eight sends in flight
        await send_raw(sender, network, body, f"flood-{n:03d}")
    await asyncio.gather(*reading, *leaving, acks(sender, 8))
    assert not problems, problems
    for stream in streams:
        assert stream.events == expected
    for raw in stayers:
        raw.abort()
    await deflate.close()
    await sender.close()
    await ends_clean([server], [anna, bram, carla, dirk])


async def test_a_lone_surrogate_in_tags_is_refused_and_fails_nobody_elses_send(
    users, live_server
) -> None:
    """Outside the two paths, found with their non-ASCII text: the body and client_id are
    checked for text that UTF-8 cannot encode (a JSON "\\ud800" escape), the tags are not
    (chat/actions/posts.py ``check_post``, chat/search_terms.py ``tag_list``). The insert then
    fails: a traceback, internal_error for the sender (a plain-text 500 over HTTP), and every
    other user's send stored in the same group commit fails with it."""
    anna: ChatUser = await users("anna")
    bram: ChatUser = await users("bram")
    network = await anna.join("asbest")
    await bram.join("asbest")
    hostile, honest = await anna.connect(), await bram.connect()
    await honest.subscribe(network)
    frame = {"type": "send", "network_id": network, "client_id": "surrogate-1", "body": "hallo"}
    await hostile.send({**frame, "tags": ["\ud800asbest"]})
    await honest.send({**frame, "client_id": "honest-0001", "body": "gewoon een bericht"})
    refused = (await hostile.expect("error"))["code"]
    honest_got = [f for f in await honest.nothing_for(1.5) if f["type"] in ("ack", "error")]
    over_http = await anna.api(
        "POST",
        f"/api/networks/{network}/messages",
        content=json.dumps({"client_id": "surrogate-2", "body": "hallo", "tags": ["\ud800"]}),
        headers={"content-type": "application/json"},
    )
    page = (await bram.api("GET", f"/api/networks/{network}/messages")).json()
    observed = {
        "hostile send": refused,
        "honest send": [f.get("code", f["type"]) for f in honest_got],
        "over HTTP": over_http.status_code,
        "stored": [m["body"] for m in page["messages"]],
        "log": server_log_problems(live_server)[:2],
    }
    assert observed == {
        "hostile send": "invalid_tags",
        "honest send": ["ack"],
        "over HTTP": 400,
        "stored": ["gewoon een bericht"],
        "log": [],
    }
