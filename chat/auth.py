"""Who is asking: the session cookie holds a user id; the user is loaded once per request."""

from __future__ import annotations

import json
from base64 import b64decode
from collections.abc import Callable
from typing import Any, TypeVar

import itsdangerous
from itsdangerous.exc import BadSignature
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection, cookie_parser
from starlette.types import Scope

from chat.actions import Services
from chat.actions.accounts import end_sessions, get_user
from chat.errors import ActionError
from chat.models import User
from chat.protocol import is_id

SESSION_KEY = "user_id"
EPOCH_KEY = "epoch"
SESSION_COOKIE = "bwt_session"
SESSION_MAX_AGE = 30 * 86400

T = TypeVar("T")


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
    # is_id: a user id in the id column's range (a signed cookie from elsewhere may hold any).
    user = await get_user(services_of(connection).db, user_id) if is_id(user_id) else None
    return _remember_user(connection, user)


def _remember_user(connection: HTTPConnection, user: User | None) -> User | None:
    if user is not None and connection.session.get(EPOCH_KEY, 0) != user.session_epoch:
        user = None  # the user logged out since this cookie was made
    connection.state.user = user
    return user


def _not_authenticated() -> ActionError:
    return ActionError("not_authenticated", "Log in first.", 401)


async def require_user(connection: HTTPConnection) -> User:
    user = await current_user(connection)
    if user is None:
        raise _not_authenticated()
    return user


async def require_user_reading(
    connection: HTTPConnection, read: Callable[[Session, int], T]
) -> tuple[User, T]:
    """``require_user``, and ``read(session, user_id)`` in the same hop to the database.

    For a hot read that needs only who is asking (a history page): loading the user in a hop
    of its own cost as much as the page (docs/performance.md, history). ``read`` runs before
    the cookie's epoch is checked; for a cookie that is stale, the answer is 401 and what
    ``read`` returned, or the error it raised, is dropped unseen.
    """
    db = services_of(connection).db
    if "user" in connection.state._state:
        user = await require_user(connection)
        return user, await db.read_sync(lambda session: read(session, user.id))
    user_id = connection.session.get(SESSION_KEY)
    if not is_id(user_id):
        raise _not_authenticated()

    def user_and_read(session: Session) -> tuple[User | None, T | ActionError | None]:
        user = session.get(User, user_id)
        if user is None:
            return None, None
        try:
            return user, read(session, user_id)
        except ActionError as error:  # raised below only if the cookie holds
            return user, error

    found, result = await db.read_sync(user_and_read)
    user = _remember_user(connection, found)
    if user is None:
        raise _not_authenticated()
    if isinstance(result, ActionError):
        raise result
    return user, result  # type: ignore[return-value]


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
