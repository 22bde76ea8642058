"""The public Atom feed of new listings and go-lives.

Atom 1.0 (RFC 4287), German, public facts only: the entries come from
``transparency.feed_entries`` (published listings, Länder going live, authorities going
live per reuse and day), newest first. Entry ids are tag URIs (RFC 4151) built from the
entry's stable key and the host of ``PUBLIC_BASE_URL``, so they do not change with the
host name a request happened to use; links are absolute from the request's root.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, render_template
from flask_babel import force_locale, format_date, ngettext
from flask_babel import gettext as _

from fitstore.models.base import utcnow
from fitstore.permissions import Permission, policy
from fitstore.services import follows, reference, transparency

bp = Blueprint("feed", __name__)

FEED_LIMIT = 50
# The date part of the tag URIs: fixed once, so that ids never change.
TAG_DATE = "2026"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
CACHE_SECONDS = 300


@dataclass(frozen=True)
class AtomEntry:
    id: str
    title: str
    summary: str
    link: str
    related: str | None
    updated: str
    category: str


def rfc3339(moment: datetime) -> str:
    """A stored (naive, UTC) moment as an Atom date: 2026-05-01T09:30:00Z."""
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def tag_uri(specific: str) -> str:
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"
    return f"tag:{host},{TAG_DATE}:fitstore/feed/{specific}"


def _entry(entry: transparency.FeedEntry, root: str, lands: dict[str, str]) -> AtomEntry:
    listing = entry.listing
    title = listing.title
    day = format_date(entry.on or entry.when.date(), "long")
    listing_url = root + follows.listing_path(listing.id).lstrip("/")
    if entry.kind == "published":
        return AtomEntry(
            tag_uri(entry.key),
            _("Neue EfA-Leistung: %(title)s", title=title),
            _(
                "%(land)s stellt „%(title)s“ (OZG-ID %(ozg)s) seit dem %(date)s im FIT-Store"
                " zur Nachnutzung bereit.",
                land=listing.provider_land.name,
                title=title,
                ozg=listing.ozg_id,
                date=day,
            ),
            listing_url,
            None,
            rfc3339(entry.when),
            "published",
        )
    land = lands.get(entry.land_ags or "", entry.land_ags or "")
    land_url = root + follows.land_path(entry.land_ags or "").lstrip("/")
    if entry.kind == "land_live":
        return AtomEntry(
            tag_uri(entry.key),
            _("%(title)s – %(land)s: im Produktivbetrieb", title=title, land=land),
            _(
                "%(land)s hat „%(title)s“ am %(date)s in den Produktivbetrieb genommen.",
                land=land,
                title=title,
                date=day,
            ),
            land_url,
            listing_url,
            rfc3339(entry.when),
            "land_live",
        )
    return AtomEntry(
        tag_uri(entry.key),
        ngettext(
            "%(title)s – %(land)s: %(num)d Behörde live",
            "%(title)s – %(land)s: %(num)d Behörden live",
            entry.count,
            title=title,
            land=land,
        ),
        ngettext(
            "Am %(date)s ist %(num)d Behörde in %(land)s mit „%(title)s“ in den"
            " Produktivbetrieb gegangen.",
            "Am %(date)s sind %(num)d Behörden in %(land)s mit „%(title)s“ in den"
            " Produktivbetrieb gegangen.",
            entry.count,
            date=day,
            land=land,
            title=title,
        ),
        land_url,
        listing_url,
        rfc3339(entry.when),
        "authorities_live",
    )


@bp.get("/feed.atom")
@policy(Permission.PUBLIC)
def atom():
    # Links from the configured public address, never from the request's Host header:
    # the feed is cached publicly, and a forged Host must not end up in it.
    root = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/"
    lands = {area.ags: area.name for area in reference.germany_map().areas}
    entries = transparency.feed_entries(FEED_LIMIT)
    # The feed is German whatever the visitor's language choice: readers fetch it
    # without a session, and one URL should always give the same text.
    with force_locale("de"):
        items = [_entry(entry, root, lands) for entry in entries]
        body = render_template(
            "feed/atom.xml",
            feed_id=tag_uri("all"),
            title=_("FIT-Store: neue EfA-Leistungen und Produktivstarts"),
            subtitle=_(
                "Neu veröffentlichte Leistungen und neue Produktivstarts von Ländern und"
                " Behörden. Öffentliche Angaben wie im Dashboard, ohne Vertrags- und"
                " Kostendaten."
            ),
            author=_("FITKO (Föderale IT-Kooperation)"),
            updated=items[0].updated if items else rfc3339(utcnow()),
            self_url=root + "feed.atom",
            home_url=root,
            entries=items,
        )
    response = Response(body, content_type=ATOM_TYPE)
    # The same public text for everyone: readers and shared caches may keep it briefly.
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response
