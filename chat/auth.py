"""Who is asking: the session cookie holds a user id; the user is loaded once per request."""

from __future__ import annotations

import json
from base64 import b64decode
from typing import Any

import itsdangerous
from itsdangerous.exc import BadSignature
from starlette.requests import HTTPConnection, cookie_parser
from starlette.types import Scope

from chat.actions import Services
from chat.actions.accounts import end_sessions, get_user
from chat.errors import ActionError
from chat.models import User

SESSION_KEY = "user_id"
EPOCH_KEY = "epoch"
SESSION_COOKIE = "bwt_session"
SESSION_MAX_AGE = 30 * 86400


def read_session_cookie(scope: Scope, secret: str) -> dict[str, Any]:
    """The session Starlette's SessionMiddleware would put in ``scope``, for a WebSocket.

    The hub's sockets skip the middleware stack (see ``chat.hub.SocketFrontDoor``); this reads
    the same signed cookie the same way, and an absent, forged or expired one gives ``{}``.
    """
    cookies = {}
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            cookies.update(cookie_parser(value.decode("latin-1")))
    signed = cookies.get(SESSION_COOKIE)
    if not signed:
        return {}
    try:
        data = itsdangerous.TimestampSigner(secret).unsign(signed, max_age=SESSION_MAX_AGE)
        session = json.loads(b64decode(data))
    except (BadSignature, ValueError):
        return {}
    return session if isinstance(session, dict) else {}


def services_of(connection: HTTPConnection) -> Services:
    return connection.app.state.services  # type: ignore[no-any-return]


async def current_user(connection: HTTPConnection) -> User | None:
    if "user" in connection.state._state:
        return connection.state.user  # type: ignore[no-any-return]
    user_id = connection.session.get(SESSION_KEY)
    user = await get_user(services_of(connection).db, user_id) if isinstance(user_id, int) else None
    if user is not None and connection.session.get(EPOCH_KEY, 0) != user.session_epoch:
        user = None  # the user logged out since this cookie was made
    connection.state.user = user
    return user


async def require_user(connection: HTTPConnection) -> User:
    user = await current_user(connection)
    if user is None:
        raise ActionError("not_authenticated", "Log in first.", 401)
    return user


def log_in(connection: HTTPConnection, user: User) -> None:
    connection.session.clear()
    connection.session[SESSION_KEY] = user.id
    connection.session[EPOCH_KEY] = user.session_epoch
    connection.state.user = user


async def log_out(connection: HTTPConnection) -> None:
    """End this user's sessions everywhere (every copy of the cookie) and close their sockets."""
    user = await current_user(connection)
    connection.session.clear()
    if user is not None:
        await end_sessions(services_of(connection), user)
