"""Documentation that cannot rot: frames, close codes, error codes and settings are written down."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chat import protocol
from chat.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHAT = Path(__file__).resolve().parent.parent / "chat"


def documented_headings(path: Path) -> set[str]:
    return set(re.findall(r"^### `([a-z_]+)`", path.read_text(), re.MULTILINE))


@pytest.mark.parametrize("frame_type", protocol.CLIENT_FRAME_TYPES + protocol.SERVER_FRAME_TYPES)
def test_every_frame_type_has_a_section_in_the_protocol(frame_type: str) -> None:
    assert frame_type in documented_headings(DOCS / "protocol.md")


def test_every_frame_type_sent_by_the_code_is_declared() -> None:
    """A new `{"type": "..."}` in the code must be added to protocol.py (and so to the docs)."""
    sent = set()
    for source in CHAT.rglob("*.py"):
        sent |= set(re.findall(r'"type":\s*"([a-z_]+)"', source.read_text()))
    assert sent <= set(protocol.SERVER_FRAME_TYPES), sent - set(protocol.SERVER_FRAME_TYPES)


@pytest.mark.parametrize("code", protocol.CLOSE_CODES)
def test_every_close_code_is_in_the_protocol(code: int) -> None:
    assert re.search(rf"^\| {code} \|", (DOCS / "protocol.md").read_text(), re.MULTILINE)


def test_every_error_code_is_documented() -> None:
    raised = set()
    for source in CHAT.rglob("*.py"):
        text = source.read_text()
        raised |= set(re.findall(r'ActionError\(\s*"([a-z_]+)"', text))
        raised |= {f"{what}_not_found" for what in re.findall(r'not_found\("([a-z_]+)"\)', text)}
    documented = (DOCS / "protocol.md").read_text() + (DOCS / "http-api.md").read_text()
    missing = sorted(code for code in raised if f"`{code}`" not in documented)
    assert not missing, f"error codes not documented: {missing}"


@pytest.mark.parametrize("setting", sorted(Settings.model_fields))
def test_every_setting_is_documented(setting: str) -> None:
    assert f"`BWT_{setting.upper()}`" in (DOCS / "operations.md").read_text()


def documented_routes() -> set[tuple[str, str]]:
    """("GET", "/api/networks/{}/messages") for every `METHOD /path` in docs/http-api.md."""
    text = (DOCS / "http-api.md").read_text()
    found = set()
    for methods, path in re.findall(r"`([A-Z]+(?:/[A-Z]+)*) (/[^`\s?]*)", text):
        for method in methods.split("/"):
            found.add((method, re.sub(r"\{[^}]*\}", "{}", path)))
    return found


def served_routes() -> list[tuple[str, str]]:
    from chat import api, api_knowledge, web, web_knowledge

    return sorted(
        (method, re.sub(r"\{[^}]*\}", "{}", route.path))
        for module in (api, api_knowledge, web, web_knowledge)
        for route in module.routes
        for method in route.methods or ()
        if method != "HEAD"
    )


@pytest.mark.parametrize("route", served_routes(), ids=" ".join)
def test_every_route_is_documented(route: tuple[str, str]) -> None:
    assert route in documented_routes()
