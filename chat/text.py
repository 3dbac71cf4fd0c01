"""Text checks and folding: "Anaïs" and "anais" are the same to autocomplete."""

from __future__ import annotations

import unicodedata


def fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def is_encodable(value: str) -> bool:
    """Whether ``value`` is text UTF-8 can hold: JSON's "\\ud800" escapes make lone surrogates,
    which the database drivers refuse (failing every send stored with them)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
