"""threads, questions, typed posts and the search index

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 15:50:00.000000

The search index is the one place where the databases differ: an FTS5 table on SQLite, a
tsvector with a GIN index on PostgreSQL. Both hold the same terms (chat.search_terms).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS5_TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"


def upgrade() -> None:
    op.add_column("message", sa.Column("tags", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "message", sa.Column("reply_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("message", sa.Column("last_reply_id", sa.Integer(), nullable=True))
    op.add_column("message", sa.Column("accepted_answer_id", sa.Integer(), nullable=True))
    op.add_column(
        "message", sa.Column("is_demo", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("ix_message_thread", "message", ["thread_root_id", "seq"])
    op.create_index("ix_message_network_kind", "message", ["network_id", "kind", "id"])
    op.create_table(
        "threadfollow",
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("message.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("following", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "user_id"),
    )
    op.create_index("ix_threadfollow_user_id", "threadfollow", ["user_id"])

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in ("message_terms", "question_terms"):
            op.execute(
                f'CREATE VIRTUAL TABLE {table} USING fts5(terms, tokenize="{FTS5_TOKENIZER}")'
            )
    else:
        op.execute(
            "CREATE TABLE message_terms ("
            " message_id integer PRIMARY KEY REFERENCES message(id),"
            " is_question boolean NOT NULL,"
            " terms tsvector NOT NULL)"
        )
        op.execute("CREATE INDEX ix_message_terms ON message_terms USING gin (terms)")
        op.execute(
            "CREATE INDEX ix_question_terms ON message_terms USING gin (terms) WHERE is_question"
        )
    _index_existing_messages(bind)


def _index_existing_messages(bind: sa.Connection) -> None:
    from chat.search_index import index_rows_sync

    rows = bind.execute(
        sa.text("SELECT id, body, kind, thread_root_id, tags FROM message WHERE deleted_at IS NULL")
    ).all()
    index_rows_sync(bind, rows)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS message_terms")
    op.execute("DROP TABLE IF EXISTS question_terms")
    op.drop_index("ix_threadfollow_user_id", "threadfollow")
    op.drop_table("threadfollow")
    op.drop_index("ix_message_network_kind", "message")
    op.drop_index("ix_message_thread", "message")
    with op.batch_alter_table("message") as batch_op:
        for column in ("is_demo", "accepted_answer_id", "last_reply_id", "reply_count", "tags"):
            batch_op.drop_column(column)
