"""Search terms and snippets (chat.search_terms): what both databases index and what a hit shows,
with "…" only where the text was cut."""

from __future__ import annotations

from chat.search_terms import SNIPPET_WORDS, index_terms, query_terms, snippet


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


def test_words_are_folded_stemmed_and_codes_kept_whole() -> None:
    assert query_terms("Woningen FINANCIËLE") == ["woon", "financiel"]
    assert query_terms("Bbl 4.172") == ["bbl", "4_172"]
    assert "5_1" in index_terms("artikel 5.1.2")
    assert query_terms("de het een") == []


def test_a_snippet_marks_matched_words_and_escapes_the_rest() -> None:
    text = "<b>Twee</b> woningen & één woning"
    assert snippet(text, query_terms("woning")) == (
        "&lt;b&gt;Twee&lt;/b&gt; <mark>woningen</mark> &amp; één <mark>woning</mark>"
    )
    assert (
        snippet(text, query_terms("dakkapel"))
        == "&lt;b&gt;Twee&lt;/b&gt; woningen &amp; één woning"
    )


def test_a_snippet_starts_shortly_before_the_first_match_of_a_long_text() -> None:
    words = [f"w{i}" for i in range(100)]
    words[60] = "kamerverhuur"
    words[70] = "Kamerverhuur."
    shown = snippet(" ".join(words), query_terms("kamerverhuur"))
    assert shown.startswith("… w55 w56")
    assert shown.endswith(" …") and shown.removesuffix(" …").rstrip().endswith("w84")
    assert shown.count("<mark>") == 2
    assert "<mark>Kamerverhuur.</mark>" in shown
    assert snippet("  kort  ", ["kort"]) == "<mark>kort</mark>"
    assert snippet("", ["kort"]) == ""
