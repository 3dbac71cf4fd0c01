"""Cross-site and size checks that every request passes before any route sees it."""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chat.errors import ActionError

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_REQUEST_BYTES = 1024 * 1024


def origin_allowed(origin: str | None, host: str, secure: bool, allowed: list[str]) -> bool:
    """An exact match: the configured origins, or else this server's own origin."""
    if not origin:
        return False
    if allowed:
        return origin.rstrip("/") in allowed
    return origin.rstrip("/") == f"{'https' if secure else 'http'}://{host}"


class RequestGuard:
    """Refuse state changes from other origins, and bodies over ``MAX_REQUEST_BYTES``.

    SameSite=Lax keeps the cookie off cross-site POSTs, but "same site" includes other ports and
    subdomains of the host; an exact Origin check closes that gap for forms too (join, leave,
    logout). Requests without an Origin header come from non-browser clients and pass.
    """

    def __init__(self, app: ASGIApp, allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] in UNSAFE_METHODS and "origin" in headers:
            secure = scope.get("scheme") == "https"
            if not origin_allowed(
                headers["origin"], headers.get("host", ""), secure, self.allowed_origins
            ):
                await _refuse(
                    send, 403, "forbidden_origin", "Requests from this origin are refused."
                )
                return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_REQUEST_BYTES):
            await _refuse(send, 413, "body_too_long", "The request body is too large.")
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_REQUEST_BYTES:
                raise ActionError("body_too_long", "The request body is too large.", 413)
            return message

        await self.app(scope, limited_receive, send)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
