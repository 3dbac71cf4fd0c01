"""The user's own stream: mention notifications, the inbox and read state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chat.actions import Services
from chat.actions.messages import message_dicts
from chat.events import notification_dict, notification_frame
from chat.models import Membership, Message, Network, Notification, User, utcnow


def _visible(statement: Any, user: User) -> Any:
    """Only notifications from networks the user can still read: leaving a private network
    hides its mentions at once, also the ones already received."""
    return (
        statement.join(Network, Network.id == Notification.network_id)
        .outerjoin(
            Membership,
            (Membership.network_id == Notification.network_id) & (Membership.user_id == user.id),
        )
        .where(Notification.user_id == user.id)
        .where(~Network.is_private | Membership.user_id.is_not(None))
    )


async def _notification_dicts(
    session: AsyncSession, rows: list[tuple[Notification, Network]]
) -> list[dict[str, Any]]:
    messages = list(
        await session.scalars(
            select(Message).where(Message.id.in_([n.message_id for n, _ in rows]))
        )
    )
    by_id = {m["id"]: m for m in await message_dicts(session, messages)}
    return [notification_dict(n, network, by_id[n.message_id]) for n, network in rows]


async def list_mentions(
    services: Services, user: User, *, before_id: int | None = None, limit: int = 50
) -> dict[str, Any]:
    limit = max(1, min(limit, 100))
    async with services.db.read() as session:
        statement = _visible(select(Notification, Network), user)
        if before_id is not None:
            statement = statement.where(Notification.id < before_id)
        rows = (
            await session.execute(statement.order_by(Notification.id.desc()).limit(limit))
        ).all()
        mentions = await _notification_dicts(session, [tuple(row) for row in rows])
        unread = await _unread(session, user)
    return {"mentions": mentions, "unread": unread}


async def _unread(session: AsyncSession, user: User) -> int:
    statement = _visible(select(func.count(Notification.id)), user)
    statement = statement.select_from(Notification).where(Notification.read_at.is_(None))
    return (await session.scalar(statement)) or 0


async def unread_count(services: Services, user: User) -> int:
    async with services.db.read() as session:
        return await _unread(session, user)


async def mark_read(
    services: Services, user: User, ids: list[int] | None = None, everything: bool = False
) -> int:
    async with services.db.write() as session:
        statement = (
            update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        if not everything:
            statement = statement.where(Notification.id.in_(ids or []))
        await session.execute(statement)
        return await _unread(session, user)


async def notification_frames_since(
    services: Services, user: User, since_user_seq: int
) -> list[str]:
    async with services.db.read() as session:
        statement = _visible(select(Notification, Network), user).where(
            Notification.user_seq > since_user_seq
        )
        rows = (await session.execute(statement.order_by(Notification.user_seq))).all()
        return [
            notification_frame(item)
            for item in await _notification_dicts(session, [tuple(row) for row in rows])
        ]


async def current_user_seq(services: Services, user: User) -> int:
    async with services.db.read() as session:
        return (await session.scalar(select(User.last_seq).where(User.id == user.id))) or 0
