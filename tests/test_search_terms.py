"""Search terms and snippets (chat.search_terms): what both databases index and what a hit shows."""

from __future__ import annotations

from chat.search_terms import index_terms, query_terms, snippet


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
