"""Making a public network private must cut off the live stream of sockets of non-members."""

from __future__ import annotations

from tests.client import ChatUser, make_admin


async def test_non_member_follower_stops_receiving_after_network_becomes_private(
    users, live_server
) -> None:
    admin = await make_admin(live_server, "beheer")
    try:
        created = await admin.api(
            "POST",
            "/api/admin/networks",
            json={"slug": "wordt-geheim", "name": "Wordt geheim"},
        )
        assert created.status_code == 201, created.text
        network = created.json()["id"]
        assert (await admin.api("POST", f"/api/networks/{network}/join")).status_code == 200
        carl: ChatUser = await users("carl")  # follows the public network without joining
        carl_socket = await carl.connect()
        await carl_socket.subscribe(network)
        admin_socket = await admin.connect()
        await admin_socket.subscribe(network)

        patched = await admin.api(
            "PATCH", f"/api/admin/networks/{network}", json={"is_private": True}
        )
        assert patched.status_code == 200 and patched.json()["is_private"] is True
        ack = await admin_socket.send_message(network, "vertrouwelijk: alleen voor leden")
        assert ack["type"] == "ack"

        # carl may no longer read the network at all...
        history = await carl.api("GET", f"/api/networks/{network}/messages")
        assert history.status_code == 404
        # ...so his already-open socket must not receive its messages either.
        leaked = [f for f in await carl_socket.nothing_for(1.5) if f["type"] == "event"]
        assert leaked == [], f"non-member received a private message: {leaked}"
    finally:
        await admin.aclose()
