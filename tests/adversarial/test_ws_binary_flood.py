"""Binary frames count against the frame rate limit like text frames (4429 on a flood)."""

from __future__ import annotations

from websockets.exceptions import ConnectionClosed

from tests.client import ChatUser


async def test_a_flood_of_binary_frames_is_rate_limited_and_closed_with_4429(
    users,
) -> None:
    anna: ChatUser = await users("anna")
    socket = await anna.connect()
    for _ in range(500):
        try:
            await socket.connection.send(b"x")
        except ConnectionClosed:
            break
    codes: list[str] = []
    close_code = None
    try:
        while True:
            codes.append((await socket.receive(3))["code"])
    except TimeoutError:
        pass
    except ConnectionClosed as closed:
        close_code = closed.rcvd.code if closed.rcvd else None
    # today: 500 x invalid_json, never rate_limited, never closed
    assert "rate_limited" in codes and close_code == 4429, (
        len(codes),
        set(codes),
        close_code,
    )
