"""Message text to safe HTML, and which @mentions count."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.rendering import _PLAIN, render_markdown, render_message


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[klik](javascript:alert(1))",
        "[klik](JAVASCRIPT:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        "![plaatje](https://example.com/x.png)",
        '<iframe src="https://evil.example"></iframe>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    ],
)
def test_html_and_scripts_become_text(text: str) -> None:
    html = render_message(text).html.lower()
    for dangerous in ("<script", "<img", "<iframe", 'href="javascript', 'href="data:', "<a href='"):
        assert dangerous not in html, (text, html)


def test_markdown_renders_and_links_are_safe() -> None:
    html = render_message("**Let op**: zie [artikel 5.1](https://wetten.overheid.nl/)").html
    assert "<strong>Let op</strong>" in html
    assert (
        'href="https://wetten.overheid.nl/"' in html
        and 'rel="noopener noreferrer nofollow"' in html
    )


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("@anna kijk even", ("anna",)),
        ("@Anna en @anna en @ANNA", ("anna",)),
        ("@anna, @bram.de-vries.", ("anna", "bram.de-vries")),
        ("`@anna` in code", ()),
        ("```\n@anna in een codeblok\n```", ()),
        ("> @anna in een citaat\n\nmaar @bram niet", ("bram",)),
        ("mail naar anna@utrecht.nl", ()),
        ("@a te kort", ()),
    ],
)
def test_which_mentions_count(text: str, mentioned: tuple[str, ...]) -> None:
    assert render_message(text).mentioned_usernames == mentioned


def test_mentions_are_marked_for_the_reader_but_cannot_be_forged() -> None:
    html = render_message("@anna kijk even").html
    assert html == '<p><span class="mention">@anna</span> kijk even</p>\n'
    forged = render_message('<span class="mention">iedereen</span>').html
    assert '<span class="mention">iedereen' not in forged


def test_bare_addresses_become_links_but_mentions_stay_mentions() -> None:
    rendered = render_message("zie https://www.omgevingswet.nl en @jan.de-vries")
    assert '<a href="https://www.omgevingswet.nl"' in rendered.html
    assert rendered.mentioned_usernames == ("jan.de-vries",)
    assert "<a" not in render_message("javascript:alert(1) en data:text/html,x").html


@pytest.mark.parametrize(
    "text",
    [
        "Overleg over de handhaving van dit dossier.",
        "it's (ok) 50% a-b, c; d? e! f+g=h.",
        "www.example.nl is geen link",
        "Ab 1. 2) 3 - 4 = 5",
        "Één ü ß 中文 ٣",
        "a  b",
    ],
)
def test_plain_text_renders_as_markdown_would(text: str) -> None:
    assert render_message(text) == render_markdown(text)
    assert render_message(text).html == f"<p>{text}</p>\n"


@settings(max_examples=500, deadline=None)
@given(st.from_regex(_PLAIN, fullmatch=True))
def test_the_plain_text_shortcut_agrees_with_markdown(text: str) -> None:
    assert render_message(text) == render_markdown(text)


@pytest.mark.parametrize(
    "text", ["1. lijst", "- lijst", "# kop", "> citaat", "a_b_", "x *y*", "@bram", "a & b"]
)
def test_markdown_is_not_taken_for_plain_text(text: str) -> None:
    assert not _PLAIN.fullmatch(text)
