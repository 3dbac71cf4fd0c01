"""One transaction for a batch of sends: checks, seqs, rows, notifications and the frames.

A synchronous function (run by ``Database.write_batch``) whose number of statements does not grow
with the batch: one SELECT each for mentioned users, the networks with the memberships (and
organisations) that matter, and thread roots; one ``UPDATE … RETURNING`` per network for its
seqs; one multi-row INSERT each for messages, events, search terms, mentions and notifications.
Each send is checked on its own: a refused send gets its error, the others in the batch are
stored.

A client_id stored before (a client resending what was not acknowledged before a reconnect) is
found by the unique index on (author_id, client_id): the batch fails with ``IntegrityError`` and
``SendQueue`` stores it again with ``look_up_stored``, which first looks the stored ones up (one
SELECT more) and answers them as duplicates. A send its checks refuse is looked up at once (a
retry answers with the original even where it could not be sent now). Looking up every batch
first cost a quarter of a batch's time on PostgreSQL (1,400 → 1,860 sends/s without it,
docs/performance.md) for what is rare.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, tuple_, update

from chat.actions import posts
from chat.errors import ActionError, not_found
from chat.events import (
    author_dict,
    event_frame,
    iso,
    message_dict,
    network_ref,
    notification_frame,
    reply_summary,
)
from chat.models import (
    Membership,
    Mention,
    Message,
    Network,
    NetworkEvent,
    Notification,
    Organisation,
    User,
    utcnow,
)
from chat.search_index import index_rows

MESSAGE_CREATED = "message.created"
MENTION_NOTIFICATION = "mention"

_message = Message.__table__
_network = Network.__table__
_membership = Membership.__table__
_user = User.__table__
_organisation = Organisation.__table__
_event = NetworkEvent.__table__
_mention = Mention.__table__
_notification = Notification.__table__


def _each(name: str) -> Any:
    return bindparam(name, expanding=True)


# Built once: the statements of every batch differ only in their parameters, and SQLAlchemy
# then finds its compiled form without building the statement and its cache key again.
_STORED_CLIENT_IDS = select(_message.c.author_id, _message.c.client_id, _message.c.id)
# PostgreSQL probes the unique index once per (author_id, client_id) pair; with two IN lists it
# would probe every author with every client_id (5,000 probes, 15 ms, for 100 sends by 50
# authors). SQLite cannot use an index for a list of pairs and would scan the table; its
# probes of the two lists' combinations cost microseconds.
_STORED_PAIRS = _STORED_CLIENT_IDS.where(
    tuple_(_message.c.author_id, _message.c.client_id).in_(_each("keys"))
)
_STORED_COMBINATIONS = _STORED_CLIENT_IDS.where(
    _message.c.author_id.in_(_each("authors")), _message.c.client_id.in_(_each("client_ids"))
)
_USERS_NAMED = select(_user.c.username, _user.c.id).where(_user.c.username.in_(_each("names")))
_NETWORKS_AND_MEMBERS = (
    select(
        _network.c.id,
        _network.c.slug,
        _network.c.name,
        _network.c.is_private,
        _membership.c.user_id,
        _organisation.c.name.label("organisation_name"),
        _organisation.c.type.label("organisation_type"),
    )
    .select_from(
        _network.outerjoin(
            _membership,
            (_membership.c.network_id == _network.c.id)
            & _membership.c.user_id.in_(_each("people")),
        )
        .outerjoin(_user, _user.c.id == _membership.c.user_id)
        .outerjoin(_organisation, _organisation.c.id == _user.c.organisation_id)
    )
    .where(_network.c.id.in_(_each("networks")))
)
_NEXT_SEQS = (
    update(_network)
    .where(_network.c.id == bindparam("network"))
    .values(last_seq=_network.c.last_seq + bindparam("count"))
    .returning(_network.c.last_seq)
)
_NEXT_USER_SEQS = (
    update(_user)
    .where(_user.c.id == bindparam("user"))
    .values(last_seq=_user.c.last_seq + bindparam("count"))
    .returning(_user.c.last_seq)
)
_INSERT_MESSAGES = insert(_message).returning(_message.c.id, _message.c.network_id, _message.c.seq)
_INSERT_EVENTS = insert(_event)
_INSERT_MENTIONS = insert(_mention)
_INSERT_NOTIFICATIONS = insert(_notification).returning(
    _notification.c.id, _notification.c.user_id, _notification.c.user_seq
)


@dataclass(frozen=True)
class Author:
    """What a send needs of its author, copied: the batch may be stored in another thread."""

    id: int
    username: str
    display_name: str


@dataclass
class PendingSend:
    """A send that passed its own checks and was rendered, waiting for its batch."""

    author: Author
    network_id: int
    client_id: str
    body: str
    html: str
    mentioned_usernames: tuple[str, ...]
    post: posts.PostOptions


@dataclass
class Stored:
    """A send stored in this batch: its message, its event frame and its notifications."""

    payload: dict[str, Any]
    frame: str
    notifications: list[tuple[int, str]]
    unnotified_mentions: list[str]


@dataclass(frozen=True)
class Duplicate:
    """A retried client_id: the message already stored (before or earlier in this batch)."""

    message_id: int


Outcome = Stored | Duplicate | ActionError


@dataclass
class _Accepted:
    """A send that will be stored, with what the checks found out about it."""

    index: int
    send: PendingSend
    network: Row
    organisation: SimpleNamespace  # the author's
    notified: list[tuple[int, str]]  # (user id, username) of the members it mentions
    unnotified: list[str]
    root: Row | None
    seq: int = 0
    message_id: int = 0


def store_batch(
    connection: Connection, sends: Sequence[PendingSend], *, look_up_stored: bool = False
) -> list[Outcome]:
    """Store the sends in arrival order; one outcome per send, in the same order. Raises
    ``IntegrityError`` for a client_id stored before, unless ``look_up_stored``."""
    outcomes: list[Outcome | None] = [None] * len(sends)
    stored_before = _stored_client_ids(connection, sends) if look_up_stored else {}
    users = _mentioned_users(connection, sends)
    networks = _networks(connection, sends, users)
    root_ids = {s.post.thread_root_id for s in sends if s.post.thread_root_id is not None}
    roots = posts.load_roots(connection, root_ids) if root_ids else {}
    accepted: list[_Accepted] = []
    first: dict[tuple[int, str], _Accepted] = {}
    repeats: list[tuple[int, _Accepted]] = []
    for index, send in enumerate(sends):
        key = (send.author.id, send.client_id)
        if key in stored_before:
            outcomes[index] = Duplicate(stored_before[key])
        elif key in first:
            repeats.append((index, first[key]))
        else:
            try:
                first[key] = _check(index, send, networks, users, roots)
            except ActionError as error:
                outcomes[index] = error
            else:
                accepted.append(first[key])
    refused = [(i, send) for i, send in enumerate(sends) if isinstance(outcomes[i], ActionError)]
    if refused and not look_up_stored:
        # A retry answers with the original even where it could not be sent now (the user left
        # the network, it became private): look up only the refused sends, only in such a batch.
        stored = _stored_client_ids(connection, [send for _, send in refused])
        for index, send in refused:
            if (key := (send.author.id, send.client_id)) in stored:
                outcomes[index] = Duplicate(stored[key])
    if accepted:
        _store(connection, accepted, outcomes)
    for index, original in repeats:
        outcomes[index] = Duplicate(original.message_id)
    return outcomes  # type: ignore[return-value]


def _stored_client_ids(
    connection: Connection, sends: Sequence[PendingSend]
) -> dict[tuple[int, str], int]:
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            _STORED_COMBINATIONS,
            {
                "authors": list({s.author.id for s in sends}),
                "client_ids": list({s.client_id for s in sends}),
            },
        )
    else:
        rows = connection.execute(
            _STORED_PAIRS, {"keys": list({(s.author.id, s.client_id) for s in sends})}
        )
    return {(row.author_id, row.client_id): row.id for row in rows}


def _mentioned_users(connection: Connection, sends: Sequence[PendingSend]) -> dict[str, int]:
    usernames = {name for s in sends for name in s.mentioned_usernames}
    if not usernames:
        return {}
    rows = connection.execute(_USERS_NAMED, {"names": list(usernames)})
    return {row.username: row.id for row in rows}


@dataclass
class _NetworkFacts:
    row: Row
    #: the members among the authors and mentioned users, with their organisation
    members: dict[int, SimpleNamespace]


def _networks(
    connection: Connection, sends: Sequence[PendingSend], users: dict[str, int]
) -> dict[int, _NetworkFacts]:
    """The networks sent to, each with which of the authors and mentioned users are members
    (and their organisations, which the payloads show)."""
    people = {s.author.id for s in sends} | set(users.values())
    parameters = {"people": list(people), "networks": list({s.network_id for s in sends})}
    networks: dict[int, _NetworkFacts] = {}
    for row in connection.execute(_NETWORKS_AND_MEMBERS, parameters):
        facts = networks.setdefault(row.id, _NetworkFacts(row, {}))
        if row.user_id is not None:
            organisation = SimpleNamespace(name=row.organisation_name, type=row.organisation_type)
            facts.members[row.user_id] = organisation
    return networks


def _check(
    index: int,
    send: PendingSend,
    networks: dict[int, _NetworkFacts],
    users: dict[str, int],
    roots: dict[int, Row],
) -> _Accepted:
    """The checks of one send: the same errors, in the same order, as a send on its own."""
    facts = networks.get(send.network_id)
    if facts is None:
        raise not_found("network")
    if send.author.id not in facts.members:
        if facts.row.is_private:
            raise ActionError("network_not_found", "No such network.", 404)
        raise ActionError("not_a_member", "Join the network to post in it.", 403)
    root = None
    if send.post.thread_root_id is not None:
        root = roots.get(send.post.thread_root_id)
        posts.check_root(root, send.network_id)
    notified, unnotified = [], []
    for username in send.mentioned_usernames:
        user_id = users.get(username)
        if user_id is None:
            continue  # not a user: plain text
        if user_id not in facts.members:
            unnotified.append(username)
        elif user_id != send.author.id:
            notified.append((user_id, username))
    organisation = facts.members[send.author.id]
    return _Accepted(index, send, facts.row, organisation, notified, sorted(unnotified), root)


def _store(
    connection: Connection, accepted: list[_Accepted], outcomes: list[Outcome | None]
) -> None:
    now = utcnow()
    _allocate_seqs(connection, accepted)
    rows = [_message_row(a, now) for a in accepted]
    by_seq = {(a.send.network_id, a.seq): a for a in accepted}
    for row in connection.execute(_INSERT_MESSAGES, rows):
        by_seq[(row.network_id, row.seq)].message_id = row.id
    # Plain objects with the row's attributes: building ORM instances would cost more than
    # the statements.
    messages = [
        SimpleNamespace(**row, id=a.message_id) for a, row in zip(accepted, rows, strict=True)
    ]
    payloads = [
        message_dict(
            message,
            a.network.slug,
            author_dict(a.send.author, a.organisation),  # type: ignore[arg-type]
            sorted(username for _, username in a.notified),
        )
        for a, message in zip(accepted, messages, strict=True)
    ]
    threads = _store_replies(connection, accepted, payloads)
    notifications = _notify(connection, accepted, payloads, threads, now)
    events = []
    for a, payload in zip(accepted, payloads, strict=True):
        frame = event_frame(
            a.send.network_id, a.seq, MESSAGE_CREATED, payload, **threads.get(a.index, ({}, []))[0]
        )
        events.append(
            {
                "network_id": a.send.network_id,
                "seq": a.seq,
                "kind": MESSAGE_CREATED,
                "message_id": a.message_id,
                "frame": frame,
                "created_at": now,
            }
        )
        outcomes[a.index] = Stored(payload, frame, notifications.get(a.index, []), a.unnotified)
    connection.execute(_INSERT_EVENTS, events)
    index_rows(connection, messages)


def _allocate_seqs(connection: Connection, accepted: list[_Accepted]) -> None:
    """Each network's next seqs, in arrival order. The row lock taken here orders batches (on
    every node) until the commit, so seqs are gapless and commit in order; networks are locked
    in id order, the same on every node, so two batches never wait for each other in a cycle."""
    counts = Counter(a.send.network_id for a in accepted)
    following: dict[int, int] = {}
    for network_id, count in sorted(counts.items()):
        last = connection.execute(_NEXT_SEQS, {"network": network_id, "count": count}).scalar_one()
        following[network_id] = last - count + 1
    for a in accepted:
        a.seq = following[a.send.network_id]
        following[a.send.network_id] += 1


def _message_row(a: _Accepted, now: datetime) -> dict[str, Any]:
    post = a.send.post
    return {
        "network_id": a.send.network_id,
        "seq": a.seq,
        "author_id": a.send.author.id,
        "client_id": a.send.client_id,
        "body": a.send.body,
        "html": a.send.html,
        "kind": post.kind,
        "thread_root_id": post.thread_root_id,
        "tags": " ".join(post.tags),
        "reply_count": 0,
        "last_reply_id": None,
        "accepted_answer_id": None,
        "is_demo": post.demo,
        "created_at": now,
        "edited_at": None,
        "deleted_at": None,
    }


def _store_replies(
    connection: Connection, accepted: list[_Accepted], payloads: list[dict[str, Any]]
) -> dict[int, tuple[dict[str, Any], list[int]]]:
    """For each reply (by send index): the event's "thread" field and the followers to notify."""
    replies = [
        posts.Reply(
            message_id=a.message_id,
            root=a.root,
            author_id=a.send.author.id,
            mentioned=[user_id for user_id, _ in a.notified],
            network_is_private=a.network.is_private,
        )
        for a in accepted
        if a.root is not None
    ]
    if not replies:
        return {}
    posts.store_replies(connection, replies)
    by_message = {r.message_id: r for r in replies}
    threads = {}
    for a, payload in zip(accepted, payloads, strict=True):
        reply = by_message.get(a.message_id)
        if reply is not None:
            thread = {
                "root_id": reply.root.id,
                "root_seq": reply.root.seq,
                "reply_count": reply.reply_count,
                "last_reply": reply_summary(payload),
            }
            threads[a.index] = ({"thread": thread}, reply.followers)
    return threads


def _notify(
    connection: Connection,
    accepted: list[_Accepted],
    payloads: list[dict[str, Any]],
    threads: dict[int, tuple[dict[str, Any], list[int]]],
    now: datetime,
) -> dict[int, list[tuple[int, str]]]:
    """Mention rows, and one notification per mentioned member and per follower of a thread,
    each with the next seq of that user's own stream. Answers (user id, frame) per send index."""
    wanted = [
        (a, payload, user_id, kind)
        for a, payload in zip(accepted, payloads, strict=True)
        for user_id, kind in [(u, MENTION_NOTIFICATION) for u, _ in a.notified]
        + [(u, posts.REPLY_NOTIFICATION) for u in threads.get(a.index, ({}, []))[1]]
    ]
    if not wanted:
        return {}
    mentions = [
        {"message_id": a.message_id, "user_id": user_id}
        for a, _, user_id, kind in wanted
        if kind == MENTION_NOTIFICATION
    ]
    if mentions:
        connection.execute(_INSERT_MENTIONS, mentions)
    counts = Counter(user_id for _, _, user_id, _ in wanted)
    following: dict[int, int] = {}
    for user_id, count in sorted(counts.items()):
        last = connection.execute(_NEXT_USER_SEQS, {"user": user_id, "count": count}).scalar_one()
        following[user_id] = last - count + 1
    rows = []
    for a, _, user_id, kind in wanted:
        rows.append(
            {
                "user_id": user_id,
                "user_seq": following[user_id],
                "kind": kind,
                "network_id": a.send.network_id,
                "message_id": a.message_id,
                "created_at": now,
                "read_at": None,
            }
        )
        following[user_id] += 1
    ids = {
        (row.user_id, row.user_seq): row.id
        for row in connection.execute(_INSERT_NOTIFICATIONS, rows)
    }
    frames: dict[int, list[tuple[int, str]]] = {}
    for (a, payload, user_id, kind), row in zip(wanted, rows, strict=True):
        notification = {
            "id": ids[(user_id, row["user_seq"])],
            "user_seq": row["user_seq"],
            "kind": kind,
            "created_at": iso(now),
            "read": False,
            "network": network_ref(a.network),  # type: ignore[arg-type]
            "message": payload,
        }
        frames.setdefault(a.index, []).append((user_id, notification_frame(notification)))
    return frames
