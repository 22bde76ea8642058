"""German word stems for full-text search where the database has no German stemmer (SQLite).

PostgreSQL uses its own ``german`` text search configuration (Snowball as well),
so both databases find "Aufenthaltstitel" for "Aufenthaltstitels".
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[0-9a-zäöüß]+")


@lru_cache(maxsize=1)
def _stemmer():
    return snowballstemmer.stemmer("german")


def words_of(text: str) -> list[str]:
    return _WORD.findall((text or "").lower())


def stems_of(text: str) -> list[str]:
    words = words_of(text)
    return _stemmer().stemWords(words) if words else []
