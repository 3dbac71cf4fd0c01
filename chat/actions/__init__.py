"""The one layer that changes state. HTTP routes and the WebSocket hub both call these functions.

Each action checks its input and the user's rights, changes the database in one transaction,
and only after the commit publishes the events that follow from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from channels import Broker
from chat.db import Database
from chat.settings import Settings

if TYPE_CHECKING:
    from chat.actions.messages import SendQueue


@dataclass
class Services:
    """What actions need from the running server: the database, the broker and the settings."""

    db: Database
    broker: Broker
    settings: Settings
    #: sends waiting for their group commit; chat.actions.messages makes it on first use.
    send_queue: SendQueue | None = field(default=None, init=False, repr=False)
