"""Networks: who may see, join, leave and manage them."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from chat.actions import Services, accounts
from chat.db import Database
from chat.errors import ActionError, not_found
from chat.events import dumps, network_dict, network_topic, user_topic
from chat.models import Membership, MembershipRole, Network, Organisation, User, utcnow
from chat.text import fold

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


async def load_network(session: AsyncSession, network_id: int) -> Network:
    network = await session.get(Network, network_id)
    if network is None:
        raise not_found("network")
    return network


async def next_seq(session: AsyncSession, network_id: int) -> int:
    """The seq of the network's next event. The row lock this takes orders concurrent writers
    (on every node) until the transaction ends, so seqs are gapless and commit in order."""
    seq = await session.scalar(
        update(Network)
        .where(Network.id == network_id)
        .values(last_seq=Network.last_seq + 1)
        .returning(Network.last_seq)
    )
    return seq  # type: ignore[return-value]


async def is_member(session: AsyncSession, network_id: int, user_id: int) -> bool:
    return await session.get(Membership, (network_id, user_id)) is not None


async def readable_network(session: AsyncSession, user: User, network_id: int) -> Network:
    """The network if this user may read it. A private one a non-member cannot even see exists."""
    return await session.run_sync(readable_network_sync, user.id, network_id)


def readable_network_sync(session: Session, user_id: int | None, network_id: int) -> Network:
    """``readable_network`` for reads that run whole on a synchronous session
    (``Database.read_sync``); the one place the rule is written."""
    network = session.get(Network, network_id)
    if network is None:
        raise not_found("network")
    check_readable_sync(session, user_id, network_id, is_private=network.is_private)
    return network


def check_readable_sync(
    session: Session, user_id: int | None, network_id: int, *, is_private: bool
) -> None:
    """The rule itself, for a network whose row the caller already read: anyone may read a
    public network, only its members a private one, and to anyone else it does not exist."""
    if is_private and session.get(Membership, (network_id, user_id)) is None:
        raise not_found("network")


async def list_networks(db: Database, user: User, *, every: bool = False) -> list[dict[str, Any]]:
    """The networks this user may see; ``every`` lets an admin manage private ones too."""
    async with db.read() as session:
        counts = dict(
            (
                await session.execute(
                    select(Membership.network_id, func.count()).group_by(Membership.network_id)
                )
            ).all()
        )
        mine = set(
            await session.scalars(
                select(Membership.network_id).where(Membership.user_id == user.id)
            )
        )
        networks = await session.scalars(select(Network).order_by(Network.name))
        return [
            network_dict(
                network, member_count=counts.get(network.id, 0), is_member=network.id in mine
            )
            for network in networks
            if not network.is_private or network.id in mine or (every and user.is_admin)
        ]


async def network_by_slug(db: Database, user: User, slug: str) -> dict[str, Any]:
    async with db.read() as session:
        network_id = await session.scalar(select(Network.id).where(Network.slug == slug))
        if network_id is None:
            raise not_found("network")
        network = await readable_network(session, user, network_id)
        return await _describe(session, network, user)


async def network_by_id(db: Database, user: User, network_id: int) -> dict[str, Any]:
    async with db.read() as session:
        return await _describe(session, await load_network(session, network_id), user)


async def _describe(session: AsyncSession, network: Network, user: User) -> dict[str, Any]:
    count = await session.scalar(
        select(func.count()).select_from(Membership).where(Membership.network_id == network.id)
    )
    member = await is_member(session, network.id, user.id)  # type: ignore[arg-type]
    return network_dict(network, member_count=count or 0, is_member=member)


async def join_network(db: Database, user: User, network_id: int) -> dict[str, Any]:
    """Join a public network. Private ones are joined only by admins (others are added)."""
    async with db.write() as session:
        network = await load_network(session, network_id)
        member = await is_member(session, network_id, user.id)  # type: ignore[arg-type]
        if network.is_private and not member and not user.is_admin:
            raise not_found("network")
        if not member:
            session.add(Membership(network_id=network_id, user_id=user.id, joined_at=utcnow()))  # type: ignore[arg-type]
            await session.flush()
        return await _describe(session, network, user)


async def leave_network(services: Services, user: User, network_id: int) -> dict[str, Any]:
    """Leave a network. Leaving a private one also stops its live stream on every open socket."""
    async with services.db.write() as session:
        network = await readable_network(session, user, network_id)
        await session.execute(
            delete(Membership).where(
                Membership.network_id == network_id, Membership.user_id == user.id
            )
        )
        described = await _describe(session, network, user)
    if network.is_private:
        await services.broker.publish(
            user_topic(user.id),  # type: ignore[arg-type]
            dumps({"type": "unsubscribed", "network_id": network_id}),
        )
    return described


async def add_member(db: Database, admin: User | None, network_id: int, username: str) -> None:
    """Admins add members, which is how people get into private networks.

    ``admin`` is None only for the command line, which is trusted.
    """
    if admin is not None:
        accounts.require_admin(admin)
    async with db.write() as session:
        await load_network(session, network_id)
        user_id = await session.scalar(select(User.id).where(User.username == username.lower()))
        if user_id is None:
            raise not_found("user")
        if not await is_member(session, network_id, user_id):
            session.add(Membership(network_id=network_id, user_id=user_id, joined_at=utcnow()))


async def set_moderator(
    db: Database, admin: User | None, network_id: int, username: str, moderator: bool
) -> list[dict[str, Any]]:
    """Make a user a moderator of a network, or a plain member again; answers the moderators.

    A moderator marks accepted answers in the network like the asker does. Someone who is not
    a member yet becomes one (as admins add members); unmaking leaves them a member. Leaving
    the network ends the role. ``admin`` is None only for the command line, which is trusted.
    """
    if admin is not None:
        accounts.require_admin(admin)
    role = MembershipRole.moderator if moderator else MembershipRole.member
    async with db.write() as session:
        await load_network(session, network_id)
        user_id = await session.scalar(
            select(User.id).where(User.username == username.strip().lower())
        )
        if user_id is None:
            raise not_found("user")
        membership = await session.get(Membership, (network_id, user_id))
        if membership is not None:
            membership.role = role.value
        elif moderator:
            session.add(
                Membership(
                    network_id=network_id, user_id=user_id, role=role.value, joined_at=utcnow()
                )
            )
        await session.flush()
        return (await _moderators(session, [network_id]))[network_id]


async def list_moderators(
    db: Database, admin: User, network_ids: list[int] | None = None
) -> dict[int, list[dict[str, Any]]]:
    """The moderators of these networks (or of all), by network id, for administrators."""
    accounts.require_admin(admin)
    async with db.read() as session:
        if network_ids is None:
            network_ids = list(await session.scalars(select(Network.id)))
        else:
            for network_id in network_ids:
                await load_network(session, network_id)
        return await _moderators(session, network_ids)


async def _moderators(
    session: AsyncSession, network_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    rows = await session.execute(
        select(Membership.network_id, User)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.network_id.in_(network_ids),
            Membership.role == MembershipRole.moderator.value,
        )
        .order_by(User.username)
    )
    found: dict[int, list[dict[str, Any]]] = {network_id: [] for network_id in network_ids}
    for network_id, user in rows.all():
        found[network_id].append(
            {"id": user.id, "username": user.username, "display_name": user.display_name}
        )
    return found


def _check_network_fields(name: str | None, description: str | None) -> None:
    if name is not None and not 2 <= len(name.strip()) <= 120:
        raise ActionError("invalid_name", "A network name is 2 to 120 characters.", 422)
    if description is not None and len(description) > 2000:
        raise ActionError("invalid_description", "A description is at most 2000 characters.", 422)


async def create_network(
    db: Database, admin: User | None, slug: str, name: str, description: str, is_private: bool
) -> dict[str, Any]:
    """Add a network; ``admin`` is None only for the command line, which is trusted."""
    if admin is not None:
        accounts.require_admin(admin)
    slug = slug.strip().lower()
    if not _SLUG.match(slug) or len(slug) > 64:
        raise ActionError("invalid_slug", "A slug is lowercase letters and digits with '-'.", 422)
    _check_network_fields(name, description)
    async with db.write() as session:
        if await session.scalar(select(Network.id).where(Network.slug == slug)) is not None:
            raise ActionError("slug_taken", f"A network with slug {slug!r} exists.", 409)
        network = Network(
            slug=slug,
            name=name.strip(),
            description=description.strip(),
            is_private=is_private,
            created_at=utcnow(),
        )
        session.add(network)
        await session.flush()
        creator_joins = admin is not None and is_private
        if creator_joins:
            session.add(Membership(network_id=network.id, user_id=admin.id, joined_at=utcnow()))  # type: ignore[union-attr]
        return network_dict(network, member_count=int(creator_joins), is_member=creator_joins)


async def update_network(
    services: Services,
    admin: User,
    network_id: int,
    *,
    name: str | None = None,
    description: str | None = None,
    is_private: bool | None = None,
) -> dict[str, Any]:
    accounts.require_admin(admin)
    _check_network_fields(name, description)
    async with services.db.write() as session:
        network = await load_network(session, network_id)
        became_private = is_private is True and not network.is_private
        if name is not None:
            network.name = name.strip()
        if description is not None:
            network.description = description.strip()
        if is_private is not None:
            network.is_private = is_private
        await session.flush()
        described = await _describe(session, network, admin)
    if became_private:
        # Sockets of non-members that follow it (public networks can be read unjoined) stop.
        await services.broker.publish(
            network_topic(network_id), dumps({"type": "unsubscribed", "network_id": network_id})
        )
    return described


async def member_suggestions(
    db: Database, user: User, network_id: int, query: str, limit: int = 8
) -> list[dict[str, Any]]:
    """Members whose username or a word of their name starts with the query, accents ignored."""
    folded = fold(query.strip().lstrip("@"))
    async with db.read() as session:
        await readable_network(session, user, network_id)
        statement = (
            select(User, Organisation)
            .join(Membership, Membership.user_id == User.id)
            .join(Organisation, Organisation.id == User.organisation_id)
            .where(Membership.network_id == network_id)
            .order_by(User.username)
        )
        if folded:
            escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            statement = statement.where(
                User.search_name.like(f"{escaped}%", escape="\\")
                | User.search_name.like(f"% {escaped}%", escape="\\")
            )
        rows = (await session.execute(statement.limit(limit))).all()
    return [
        {
            "id": member.id,
            "username": member.username,
            "display_name": member.display_name,
            "organisation": {"name": organisation.name, "type": organisation.type},
        }
        for member, organisation in rows
    ]
