"""The WebSocket protocol's vocabulary: client frame types, close codes, and frame checks.

docs/protocol.md documents each of these; tests/test_docs.py fails when one is missing there.
"""

from __future__ import annotations

import json
from typing import Any

from chat.errors import ActionError

#: The largest id or seq a client may name. Ids are PostgreSQL ``integer`` columns: a larger
#: number names nothing, and must not reach the database, which refuses it with an error (in a
#: group commit, for every send of the batch). 2**31 - 1 messages is more than a network will hold.
LARGEST_ID = 2**31 - 1


def is_id(value: object) -> bool:
    """Whether a client's value can name an id or seq (bool is an int in Python; true is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LARGEST_ID


CLIENT_FRAME_TYPES = ("subscribe", "unsubscribe", "send", "sync_notifications", "ping")
SERVER_FRAME_TYPES = (
    "session_ended",
    "welcome",
    "event",
    "subscribed",
    "unsubscribed",
    "ack",
    "notification",
    "notifications_synced",
    "pong",
    "error",
)

CLOSE_SLOW_CONSUMER = 4001
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_ORIGIN_NOT_ALLOWED = 4403
CLOSE_FLOOD = 4429
CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012
CLOSE_CODES = (
    1000,
    CLOSE_TOO_BIG,
    CLOSE_SERVICE_RESTART,
    CLOSE_SLOW_CONSUMER,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_ORIGIN_NOT_ALLOWED,
    CLOSE_FLOOD,
)


def parse_frame(text: str) -> dict[str, Any]:
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ActionError("invalid_json", "The frame is not valid JSON.") from error
    if not isinstance(frame, dict):
        raise ActionError("invalid_json", "A frame is a JSON object.")
    if frame.get("type") not in CLIENT_FRAME_TYPES:
        raise ActionError(
            "unknown_type", f"Unknown frame type; expected one of {', '.join(CLIENT_FRAME_TYPES)}."
        )
    return frame


def int_field(frame: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = frame.get(name)
    if value is None and not required:
        return None
    if not is_id(value):
        raise ActionError("invalid_frame", f"'{name}' must be a non-negative integer.")
    return value


def error_frame(error: ActionError, ref: object = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": error.code, "message": error.message}
    if isinstance(ref, str):
        frame["ref"] = ref[:64]
    # ASCII escapes: a ref echoed from a hostile frame may hold lone surrogates.
    return json.dumps(frame)
