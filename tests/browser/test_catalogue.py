"""The web client's texts are complete: every template string has Dutch, every string a script
asks for is rendered into the page. (Static checks; they need no browser.)"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "chat/locale/nl/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def template_messages() -> dict[str | tuple[str, ...], str]:
    found: dict[str | tuple[str, ...], str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "templates"),
        method_map=[("**.html", "jinja2")],
        options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found[message] = f"templates/{filename}:{lineno}"
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "chat"),
        method_map=[("**.py", "python")],
        keywords={"gettext_": None, "ngettext_": (1, 2), "N_": None},
    ):
        found[message] = f"chat/{filename}:{lineno}"
    return found


def catalogue() -> Catalog:
    with CATALOGUE.open(encoding="utf-8") as po_file:
        return read_po(po_file, locale="nl")


def test_every_interface_string_has_a_dutch_translation() -> None:
    messages = catalogue()
    missing = []
    for message, where in template_messages().items():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = messages.get(msgid)
        translated = entry is not None and all(
            entry.string if isinstance(entry.string, tuple) else [entry.string]
        )
        if not translated or entry.fuzzy:
            missing.append(f"{where}: {msgid!r}")
    assert missing == [], "untranslated:\n" + "\n".join(missing)


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for entry in catalogue():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != expected:
                wrong.append(f"{ids[0]!r} → {string!r}")
    assert wrong == [], "placeholders differ:\n" + "\n".join(wrong)


def test_every_script_string_is_rendered_into_the_page() -> None:
    base = (ROOT / "templates/base.html").read_text(encoding="utf-8")
    rendered = set(re.findall(r'^\s*"(\w+)": _\(', base, flags=re.MULTILINE))
    asked: set[str] = set()
    for script in (ROOT / "static/js").glob("*.js"):
        source = script.read_text(encoding="utf-8")
        asked |= set(re.findall(r"\bt\('(\w+)'", source))
        asked |= {
            f"{key}_{form}"
            for key in re.findall(r"\btn\('(\w+)'", source)
            for form in ("one", "other")
        }
        for first, second in re.findall(r"\bt\(\w+ \? '(\w+)' : '(\w+)'", source):
            asked |= {first, second}
    # Keys built at run time: the socket's states, a pending message's states, error codes.
    states = ("connecting", "open", "offline", "forbidden", "closed")
    asked |= {f"connection_{state}" for state in states}
    asked |= {f"message_{state}" for state in ("pending", "stored", "delayed", "failed")}
    codes = ("not_a_member", "body_empty", "body_too_long", "rate_limited")
    asked |= {f"error_{code}" for code in codes}
    assert sorted(asked - rendered) == []
