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
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
_markdown.disable(["image"])
_markdown.enable("linkify")
# Only addresses with a scheme or www.: "@jan.de-vries" is a mention, not the site jan.de.
_markdown.linkify.set({"fuzzy_link": False, "fuzzy_email": False})

_ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "del",
}  # fmt: skip


#: Text that Markdown leaves as it is: one line of letters, digits, spaces and plain punctuation,
#: starting with a letter and not ending in a space (no list, heading, quote, code, link, entity
#: or mention can start or hide in it). Most chat messages are such text; tests check that the
#: full renderer agrees.
_PLAIN = re.compile(r"[^\W\d_](?:[^\W_]|[ ,.;?!'()%+=-])*(?<! )")


@dataclass(frozen=True)
class RenderedText:
    html: str
    mentioned_usernames: tuple[str, ...]


def render_message(body: str) -> RenderedText:
    """Render once at write time: every reader gets the same sanitised HTML."""
    if _PLAIN.fullmatch(body):
        # What Markdown and the sanitiser would make of it, at a hundredth of the cost.
        return RenderedText(html=f"<p>{body}</p>\n", mentioned_usernames=())
    return render_markdown(body)


def render_markdown(body: str) -> RenderedText:
    """Markdown to sanitised HTML, marking the mentions."""
    tokens = _markdown.parse(body)
    mentioned = _mark_mentions(tokens)
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    safe_html = nh3.clean(
        html,
        tags=_ALLOWED_TAGS | {"span"},
        attributes={"a": {"href", "title"}},
        allowed_classes={"span": {"mention"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return RenderedText(html=safe_html, mentioned_usernames=tuple(mentioned))


def _mark_mentions(tokens: list[Token]) -> list[str]:
    """Find the usernames mentioned in plain text and wrap each in ``<span class="mention">``.

    Code spans, code blocks and quotes do not count: quoting someone does not call them again.
    """
    found: dict[str, None] = {}
    quote_depth = 0
    for token in tokens:
        if token.type == "blockquote_open":
            quote_depth += 1
        elif token.type == "blockquote_close":
            quote_depth -= 1
        elif token.type == "inline" and quote_depth == 0 and token.children:
            children: list[Token] = []
            for child in token.children:
                if child.type != "text" or "@" not in child.content:
                    children.append(child)
                    continue
                position = 0
                for match in _MENTION.finditer(child.content):
                    found.setdefault(match.group(1).lower(), None)
                    children.append(_text(child.content[position : match.start()]))
                    children.append(Token("html_inline", "", 0, content='<span class="mention">'))
                    children.append(_text(match.group(0)))
                    children.append(Token("html_inline", "", 0, content="</span>"))
                    position = match.end()
                children.append(_text(child.content[position:]))
            token.children = children
    return list(found)


def _text(content: str) -> Token:
    return Token("text", "", 0, content=content)
