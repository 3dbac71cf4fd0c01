"""Bring the schema to the newest migration and load the network catalogue on first start."""

from __future__ import annotations

import json
import logging
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from chat.db import Database
from chat.models import Network, SiteFlag

log = logging.getLogger(__name__)

CATALOGUE_FLAG = "catalogue_loaded"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "chat:migrations")
    config.attributes["connection"] = connection
    return config


def _upgrade_and_seed(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
    with Session(bind=connection) as session:
        if session.get(SiteFlag, CATALOGUE_FLAG) is None:
            added = load_catalogue(session)
            session.add(SiteFlag(name=CATALOGUE_FLAG, value="1"))
            session.commit()
            log.info("loaded %d networks from the default catalogue", added)


def load_catalogue(session: Session) -> int:
    """Add every catalogue network whose slug is not taken yet; admins may edit them afterwards."""
    entries = json.loads(resources.files("chat").joinpath("catalogue/networks.json").read_text())
    existing = set(session.scalars(select(Network.slug)))
    added = 0
    for entry in entries:
        if entry["slug"] in existing:
            continue
        session.add(
            Network(
                slug=entry["slug"],
                name=entry["name"],
                description=entry["description"],
                is_private=entry.get("is_private", False),
            )
        )
        added += 1
    return added


async def migrate(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade_and_seed)
