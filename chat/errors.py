"""Errors a user can cause: a stable code, a message, and the HTTP status that goes with it."""

from __future__ import annotations


class ActionError(Exception):
    """Raised by the actions layer; routes and the hub turn it into an error response or frame."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def not_found(what: str) -> ActionError:
    return ActionError(f"{what}_not_found", f"No such {what.replace('_', ' ')}.", 404)
