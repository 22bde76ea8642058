"""The public Atom feed (/feed.atom): newly published listings, Länder going live and
authorities going live, newest first, public facts only.

Demo data: listing 1 (Aufenthaltstitel, Brandenburg) has Niedersachsen's reuse 4 in
``testing`` and Bayern's reuse 2 live with authorities still connecting; listings 12
(submitted), 13 (withdrawn), 14, 16, 23 (drafts) and 20 (submitted) are not public.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime

from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import Authority, Rollout, RolloutStatus
from fitstore.models.base import utcnow
from fitstore.services import listings, reuses
from tests.factories import listing_content, user_by_email

ATOM = "{http://www.w3.org/2005/Atom}"
EDITOR_BB, FITKO = "editor-bb@demo.test", "fitko-1@demo.test"
NOT_PUBLIC = {
    12: "Parkausweis für Menschen mit Behinderung",
    13: "Fischereischein",
    14: "Waffenbesitzkarte",
    16: "Anmeldung der Eheschließung",
    20: "Antrag auf Projektförderung",
    23: "Jagdschein",
}
SECRETS = (
    "GEHEIMER-KOMMENTAR-4711",
    "GEHEIME-TEILUNGSREGEL-4711",
    "GEHEIMER-UMFANG-4711",
    "GEHEIME-VERTRAGSBEMERKUNG-4711",
)


def feed(client, **kwargs):
    response = client.get("/feed.atom", **kwargs)
    assert response.status_code == 200
    return response, ET.fromstring(response.data)  # noqa: S314 (our own output, no entities)


def entries(root) -> list[dict]:
    result = []
    for entry in root.findall(f"{ATOM}entry"):
        links = {link.get("rel"): link.get("href") for link in entry.findall(f"{ATOM}link")}
        result.append(
            {
                "id": entry.findtext(f"{ATOM}id"),
                "title": entry.findtext(f"{ATOM}title"),
                "summary": entry.findtext(f"{ATOM}summary"),
                "updated": entry.findtext(f"{ATOM}updated"),
                "link": links.get("alternate"),
                "related": links.get("related"),
                "category": entry.find(f"{ATOM}category").get("term"),
            }
        )
    return result


def publish(app, title: str) -> int:
    with app.app_context():
        editor = user_by_email(EDITOR_BB)
        listing = listings.create_listing(editor, listing_content(title=title))
        listings.submit_listing(editor, listing.id)
        listings.publish_listing(user_by_email(FITKO), listing.id)
        return listing.id


def niedersachsen_goes_live(app, comment: str = "") -> None:
    with app.app_context():
        reuses.transition(user_by_email("editor-ni@demo.test"), 4, "go_live", comment)


def bavarian_authorities_go_live(app, how_many: int, on: date | None = None) -> None:
    with app.app_context():
        codes = list(
            db.session.scalars(
                select(Authority.ags)
                .join(Rollout, Rollout.authority_id == Authority.id)
                .where(Rollout.reuse_id == 2, Rollout.status == RolloutStatus.CONNECTING)
                .order_by(Authority.ags)
                .limit(how_many)
            )
        )
        reuses.update_rollout(
            user_by_email("editor-by@demo.test"), 2, codes, "live", on or utcnow().date()
        )


def test_feed_is_atom_with_the_required_elements(client):
    response, root = feed(client)
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "de"
    assert root.findtext(f"{ATOM}id").startswith("tag:")
    assert root.findtext(f"{ATOM}title") == "FIT-Store: neue EfA-Leistungen und Produktivstarts"
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "FITKO (Föderale IT-Kooperation)"
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == "http://127.0.0.1:5000/feed.atom"
    items = entries(root)
    assert 0 < len(items) <= 50
    assert root.findtext(f"{ATOM}updated") == items[0]["updated"]
    for item in items:
        assert item["id"].startswith("tag:") and item["title"] and item["summary"]
        assert item["link"].startswith("http://127.0.0.1:5000/")
        datetime.strptime(item["updated"], "%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, UTC
    assert len({item["id"] for item in items}) == len(items)
    updated = [item["updated"] for item in items]
    assert updated == sorted(updated, reverse=True)


def test_feed_shows_a_newly_published_listing_and_go_lives_newest_first(app, client):
    _response, before = feed(client)
    listing_id = publish(app, "Feedtest-Leistung")
    niedersachsen_goes_live(app)
    bavarian_authorities_go_live(app, 3)
    _response, root = feed(client)
    items = entries(root)
    by_title = {item["title"]: item for item in items}

    published = by_title["Neue EfA-Leistung: Feedtest-Leistung"]
    assert published["link"] == f"http://127.0.0.1:5000/leistungen/{listing_id}"
    assert published["category"] == "published"
    assert "Brandenburg stellt „Feedtest-Leistung“ (OZG-ID 98001)" in published["summary"]

    live = by_title["Aufenthaltstitel – Niedersachsen: im Produktivbetrieb"]
    assert live["link"] == "http://127.0.0.1:5000/dashboard/laender/03"
    assert live["related"] == "http://127.0.0.1:5000/leistungen/1"
    assert live["category"] == "land_live"

    authorities = by_title["Aufenthaltstitel – Bayern: 3 Behörden live"]
    assert authorities["link"] == "http://127.0.0.1:5000/dashboard/laender/09"
    assert "sind 3 Behörden in Bayern mit „Aufenthaltstitel“" in authorities["summary"]

    # The three newest records lead the feed, last recorded first; the new ids are not in
    # the old feed.
    assert [item["title"] for item in items[:3]] == [
        "Aufenthaltstitel – Bayern: 3 Behörden live",
        "Aufenthaltstitel – Niedersachsen: im Produktivbetrieb",
        "Neue EfA-Leistung: Feedtest-Leistung",
    ]
    old_ids = {item["id"] for item in entries(before)}
    assert published["id"] not in old_ids and live["id"] not in old_ids


def test_a_go_live_entered_late_still_leads_the_feed_with_its_own_date(app, client):
    """Bayern reports today that two authorities went live on 2 September (they were
    connecting since 1 September): a feed ordered by the day of the go-live would
    bury the entry under everything since; readers must see it as new."""
    publish(app, "Später veröffentlicht")
    bavarian_authorities_go_live(app, 2, on=date(2026, 9, 2))
    _response, root = feed(client)
    newest = entries(root)[0]
    assert newest["title"] == "Aufenthaltstitel – Bayern: 2 Behörden live"
    assert "Am 2. September 2026 sind 2 Behörden in Bayern" in newest["summary"]


def test_ids_and_links_do_not_depend_on_the_host_header(app, client):
    """The feed is cached publicly: a forged Host header must not end up in its links,
    which come from the configured public address (FITSTORE_PUBLIC_BASE_URL)."""
    _response, first = feed(client)
    _response, again = feed(client, base_url="https://forged.example")
    ids = [item["id"] for item in entries(first)]
    assert ids == [item["id"] for item in entries(again)]
    assert entries(again) == entries(first)
    assert all(item["link"].startswith("http://127.0.0.1:5000/") for item in entries(again))
    assert "tag:127.0.0.1,2026:fitstore/feed/listing-1" in ids


def test_feed_is_german_whatever_the_language_choice(client):
    _response, root = feed(client, query_string={"lang": "en"})
    summary = next(item["summary"] for item in entries(root) if item["category"] == "published")
    months = "Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
    assert re.search(rf"seit dem \d+\. ({months}) \d{{4}}", summary)


def test_feed_has_no_unpublished_listing(app, client):
    # A withdrawn listing disappears with its history: here one that went live first.
    listing_id = publish(app, "Rückzugstest")
    with app.app_context():
        editor = user_by_email(EDITOR_BB)
        reuses.record_own_use(editor, listing_id)
        listings.withdraw_listing(editor, listing_id)
    response, root = feed(client)
    assert "Rückzugstest" not in response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    for listing_id, title in NOT_PUBLIC.items():
        assert title not in body
        assert not re.search(rf"/leistungen/{listing_id}\b", body)
    assert len(entries(root)) > 0


def test_feed_carries_no_private_values(app, client):
    """Conditions, contract remarks and comments planted along a whole reuse stay out."""
    listing_id = publish(app, "Geheimnistest")
    with app.app_context():
        provider, adopter = user_by_email(EDITOR_BB), user_by_email("editor-sl@demo.test")
        reuse = reuses.express_interest(
            adopter, listing_id, {"planned_start": None, "expected_usage": 1, "note": SECRETS[0]}
        )
        reuse_id = reuse.id
        reuses.transition(provider, reuse_id, "start_coordination", SECRETS[0])
        reuses.propose_conditions(
            provider,
            reuse_id,
            {
                "condition_model": "share_rule",
                "share_rule": SECRETS[1],
                "connection_cost_cents": 4_711_00,
                "scope": SECRETS[2],
                "conditions_start": utcnow().date().isoformat(),
            },
        )
        reuses.transition(adopter, reuse_id, "order", SECRETS[0])
        contract = reuses.get_reuse(adopter, reuse_id).contract
        contract_id, number = contract.id, contract.number
        reuses.check_contract(
            user_by_email(FITKO),
            contract_id,
            {
                "eligibility_basis": "traeger",
                "legal_basis": reuses.DEFAULT_LEGAL_BASIS,
                "remarks": SECRETS[3],
            },
        )
        reuses.countersign_contract(
            user_by_email("fitko-2@demo.test"), contract_id, {"effective_date": utcnow().date()}
        )
        reuses.transition(adopter, reuse_id, "start_connecting", SECRETS[0])
        for item in reuses.get_reuse(adopter, reuse_id).onboarding_items:
            if item.mandatory:
                reuses.update_onboarding_item(adopter, reuse_id, item.key, True, note=SECRETS[0])
        reuses.transition(adopter, reuse_id, "start_testing", SECRETS[0])
        reuses.transition(adopter, reuse_id, "go_live", SECRETS[0])
    body = feed(client)[0].get_data(as_text=True)
    assert "Geheimnistest – Saarland: im Produktivbetrieb" in body
    for secret in (*SECRETS, number, "4.711", "471100", "/nachnutzungen/"):
        assert secret not in body


def test_feed_runs_constant_queries_whatever_the_data(app, client, count_queries):
    client.get("/feed.atom")
    with count_queries() as few:
        feed(client)
    for number in range(4):
        publish(app, f"Mengentest {number}")
    niedersachsen_goes_live(app)
    bavarian_authorities_go_live(app, 5)
    with count_queries() as many:
        _response, root = feed(client)
    assert many.count == few.count
    assert many.count <= 4
    assert "Neue EfA-Leistung: Mengentest 3" in {item["title"] for item in entries(root)}
