"""docs/http-api.md: the CSRF defence is that the API demands application/json, which a
cross-site form cannot send. join/leave (and logout) take no body, so a plain HTML form POST from
another origin on the same site (another port or sibling subdomain: the SameSite=Lax cookie is
sent) can make a user leave a network; for a private network there is no way back."""

from __future__ import annotations

from tests.client import ChatUser


async def test_form_post_from_another_origin_cannot_make_a_user_leave(users) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    # What a browser sends for <form method=POST action=".../leave"> on http://localhost:8701
    response = await anna.api(
        "POST",
        f"/api/networks/{network}/leave",
        content="x=1",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "origin": "http://localhost:8701",
            "sec-fetch-site": "same-site",
        },
    )
    assert response.status_code in (403, 415), (
        response.status_code,
        response.text[:200],
    )
    networks = (await anna.api("GET", "/api/networks")).json()
    assert next(n for n in networks if n["id"] == network)["is_member"] is True
