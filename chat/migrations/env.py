"""Alembic environment: runs on the connection handed over by chat.migrate (async engines)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import chat.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `bwt migrate` (chat.migrate), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Several web processes may start at once: one migrates, the others wait and find head.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(720514)")
    context.run_migrations()
