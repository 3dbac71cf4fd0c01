"""Folding text for matching: "Anaïs" and "anais" are the same to autocomplete."""

from __future__ import annotations

import unicodedata


def fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
