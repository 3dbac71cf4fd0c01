"""The shapes that leave the server: messages, networks, notifications and the frames carrying them.

Each frame is serialised to JSON once, where it is made; the hub and the broker pass the string
on untouched, so a message fanned out to a thousand sockets is encoded one time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from chat.models import Message, Network, Notification, Organisation, User


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite hands stored times back without their (UTC) offset
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def author_dict(user: User, organisation: Organisation) -> dict[str, Any]:
    return author_fields(
        user.id, user.username, user.display_name, organisation.name, organisation.type
    )


def author_fields(
    user_id: Any, username: str, display_name: str, organisation: str, organisation_type: str
) -> dict[str, Any]:
    """The author as clients see it, from plain columns (history rows carry them)."""
    return {
        "id": user_id,
        "username": username,
        "display_name": display_name,
        "organisation": {"name": organisation, "type": organisation_type},
    }


def message_dict(
    message: Message | SimpleNamespace,
    network_slug: str,
    author: dict[str, Any],
    mentions: list[str],
    *,
    last_reply: dict[str, Any] | None = None,
    accepted_answer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": message.id,
        "network_id": message.network_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "body": message.body,
        "html": message.html,
        "kind": message.kind,
        "created_at": iso(message.created_at),
        "author": author,
        "mentions": mentions,
        "permalink": f"/n/{network_slug}/m/{message.seq}",
        "thread_root_id": message.thread_root_id,
        "tags": message.tags.split() if message.tags else [],
        "reply_count": message.reply_count or 0,
        "last_reply": last_reply,
        "accepted_answer": accepted_answer,
        "is_demo": bool(message.is_demo),
    }


def reply_summary(reply: dict[str, Any]) -> dict[str, Any]:
    """The newest reply of a thread as its root shows it: who, when, and where to find it."""
    return {
        "id": reply["id"],
        "seq": reply["seq"],
        "created_at": reply["created_at"],
        "author": reply["author"],
        "body": reply["body"][:280],
    }


def network_dict(network: Network, *, member_count: int, is_member: bool) -> dict[str, Any]:
    return {
        "id": network.id,
        "slug": network.slug,
        "name": network.name,
        "description": network.description,
        "is_private": network.is_private,
        "member_count": member_count,
        "is_member": is_member,
        "last_seq": network.last_seq,
    }


def network_ref(network: Network) -> dict[str, Any]:
    return {"id": network.id, "slug": network.slug, "name": network.name}


def notification_dict(
    notification: Notification, network: Network, message: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": notification.id,
        "user_seq": notification.user_seq,
        "kind": notification.kind,
        "created_at": iso(notification.created_at),
        "read": notification.read_at is not None,
        "network": network_ref(network),
        "message": message,
    }


def event_frame(network_id: int, seq: int, kind: str, message: dict[str, Any], **extra: Any) -> str:
    return dumps(
        {
            "type": "event",
            "network_id": network_id,
            "seq": seq,
            "kind": kind,
            "message": message,
            **extra,
        }
    )


def notification_frame(notification: dict[str, Any]) -> str:
    return dumps(
        {"type": "notification", "user_seq": notification["user_seq"], "notification": notification}
    )


def network_topic(network_id: int) -> str:
    return f"network:{network_id}"


def user_topic(user_id: int) -> str:
    return f"user:{user_id}"
