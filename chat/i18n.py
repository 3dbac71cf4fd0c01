"""Interface language: gettext catalogues (Dutch by default, English as the source language).

The ``.po`` files are compiled in memory at start-up, so a checkout runs without a build step.
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from functools import cache
from importlib import resources

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LANGUAGE_COOKIE = "bwt_lang"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    po_file = resources.files("chat").joinpath(f"locale/{language}/LC_MESSAGES/messages.po")
    if not po_file.is_file():
        return gettext.NullTranslations()
    catalog = read_po(io.StringIO(po_file.read_text(encoding="utf-8")), locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


def gettext_(message: str) -> str:
    return translations(current_language.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(current_language.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 (the name pybabel looks for)
    """Mark a text for the catalogue where it is defined; it is translated where it is shown."""
    return message


def pick_language(query_value: str | None, cookie_value: str | None) -> str:
    for candidate in (query_value, cookie_value):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE
