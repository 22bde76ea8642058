"""Short-lived caching (Flask-Caching) of public aggregates that are the same for everybody.

The public dashboard counts over every rollout of every published listing (well over a
million rows nationally); recounting them for each visitor costs seconds per page.
These figures are public, identical for every visitor and may lag a little: a change
shows on the dashboard within ``PUBLIC_CACHE_SECONDS`` (default 60; 0 switches the
cache off, as the tests do, where every test expects its own writes at once).

Where the values live is Flask-Caching's choice by ``CACHE_TYPE``: ``SimpleCache`` (the
default) keeps a copy per worker process; ``RedisCache`` with ``CACHE_REDIS_URL`` shares
one copy between every worker of every node, so the figures are counted once a minute in
all. Only plain values are cached (numbers, strings, dates, frozen dataclasses, rendered
public HTML), never ORM objects, which belong to one database session, and never
anything of one visitor.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import Flask, current_app
from flask_caching import Cache

DEFAULT_SECONDS = 60
# Two stores with their own bounds (per worker with SimpleCache): figures are small (a
# few hundred numbers each), rendered page parts up to a megabyte (the map of all Kreise).
# The bounds only keep a crawler that walks every listing and sort order from growing a
# worker's memory without end; in Redis every entry expires after the lifetime anyway.
FIGURES = "figures"
PAGES = "pages"
MAX_ENTRIES = {FIGURES: 2048, PAGES: 64}

T = TypeVar("T")

_stores = {name: Cache() for name in MAX_ENTRIES}


def init_app(app: Flask) -> None:
    prefix = app.config.get("CACHE_KEY_PREFIX") or "fitstore:"
    for name, store in _stores.items():
        store.init_app(
            app,
            config={
                **{key: value for key, value in app.config.items() if key.startswith("CACHE_")},
                "CACHE_THRESHOLD": MAX_ENTRIES[name],
                "CACHE_DEFAULT_TIMEOUT": DEFAULT_SECONDS,
                "CACHE_KEY_PREFIX": f"{prefix}public-{name}:",
            },
        )


def lifetime() -> float:
    return float(current_app.config["PUBLIC_CACHE_SECONDS"])


def cached(key: Hashable, compute: Callable[[], T], store: str = FIGURES) -> T:
    """``compute()``'s value, reused for the configured seconds."""
    seconds = lifetime()
    if seconds <= 0:
        return compute()
    cache = _stores[store]
    name = repr(key)
    # Wrapped in a tuple: a cached None is a hit, a missing entry is None.
    hit = cache.get(name)
    if hit is not None:
        return hit[0]
    value = compute()
    cache.set(name, (value,), timeout=max(1, round(seconds)))
    return value


def clear() -> None:
    """Forget every cached value of the current app."""
    for store in _stores.values():
        store.clear()
