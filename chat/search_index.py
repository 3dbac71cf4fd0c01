"""The full-text index of messages on both databases: FTS5 on SQLite, a tsvector on PostgreSQL.

The terms come from chat.search_terms on both, already stemmed and folded, and reach the
database verbatim (FTS5 with '_' as a token character; a tsvector/tsquery literal of quoted
lexemes), so a query matches the same messages on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from chat.search_terms import index_terms

MAX_POSITION = 16383  # the largest position a tsvector keeps

message_fts = sa.table("message_terms", sa.column("rowid"), sa.column("terms"))
question_fts = sa.table("question_terms", sa.column("rowid"), sa.column("terms"))
message_tsv = sa.table(
    "message_terms",
    sa.column("message_id", sa.Integer),
    sa.column("is_question", sa.Boolean),
    sa.column("terms", TSVECTOR),
)


_FTS_MESSAGE = sa.text("INSERT INTO message_terms(rowid, terms) VALUES (:id, :terms)")
_FTS_QUESTION = sa.text("INSERT INTO question_terms(rowid, terms) VALUES (:id, :terms)")
_TSV_MESSAGE = sa.text(
    "INSERT INTO message_terms (message_id, is_question, terms) "
    "VALUES (:id, :question, CAST(:terms AS tsvector))"
)


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


def _statements(dialect: str, rows: list[dict[str, Any]]) -> list[tuple[Any, list[dict]]]:
    if not rows:
        return []
    if dialect == "sqlite":
        values = [{"id": r["id"], "terms": " ".join(r["terms"])} for r in rows]
        questions = [v for v, r in zip(values, rows, strict=True) if r["question"]]
        statements = [(_FTS_MESSAGE, values)]
        if questions:
            statements.append((_FTS_QUESTION, questions))
        return statements
    values = [
        {"id": r["id"], "question": r["question"], "terms": tsvector_literal(r["terms"])}
        for r in rows
    ]
    return [(_TSV_MESSAGE, values)]


def index_rows_sync(connection: sa.Connection, messages: Iterable[Any]) -> None:
    """Index rows with id, body, kind, thread_root_id and tags (migrations, the benchmark)."""
    for statement, values in _statements(connection.dialect.name, _rows(messages)):
        connection.execute(statement, values)


async def index_messages(session: AsyncSession, messages: Iterable[Any]) -> None:
    """Index messages in the caller's transaction: a message is findable once it is committed."""
    dialect = session.bind.dialect.name
    for statement, values in _statements(dialect, _rows(messages)):
        await session.execute(statement, values)


async def unindex_messages(session: AsyncSession, message_ids: list[int]) -> None:
    if not message_ids:
        return
    if session.bind.dialect.name == "sqlite":
        for table in ("message_terms", "question_terms"):
            await session.execute(
                sa.text(f"DELETE FROM {table} WHERE rowid IN ({','.join(map(str, message_ids))})")
            )
    else:
        await session.execute(
            sa.delete(message_tsv).where(message_tsv.c.message_id.in_(message_ids))
        )


def match_clause(
    dialect: str,
    message_id: Any,
    terms: Sequence[str],
    *,
    questions_only: bool = False,
    any_term: bool = False,
    prefix_last: bool = False,
) -> tuple[Any, Any, Any]:
    """(table to join, its join condition with ``message_id``, where-clause, relevance score).

    The score is "higher is better" on both databases (FTS5's bm25 is negated).
    """
    if dialect == "sqlite":
        table = question_fts if questions_only else message_fts
        name = sa.literal_column(table.name)
        condition = name.bool_op("MATCH")(
            fts5_query(terms, any_term=any_term, prefix_last=prefix_last)
        )
        score = -sa.func.bm25(name)
        return table, (table.c.rowid == message_id) & condition, score
    query = sa.cast(
        sa.literal(tsquery_literal(terms, any_term=any_term, prefix_last=prefix_last)), TSQUERY
    )
    condition = message_tsv.c.terms.bool_op("@@")(query)
    if questions_only:
        condition = condition & message_tsv.c.is_question
    score = sa.func.ts_rank(message_tsv.c.terms, query, 1)
    return message_tsv, (message_tsv.c.message_id == message_id) & condition, score
