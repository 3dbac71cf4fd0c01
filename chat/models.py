"""The database tables. Room is left for threads, typed posts, edits, reactions and read state."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp() -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=False, default=utcnow)


class OrganisationType(StrEnum):
    gemeente = "gemeente"
    omgevingsdienst = "omgevingsdienst"
    provincie = "provincie"
    rijk = "rijk"
    other = "other"


class UserRole(StrEnum):
    toezichthouder = "toezichthouder"
    handhaver = "handhaver"
    jurist = "jurist"
    beleidsmedewerker = "beleidsmedewerker"
    other = "other"


class MembershipRole(StrEnum):
    member = "member"
    moderator = "moderator"


class Organisation(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("name_key", "type"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    #: lower-cased name, so "Gemeente Utrecht" and "gemeente utrecht" are one organisation.
    name_key: str = Field(max_length=200)
    type: str = Field(max_length=32)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32, unique=True, index=True)
    display_name: str = Field(max_length=100)
    #: display name and username without accents or case, for @mention autocomplete.
    search_name: str = Field(max_length=300, index=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=32)
    organisation_id: int = Field(foreign_key="organisation.id")
    is_admin: bool = False
    #: part of every session cookie; logging out bumps it, which ends every copy of the cookie.
    session_epoch: int = Field(default=0)
    #: the newest seq of this user's own stream (notifications); bumped in the same transaction.
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(sa_column=_timestamp())


class Network(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    is_private: bool = False
    #: the newest event seq in this network; the row lock on it orders concurrent sends.
    last_seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(sa_column=_timestamp())


class Membership(SQLModel, table=True):
    network_id: int = Field(foreign_key="network.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)
    role: str = Field(default=MembershipRole.member.value, max_length=16)
    joined_at: datetime = Field(sa_column=_timestamp())


class Message(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("network_id", "seq"),
        UniqueConstraint("author_id", "client_id"),
        Index("ix_message_thread", "thread_root_id", "seq"),
        Index("ix_message_network_kind", "network_id", "kind", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    network_id: int = Field(foreign_key="network.id")
    #: the seq of the event that created the message: history pages are keyset ranges of it.
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    author_id: int = Field(foreign_key="user.id")
    client_id: str = Field(max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    html: str = Field(sa_column=Column(Text, nullable=False))
    #: "message", "question", "good_example", "new_policy" or "lesson" (chat.actions.threads).
    kind: str = Field(default="message", max_length=32)
    thread_root_id: int | None = Field(default=None, foreign_key="message.id")
    #: free tags, lower case, separated by one space.
    tags: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: on a thread's root: how many replies it has and the newest one (kept in the send).
    reply_count: int = Field(default=0)
    last_reply_id: int | None = Field(default=None)
    #: on a question: the reply marked as its answer.
    accepted_answer_id: int | None = Field(default=None)
    #: loaded by `bwt demo`, removed by `bwt demo --remove`.
    is_demo: bool = Field(default=False)
    created_at: datetime = Field(sa_column=_timestamp())
    edited_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    deleted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class NetworkEvent(SQLModel, table=True):
    """Every change in a network, in seq order: what a reconnecting client catches up from."""

    network_id: int = Field(foreign_key="network.id", primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    kind: str = Field(max_length=32)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    #: the exact frame sent live, so a backlog is replayed without serialising again.
    frame: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_timestamp())


class ThreadFollow(SQLModel, table=True):
    """Who follows a thread (and who chose not to): followers are notified of new replies."""

    message_id: int = Field(foreign_key="message.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)
    following: bool = True


class Mention(SQLModel, table=True):
    message_id: int = Field(foreign_key="message.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True)


class Notification(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("user_id", "user_seq"),
        UniqueConstraint("user_id", "message_id", "kind"),
        Index("ix_notification_user_unread", "user_id", "read_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    #: position in the user's own stream, like a network's seq.
    user_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(default="mention", max_length=32)
    network_id: int = Field(foreign_key="network.id")
    message_id: int = Field(foreign_key="message.id")
    created_at: datetime = Field(sa_column=_timestamp())
    read_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class SignupDomain(SQLModel, table=True):
    """When any row exists, only e-mail addresses in these domains may register."""

    domain: str = Field(primary_key=True, max_length=253)


class SiteFlag(SQLModel, table=True):
    """One-off facts about this installation, such as "the catalogue was loaded"."""

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(default="", max_length=200)
