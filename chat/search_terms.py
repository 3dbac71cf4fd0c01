"""Message text to search terms: Dutch stems without accents, codes kept whole and in parts.

Both databases index the terms made here (SQLite FTS5 and a PostgreSQL tsvector), so stemming,
accent folding and code matching behave the same on both: "woningen" finds "woning",
"financiele" finds "financiële", "Bbl 4.172" finds "artikel 4.172 Bbl" and "4.172" alone.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import snowballstemmer

from chat.text import fold

#: a word, or words and numbers joined by . - _ / (codes, file names, hyphenated words).
_TOKEN = re.compile(r"\w+(?:[./_-]\w+)*")
_PART = re.compile(r"[./_-]")
#: the characters a term may contain: FTS5 keeps '_' inside a token (tokenchars), tsquery
#: takes a quoted lexeme literally.
JOIN = "_"

# Words too common to tell messages apart (the Snowball Dutch stop list, shortened).
STOPWORDS = frozenset(
    """aan al alles als altijd andere ben bij daar dan dat de der deze die dit doch doen door dus
    een eens en er ge geen geweest haar had heb hebben heeft hem het hier hij hoe hun iemand iets
    ik in is ja je kan kon kunnen maar me meer men met mij mijn moet na naar niet niets nog nu of
    om omdat onder ons ook op over reeds te tegen toch toen tot u uit uw van veel voor want waren
    was wat werd wezen wie wil worden wordt zal ze zelf zich zij zijn zo zonder zou""".split()
)

_stemmer = snowballstemmer.stemmer("dutch")
#: longer "words" (a pasted hash, a row of x's) are not searched for: not stemmed, not indexed.
MAX_TERM = 64


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball Dutch stem of a folded word; numbers and short words stay as they are."""
    if len(word) < 3 or not word.isalpha():
        return word
    return _stemmer.stemWord(word)  # type: ignore[no-any-return]


def _token_terms(token: str) -> list[str]:
    parts = [part for part in _PART.split(token) if part and len(part) <= MAX_TERM]
    terms: list[str] = []
    if len(parts) > 1 and len(token) <= MAX_TERM:
        terms.append(JOIN.join(parts))
        if all(part.isdigit() for part in parts[:2]):
            # "5.1.2" is also found by "5.1": an article is found by its chapter's number.
            terms.extend(JOIN.join(parts[:n]) for n in range(2, len(parts)))
    terms.extend(stem(part) for part in parts if part not in STOPWORDS)
    return terms


def index_terms(*texts: str) -> list[str]:
    """The terms of a text in order (with repeats, so ranking can count them)."""
    terms: list[str] = []
    for text in texts:
        for token in _TOKEN.findall(fold(text)):
            terms.extend(_token_terms(token))
    return terms


def query_terms(query: str) -> list[str]:
    """One term per word of a query: a code or hyphenated word as a whole, a word as its stem.

    Every term must match (AND). Stop words are dropped unless the query is nothing else.
    """
    found: dict[str, None] = {}
    for token in _TOKEN.findall(fold(query)):
        parts = [part for part in _PART.split(token) if part]
        if len(parts) > 1:
            found.setdefault(JOIN.join(parts), None)
        elif parts[0] not in STOPWORDS:
            found.setdefault(stem(parts[0]), None)
    return list(found)[:12]


def tag_list(raw: object) -> list[str]:
    """Free tags as typed: "#Asbest, sloop" → ["asbest", "sloop"]; at most 8, each ≤ 40 chars."""
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else re.split(r"[,\s]+", str(raw))
    tags: dict[str, None] = {}
    for item in items:
        tag = str(item).strip().lstrip("#").lower()
        if tag:
            tags.setdefault(tag[:40], None)
    return list(tags)[:8]


SNIPPET_WORDS = 30


def _word_terms(word: str) -> frozenset[str]:
    found: set[str] = set()
    for token in _TOKEN.findall(fold(word)):
        found.update(_token_terms(token))
    return frozenset(found)


#: the words of messages repeat: a snippet looks each one up once, not once per result.
_cached_word_terms = lru_cache(maxsize=16384)(_word_terms)


def _matches(word: str, wanted: set[str]) -> bool:
    terms = _cached_word_terms(word) if len(word) <= MAX_TERM else _word_terms(word)
    return not terms.isdisjoint(wanted)


def snippet(text: str, terms: list[str]) -> str:
    """An HTML excerpt of ``text`` around the first match, matched words in <mark>, rest escaped."""
    wanted = set(terms)
    words = re.split(r"(\s+)", text.strip())  # words at even indexes, whitespace between
    first = next((i for i in range(0, len(words), 2) if _matches(words[i], wanted)), 0)
    # SNIPPET_WORDS words and the whitespace between them.
    span = SNIPPET_WORDS * 2 - 1
    # Five words before the first match, unless the window would then run past the end: it
    # starts earlier instead, so a text that fits is shown whole and "…" marks only real cuts.
    start = max(0, min(first - 10, len(words) - span))
    end = min(len(words), start + span)
    out = ["… "] if start > 0 else []
    for index in range(start, end):
        escaped = html.escape(words[index])
        hit = index % 2 == 0 and index >= first and _matches(words[index], wanted)
        out.append(f"<mark>{escaped}</mark>" if hit else escaped)
    if end < len(words):
        out.append(" …")
    return "".join(out)
