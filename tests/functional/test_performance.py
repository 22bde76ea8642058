"""Pages that must stay cheap at national scale (bench/README.md): "Mein Land" shows one
page of each of its lists with a fixed number of queries, and the public dashboard keeps
its aggregates and content for a short while, never the visitor's own parts."""

from __future__ import annotations

import re
import time

import cachelib.simple
import pytest
from sqlalchemy import event, select

from fitstore.extensions import db
from fitstore.models import Listing, Reuse
from fitstore.services import reuses
from tests.conftest import login
from tests.factories import expressed_interest, published_listing

TOKEN = "Kranich"
PAGE_SIZE = 3


def publish(editor: str, title: str) -> int:
    return published_listing(editor, title)


def interest(adopter: str, listing_id: int) -> int:
    return expressed_interest(adopter, listing_id)


class Statements:
    """The SQL statements ``app`` sends while the block runs."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.seen: list[str] = []

    def _before(self, _conn, _cursor, statement, *_args):
        if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK TO)", statement):
            self.seen.append(statement)

    def __enter__(self):
        self.seen.clear()
        event.listen(self.engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._before)


def rows_of(markup: str, section_id: str, attribute: str) -> list[str]:
    start = markup.index(f'id="{section_id}"')
    end = markup.find("</section>", start)
    return re.findall(rf'<tr class="kern-table__row" {attribute}="(\d+)"', markup[start:end])


def next_link(markup: str, section_id: str) -> str | None:
    start = markup.index(f'id="{section_id}"')
    end = markup.find("</section>", start)
    found = re.search(r'rel="next" href="([^"]+)"', markup[start:end])
    return found.group(1).replace("&amp;", "&") if found else None


def all_pages(client, section_id: str, attribute: str) -> list[list[str]]:
    pages, url = [], "/mein-land"
    while url:
        markup = client.get(url).get_data(as_text=True)
        pages.append(rows_of(markup, section_id, attribute))
        url = next_link(markup, section_id)
    return pages


# --- "Mein Land" ----------------------------------------------------------------------------


def test_mein_land_pages_its_lists_with_the_same_queries_however_many_reuses(
    app, client, monkeypatch
):
    monkeypatch.setattr(reuses, "LAND_DASHBOARD_PAGE_SIZE", PAGE_SIZE)
    login(client, "editor-by@demo.test")
    counter = Statements(app)
    client.get("/mein-land")  # anything done once per session happens here
    with counter:
        assert client.get("/mein-land").status_code == 200
    before = len(counter.seen)

    with app.app_context():
        # Bayern reuses four more services, provides four more, and each of those waits
        # for Bayern's answer to Hessen's interest.
        reused = [interest("editor-by", publish("editor-bb", f"{TOKEN} BB {n}")) for n in range(4)]
        provided = [publish("editor-by", f"{TOKEN} BY {n}") for n in range(4)]
        waiting = [interest("editor-he", listing_id) for listing_id in provided]
        total_reused = db.session.scalar(
            select(db.func.count()).select_from(Reuse).where(Reuse.adopter_land_ags == "09")
        )
        total_provided = db.session.scalar(
            select(db.func.count()).select_from(Listing).where(Listing.provider_land_ags == "09")
        )

    with counter:
        markup = client.get("/mein-land").get_data(as_text=True)
    assert len(counter.seen) == before
    for section_id, attribute in (
        ("wartet", "data-reuse"),
        ("nachnutzen", "data-reuse"),
        ("bereitstellen", "data-listing"),
    ):
        assert 0 < len(rows_of(markup, section_id, attribute)) <= PAGE_SIZE
        assert next_link(markup, section_id) is not None

    # Page by page, every row shows exactly once.
    reused_pages = all_pages(client, "nachnutzen", "data-reuse")
    reused_rows = [row for rows in reused_pages for row in rows]
    assert len(reused_rows) == len(set(reused_rows)) == total_reused
    assert {str(reuse_id) for reuse_id in reused} <= set(reused_rows)
    provided_rows = [
        row for rows in all_pages(client, "bereitstellen", "data-listing") for row in rows
    ]
    assert len(provided_rows) == len(set(provided_rows)) == total_provided
    waiting_rows = [row for rows in all_pages(client, "wartet", "data-reuse") for row in rows]
    assert {str(reuse_id) for reuse_id in waiting} <= set(waiting_rows)
    assert len(waiting_rows) == len(set(waiting_rows))
    assert f"{len(waiting_rows)} Nachnutzungen warten auf einen Schritt Ihres Landes" in markup


def test_a_later_page_keeps_the_other_lists_pages(app, client, monkeypatch):
    monkeypatch.setattr(reuses, "LAND_DASHBOARD_PAGE_SIZE", 1)
    login(client, "editor-bb@demo.test")
    markup = client.get("/mein-land?seite_bereitstellen=2").get_data(as_text=True)
    link = next_link(markup, "wartet")
    assert link is not None and "seite_bereitstellen=2" in link and "seite_wartet=2" in link


def test_the_waiting_condition_in_sql_matches_who_has_to_act(app):
    """The dashboard selects waiting reuses in SQL; it must agree with waiting_for()."""
    with app.app_context():
        every = list(db.session.scalars(select(Reuse)))
        for side in ("adopter", "provider"):
            selected = set(
                db.session.scalars(select(Reuse.id).where(reuses.waiting_for_condition(side)))
            )
            expected = {reuse.id for reuse in every if reuses.waiting_for(reuse) == side}
            assert expected, f"the demo data has no reuse waiting for the {side}"
            assert selected == expected


# --- the catalogue --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/katalog?q={term}", "/api/v1/listings?q={term}"])
def test_a_search_runs_the_same_queries_however_many_listings_match(app, client, path):
    term = f"{TOKEN}zug"
    with app.app_context():
        publish("editor-bb", f"{term} beantragen")
    counter = Statements(app)
    url = path.format(term=term)
    client.get(url)  # anything done once per process happens here

    def queries(address: str) -> tuple[int, str]:
        with counter:
            markup = client.get(address).get_data(as_text=True)
        return len(counter.seen), markup

    one_match, markup = queries(url)
    assert f"{term} beantragen" in markup
    with app.app_context():
        for n in range(3):
            publish("editor-he", f"{term} erneuern {n}")
    four_matches, markup = queries(url)
    assert all(f"{term} erneuern {n}" in markup for n in range(3))
    assert four_matches == one_match
    assert queries(path.format(term="Aufenthaltstitel"))[0] == one_match


# --- the public dashboard -------------------------------------------------------------------


def csrf_tokens(markup: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', markup))


@pytest.fixture
def cached_app(app_factory):
    return app_factory(PUBLIC_CACHE_SECONDS=60, WTF_CSRF_ENABLED=True)


def test_the_dashboard_is_counted_once_and_shown_to_everybody(cached_app):
    counter = Statements(cached_app)
    first, second = cached_app.test_client(), cached_app.test_client()
    with counter:
        one = first.get("/dashboard?ebene=kreise").get_data(as_text=True)
    assert any("rollout" in statement for statement in counter.seen)
    with counter:
        other = second.get("/dashboard?ebene=kreise").get_data(as_text=True)
    # No second count over the rollouts, and the same figures for the second visitor ...
    assert not any("rollout" in statement for statement in counter.seen)
    main = re.compile(r"<main.*</main>", re.S)
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    assert strip.sub("", main.search(one).group()) == strip.sub("", main.search(other).group())
    # ... but each visitor keeps their own session's CSRF token.
    assert csrf_tokens(one) and csrf_tokens(other)
    assert csrf_tokens(one).isdisjoint(csrf_tokens(other))


def test_a_change_shows_once_the_cache_has_expired(cached_app, monkeypatch):
    client = cached_app.test_client()
    with cached_app.app_context():
        listing = db.session.scalars(
            select(Listing).where(Listing.status == "published").order_by(Listing.id)
        ).first()
        old_title, listing_id = listing.title, listing.id
    assert old_title in client.get("/dashboard").get_data(as_text=True)
    with cached_app.app_context():
        db.session.get(Listing, listing_id).title = f"{TOKEN} neuer Titel"
        db.session.commit()
    assert f"{TOKEN} neuer Titel" not in client.get("/dashboard").get_data(as_text=True)
    later = time.time() + 61
    monkeypatch.setattr(cachelib.simple, "time", lambda: later)
    assert f"{TOKEN} neuer Titel" in client.get("/dashboard").get_data(as_text=True)


def test_each_language_gets_its_own_cached_dashboard(cached_app):
    client = cached_app.test_client()
    german = client.get("/dashboard").get_data(as_text=True)
    english = client.get("/dashboard?lang=en").get_data(as_text=True)
    assert "Alle EfA-Leistungen zusammen" in german
    assert "Alle EfA-Leistungen zusammen" not in english
    assert "All EfA services together" in english


def test_with_redis_the_nodes_share_one_count(app_factory):
    # RedisCache: what one node (or worker) counted, the next one serves without recounting.
    import os
    import uuid

    import redis

    url = os.environ.get("FITSTORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"fitstore-test-{uuid.uuid4().hex}:"
    settings = {
        "PUBLIC_CACHE_SECONDS": 60,
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": url,
        "CACHE_KEY_PREFIX": prefix,
    }
    node_a, node_b = app_factory(**settings), app_factory(**settings)
    store = redis.Redis.from_url(url)
    try:
        first = node_a.test_client().get("/dashboard?ebene=kreise")
        assert first.status_code == 200
        assert list(store.scan_iter(match=f"{prefix}*"))
        counter = Statements(node_b)
        with counter:
            second = node_b.test_client().get("/dashboard?ebene=kreise")
        assert second.status_code == 200
        assert not any("rollout" in statement for statement in counter.seen)
    finally:
        for key in store.scan_iter(match=f"{prefix}*"):
            store.delete(key)
