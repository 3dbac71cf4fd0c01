"""Threads: reading one, following it, and marking a reply as a question's accepted answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from chat.actions import Services
from chat.actions.messages import _publish, message_dicts
from chat.actions.networks import next_seq, readable_network
from chat.actions.posts import QUESTION
from chat.errors import ActionError, not_found
from chat.events import event_frame, network_topic
from chat.models import (
    Membership,
    MembershipRole,
    Message,
    Network,
    NetworkEvent,
    ThreadFollow,
    User,
    utcnow,
)
from chat.search_index import reindex_answered

QUESTION_ANSWERED = "question.answered"
MAX_REPLIES = 500


async def _readable_root(session: Any, user: User, message_id: int) -> tuple[Message, Network]:
    """A thread's first message, if the user may read its network; else message_not_found."""
    message = await session.get(Message, message_id)
    if message is None or message.deleted_at is not None:
        raise not_found("message")
    try:
        network = await readable_network(session, user, message.network_id)
    except ActionError as error:
        # A private network's messages do not exist for outsiders, like the network itself.
        raise not_found("message") from error
    if message.thread_root_id is not None:
        raise ActionError("not_a_thread_root", "Open the thread at its first message.")
    return message, network


async def read_thread(services: Services, user: User, message_id: int) -> dict[str, Any]:
    """The root, its replies oldest first, and whether the user follows the thread."""
    async with services.db.read() as session:
        root, network = await _readable_root(session, user, message_id)
        replies = list(
            await session.scalars(
                select(Message)
                .where(Message.thread_root_id == root.id, Message.deleted_at.is_(None))
                .order_by(Message.seq)
                .limit(MAX_REPLIES)
            )
        )
        follow = await session.get(ThreadFollow, (root.id, user.id))
        [root_dict] = await message_dicts(session, [root])
        return {
            "root": root_dict,
            "replies": await message_dicts(session, replies, nested=False),
            "following": bool(follow and follow.following),
            "can_accept": root.kind == QUESTION and await _may_accept(session, user, root),
            "network": {"id": network.id, "slug": network.slug, "name": network.name},
        }


async def set_following(
    services: Services, user: User, message_id: int, following: bool
) -> dict[str, Any]:
    async with services.db.write() as session:
        root, _ = await _readable_root(session, user, message_id)
        follow = await session.get(ThreadFollow, (root.id, user.id))
        if follow is None:
            session.add(ThreadFollow(message_id=root.id, user_id=user.id, following=following))  # type: ignore[arg-type]
        else:
            follow.following = following
    return {"message_id": message_id, "following": following}


async def _may_accept(session: Any, user: User, question: Message) -> bool:
    if question.author_id == user.id or user.is_admin:
        return True
    role = await session.scalar(
        select(Membership.role).where(
            Membership.network_id == question.network_id, Membership.user_id == user.id
        )
    )
    return role == MembershipRole.moderator.value


async def accept_answer(
    services: Services, user: User, question_id: int, answer_id: int | None
) -> dict[str, Any]:
    """Mark a reply as the question's answer, or with None unmark it (the question is open
    again): a `question.answered` event with the network's next seq, carrying the question as
    it is now. Asking for what is so already changes nothing: no event, and ``seq`` is None."""
    async with services.db.write() as session:
        question, network = await _readable_root(session, user, question_id)
        if question.kind != QUESTION:
            raise ActionError("not_a_question", "Only a question has an accepted answer.")
        if not await _may_accept(session, user, question):
            raise ActionError("not_allowed", "Only the asker or a moderator marks the answer.", 403)
        if answer_id is not None:
            answer = await session.get(Message, answer_id)
            if answer is None or answer.thread_root_id != question.id or answer.deleted_at:
                raise ActionError("not_a_reply", "The answer must be a reply to the question.")
        if question.accepted_answer_id == answer_id:
            [unchanged] = await message_dicts(session, [question])
            return {"seq": None, "message": unchanged}
        seq = await next_seq(session, network.id)  # type: ignore[arg-type]
        await session.execute(
            update(Message).where(Message.id == question.id).values(accepted_answer_id=answer_id)
        )
        question.accepted_answer_id = answer_id
        await reindex_answered(session, [question.id])  # type: ignore[list-item]
        [payload] = await message_dicts(session, [question])
        frame = event_frame(network.id, seq, QUESTION_ANSWERED, payload)  # type: ignore[arg-type]
        session.add(
            NetworkEvent(
                network_id=network.id,  # type: ignore[arg-type]
                seq=seq,  # type: ignore[arg-type]
                kind=QUESTION_ANSWERED,
                message_id=question.id,
                frame=frame,
                created_at=utcnow(),
            )
        )
    await _publish(services, network_topic(network.id), frame)  # type: ignore[arg-type]
    return {"seq": seq, "message": payload}


async def unmark_answer(services: Services, user: User, question_id: int) -> dict[str, Any]:
    """Take a question's accepted answer away: it is open again, live on every open page."""
    return await accept_answer(services, user, question_id, None)


async def thread_of_permalink(
    services: Services, network_id: int, seq: int | None
) -> tuple[int | None, int | None]:
    """(seq to highlight, thread to open) for a permalink: a reply opens at its thread's first
    message with the thread beside it. The caller has checked that the network is readable."""
    if seq is None:
        return None, None
    async with services.db.read() as session:
        message = await session.scalar(
            select(Message).where(Message.network_id == network_id, Message.seq == seq)
        )
        if message is None or message.thread_root_id is None:
            return seq, None
        root = await session.get(Message, message.thread_root_id)
        return (root.seq if root else seq), message.thread_root_id
