"""Who is asking: the session cookie holds a user id; the user is loaded once per request."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from chat.actions import Services
from chat.actions.accounts import end_sessions, get_user
from chat.errors import ActionError
from chat.models import User

SESSION_KEY = "user_id"
EPOCH_KEY = "epoch"


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
