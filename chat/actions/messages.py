"""Sending messages and reading them back: history pages and the event backlog."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chat.actions import Services, posts
from chat.actions.networks import is_member, load_network, next_seq, readable_network
from chat.errors import ActionError
from chat.events import (
    author_dict,
    event_frame,
    message_dict,
    network_topic,
    reply_summary,
    user_topic,
)
from chat.models import (
    Membership,
    Mention,
    Message,
    Network,
    NetworkEvent,
    Organisation,
    User,
    utcnow,
)
from chat.rendering import render_message
from chat.search_index import index_messages

log = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: whitespace and zero-width characters: a body of only these is empty.
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff\u202a-\u202e]")
MESSAGE_CREATED = "message.created"
MAX_PAGE = 100
BACKLOG_BATCH = 500


@dataclass
class SendResult:
    message: dict[str, Any]
    duplicate: bool
    unnotified_mentions: list[str] = field(default_factory=list)

    def ack(self) -> dict[str, Any]:
        return {
            "type": "ack",
            "client_id": self.message["client_id"],
            "network_id": self.message["network_id"],
            "message_id": self.message["id"],
            "seq": self.message["seq"],
            "duplicate": self.duplicate,
            "unnotified_mentions": self.unnotified_mentions,
        }


def check_send(client_id: object, body: object, max_body_chars: int) -> tuple[str, str]:
    if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
        raise ActionError(
            "invalid_client_id", "client_id must be 8 to 64 characters of A-Z a-z 0-9 _ -."
        )
    if not isinstance(body, str):
        raise ActionError("invalid_frame", "body must be a string.")
    try:
        body.encode("utf-8")
    except UnicodeEncodeError as error:  # lone surrogates from JSON "\ud800" escapes
        raise ActionError("invalid_frame", "body is not valid Unicode text.") from error
    # Control characters (NUL above all, which PostgreSQL refuses) are dropped, not stored.
    text = _CONTROL.sub("", body).strip()
    if not _INVISIBLE.sub("", text):
        raise ActionError("body_empty", "The message is empty.")
    if len(text) > max_body_chars:
        raise ActionError(
            "body_too_long", f"The message is longer than {max_body_chars} characters.", 413
        )
    return client_id, text


async def send_message(
    services: Services,
    user: User,
    network_id: int,
    client_id: object,
    body: object,
    post: posts.PostOptions | None = None,
) -> SendResult:
    """Store a message with its seq, mentions and notifications; publish only after the commit.

    ``post`` makes it a question or typed contribution, or a reply in a thread.
    """
    client_id, text = check_send(client_id, body, services.settings.max_body_chars)
    post = post or posts.PostOptions()
    existing = await _sent_before(services, user, client_id)
    if existing is not None:
        return existing
    rendered = render_message(text)
    try:
        async with services.db.write() as session:
            network = await load_network(session, network_id)
            if not await is_member(session, network_id, user.id):  # type: ignore[arg-type]
                if network.is_private:
                    raise ActionError("network_not_found", "No such network.", 404)
                raise ActionError("not_a_member", "Join the network to post in it.", 403)
            root = await posts.load_root(session, network_id, post)
            seq = await next_seq(session, network_id)
            message = Message(
                network_id=network_id,
                seq=seq,
                author_id=user.id,  # type: ignore[arg-type]
                client_id=client_id,
                body=text,
                html=rendered.html,
                kind=post.kind,
                tags=" ".join(post.tags),
                thread_root_id=post.thread_root_id,
                is_demo=post.demo,
                created_at=utcnow(),
            )
            session.add(message)
            await session.flush()
            notified, unnotified = await _mentioned_members(
                session, network_id, user, rendered.mentioned_usernames
            )
            organisation = await session.get(Organisation, user.organisation_id)
            payload = message_dict(
                message,
                network.slug,
                author_dict(user, organisation),  # type: ignore[arg-type]
                [member.username for member in notified],
            )
            thread, reply_frames = await posts.after_store(
                session, network, user, message, payload, root, notified
            )
            frame = event_frame(network_id, seq, MESSAGE_CREATED, payload, **thread)  # type: ignore[arg-type]
            session.add(
                NetworkEvent(
                    network_id=network_id,
                    seq=seq,  # type: ignore[arg-type]
                    kind=MESSAGE_CREATED,
                    message_id=message.id,
                    frame=frame,
                    created_at=message.created_at,
                )
            )
            notification_frames = [
                (member.id, await _notify(session, member, network, message, payload))
                for member in notified
            ] + reply_frames
            await index_messages(session, [message])
    except IntegrityError:
        # The same client_id raced itself (a retry while the first send was in flight).
        existing = await _sent_before(services, user, client_id)
        if existing is None:
            raise
        return existing
    await _publish(services, network_topic(network_id), frame)
    for member_id, notification in notification_frames:
        await _publish(services, user_topic(member_id), notification)  # type: ignore[arg-type]
    return SendResult(message=payload, duplicate=False, unnotified_mentions=unnotified)


async def _publish(services: Services, topic: str, frame: str) -> None:
    """The database already holds the event: a failed publish is logged, clients catch up."""
    try:
        await services.broker.publish(topic, frame)
    except Exception:
        log.exception("publishing to %s failed; subscribers will catch up from the database", topic)


async def _sent_before(services: Services, user: User, client_id: str) -> SendResult | None:
    async with services.db.read() as session:
        message = await session.scalar(
            select(Message).where(Message.author_id == user.id, Message.client_id == client_id)
        )
        if message is None:
            return None
        [payload] = await message_dicts(session, [message])
    return SendResult(message=payload, duplicate=True)


async def _mentioned_members(
    session: AsyncSession, network_id: int, author: User, usernames: tuple[str, ...]
) -> tuple[list[User], list[str]]:
    """Split mentions into members (notified) and existing non-members (the author is told)."""
    if not usernames:
        return [], []
    users = list(await session.scalars(select(User).where(User.username.in_(usernames))))
    member_ids = set(
        await session.scalars(
            select(Membership.user_id).where(
                Membership.network_id == network_id,
                Membership.user_id.in_([u.id for u in users]),
            )
        )
    )
    notified = [u for u in users if u.id in member_ids and u.id != author.id]
    unnotified = sorted(u.username for u in users if u.id not in member_ids)
    return notified, unnotified


async def _notify(
    session: AsyncSession,
    member: User,
    network: Network,
    message: Message,
    payload: dict[str, Any],
) -> str:
    session.add(Mention(message_id=message.id, user_id=member.id))  # type: ignore[arg-type]
    return await posts.notify(session, member.id, network, message, payload, "mention")  # type: ignore[arg-type]


MESSAGE_COLUMNS = tuple(Message.__table__.columns)  # type: ignore[attr-defined]


def message_rows(*conditions: Any) -> Any:
    """SELECT every message column as plain rows, not ORM objects.

    Rows answer the same attribute names as ``Message``, so ``message_dict`` takes either; on a
    page of 50 the ORM's identity map and instance state were most of a history request's CPU.
    """
    return select(*MESSAGE_COLUMNS).where(*conditions)


async def message_dicts(
    session: AsyncSession,
    messages: Sequence[Any],
    *,
    nested: bool = True,
    slugs: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Messages (ORM objects or ``message_rows`` rows) as the client sees them, with authors and
    mentions: at most three queries, and one more for the newest replies and accepted answers
    of thread roots (unless ``nested`` is false). ``slugs`` (network id to slug), when the
    caller has them, saves one."""
    if not messages:
        return []
    linked_messages: list[Any] = []
    linked_ids = {m.last_reply_id for m in messages} | {m.accepted_answer_id for m in messages}
    linked_ids.discard(None)
    if nested and linked_ids:
        linked_messages = list(
            (await session.execute(message_rows(Message.id.in_(linked_ids)))).all()
        )
    # The linked replies' authors and mentions come in the same queries as the messages' own.
    everything = [*messages, *linked_messages]
    authors = {
        user_id: {
            "id": user_id,
            "username": username,
            "display_name": display_name,
            "organisation": {"name": organisation, "type": organisation_type},
        }
        for user_id, username, display_name, organisation, organisation_type in (
            await session.execute(
                select(
                    User.id, User.username, User.display_name, Organisation.name, Organisation.type
                )
                .join(Organisation, Organisation.id == User.organisation_id)
                .where(User.id.in_({m.author_id for m in everything}))
            )
        ).all()
    }
    mentions: dict[int, list[str]] = {}
    # A mention is an "@name" in the body (chat.rendering): most pages have none to look up.
    if mentioning := {m.id for m in everything if "@" in m.body}:
        for message_id, username in (
            await session.execute(
                select(Mention.message_id, User.username)
                .join(User, User.id == Mention.user_id)
                .where(Mention.message_id.in_(mentioning))
                .order_by(User.username)
            )
        ).all():
            mentions.setdefault(message_id, []).append(username)
    slugs = dict(slugs or {})
    missing = {m.network_id for m in everything} - slugs.keys()
    if missing:
        slugs.update(
            (network_id, slug)
            for network_id, slug in await session.execute(
                select(Network.id, Network.slug).where(Network.id.in_(missing))
            )
        )

    def plain(m: Any) -> dict[str, Any]:
        return message_dict(m, slugs[m.network_id], authors[m.author_id], mentions.get(m.id, []))

    linked = {m.id: plain(m) for m in linked_messages}
    return [
        message_dict(
            m,
            slugs[m.network_id],
            authors[m.author_id],
            mentions.get(m.id, []),
            last_reply=reply_summary(linked[m.last_reply_id])
            if m.last_reply_id in linked
            else None,
            accepted_answer=linked.get(m.accepted_answer_id),
        )
        for m in messages
    ]


async def history_page(
    services: Services,
    user: User,
    network_id: int,
    *,
    before_seq: int | None = None,
    after_seq: int | None = None,
    around_seq: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of messages, oldest first, by keyset on seq: new messages never shift a page."""
    limit = max(1, min(limit, MAX_PAGE))
    async with services.db.read() as session:
        network = await readable_network(session, user, network_id)
        # Thread replies are read with their thread (chat.actions.threads), not in the network.
        base = message_rows(Message.network_id == network_id, Message.thread_root_id.is_(None))
        older: list[Any] = []
        newer: list[Any] = []
        has_more_before = has_more_after = False
        if around_seq is not None:
            half = limit // 2
            older = await _page(
                session, base.where(Message.seq <= around_seq), desc=True, n=half + 1
            )
            newer = await _page(
                session, base.where(Message.seq > around_seq), desc=False, n=half + 1
            )
            has_more_before, older = len(older) > half, older[:half]
            has_more_after, newer = len(newer) > limit - half, newer[: limit - half]
        elif after_seq is not None:
            newer = await _page(
                session, base.where(Message.seq > after_seq), desc=False, n=limit + 1
            )
            has_more_after, newer = len(newer) > limit, newer[:limit]
            has_more_before = after_seq > 0
        else:
            condition = Message.seq < before_seq if before_seq is not None else true()
            older = await _page(session, base.where(condition), desc=True, n=limit + 1)
            has_more_before, older = len(older) > limit, older[:limit]
            has_more_after = before_seq is not None and before_seq <= network.last_seq
        messages = list(reversed(older)) + newer
        return {
            "messages": await message_dicts(session, messages, slugs={network_id: network.slug}),
            "has_more_before": has_more_before,
            "has_more_after": has_more_after,
            "last_seq": network.last_seq,
        }


async def _page(session: AsyncSession, statement: Any, *, desc: bool, n: int) -> list[Any]:
    order = Message.seq.desc() if desc else Message.seq.asc()  # type: ignore[attr-defined]
    return list((await session.execute(statement.order_by(order).limit(n))).all())


async def backlog_frames(
    services: Services, user: User, network_id: int, since_seq: int, *, up_to: int | None = None
) -> list[str]:
    """Stored event frames after ``since_seq`` (to ``up_to``), in order, for a catching-up socket.

    Read in batches so a client that was away a long time does not load the network at once.
    """
    frames: list[str] = []
    async with services.db.read() as session:
        await readable_network(session, user, network_id)
        cursor = since_seq
        while True:
            statement = select(NetworkEvent.seq, NetworkEvent.frame).where(
                NetworkEvent.network_id == network_id, NetworkEvent.seq > cursor
            )
            if up_to is not None:
                statement = statement.where(NetworkEvent.seq <= up_to)
            rows = (
                await session.execute(statement.order_by(NetworkEvent.seq).limit(BACKLOG_BATCH))
            ).all()
            frames.extend(frame for _, frame in rows)
            if len(rows) < BACKLOG_BATCH:
                return frames
            cursor = rows[-1][0]


async def last_seq(services: Services, user: User, network_id: int) -> int:
    async with services.db.read() as session:
        network = await readable_network(session, user, network_id)
        return network.last_seq


async def may_read(services: Services, user: User, network_id: int) -> bool:
    try:
        await last_seq(services, user, network_id)
    except ActionError:
        return False
    return True
