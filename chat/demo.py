"""`bwt demo`: a small, clearly marked set of Dutch example posts, and removing it again.

Loaded only when asked for. Every example message has ``is_demo`` set (the client shows it as
*Voorbeeld*) and is written by one of the example users below, whose organisation is
"Voorbeeldorganisatie (demo)". `bwt demo --remove` deletes those users, their messages with
everything that hangs on them (replies in their threads included), and their index entries.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, or_, select, update

from chat.actions import Services, accounts
from chat.actions.messages import send_message
from chat.actions.networks import join_network
from chat.actions.posts import check_post
from chat.actions.threads import accept_answer
from chat.models import (
    Membership,
    Mention,
    Message,
    Network,
    NetworkEvent,
    Notification,
    Organisation,
    ThreadFollow,
    User,
)
from chat.search_index import reindex_answered, unindex_messages

DEMO_ORGANISATION = "Voorbeeldorganisatie (demo)"
DEMO_USERS = {
    "voorbeeld-inspecteur": ("Voorbeeld: inspecteur", "toezichthouder"),
    "voorbeeld-jurist": ("Voorbeeld: jurist", "jurist"),
    "voorbeeld-beleid": ("Voorbeeld: beleidsadviseur", "beleidsmedewerker"),
}

#: (network slug, author, kind, tags, text, [(author, reply)], index of the accepted reply)
EXAMPLES = [
    (
        "recreatieparken", "voorbeeld-inspecteur", "question", "permanente-bewoning",
        "Mag een recreatiewoning permanent bewoond worden als de eigenaar er al jaren woont?",
        [
            ("voorbeeld-jurist", "Nee, tenzij er een persoonsgebonden beschikking is of het "
             "omgevingsplan permanente bewoning toestaat. Lang gedogen geeft geen recht."),
            ("voorbeeld-beleid", "Wij werken met een overgangstermijn van een jaar."),
        ],
        0,
    ),
    (
        "bouwregelgeving-bbl", "voorbeeld-beleid", "question", "brandveiligheid",
        "Welke eisen stelt Bbl 4.172 aan rookmelders in een logiesfunctie?",
        [("voorbeeld-inspecteur", "Afdeling 4.2 Bbl: rookmelders op elke verdieping en in "
          "elke logiesverblijfsruimte, aangesloten op het elektriciteitsnet.")],
        0,
    ),
    (
        "woonoverlast", "voorbeeld-jurist", "good_example", "dwangsom, kamerverhuur",
        "Goed voorbeeld: een last onder dwangsom met een korte begunstigingstermijn, "
        "onderbouwd met foto's en twee controlerapporten, hield stand bij de Raad van State.",
        [], None,
    ),
    (
        "omgevingswet", "voorbeeld-beleid", "new_policy", "omgevingsplan, bruidsschat",
        "Nieuw beleid: de bruidsschat-regels over kamerverhuur worden per 1 januari vervangen "
        "door een vergunningplicht in het omgevingsplan.",
        [], None,
    ),
    (
        "huisvesting-arbeidsmigranten", "voorbeeld-inspecteur", "lesson", "controle",
        "Leerpunt: controleer 's avonds; overdag staan de woningen leeg en lijkt alles in orde.",
        [], None,
    ),
]  # fmt: skip


async def load_demo(services: Services) -> int:
    """Add the examples (again, if they were removed); answers how many messages were added."""
    users = {}
    for username, (display_name, role) in DEMO_USERS.items():
        async with services.db.read() as session:
            user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            registration = accounts.Registration(
                display_name, username, f"{username}@demo.invalid", uuid.uuid4().hex,
                role, DEMO_ORGANISATION, "other",
            )  # fmt: skip
            user = await accounts.register_user(services.db, registration)
        users[username] = user
    added = 0
    for slug, author, kind, tags, text, replies, accepted in EXAMPLES:
        async with services.db.read() as session:
            network_id = await session.scalar(select(Network.id).where(Network.slug == slug))
        if network_id is None:
            continue
        for user in users.values():
            await join_network(services.db, user, network_id)
        root = await send_message(
            services, users[author], network_id, f"demo-{uuid.uuid4().hex}", text,
            check_post(kind, tags, demo=True),
        )  # fmt: skip
        added += 1
        reply_ids = []
        for reply_author, reply in replies:
            sent = await send_message(
                services, users[reply_author], network_id, f"demo-{uuid.uuid4().hex}", reply,
                check_post(thread_root_id=root.message["id"], demo=True),
            )  # fmt: skip
            reply_ids.append(sent.message["id"])
            added += 1
        if accepted is not None:
            await accept_answer(services, users[author], root.message["id"], reply_ids[accepted])
    return added


async def remove_demo(services: Services) -> int:
    """Delete the example users and everything they wrote; answers how many messages went."""
    async with services.db.write() as session:
        user_ids = list(
            await session.scalars(select(User.id).where(User.username.in_(list(DEMO_USERS))))
        )
        roots = select(Message.id).where(Message.is_demo, Message.thread_root_id.is_(None))
        doomed = list(
            await session.scalars(
                select(Message.id).where(
                    or_(Message.is_demo, Message.author_id.in_(user_ids))
                    | Message.thread_root_id.in_(roots)
                )
            )
        )
        unanswered = list(
            await session.scalars(select(Message.id).where(Message.accepted_answer_id.in_(doomed)))
        )
        await session.execute(
            update(Message).where(Message.id.in_(unanswered)).values(accepted_answer_id=None)
        )
        await reindex_answered(session, unanswered)
        await session.execute(
            update(Message).where(Message.last_reply_id.in_(doomed)).values(last_reply_id=None)
        )
        await unindex_messages(session, doomed)
        for table, column in (
            (NetworkEvent, NetworkEvent.message_id),
            (Notification, Notification.message_id),
            (Mention, Mention.message_id),
            (ThreadFollow, ThreadFollow.message_id),
        ):
            await session.execute(delete(table).where(column.in_(doomed)))
        await session.execute(delete(Message).where(Message.thread_root_id.in_(doomed)))
        await session.execute(delete(Message).where(Message.id.in_(doomed)))
        for table, column in (
            (Notification, Notification.user_id),
            (Mention, Mention.user_id),
            (ThreadFollow, ThreadFollow.user_id),
            (Membership, Membership.user_id),
        ):
            await session.execute(delete(table).where(column.in_(user_ids)))
        await session.execute(delete(User).where(User.id.in_(user_ids)))
        await session.execute(
            delete(Organisation).where(
                Organisation.name == DEMO_ORGANISATION,
                ~Organisation.id.in_(select(User.organisation_id)),
            )
        )
    return len(doomed)
