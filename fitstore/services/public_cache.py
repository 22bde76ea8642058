"""A short-lived, per-process cache for public aggregates that are the same for everybody.

The public dashboard counts over every rollout of every published listing (well over a
million rows nationally); recounting them for each visitor costs seconds per page.
These figures are public, identical for every visitor and may lag a little: a change
shows on the dashboard within ``PUBLIC_CACHE_SECONDS`` (default 60; 0 switches the
cache off, as it is under ``TESTING``, where every test expects its own writes at once).

Each process keeps its own copy (no serialisation, nothing shared to poison); with a few
gunicorn workers that is a few recounts per minute in total. Only plain values are
cached (numbers, strings, dates, frozen dataclasses, rendered public HTML), never ORM
objects, which belong to one database session, and never anything of one visitor.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

DEFAULT_SECONDS = 60
# Two stores with their own bounds, least recently used out first: figures are small (a
# few hundred numbers each), rendered page parts up to a megabyte (the map of all Kreise).
# The bounds only keep a crawler that walks every listing and sort order from growing
# a worker's memory without end.
FIGURES = "figures"
PAGES = "pages"
MAX_ENTRIES = {FIGURES: 2048, PAGES: 64}
_EXTENSION_KEY = "fitstore.public_cache"

T = TypeVar("T")

_lock = threading.Lock()


def _now() -> float:
    return time.monotonic()


def lifetime() -> float:
    app = current_app
    default = 0 if app.testing else DEFAULT_SECONDS
    return float(app.config.get("PUBLIC_CACHE_SECONDS", default))


def _store(name: str) -> OrderedDict:
    stores = current_app.extensions.setdefault(_EXTENSION_KEY, {})
    return stores.setdefault(name, OrderedDict())


def cached(key: Hashable, compute: Callable[[], T], store: str = FIGURES) -> T:
    """``compute()``'s value, reused for the configured seconds in this process."""
    seconds = lifetime()
    if seconds <= 0:
        return compute()
    now = _now()
    with _lock:
        entries = _store(store)
        entry = entries.get(key)
        if entry is not None and entry[0] > now:
            entries.move_to_end(key)
            return entry[1]
    value = compute()
    with _lock:
        entries = _store(store)
        entries[key] = (now + seconds, value)
        entries.move_to_end(key)
        while len(entries) > MAX_ENTRIES[store]:
            entries.popitem(last=False)
    return value


def clear() -> None:
    """Forget every cached value of the current app."""
    with _lock:
        current_app.extensions.pop(_EXTENSION_KEY, None)
