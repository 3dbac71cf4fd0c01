"""What a send does beyond storing the message: post types, tags, thread replies and followers.

Called by chat.actions.messages.send_message inside its transaction, so a reply, its root's
counters, the followers and their notifications commit (or fail) together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chat.errors import ActionError, not_found
from chat.events import notification_dict, notification_frame, reply_summary
from chat.models import Membership, Message, Network, Notification, ThreadFollow, User
from chat.search_terms import tag_list

MESSAGE = "message"
QUESTION = "question"
#: typed contributions for the knowledge base (besides questions).
CONTRIBUTION_KINDS = ("good_example", "new_policy", "lesson")
POST_KINDS = (MESSAGE, QUESTION, *CONTRIBUTION_KINDS)
REPLY_NOTIFICATION = "reply"


@dataclass(frozen=True)
class PostOptions:
    kind: str = MESSAGE
    tags: tuple[str, ...] = ()
    thread_root_id: int | None = None
    demo: bool = False


def check_post(
    kind: object = None, tags: object = None, thread_root_id: object = None, demo: bool = False
) -> PostOptions:
    kind = MESSAGE if kind is None else kind
    if kind not in POST_KINDS:
        raise ActionError("invalid_kind", f"kind must be one of {', '.join(POST_KINDS)}.")
    if tags is not None and not isinstance(tags, list | str):
        raise ActionError("invalid_tags", "tags must be a list of strings.")
    if isinstance(tags, list) and not all(isinstance(tag, str) for tag in tags):
        raise ActionError("invalid_tags", "tags must be a list of strings.")
    if thread_root_id is not None and (
        not isinstance(thread_root_id, int) or isinstance(thread_root_id, bool)
    ):
        raise ActionError("invalid_frame", "'thread_root_id' must be a message id.")
    if thread_root_id is not None and kind != MESSAGE:
        raise ActionError("invalid_kind", "A reply in a thread is a plain message.")
    return PostOptions(str(kind), tuple(tag_list(tags)), thread_root_id, demo)


async def load_root(session: AsyncSession, network_id: int, post: PostOptions) -> Message | None:
    """The thread a reply goes into: a top-level message of the same network."""
    if post.thread_root_id is None:
        return None
    root = await session.get(Message, post.thread_root_id, with_for_update=True)
    if root is None or root.network_id != network_id or root.deleted_at is not None:
        raise not_found("message")
    if root.thread_root_id is not None:
        raise ActionError("not_a_thread_root", "Reply to the thread's first message.")
    return root


async def after_store(
    session: AsyncSession,
    network: Network,
    author: User,
    message: Message,
    payload: dict[str, Any],
    root: Message | None,
    mentioned: list[User],
) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    """Thread bookkeeping for a stored reply: (extra event fields, notification frames)."""
    if root is None:
        return {}, []
    root.reply_count = (root.reply_count or 0) + 1
    root.last_reply_id = message.id
    await _follow(session, root.id, [author.id], force=True)  # type: ignore[arg-type,list-item]
    await _follow(session, root.id, [root.author_id, *(u.id for u in mentioned)])  # type: ignore[arg-type,misc]
    skip = {author.id, *(u.id for u in mentioned)}
    followers = [
        user_id
        for user_id in await session.scalars(
            select(ThreadFollow.user_id).where(
                ThreadFollow.message_id == root.id, ThreadFollow.following
            )
        )
        if user_id not in skip
    ]
    if network.is_private and followers:
        members = set(
            await session.scalars(
                select(Membership.user_id).where(
                    Membership.network_id == network.id, Membership.user_id.in_(followers)
                )
            )
        )
        followers = [user_id for user_id in followers if user_id in members]
    frames = [
        (user_id, await notify(session, user_id, network, message, payload, REPLY_NOTIFICATION))
        for user_id in sorted(followers)
    ]
    thread = {
        "root_id": root.id,
        "root_seq": root.seq,
        "reply_count": root.reply_count,
        "last_reply": reply_summary(payload),
    }
    return {"thread": thread}, frames


async def _follow(
    session: AsyncSession, root_id: int, user_ids: list[int], *, force: bool = False
) -> None:
    """Make users followers; without ``force`` someone who unfollowed stays unfollowed."""
    existing = {
        row.user_id: row
        for row in await session.scalars(
            select(ThreadFollow).where(
                ThreadFollow.message_id == root_id, ThreadFollow.user_id.in_(user_ids)
            )
        )
    }
    for user_id in dict.fromkeys(user_ids):
        if user_id in existing:
            if force:
                existing[user_id].following = True
        else:
            existing[user_id] = ThreadFollow(message_id=root_id, user_id=user_id, following=True)
            session.add(existing[user_id])
    await session.flush()


async def notify(
    session: AsyncSession,
    user_id: int,
    network: Network,
    message: Message,
    payload: dict[str, Any],
    kind: str,
) -> str:
    """One notification in the user's own stream, with the next user_seq."""
    user_seq = await session.scalar(
        update(User)
        .where(User.id == user_id)
        .values(last_seq=User.last_seq + 1)
        .returning(User.last_seq)
    )
    notification = Notification(
        user_id=user_id,
        user_seq=user_seq,  # type: ignore[arg-type]
        kind=kind,
        network_id=network.id,  # type: ignore[arg-type]
        message_id=message.id,  # type: ignore[arg-type]
        created_at=message.created_at,
    )
    session.add(notification)
    await session.flush()
    return notification_frame(notification_dict(notification, network, payload))
