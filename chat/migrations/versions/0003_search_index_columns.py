"""search index rows carry their network and answered flag; questions get their own table

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:00:00.000000

PostgreSQL only: ``message_terms`` gains ``network_id`` and ``answered`` (copies of the
message's), so search picks and ranks its candidates without looking each one up in ``message``,
and the questions that start a thread move from a partial index over ``message_terms`` to their
own small table ``question_terms`` with the same columns, whose rows lie together on disk. The
tables are rebuilt (insert … select, then the indexes) rather than updated in place: one pass
instead of a rewrite of every row through the GIN index.

The GIN indexes are made without ``fastupdate``: with it, new messages' terms wait in a pending
list (up to 4 MB, some 20,000 messages) that every search reads through linearly, and the send
that overflows it merges the whole list. Without it a send updates the index at once (about
0.04 ms a message measured at a million) and search time does not depend on recent traffic.

SQLite keeps its FTS5 tables as 0002 made them (it already has ``question_terms``; it reads the
network and the answer from ``message`` by rowid).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    " message_id integer PRIMARY KEY REFERENCES message(id),"
    " network_id integer NOT NULL,"
    " answered boolean NOT NULL,"
    " terms tsvector NOT NULL"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("message_terms", "message_terms_0002")
    op.execute("DROP INDEX ix_message_terms")
    op.execute("DROP INDEX ix_question_terms")
    for table, questions_only in (("message_terms", False), ("question_terms", True)):
        op.execute(f"CREATE TABLE {table} ({COLUMNS})")
        op.execute(
            f"INSERT INTO {table} (message_id, network_id, answered, terms)"
            " SELECT t.message_id, m.network_id, m.accepted_answer_id IS NOT NULL, t.terms"
            " FROM message_terms_0002 AS t JOIN message AS m ON m.id = t.message_id"
            + (" WHERE t.is_question" if questions_only else "")
            + " ORDER BY t.message_id"
        )
        op.execute(f"CREATE INDEX ix_{table} ON {table} USING gin (terms) WITH (fastupdate = off)")
        # The planner should know the new tables before the first search, not a minute later.
        op.execute(f"ANALYZE {table}")
    op.execute("DROP TABLE message_terms_0002")


def _set_aside(table: str, name: str) -> None:
    """Rename a table with its key and foreign key, so the new table gets the usual names."""
    op.execute(f"ALTER TABLE {table} RENAME TO {name}")
    op.execute(f"ALTER INDEX {table}_pkey RENAME TO {name}_pkey")
    op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT {table}_message_id_fkey TO {name}_fkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("message_terms", "message_terms_0003")
    op.execute("DROP INDEX ix_message_terms")
    op.execute(
        "CREATE TABLE message_terms ("
        " message_id integer PRIMARY KEY REFERENCES message(id),"
        " is_question boolean NOT NULL,"
        " terms tsvector NOT NULL)"
    )
    op.execute(
        "INSERT INTO message_terms (message_id, is_question, terms)"
        " SELECT t.message_id, q.message_id IS NOT NULL, t.terms FROM message_terms_0003 AS t"
        " LEFT JOIN question_terms AS q ON q.message_id = t.message_id ORDER BY t.message_id"
    )
    op.execute("DROP TABLE message_terms_0003")
    op.execute("DROP TABLE question_terms")
    op.execute("CREATE INDEX ix_message_terms ON message_terms USING gin (terms)")
    op.execute(
        "CREATE INDEX ix_question_terms ON message_terms USING gin (terms) WHERE is_question"
    )
    op.execute("ANALYZE message_terms")
