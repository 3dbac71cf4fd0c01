"""Sending messages and reading them back: history pages and the event backlog."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from sqlalchemy import Result, bindparam, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chat import metrics
from chat.actions import Services, posts
from chat.actions.networks import check_readable_sync, readable_network, readable_network_sync
from chat.actions.send_batch import Author, Duplicate, Outcome, PendingSend, Stored, store_batch
from chat.errors import ActionError
from chat.events import author_fields, message_dict, network_topic, reply_summary, user_topic
from chat.models import Mention, Message, Network, NetworkEvent, Organisation, User
from chat.rendering import render_message
from chat.text import is_encodable

log = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: whitespace and zero-width characters: a body of only these is empty.
_INVISIBLE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff\u202a-\u202e]")
MAX_PAGE = 100
#: the most sends stored in one transaction.
MAX_BATCH = 200
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
    if not is_encodable(body):
        raise ActionError("invalid_frame", "body is not valid Unicode text.")
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

    ``post`` makes it a question or typed contribution, or a reply in a thread. Sends that
    arrive while another batch is being stored wait and share the next transaction (a group
    commit); each still gets its own result or error.
    """
    client_id, text = check_send(client_id, body, services.settings.max_body_chars)
    rendered = render_message(text)
    pending = PendingSend(
        author=Author(user.id, user.username, user.display_name),  # type: ignore[arg-type]
        network_id=network_id,
        client_id=client_id,
        body=text,
        html=rendered.html,
        mentioned_usernames=rendered.mentioned_usernames,
        post=post or posts.PostOptions(),
    )
    if services.send_queue is None:
        services.send_queue = SendQueue(services)
    return await services.send_queue.send(pending)


class SendQueue:
    """The group commit of one process: sends queue while a batch is being stored, and the next
    batch takes all of them (up to MAX_BATCH) into one transaction.

    Batches are stored one after another, so within a process commit order is arrival order;
    across processes the row lock on ``network.last_seq`` orders them. After its commit a batch
    is announced (its events published, its senders answered) while the next one is stored;
    announcements follow each other in commit order. A send whose caller went away before its
    batch began is dropped; once its batch began it commits regardless.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.waiting: list[tuple[PendingSend, asyncio.Future[SendResult]]] = []
        self.worker: asyncio.Task[None] | None = None
        #: the newest batch's announcement: the next one waits for it.
        self.announcing: asyncio.Task[None] | None = None

    async def send(self, pending: PendingSend) -> SendResult:
        future: asyncio.Future[SendResult] = asyncio.get_running_loop().create_future()
        self.waiting.append((pending, future))
        if self.worker is None:
            self.worker = asyncio.create_task(self._work(), name="bwt-group-commit")
        return await future

    async def _work(self) -> None:
        try:
            while True:
                # One turn of the event loop first, so that the senders the last batch answered,
                # and sends already read from their sockets, queue now and share this batch.
                await asyncio.sleep(0)
                if not self.waiting:
                    return
                batch = [item for item in self.waiting[:MAX_BATCH] if not item[1].done()]
                del self.waiting[:MAX_BATCH]
                if batch:
                    metrics.send_batch_size.observe(len(batch))
                    outcomes = await self._store([pending for pending, _ in batch])
                    self.announcing = asyncio.create_task(
                        self._announce(batch, outcomes, self.announcing)
                    )
        finally:
            self.worker = None

    async def _store(
        self, sends: list[PendingSend], *, look_up_stored: bool = False
    ) -> list[Outcome | Exception]:
        try:
            return await self.services.db.write_batch(  # type: ignore[return-value]
                partial(store_batch, sends=sends, look_up_stored=look_up_stored)
            )
        except (IntegrityError, DataError) as error:
            if isinstance(error, IntegrityError) and not look_up_stored:
                # A client_id stored before, most likely: store the batch again, answering
                # those from what is stored (send_batch explains why not every time).
                return await self._store(sends, look_up_stored=True)
            if len(sends) > 1:
                # One send's client_id raced its own retry (or another node's send), or one
                # send's value was refused: redo the batch send by send, so it fails alone.
                return [
                    outcome
                    for send in sends
                    for outcome in await self._store([send], look_up_stored=True)
                ]
            if isinstance(error, DataError):
                log.exception("the database refused a send's values")
                return [error]
            message_id = await self._stored_id(sends[0])
            return [Duplicate(message_id) if message_id is not None else error]
        except Exception as error:  # the database failed: every send in the batch fails
            log.exception("storing a batch of %d sends failed", len(sends))
            return [error] * len(sends)

    async def _stored_id(self, pending: PendingSend) -> int | None:
        async with self.services.db.read() as session:
            return await session.scalar(
                select(Message.id).where(
                    Message.author_id == pending.author.id, Message.client_id == pending.client_id
                )
            )

    async def _announce(
        self,
        batch: list[tuple[PendingSend, asyncio.Future[SendResult]]],
        outcomes: list[Outcome | Exception],
        previous: asyncio.Task[None] | None,
    ) -> None:
        """Publish the batch's events and notifications (after the previous batch's), then
        answer each sender."""
        if previous is not None:
            await asyncio.wait([previous])
        events: list[tuple[str, str]] = []
        for outcome in outcomes:
            if isinstance(outcome, Stored):
                events.append((network_topic(outcome.payload["network_id"]), outcome.frame))
                events += [(user_topic(user), frame) for user, frame in outcome.notifications]
        if events:
            try:
                await self.services.broker.publish_many(events)
            except Exception:
                log.exception(
                    "publishing %d events failed; subscribers will catch up from the database",
                    len(events),
                )
        for (_, future), result in zip(batch, await self._results(outcomes), strict=True):
            if future.done():
                continue
            if isinstance(result, SendResult):
                future.set_result(result)
            else:
                future.set_exception(result)

    async def _results(self, outcomes: list[Outcome | Exception]) -> list[SendResult | Exception]:
        stored = {o.payload["id"]: o.payload for o in outcomes if isinstance(o, Stored)}
        earlier = {o.message_id for o in outcomes if isinstance(o, Duplicate)} - set(stored)
        if earlier:
            try:
                async with self.services.db.read() as session:
                    rows = list(
                        await session.scalars(select(Message).where(Message.id.in_(earlier)))
                    )
                    stored.update((d["id"], d) for d in await message_dicts(session, rows))
            except Exception as error:
                log.exception("reading %d messages sent before failed", len(earlier))
                outcomes = [error if isinstance(o, Duplicate) else o for o in outcomes]
        results: list[SendResult | Exception] = []
        for outcome in outcomes:
            if isinstance(outcome, Stored):
                results.append(SendResult(outcome.payload, False, outcome.unnotified_mentions))
            elif isinstance(outcome, Duplicate):
                results.append(SendResult(stored[outcome.message_id], True))
            else:
                results.append(outcome)
        return results


async def _publish(services: Services, topic: str, frame: str) -> None:
    """The database already holds the event: a failed publish is logged, clients catch up."""
    try:
        await services.broker.publish(topic, frame)
    except Exception:
        log.exception("publishing to %s failed; subscribers will catch up from the database", topic)


MESSAGE_COLUMNS = tuple(Message.__table__.columns)  # type: ignore[attr-defined]
#: The author's part of a message as the client sees it, read with the message itself.
AUTHOR_COLUMNS = (
    User.username.label("author_username"),  # type: ignore[attr-defined]
    User.display_name.label("author_display_name"),  # type: ignore[attr-defined]
    Organisation.name.label("author_organisation"),  # type: ignore[attr-defined]
    Organisation.type.label("author_organisation_type"),  # type: ignore[attr-defined]
)


def message_rows(*conditions: Any) -> Any:
    """SELECT every message column, and its author's, as plain rows, not ORM objects.

    Rows answer the same attribute names as ``Message``, so ``message_dict`` takes either; on a
    page of 50 the ORM's identity map and instance state were most of a history request's CPU.
    The author comes in the same query: on PostgreSQL a separate authors query was a quarter of
    a history request's time (docs/performance.md).
    """
    return (
        select(*MESSAGE_COLUMNS, *AUTHOR_COLUMNS)
        .join(User, User.id == Message.author_id)
        .join(Organisation, Organisation.id == User.organisation_id)
        .where(*conditions)
    )


def plain_rows(result: Result[Any]) -> list[Any]:
    """A result's rows as named tuples. Reading a field of SQLAlchemy's ``Row`` by name runs
    Python code; a named tuple's is a C slot: on a history page of 50 that was two thirds of
    turning rows into the client's dicts (0.54 → 0.16 ms)."""
    make = _row_type(tuple(result.keys()))._make
    return [make(row) for row in result]


@cache
def _row_type(fields: tuple[str, ...]) -> Any:
    return namedtuple("MessageRow", fields)


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
    return await session.run_sync(message_dicts_sync, messages, nested=nested, slugs=slugs)


def message_dicts_sync(
    session: Session,
    messages: Sequence[Any],
    *,
    nested: bool = True,
    slugs: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """``message_dicts`` on a synchronous session, for reads run by ``Database.read_sync``."""
    if not messages:
        return []
    linked_messages: list[Any] = []
    linked_ids = {m.last_reply_id for m in messages} | {m.accepted_answer_id for m in messages}
    linked_ids.discard(None)
    if nested and linked_ids:
        linked_messages = plain_rows(session.execute(message_rows(Message.id.in_(linked_ids))))
    # The linked replies' authors and mentions come in the same queries as the messages' own.
    everything = [*messages, *linked_messages]
    # Rows from ``message_rows`` carry their author; only ORM objects need them looked up.
    authors: dict[int, dict[str, Any]] = {}
    for m in everything:
        if m.author_id not in authors and hasattr(m, "author_username"):
            authors[m.author_id] = author_fields(
                m.author_id,
                m.author_username,
                m.author_display_name,
                m.author_organisation,
                m.author_organisation_type,
            )
    if missing_authors := {m.author_id for m in everything} - authors.keys():
        for row in session.execute(
            select(User.id, User.username, User.display_name, Organisation.name, Organisation.type)
            .join(Organisation, Organisation.id == User.organisation_id)
            .where(User.id.in_(missing_authors))
        ):
            authors[row[0]] = author_fields(*row)
    mentions: dict[int, list[str]] = {}
    # A mention is an "@name" in the body (chat.rendering): most pages have none to look up.
    if mentioning := {m.id for m in everything if "@" in m.body}:
        for message_id, username in session.execute(
            select(Mention.message_id, User.username)
            .join(User, User.id == Mention.user_id)
            .where(Mention.message_id.in_(mentioning))
            .order_by(User.username)
        ).all():
            mentions.setdefault(message_id, []).append(username)
    slugs = dict(slugs or {})
    missing = {m.network_id for m in everything} - slugs.keys()
    if missing:
        slugs.update(
            (network_id, slug)
            for network_id, slug in session.execute(
                select(Network.id, Network.slug).where(Network.id.in_(missing))
            )
        )

    def as_dict(m: Any, **links: Any) -> dict[str, Any]:
        return message_dict(
            m, slugs[m.network_id], authors[m.author_id], mentions.get(m.id, []), **links
        )

    linked = {m.id: as_dict(m) for m in linked_messages}
    return [
        as_dict(
            m,
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
    page = history_page_reader(
        network_id, before_seq=before_seq, after_seq=after_seq, around_seq=around_seq, limit=limit
    )
    return await services.db.read_sync(lambda session: page(session, user.id))


def history_page_reader(
    network_id: int,
    *,
    before_seq: int | None = None,
    after_seq: int | None = None,
    around_seq: int | None = None,
    limit: int = 50,
) -> Callable[[Session, int], dict[str, Any]]:
    """``history_page`` as ``read(session, user_id)``, for ``Database.read_sync``.

    The whole page is one read: the permission check and its two or three queries in one hop
    to the database; the HTTP route reads the user behind the cookie in the same hop
    (``chat.auth.require_user_reading``; docs/performance.md, history)."""
    return lambda session, user_id: _history_page(
        session,
        user_id=user_id,
        network_id=network_id,
        before_seq=before_seq,
        after_seq=after_seq,
        around_seq=around_seq,
        limit=max(1, min(limit, MAX_PAGE)),
    )


def _history_page(
    session: Session,
    *,
    user_id: int | None,
    network_id: int,
    before_seq: int | None,
    after_seq: int | None,
    around_seq: int | None,
    limit: int,
) -> dict[str, Any]:
    older: list[Any] = []
    newer: list[Any] = []
    has_more_before = has_more_after = False
    if around_seq is not None:
        # The message at around_seq and the older half (the larger one, for an odd limit),
        # then the newer half: a page of one is the message itself.
        up_to, after = (limit + 1) // 2, limit // 2
        older = _page(session, "up_to", network_id, around_seq, up_to + 1)
        newer = _page(session, "after", network_id, around_seq, after + 1)
        has_more_before, older = len(older) > up_to, older[:up_to]
        has_more_after, newer = len(newer) > after, newer[:after]
    elif after_seq is not None:
        newer = _page(session, "after", network_id, after_seq, limit + 1)
        has_more_after, newer = len(newer) > limit, newer[:limit]
        has_more_before = after_seq > 0
    else:
        if before_seq is None:
            older = _page(session, "newest", network_id, 0, limit + 1)
        else:
            older = _page(session, "before", network_id, before_seq, limit + 1)
        has_more_before, older = len(older) > limit, older[:limit]
    messages = list(reversed(older)) + newer
    # Every row carries its network's slug, privacy and last_seq, read in the same statement:
    # the rule is checked on them, and only a page with no rows reads the network by itself.
    # A statement fewer per page: on PostgreSQL each costs ~0.27 ms of CPU here.
    if messages:
        check_readable_sync(session, user_id, network_id, is_private=messages[0].network_is_private)
        slug = messages[0].network_slug
        last_seq = max(page[0].network_last_seq for page in (older, newer) if page)
    else:
        network = readable_network_sync(session, user_id, network_id)
        slug, last_seq = network.slug, network.last_seq
    if before_seq is not None and around_seq is None and after_seq is None:
        has_more_after = before_seq <= last_seq
    return {
        "messages": message_dicts_sync(session, messages, slugs={network_id: slug}),
        "has_more_before": has_more_before,
        "has_more_after": has_more_after,
        "last_seq": last_seq,
    }


def _page_statements() -> dict[str, Any]:
    """The four keyset pages of a network, built once with bind parameters: building the
    statement was a seventh of a history page's CPU. Thread replies are read with their thread
    (chat.actions.threads), not in the network."""
    seq = Message.seq  # type: ignore[attr-defined]
    base = (
        message_rows(
            Message.network_id == bindparam("network_id"), Message.thread_root_id.is_(None)
        )
        .join(Network, Network.id == Message.network_id)
        .add_columns(
            Network.slug.label("network_slug"),  # type: ignore[attr-defined]
            Network.is_private.label("network_is_private"),  # type: ignore[attr-defined]
            Network.last_seq.label("network_last_seq"),  # type: ignore[attr-defined]
        )
    )
    limit = bindparam("n")
    return {
        "newest": base.order_by(seq.desc()).limit(limit),
        "before": base.where(seq < bindparam("seq")).order_by(seq.desc()).limit(limit),
        "up_to": base.where(seq <= bindparam("seq")).order_by(seq.desc()).limit(limit),
        "after": base.where(seq > bindparam("seq")).order_by(seq.asc()).limit(limit),
    }


_PAGES = _page_statements()


def _page(session: Session, which: str, network_id: int, seq: int, n: int) -> list[Any]:
    """Rows of one keyset page, in the page's own order (``newest``, ``before`` and ``up_to``
    newest first)."""
    return plain_rows(
        session.execute(_PAGES[which], {"network_id": network_id, "seq": seq, "n": n})
    )


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
