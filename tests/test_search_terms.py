"""Search snippets: the matched words marked, and "…" only where the text was cut."""

from __future__ import annotations

from chat.search_terms import SNIPPET_WORDS, query_terms, snippet


def words(count: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{n}" for n in range(count))


def test_a_short_text_is_shown_whole_without_ellipsis() -> None:
    text = "Een, twee, drie, vier, vijf, zes: de woningen aan de Oudegracht."
    shown = snippet(text, query_terms("woningen"))
    assert shown == "Een, twee, drie, vier, vijf, zes: de <mark>woningen</mark> aan de Oudegracht."


def test_a_text_that_just_fits_is_not_cut() -> None:
    text = f"{words(SNIPPET_WORDS - 1)} woningen"
    shown = snippet(text, query_terms("woningen"))
    assert "…" not in shown
    assert shown.startswith("w0 ") and shown.endswith("<mark>woningen</mark>")


def test_ellipses_mark_only_the_ends_that_were_cut() -> None:
    terms = query_terms("woningen")
    at_start = snippet(f"woningen {words(60)}", terms)
    assert at_start.startswith("<mark>woningen</mark> w0 ") and at_start.endswith(" …")
    at_end = snippet(f"{words(60)} woningen", terms)
    assert at_end.startswith("… ") and at_end.endswith("w59 <mark>woningen</mark>")
    assert len(at_end.split()) == SNIPPET_WORDS + 1, "a full window of words after the …"
    middle = snippet(f"{words(40)} woningen {words(40, 'v')}", terms)
    assert middle.startswith("… w35 w36 w37 w38 w39 <mark>") and middle.endswith(" …")
    assert "<mark>woningen</mark>" in middle


def test_text_is_escaped_and_whitespace_kept_between_words() -> None:
    shown = snippet("<b>woningen</b>\n\nen <i>meer</i>", query_terms("woningen"))
    assert shown == "<mark>&lt;b&gt;woningen&lt;/b&gt;</mark>\n\nen &lt;i&gt;meer&lt;/i&gt;"
