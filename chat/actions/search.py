"""Finding knowledge: full-text search, similar questions, question overviews, the kennisbank.

Every read starts from the networks the user may read at that moment (public ones and private
ones they are a member of), so nothing from a network they left reaches them afterwards.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chat.actions import Services
from chat.actions.messages import message_dicts
from chat.actions.networks import readable_network
from chat.actions.posts import CONTRIBUTION_KINDS, POST_KINDS, QUESTION
from chat.errors import ActionError
from chat.events import network_ref
from chat.models import Membership, Message, Network, Organisation, OrganisationType, User
from chat.search_index import match_clause
from chat.search_terms import query_terms, snippet, tag_list
from chat.text import fold

MAX_RESULTS = 50
#: search ranks at most this many of the newest matches: a bound on the work per query.
CANDIDATES = 1000
#: an answered question counts this much more than its text alone.
ANSWERED_BOOST = 2.0
SUGGESTION_POOL = 20
#: how many of the newest messages a query looks at first (see _recent_first).
RECENT_WINDOW = 100_000
#: suggestions rank at most this many of the newest questions sharing a word with the text.
SUGGESTION_CANDIDATES = 500
STATES = ("open", "answered")


async def readable_networks(
    session: AsyncSession, user: User, network_id: int | None = None
) -> dict[int, Network]:
    """The networks the user may read now (or just ``network_id``, if they may), by id."""
    if network_id is not None:
        return {network_id: await readable_network(session, user, network_id)}
    member_of = select(Membership.network_id).where(Membership.user_id == user.id)
    return {
        network.id: network  # type: ignore[misc]
        for network in await session.scalars(
            select(Network).where(~Network.is_private | Network.id.in_(member_of))
        )
    }


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ActionError("invalid_request", f"'{name}' must be a date (YYYY-MM-DD).") from error


def _filters(
    *,
    author: str | None,
    organisation_type: str | None,
    kind: str | None,
    state: str | None,
    date_from: str | None,
    date_to: str | None,
    tag: str | None = None,
    question_index: bool = False,
) -> list[Any]:
    """Conditions on ``message``. With ``question_index`` the caller reads the questions' own
    index, which holds only questions and knows whether each is answered: kind = question and
    the state are checked but need no condition here."""
    conditions: list[Any] = []
    if author:
        conditions.append(
            Message.author_id.in_(
                select(User.id).where(User.username == author.lower().lstrip("@"))
            )
        )
    if organisation_type:
        if organisation_type not in {t.value for t in OrganisationType}:
            raise ActionError("invalid_request", "Unknown organisation type.")
        conditions.append(
            Message.author_id.in_(
                select(User.id)
                .join(Organisation, Organisation.id == User.organisation_id)
                .where(Organisation.type == organisation_type)
            )
        )
    if kind:
        if kind not in POST_KINDS:
            raise ActionError("invalid_kind", f"kind must be one of {', '.join(POST_KINDS)}.")
        if not (question_index and kind == QUESTION):
            conditions.append(Message.kind == kind)
    if state:
        if state not in STATES:
            raise ActionError("invalid_request", "'state' is open or answered.")
        if not question_index:
            conditions.append(Message.kind == QUESTION)
            answered = Message.accepted_answer_id.is_not(None)
            conditions.append(answered if state == "answered" else ~answered)
    start, end = _day(date_from, "from"), _day(date_to, "to")
    if start:
        conditions.append(Message.created_at >= datetime.combine(start, time(), tzinfo=UTC))
    if end:
        next_day = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
        conditions.append(Message.created_at < next_day)
    if tag:
        tags = tag_list(tag)
        if tags:
            conditions.append((" " + Message.tags + " ").contains(f" {tags[0]} "))
    return conditions


async def search_messages(
    services: Services,
    user: User,
    query: str,
    *,
    network_id: int | None = None,
    author: str | None = None,
    organisation_type: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """Messages matching every word of ``query``, most relevant first, answered questions up."""
    terms = query_terms(query)
    if not terms:
        return {"query": query, "terms": [], "results": []}
    limit = max(1, min(limit, MAX_RESULTS))
    # Questions have their own (much smaller) index: filters on them need not walk every
    # matching message to find the few questions among them. Its rows are the questions that
    # start a thread, so it stands for kind = question by itself.
    questions_only = kind == QUESTION or state is not None
    conditions = _filters(
        author=author,
        organisation_type=organisation_type,
        kind=kind,
        state=state,
        date_from=date_from,
        date_to=date_to,
        question_index=questions_only,
    )
    async with services.db.read(in_transaction=True) as session:
        networks = await readable_networks(session, user, network_id)
        match = match_clause(session.bind.dialect.name, terms, questions_only=questions_only)
        # Permissions and the answered state are conditions on the index rows themselves
        # (PostgreSQL keeps the network and the answered flag in them): no post-filter.
        wanted = [match.condition, match.network_id.in_(list(networks))]
        if state:
            wanted.append(match.answered if state == "answered" else ~match.answered)

        def ranked(floor: int | None) -> Any:
            candidates = select(
                match.key.label("id"), match.answered.label("answered"), match.score.label("score")
            ).select_from(match.table)
            if match.needs_message or conditions:
                candidates = candidates.join(Message, Message.id == match.key).where(
                    Message.deleted_at.is_(None), *conditions
                )
            candidates = (
                candidates.where(*wanted, *([match.key > floor] if floor is not None else []))
                # Newest matches first, by the index's own key: FTS5 walks its rowids
                # backwards and stops at the limit instead of sorting every match.
                .order_by(match.key.desc())
                .limit(CANDIDATES)
                .subquery()
            )
            boosted = candidates.c.score * sa.case(
                (candidates.c.answered, ANSWERED_BOOST), else_=1.0
            )
            page = (
                select(candidates.c.id, boosted.label("rank"))
                .order_by(boosted.desc(), candidates.c.id.desc())
                .limit(limit)
                .subquery()
            )
            # The page's messages come with the ranking: one round trip, not two.
            return _messages_of(page, page.c.rank)

        messages = await _recent_first(session, ranked, limit)
        results = await _results(session, messages, terms, networks)
    return {"query": query, "terms": terms, "results": results}


def _messages_of(page: Any, rank: Any) -> Any:
    """The messages of a ranked page of ids, best first (a deleted one never: see search_index)."""
    return (
        select(Message)
        .join(page, page.c.id == Message.id)
        .where(Message.deleted_at.is_(None))
        .order_by(rank.desc(), page.c.id.desc())
    )


#: one round trip at the start of a PostgreSQL search: its plan settings and the newest id. The
#: settings last for the transaction, so searches read with ``db.read(in_transaction=True)``.
_POSTGRES_PREAMBLE = sa.text(
    # asyncpg prepares statements; a generic plan cannot see how common the words are.
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    # A few thousand index rows at most: starting parallel workers costs more than it saves.
    " set_config('max_parallel_workers_per_gather', '0', true),"
    " (SELECT max(id) FROM message)"
)


async def _recent_first(session: AsyncSession, statement: Any, enough: int) -> list[Message]:
    """Messages of ``statement(floor)``. On PostgreSQL among the newest RECENT_WINDOW messages
    first, and over all messages only when those give fewer than ``enough``: a common word is
    then answered from a fraction of the GIN index's rows, a rare one from all of them."""
    if session.bind.dialect.name != "postgresql":
        # FTS5 walks its rowids backwards and stops at the limit: no window needed.
        return list(await session.scalars(statement(None)))
    newest = (await session.execute(_POSTGRES_PREAMBLE)).one()[2] or 0
    if newest > RECENT_WINDOW:
        messages = list(await session.scalars(statement(newest - RECENT_WINDOW)))
        if len(messages) >= enough:
            return messages
    return list(await session.scalars(statement(None)))


async def _results(
    session: AsyncSession, messages: list[Message], terms: list[str], networks: dict[int, Network]
) -> list[dict]:
    slugs = {network_id: network.slug for network_id, network in networks.items()}
    dicts = await message_dicts(session, messages, slugs=slugs)
    return [
        {
            "message": payload,
            "network": network_ref(networks[message.network_id]),
            "snippet": snippet(message.body, terms),
            "answered": message.accepted_answer_id is not None,
        }
        for message, payload in zip(messages, dicts, strict=True)
    ]


async def similar_questions(
    services: Services, user: User, text: str, *, limit: int = 5
) -> list[dict[str, Any]]:
    """Earlier questions that share words with ``text`` (any of them; the last may be half
    typed), from every network the user may read: among the closest, answered ones first."""
    terms = query_terms(text)
    if not terms or len(fold(text).strip()) < 4:
        return []
    prefix_last = False
    last_word = fold(text).split()[-1] if not text[-1:].isspace() else ""
    if last_word.isalpha() and len(last_word) >= 5:
        # A half-typed word has no stem yet: match the start it has ("recreatiewon" finds
        # "recreatiewoning", stemmed "recreatiewoon"), besides its stem.
        terms = [*terms, last_word[: len(last_word) - 2]]
        prefix_last = True
    async with services.db.read(in_transaction=True) as session:
        networks = await readable_networks(session, user)
        match = match_clause(
            session.bind.dialect.name,
            terms,
            questions_only=True,
            any_term=True,
            prefix_last=prefix_last,
        )

        def closest(floor: int | None) -> Any:
            candidates = select(match.key.label("id"), match.score.label("score")).select_from(
                match.table
            )
            if match.needs_message:
                candidates = candidates.join(Message, Message.id == match.key).where(
                    Message.deleted_at.is_(None)
                )
            candidates = (
                candidates.where(
                    match.condition,
                    match.network_id.in_(list(networks)),
                    *([match.key > floor] if floor is not None else []),
                )
                .order_by(match.key.desc())
                .limit(SUGGESTION_CANDIDATES)
                .subquery()
            )
            pool = (
                select(candidates)
                .order_by(candidates.c.score.desc(), candidates.c.id.desc())
                .limit(SUGGESTION_POOL)
                .subquery()
            )
            return _messages_of(pool, pool.c.score)

        pool = await _recent_first(session, closest, SUGGESTION_POOL)
        pool.sort(key=lambda message: message.accepted_answer_id is None)  # stable: answered first
        return await _results(session, pool[:limit], terms, networks)


async def list_posts(
    services: Services,
    user: User,
    *,
    network_id: int | None = None,
    kind: str | None = None,
    state: str | None = None,
    tag: str | None = None,
    knowledge: bool = False,
    before_id: int | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """Top-level posts newest first: a network's questions, or the knowledge base — answered
    questions and typed contributions — of one network or all the user can read."""
    limit = max(1, min(limit, MAX_RESULTS))
    conditions = _filters(
        author=None,
        organisation_type=None,
        kind=kind,
        state=state,
        date_from=None,
        date_to=None,
        tag=tag,
    )
    if knowledge:
        conditions.append(
            Message.kind.in_(CONTRIBUTION_KINDS)
            | ((Message.kind == QUESTION) & Message.accepted_answer_id.is_not(None))
        )
    elif not kind:
        conditions.append(Message.kind == QUESTION)
    if before_id is not None:
        conditions.append(Message.id < before_id)
    async with services.db.read() as session:
        network_ids = list(await readable_networks(session, user, network_id))
        messages = list(
            await session.scalars(
                select(Message)
                .where(
                    Message.network_id.in_(network_ids),
                    Message.thread_root_id.is_(None),
                    Message.deleted_at.is_(None),
                    *conditions,
                )
                .order_by(Message.id.desc())
                .limit(limit + 1)
            )
        )
        more = len(messages) > limit
        messages = messages[:limit]
        dicts = await message_dicts(session, messages)
        networks = {
            n.id: network_ref(n)
            for n in await session.scalars(
                select(Network).where(Network.id.in_({m.network_id for m in messages}))
            )
        }
    return {
        "posts": [
            {"message": payload, "network": networks[payload["network_id"]]} for payload in dicts
        ],
        "has_more": more,
    }
