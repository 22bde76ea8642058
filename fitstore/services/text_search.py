"""German word stems for full-text search where the database has no German stemmer (SQLite).

PostgreSQL uses its own ``german`` text search configuration (Snowball as well),
so both databases find "Aufenthaltstitel" for "Aufenthaltstitels".
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import snowballstemmer

_WORD = re.compile(r"[0-9a-zäöüß]+")


@lru_cache(maxsize=1)
def _stemmer():
    return snowballstemmer.stemmer("german")


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    path = Path(__file__).resolve().parent.parent / "data" / "german-stopwords.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def words_of(text: str) -> list[str]:
    """The searchable words of ``text``: lower case, German stop words ("und", "für") dropped,
    as PostgreSQL's german configuration drops them."""
    stop = _stop_words()
    return [word for word in _WORD.findall((text or "").lower()) if word not in stop]


def stems_of(text: str) -> list[str]:
    words = words_of(text)
    return _stemmer().stemWords(words) if words else []
