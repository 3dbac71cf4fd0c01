"""What a send does beyond storing the message: post types, tags, thread replies and followers.

Called by chat.actions.send_batch inside the transaction of a batch of sends, so a reply, its
root's counters, the followers and their notifications commit (or fail) together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Row, bindparam, insert, select, update

from chat.errors import ActionError, not_found
from chat.models import Membership, Message, ThreadFollow
from chat.protocol import is_id
from chat.search_terms import tag_list
from chat.text import is_encodable

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
    if thread_root_id is not None and not is_id(thread_root_id):
        raise ActionError("invalid_frame", "'thread_root_id' must be a message id.")
    if thread_root_id is not None and kind != MESSAGE:
        raise ActionError("invalid_kind", "A reply in a thread is a plain message.")
    tag_names = tuple(tag_list(tags))
    if not is_encodable("".join(tag_names)):
        raise ActionError("invalid_tags", "tags must be valid Unicode text.")
    return PostOptions(str(kind), tag_names, thread_root_id, demo)


def check_root(root: Row | None, network_id: int) -> None:
    """A reply goes into a top-level message of the same network."""
    if root is None or root.network_id != network_id or root.deleted_at is not None:
        raise not_found("message")
    if root.thread_root_id is not None:
        raise ActionError("not_a_thread_root", "Reply to the thread's first message.")


def load_roots(connection: Connection, root_ids: set[int]) -> dict[int, Row]:
    message = Message.__table__
    statement = select(
        message.c.id,
        message.c.network_id,
        message.c.thread_root_id,
        message.c.deleted_at,
        message.c.seq,
        message.c.author_id,
    ).where(message.c.id.in_(root_ids))
    return {row.id: row for row in connection.execute(statement)}


@dataclass
class Reply:
    """A reply stored in this batch; replies are handled in seq order."""

    message_id: int
    root: Row
    author_id: int
    #: the members it mentions: they get a mention, not a reply notification.
    mentioned: Sequence[int]
    network_is_private: bool
    #: filled in by store_replies
    reply_count: int = 0
    followers: list[int] = field(default_factory=list)


def store_replies(connection: Connection, replies: Sequence[Reply]) -> None:
    """Count the replies on their roots, make authors and mentioned members followers, and find
    for each reply the followers to notify (as they are after the replies before it)."""
    by_root: dict[int, list[Reply]] = {}
    for reply in replies:
        by_root.setdefault(reply.root.id, []).append(reply)
    message = Message.__table__
    for root_id, thread in sorted(by_root.items()):
        # An UPDATE, not a read then a write: the row lock it takes comes after the network's,
        # in the same order as accepting an answer.
        count = connection.execute(
            update(message)
            .where(message.c.id == root_id)
            .values(
                reply_count=message.c.reply_count + len(thread),
                last_reply_id=thread[-1].message_id,
            )
            .returning(message.c.reply_count)
        ).scalar_one()
        for position, reply in enumerate(thread, start=count - len(thread) + 1):
            reply.reply_count = position
    follow = ThreadFollow.__table__
    stored: dict[int, dict[int, bool]] = {root_id: {} for root_id in by_root}
    for row in connection.execute(
        select(follow.c.message_id, follow.c.user_id, follow.c.following).where(
            follow.c.message_id.in_(by_root)
        )
    ):
        stored[row.message_id][row.user_id] = row.following
    following = {root_id: dict(users) for root_id, users in stored.items()}
    for reply in replies:
        state = following[reply.root.id]
        state[reply.author_id] = True  # whoever replies follows, even after unfollowing
        for user_id in (reply.root.author_id, *reply.mentioned):
            state.setdefault(user_id, True)  # someone who unfollowed stays unfollowed
        skip = {reply.author_id, *reply.mentioned}
        reply.followers = sorted(u for u, on in state.items() if on and u not in skip)
    _keep_members(connection, replies)
    _store_follows(connection, stored, following)


def _keep_members(connection: Connection, replies: Sequence[Reply]) -> None:
    """In a private network only members are notified (a follower may have left it)."""
    private = [r for r in replies if r.network_is_private and r.followers]
    if not private:
        return
    membership = Membership.__table__
    members = {
        (row.network_id, row.user_id)
        for row in connection.execute(
            select(membership.c.network_id, membership.c.user_id).where(
                membership.c.network_id.in_({r.root.network_id for r in private}),
                membership.c.user_id.in_({u for r in private for u in r.followers}),
            )
        )
    }
    for reply in private:
        reply.followers = [u for u in reply.followers if (reply.root.network_id, u) in members]


def _store_follows(
    connection: Connection,
    stored: Mapping[int, Mapping[int, bool]],
    following: Mapping[int, Mapping[int, bool]],
) -> None:
    follow = ThreadFollow.__table__
    added = [
        {"message_id": root_id, "user_id": user_id, "following": on}
        for root_id, users in following.items()
        for user_id, on in users.items()
        if user_id not in stored[root_id]
    ]
    resumed = [
        {"root_id": root_id, "member_id": user_id}
        for root_id, users in following.items()
        for user_id, on in users.items()
        if on and stored[root_id].get(user_id) is False
    ]
    if added:
        connection.execute(insert(follow), added)
    if resumed:
        connection.execute(
            update(follow)
            .where(
                follow.c.message_id == bindparam("root_id"),
                follow.c.user_id == bindparam("member_id"),
            )
            .values(following=True),
            resumed,
        )
