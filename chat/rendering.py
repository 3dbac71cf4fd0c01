"""Message text to safe HTML, and the @mentions in it (outside code and quotes)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

#: usernames are 3–32 characters of lowercase letters, digits, '.', '_' and '-'.
USERNAME_PATTERN = r"[a-z0-9][a-z0-9._-]{1,30}[a-z0-9]"
_MENTION = re.compile(rf"(?<![\w@.])@({USERNAME_PATTERN})(?![\w-])", re.IGNORECASE)

# Raw HTML in the text is shown as text ("html": False); links only to safe schemes.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
_markdown.disable(["image"])

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "del",
}  # fmt: skip


@dataclass(frozen=True)
class RenderedText:
    html: str
    mentioned_usernames: tuple[str, ...]


def render_message(body: str) -> RenderedText:
    """Render once at write time: every reader gets the same sanitised HTML."""
    tokens = _markdown.parse(body)
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    safe_html = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return RenderedText(html=safe_html, mentioned_usernames=tuple(_mentions(tokens)))


def _mentions(tokens: list[Token]) -> list[str]:
    """Usernames mentioned in plain text; code spans, code blocks and quotes do not count."""
    found: dict[str, None] = {}
    quote_depth = 0
    for token in tokens:
        if token.type == "blockquote_open":
            quote_depth += 1
        elif token.type == "blockquote_close":
            quote_depth -= 1
        elif token.type == "inline" and quote_depth == 0:
            for child in token.children or []:
                if child.type == "text":
                    for match in _MENTION.finditer(child.content):
                        found.setdefault(match.group(1).lower(), None)
    return list(found)
