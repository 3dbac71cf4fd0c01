"""The full-text index of messages on both databases: FTS5 on SQLite, a tsvector on PostgreSQL.

The terms come from chat.search_terms on both, already stemmed and folded, and reach the
database verbatim (FTS5 with '_' as a token character; a tsvector/tsquery literal of quoted
lexemes), so a query matches the same messages on SQLite and PostgreSQL.

Each database has two indexes: ``message_terms`` of every message and ``question_terms`` of the
questions that start a thread (a much smaller index for suggestions and question filters). On
PostgreSQL their rows also carry the message's network and whether it is an answered question,
so a query picks and ranks its candidates without visiting the ``message`` table; SQLite reads
those from ``message`` by rowid. A deleted message must be unindexed (``unindex_messages``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from chat.models import Message
from chat.search_terms import index_terms

MAX_POSITION = 16383  # the largest position a tsvector keeps

message_fts = sa.table("message_terms", sa.column("rowid"), sa.column("terms"))
question_fts = sa.table("question_terms", sa.column("rowid"), sa.column("terms"))


def _tsvector_table(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("message_id", sa.Integer),
        sa.column("network_id", sa.Integer),
        sa.column("answered", sa.Boolean),
        sa.column("terms", TSVECTOR),
    )


message_tsv = _tsvector_table("message_terms")
question_tsv = _tsvector_table("question_terms")


def is_question_root(kind: str, thread_root_id: int | None) -> bool:
    return kind == "question" and thread_root_id is None


def tsvector_literal(terms: Sequence[str]) -> str:
    positions: dict[str, list[str]] = {}
    for position, term in enumerate(terms[:MAX_POSITION], start=1):
        positions.setdefault(term, []).append(str(position))
    return " ".join(f"'{term}':{','.join(where)}" for term, where in positions.items())


def fts5_query(terms: Sequence[str], *, any_term: bool = False, prefix_last: bool = False) -> str:
    quoted = [f'"{term}"' for term in terms]
    if prefix_last and quoted:
        quoted[-1] += "*"
    return (" OR " if any_term else " AND ").join(quoted)


def tsquery_literal(
    terms: Sequence[str], *, any_term: bool = False, prefix_last: bool = False
) -> str:
    quoted = [f"'{term}'" for term in terms]
    if prefix_last and quoted:
        quoted[-1] += ":*"
    return (" | " if any_term else " & ").join(quoted)


def _rows(messages: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": row.id,
            "terms": index_terms(row.body, row.tags.replace(" ", ", ") if row.tags else ""),
            "question": is_question_root(row.kind, row.thread_root_id),
        }
        for row in messages
    ]


def _fts5_statements(rows: list[dict[str, Any]]) -> list[tuple[Any, list[dict]]]:
    values = [{"id": r["id"], "terms": " ".join(r["terms"])} for r in rows]
    questions = [v for v, r in zip(values, rows, strict=True) if r["question"]]
    statements = [(sa.text("INSERT INTO message_terms(rowid, terms) VALUES (:id, :terms)"), values)]
    if questions:
        statements.append(
            (sa.text("INSERT INTO question_terms(rowid, terms) VALUES (:id, :terms)"), questions)
        )
    return statements


def _statements(dialect: str, messages: Iterable[Any]) -> list[tuple[Any, list[dict]]]:
    messages = list(messages)
    rows = _rows(messages)
    if not rows:
        return []
    if dialect == "sqlite":
        return _fts5_statements(rows)
    values = [
        {
            "id": r["id"],
            "network": message.network_id,
            "answered": message.accepted_answer_id is not None,
            "terms": tsvector_literal(r["terms"]),
        }
        for r, message in zip(rows, messages, strict=True)
    ]
    questions = [v for v, r in zip(values, rows, strict=True) if r["question"]]
    statements = []
    for table, table_values in (("message_terms", values), ("question_terms", questions)):
        if table_values:
            insert = sa.text(
                f"INSERT INTO {table} (message_id, network_id, answered, terms) "
                "VALUES (:id, :network, :answered, CAST(:terms AS tsvector))"
            )
            statements.append((insert, table_values))
    return statements


def index_rows_sync(connection: sa.Connection, messages: Iterable[Any]) -> None:
    """Index rows with id, body, kind, thread_root_id and tags in the layout migration 0002
    made, for that migration (PostgreSQL: one table with ``is_question``; 0003 splits it)."""
    rows = _rows(messages)
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        statements = _fts5_statements(rows)
    else:
        values = [
            {"id": r["id"], "question": r["question"], "terms": tsvector_literal(r["terms"])}
            for r in rows
        ]
        insert = sa.text(
            "INSERT INTO message_terms (message_id, is_question, terms) "
            "VALUES (:id, :question, CAST(:terms AS tsvector))"
        )
        statements = [(insert, values)]
    for statement, values in statements:
        connection.execute(statement, values)


def index_rows(connection: sa.Connection, messages: Iterable[Any]) -> None:
    """Index rows with id, network_id, body, kind, thread_root_id, tags and accepted_answer_id
    (the benchmark's bulk fill, migrations from 0003 on)."""
    for statement, values in _statements(connection.dialect.name, messages):
        connection.execute(statement, values)


async def index_messages(session: AsyncSession, messages: Iterable[Any]) -> None:
    """Index messages in the caller's transaction: a message is findable once it is committed."""
    for statement, values in _statements(session.bind.dialect.name, messages):
        await session.execute(statement, values)


async def reindex_answered(session: AsyncSession, question_ids: list[int]) -> None:
    """Copy whether these questions are answered into the index (after accepted_answer_id
    changed): PostgreSQL ranks and filters on its own copy; SQLite reads ``message``."""
    if not question_ids or session.bind.dialect.name == "sqlite":
        return
    for table in (message_tsv, question_tsv):
        await session.execute(
            sa.text(
                f"UPDATE {table.name} AS t SET answered = m.accepted_answer_id IS NOT NULL "
                "FROM message AS m WHERE m.id = t.message_id AND t.message_id = ANY(:ids)"
            ),
            {"ids": question_ids},
        )


async def unindex_messages(session: AsyncSession, message_ids: list[int]) -> None:
    if not message_ids:
        return
    if session.bind.dialect.name == "sqlite":
        for table in ("message_terms", "question_terms"):
            await session.execute(
                sa.text(f"DELETE FROM {table} WHERE rowid IN ({','.join(map(str, message_ids))})")
            )
    else:
        for table in (message_tsv, question_tsv):
            await session.execute(sa.delete(table).where(table.c.message_id.in_(message_ids)))


@dataclass(frozen=True)
class Match:
    """A full-text condition and what a query needs of the index table it reads.

    ``network_id`` and ``answered`` are the index's own columns on PostgreSQL, so no join is
    needed for them; on SQLite they are ``message`` columns (``needs_message``).
    """

    table: Any
    #: the message id as the index stores it, in the order of its rows.
    key: Any
    condition: Any
    #: relevance, higher is better on both databases (FTS5's bm25 is negated).
    score: Any
    network_id: Any
    answered: Any
    needs_message: bool


def match_clause(
    dialect: str,
    terms: Sequence[str],
    *,
    questions_only: bool = False,
    any_term: bool = False,
    prefix_last: bool = False,
) -> Match:
    """Messages (or thread-starting questions) matching every term (or any, ``any_term``; the
    last also by its beginning, ``prefix_last``)."""
    if dialect == "sqlite":
        table = question_fts if questions_only else message_fts
        name = sa.literal_column(table.name)
        condition = name.bool_op("MATCH")(
            fts5_query(terms, any_term=any_term, prefix_last=prefix_last)
        )
        return Match(
            table=table,
            key=table.c.rowid,
            condition=condition,
            score=-sa.func.bm25(name),
            network_id=Message.network_id,
            answered=Message.accepted_answer_id.is_not(None),
            needs_message=True,
        )
    table = question_tsv if questions_only else message_tsv
    query = sa.cast(
        sa.literal(tsquery_literal(terms, any_term=any_term, prefix_last=prefix_last)), TSQUERY
    )
    return Match(
        table=table,
        key=table.c.message_id,
        condition=table.c.terms.bool_op("@@")(query),
        score=sa.func.ts_rank(table.c.terms, query, 1),
        network_id=table.c.network_id,
        answered=table.c.answered,
        needs_message=False,
    )
