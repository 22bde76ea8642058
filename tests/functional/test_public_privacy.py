"""No private field in any public output.

Unique marker values are planted, through the services, in every private field: a
reuse's interest note, conditions (annual fee, share rule, connection cost, scope),
transition comments and onboarding note; a contract's number, legal basis and check
remarks; a cost plan item's description and amount; a usage figure; a cost-key
rationale; an alliance request's message; a pending revision's title and a rejection
reason. Unpublished listings (a draft, a submitted one, a rejected one, a draft that
has reuses and live authorities, a withdrawn one with reuses and live authorities) get
unique titles. Then every public output is read anonymously - every dashboard variant
(both layers, each listing), all 16 Land pages, the history, the Atom feed, every open
data file and every public API answer - and none may contain a marker, neither as
stored nor as formatted money ("9.876.543,21", "9,876,543.21", ...).

The markers are first shown to be where they were planted (FITKO reads them through
the API), so the scan cannot pass because nothing was planted. Runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import re
import zlib
from datetime import date

import pytest
from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import Listing, ListingStatus, UsageFigure
from fitstore.services import alliances, cost_data, cost_sharing, listings, reuses
from tests.factories import listing_content, user_by_email

# Text markers: unique, ASCII, nothing HTML, JSON or XML would escape.
TEXT_MARKERS = {
    "interest_note": "PRIVinterestNote4711",
    "share_rule": "PRIVshareRule4712",
    "scope": "PRIVscope4713",
    "comment_coordination": "PRIVcommentCoordination4714",
    "comment_order": "PRIVcommentOrder4715",
    "comment_live": "PRIVcommentLive4716",
    "comment_hold": "PRIVcommentHold4717",
    "onboarding_note": "PRIVonboardingNote4718",
    "contract_number": "NV-PRIV-4719",
    "legal_basis": "PRIVlegalBasis4720",
    "check_remarks": "PRIVcheckRemarks4721",
    "plan_item": "PRIVplanItem4722",
    "cost_key_rationale": "PRIVcostKeyRationale4723",
    "join_message": "PRIVjoinMessage4724",
    "revision_title": "PRIVrevisionTitle4725",
    "rejection_reason": "PRIVrejectionReason4726",
    "draft_title": "PRIVdraftTitle4727",
    "submitted_title": "PRIVsubmittedTitle4728",
    "rejected_title": "PRIVrejectedTitle4729",
    "draft_with_reuses_title": "PRIVdraftWithReusesTitle4730",
    "withdrawn_title": "PRIVwithdrawnTitle4731",
    "withdrawn_comment": "PRIVwithdrawnComment4732",
    "comment_decline": "PRIVcommentDecline4733",
}
# Money in cents, and counts.
CENTS_MARKERS = {
    "annual_fee_cents": 987654321,
    "connection_cost_cents": 876543219,
    "connection_cost_cents_2": 765432198,
    "plan_item_cents": 654321987,
}
COUNT_MARKERS = {"usage_cases": 543219876}
YEAR = date.today().year
COST_YEAR = 2027  # the demo loads key data for 2026 and 2027
# Kreise of the unpublished listings' live authorities: the demo has no rollout in these
# Länder (Thüringen, Rheinland-Pfalz, Baden-Württemberg), so any live count there leaks.
OWN_KREISE = ["16051", "16052"]
WITHDRAWN_KREISE = ["07111", "07131"]
DRAFT_KREISE = ["08111", "08115"]
HIDDEN_KREISE = {*OWN_KREISE, *WITHDRAWN_KREISE, *DRAFT_KREISE}
PUBLISHED_TITLE = "Offene Testleistung Datenschutz"


def money_forms(cents: int) -> list[str]:
    """Ways a page, file or API could show an amount of cents."""
    euros, rest = divmod(cents, 100)
    german = f"{euros:,}".replace(",", ".")
    return [
        str(cents),
        f"{euros},{rest:02d}",
        f"{euros}.{rest:02d}",
        f"{german},{rest:02d}",
        f"{euros:,}.{rest:02d}",
        f"{euros:_}".replace("_", "\u202f"),  # a narrow no-break space as thousands separator
        f"{euros:_}".replace("_", "\xa0"),
    ]


def count_forms(value: int) -> list[str]:
    return [
        str(value),
        f"{value:,}",
        f"{value:,}".replace(",", "."),
        f"{value:_}".replace("_", " "),
    ]


def forbidden() -> dict[str, str]:
    """Every marker form -> the field it was planted in."""
    found = {text: name for name, text in TEXT_MARKERS.items()}
    for name, cents in CENTS_MARKERS.items():
        found.update(dict.fromkeys(money_forms(cents), name))
    for name, value in COUNT_MARKERS.items():
        found.update(dict.fromkeys(count_forms(value), name))
    return found


# --- planting -------------------------------------------------------------------------------


def _listing(editor, title: str, **changes) -> int:
    # Only the transport is a mandatory onboarding item: the reuses go live in few steps.
    content = listing_content(
        title=title,
        ozg_name=title,
        ozg_id=f"97{zlib.crc32(title.encode()) % 1000:03d}",
        user_account="none",
        payment="",
        xoev_standard="",
        **changes,
    )
    return listings.create_listing(editor, content).id


def _published(editor, fitko, title: str) -> int:
    listing_id = _listing(editor, title)
    listings.submit_listing(editor, listing_id)
    listings.publish_listing(fitko, listing_id)
    return listing_id


def _live_reuse(
    listing_id: int,
    provider,
    adopter,
    *,
    fee: int,
    connection: int,
    codes: list[str],
    number: str | None = None,
) -> tuple[int, int]:
    """A reuse through every stage to live, every private field carrying a marker, with
    live authorities. Returns (reuse id, contract id)."""
    fitko_1, fitko_2 = user_by_email("fitko-1@demo.test"), user_by_email("fitko-2@demo.test")
    reuse_id = reuses.express_interest(
        adopter,
        listing_id,
        {"expected_usage": 1234, "note": TEXT_MARKERS["interest_note"]},
    ).id
    reuses.transition(
        provider, reuse_id, "start_coordination", TEXT_MARKERS["comment_coordination"]
    )
    reuses.propose_conditions(
        provider,
        reuse_id,
        {
            "condition_model": "annual_fee",
            "annual_fee_cents": fee,
            "share_rule": TEXT_MARKERS["share_rule"],
            "connection_cost_cents": connection,
            "scope": TEXT_MARKERS["scope"],
            "conditions_start": date.today().isoformat(),
        },
    )
    reuses.transition(adopter, reuse_id, "order", TEXT_MARKERS["comment_order"])
    from fitstore.models import Reuse

    contract = db.session.get(Reuse, reuse_id).contract
    contract_id = contract.id
    if number is not None:
        # The number is generated from the reuse id; a marker there shows no output prints it.
        contract.number = number
        db.session.commit()
    reuses.check_contract(
        fitko_1,
        contract_id,
        {
            "eligibility_basis": "traeger",
            "legal_basis": TEXT_MARKERS["legal_basis"],
            "remarks": TEXT_MARKERS["check_remarks"],
        },
    )
    reuses.countersign_contract(fitko_2, contract_id, {"effective_date": date.today()})
    reuses.transition(adopter, reuse_id, "start_connecting")
    reuses.update_onboarding_item(
        adopter, reuse_id, "transport", True, date.today(), TEXT_MARKERS["onboarding_note"]
    )
    reuses.transition(adopter, reuse_id, "start_testing")
    reuses.transition(adopter, reuse_id, "go_live", TEXT_MARKERS["comment_live"])
    reuses.add_rollout_authorities(adopter, reuse_id, codes, date.today())
    reuses.update_rollout(adopter, reuse_id, codes, "connecting", date.today())
    reuses.update_rollout(adopter, reuse_id, codes, "live", date.today())
    return reuse_id, contract_id


def plant() -> dict[str, int]:
    """Plant every marker; returns the ids the sanity checks read."""
    bb, he, ni, sn, th, rp, sh, bw = (
        user_by_email(f"editor-{short}@demo.test")
        for short in ("bb", "he", "ni", "sn", "th", "rp", "sh", "bw")
    )
    fitko = user_by_email("fitko-1@demo.test")
    ids: dict[str, int] = {}

    # A published listing of Brandenburg: its title and figures are public, its reuses'
    # conditions, contracts, comments and costs are not.
    public_id = _published(bb, fitko, PUBLISHED_TITLE)
    ids["public"] = public_id
    ids["reuse"], ids["contract"] = _live_reuse(
        public_id,
        bb,
        he,
        fee=CENTS_MARKERS["annual_fee_cents"],
        connection=CENTS_MARKERS["connection_cost_cents"],
        codes=["06411", "06412000"],
        number=TEXT_MARKERS["contract_number"],
    )
    # Lower Saxony: conditions proposed (share rule), then on hold with a comment.
    other = reuses.express_interest(ni, public_id, {"note": TEXT_MARKERS["interest_note"]}).id
    reuses.transition(bb, other, "start_coordination")
    reuses.propose_conditions(
        bb,
        other,
        {
            "condition_model": "share_rule",
            "share_rule": TEXT_MARKERS["share_rule"],
            "connection_cost_cents": CENTS_MARKERS["connection_cost_cents_2"],
            "scope": TEXT_MARKERS["scope"],
            "conditions_start": date.today().isoformat(),
        },
    )
    reuses.transition(ni, other, "hold", TEXT_MARKERS["comment_hold"])
    ids["held_reuse"] = other
    # Saxony: declined with a reason.
    declined = reuses.express_interest(sn, public_id, {}).id
    reuses.transition(bb, declined, "start_coordination")
    reuses.transition(bb, declined, "decline", TEXT_MARKERS["comment_decline"])

    # Costs: a plan item, a usage figure, a cost-key proposal; an alliance request.
    cost_sharing.add_plan_item(
        bb,
        public_id,
        COST_YEAR,
        "infrastructure",
        CENTS_MARKERS["plan_item_cents"],
        TEXT_MARKERS["plan_item"],
    )
    cost_data.record_usage(he, public_id, YEAR, COUNT_MARKERS["usage_cases"])
    alliances.request_join(he, public_id, TEXT_MARKERS["join_message"])
    alliances.decide_join(bb, public_id, he.land_ags, True)
    alliances.propose_cost_key(
        bb,
        public_id,
        COST_YEAR,
        "koenigstein",
        "participants",
        {},
        TEXT_MARKERS["cost_key_rationale"],
    )
    # A change of the published listing waiting for FITKO: its new title is not public yet.
    changed = listing_content(
        title=TEXT_MARKERS["revision_title"],
        ozg_name=PUBLISHED_TITLE,
        user_account="none",
        payment="",
        xoev_standard="",
    )
    listings.update_listing(bb, public_id, changed)

    # Unpublished listings.
    ids["draft"] = _listing(bb, TEXT_MARKERS["draft_title"])
    ids["submitted"] = _listing(bb, TEXT_MARKERS["submitted_title"])
    listings.submit_listing(bb, ids["submitted"])
    ids["rejected"] = _listing(bb, TEXT_MARKERS["rejected_title"])
    listings.submit_listing(bb, ids["rejected"])
    listings.reject_listing(fitko, ids["rejected"], TEXT_MARKERS["rejection_reason"])

    # A withdrawn listing of Thüringen with reuses and live authorities (its own use too),
    # in Länder where the demo has no rollout at all.
    withdrawn = _published(th, fitko, TEXT_MARKERS["withdrawn_title"])
    own = reuses.record_own_use(th, withdrawn, date.today()).id
    for status in ("planned", "connecting", "live"):
        if status == "planned":
            reuses.add_rollout_authorities(th, own, OWN_KREISE, date.today())
        else:
            reuses.update_rollout(th, own, OWN_KREISE, status, date.today())
    _live_reuse(withdrawn, th, rp, fee=11, connection=12, codes=WITHDRAWN_KREISE)
    reuses.transition(
        sh,
        reuses.express_interest(sh, withdrawn, {}).id,
        "withdraw",
        TEXT_MARKERS["withdrawn_comment"],
    )
    listings.withdraw_listing(fitko, withdrawn)
    ids["withdrawn"] = withdrawn

    # A draft that has reuses and live authorities. The services never make one (a
    # published listing cannot return to draft); planted directly, it checks that every
    # public output filters by "published", not merely by "has reuses".
    hidden = _published(th, fitko, TEXT_MARKERS["draft_with_reuses_title"])
    _live_reuse(hidden, th, bw, fee=21, connection=22, codes=DRAFT_KREISE)
    db.session.get(Listing, hidden).status = ListingStatus.DRAFT
    db.session.commit()
    ids["draft_with_reuses"] = hidden
    return ids


@pytest.fixture
def planted(app):
    with app.app_context():
        return plant()


# --- the public outputs -------------------------------------------------------------------


def public_urls(client, ids: dict[str, int]) -> dict[str, int]:
    """Every public output -> the status it must answer with."""
    every_listing = sorted({*ids.values()} | set(range(1, max(ids.values()) + 1)))
    with client.application.app_context():
        published = set(
            db.session.scalars(select(Listing.id).where(Listing.status == ListingStatus.PUBLISHED))
        )
        every_listing = sorted(set(every_listing) & set(db.session.scalars(select(Listing.id))))
    lands = [f"{n:02d}" for n in range(1, 17)]
    urls: dict[str, int] = {}
    for query in ("", "?ebene=laender", "?ebene=kreise", "?lang=en", "?ebene=kreise&lang=en"):
        urls[f"/dashboard{query}"] = 200
    for listing_id in every_listing:
        status = 200 if listing_id in published else 404
        for layer in ("laender", "kreise"):
            urls[f"/dashboard?leistung={listing_id}&ebene={layer}"] = status
        urls[f"/dashboard/verlauf?leistung={listing_id}"] = status
        urls[f"/api/v1/dashboard/listings/{listing_id}"] = status
        urls[f"/api/v1/dashboard/timeseries?listing_id={listing_id}"] = status
    for sort in ("behoerden", "land", "kreis"):
        for direction in ("auf", "ab"):
            urls[
                f"/dashboard?leistung={ids['public']}&ebene=kreise"
                f"&sortierung={sort}&richtung={direction}"
            ] = 200
    urls[f"/dashboard?leistung={ids['public']}&ebene=laender&lang=en"] = 200
    for land in lands:
        urls[f"/dashboard/laender/{land}"] = 200
        urls[f"/api/v1/dashboard/lands/{land}"] = 200
    urls["/dashboard/laender/12?lang=en"] = 200
    urls["/dashboard/verlauf"] = 200
    urls["/dashboard/verlauf?lang=en"] = 200
    urls["/feed.atom"] = 200
    urls["/api/v1/dashboard"] = 200
    urls["/api/v1/dashboard/timeseries"] = 200
    urls["/opendata"] = 200
    urls["/opendata?lang=en"] = 200
    for name in (
        "nachnutzung-laender.csv",
        "nachnutzung-laender.json",
        "nachnutzung-behoerden.csv",
        "nachnutzung-behoerden.json",
        "datapackage.json",
        "dcat.rdf",
    ):
        urls[f"/opendata/{name}"] = 200
    # And whatever else the open-data page links to on this site.
    page = client.get("/opendata").get_data(as_text=True)
    for link in re.findall(r'href="(?:http://localhost)?(/opendata[^"#]*)"', page):
        urls.setdefault(link.replace("&amp;", "&"), 200)
    return urls


def test_markers_are_where_they_were_planted(app, client, planted, api_token):
    """The scan below only means something if the markers exist: FITKO reads them."""
    fitko = api_token("fitko-1@demo.test")
    reuse = client.get(f"/api/v1/reuses/{planted['reuse']}", headers=fitko).get_data(as_text=True)
    for name in ("interest_note", "share_rule", "scope", "comment_coordination", "comment_live"):
        assert TEXT_MARKERS[name] in reuse, name
    assert str(CENTS_MARKERS["annual_fee_cents"]) in reuse
    assert str(CENTS_MARKERS["connection_cost_cents"]) in reuse
    contract = client.get(f"/api/v1/contracts/{planted['contract']}", headers=fitko).get_data(
        as_text=True
    )
    for name in ("contract_number", "legal_basis", "check_remarks"):
        assert TEXT_MARKERS[name] in contract, name
    plan = client.get(
        f"/api/v1/listings/{planted['public']}/costs/{COST_YEAR}/items", headers=fitko
    )
    assert TEXT_MARKERS["plan_item"] in plan.get_data(as_text=True)
    assert str(CENTS_MARKERS["plan_item_cents"]) in plan.get_data(as_text=True)
    for name, provider in (("draft", "bb"), ("rejected", "bb"), ("withdrawn", "th")):
        headers = api_token(f"editor-{provider}@demo.test")
        body = client.get(f"/api/v1/listings/{planted[name]}", headers=headers).get_json()
        assert body["title"] == TEXT_MARKERS[f"{name}_title"]
    with app.app_context():
        assert (
            db.session.scalar(
                select(UsageFigure.cases).where(UsageFigure.listing_id == planted["public"])
            )
            == COUNT_MARKERS["usage_cases"]
        )
        assert db.session.get(Listing, planted["draft_with_reuses"]).status == ListingStatus.DRAFT
        assert db.session.get(Listing, planted["withdrawn"]).status == ListingStatus.WITHDRAWN
    # The public facts of the same listing are public: the scan is not empty-handed.
    row = next(
        r
        for r in client.get("/api/v1/dashboard").get_json()["listings"]
        if r["id"] == planted["public"]
    )
    assert (row["title"], row["live_lands"], row["live_authorities"]) == (PUBLISHED_TITLE, 1, 2)


def test_no_private_field_appears_in_any_public_output(client, planted):
    markers = forbidden()
    urls = public_urls(client, planted)
    assert len(urls) > 100
    leaks: dict[str, list[str]] = {}
    for url, status in urls.items():
        response = client.get(url)  # anonymous: no session, no token
        assert response.status_code == status, (url, response.status_code)
        text = response.get_data(as_text=True)
        lowered = text.lower()
        found = sorted({f"{markers[m]} ({m!r})" for m in markers if m.lower() in lowered})
        if found:
            leaks[url] = found
    assert not leaks, leaks


def test_the_public_figures_ignore_unpublished_listings(client, planted):
    """The draft and the withdrawn listing have live authorities in Kreise where nothing
    else is live: no public figure counts them."""
    body = client.get("/api/v1/dashboard").get_json()
    ids = {row["id"] for row in body["listings"]}
    assert planted["public"] in ids
    unpublished = {
        planted[name]
        for name in ("draft", "submitted", "rejected", "withdrawn", "draft_with_reuses")
    }
    assert not ids & unpublished
    for layer in ("/api/v1/dashboard/listings/" + str(i) for i in sorted(ids)):
        kreise = client.get(layer).get_json()["kreise"]
        assert not {r["kreis_ags"] for r in kreise if r["live_authorities"]} & HIDDEN_KREISE
    authorities = client.get("/opendata/nachnutzung-behoerden.json").get_json()["rows"]
    assert not {r["kreis_ags"] for r in authorities} & HIDDEN_KREISE
    assert not {r["listing_id"] for r in authorities} & unpublished
    lands = client.get("/opendata/nachnutzung-laender.json").get_json()["rows"]
    assert not {r["listing_id"] for r in lands} & unpublished
    page = client.get("/dashboard?ebene=kreise").get_data(as_text=True)
    for kreis in HIDDEN_KREISE:
        assert re.search(rf'class="live-0" data-ags="{kreis}"', page), kreis
    thueringen = client.get("/api/v1/dashboard/lands/16").get_json()
    shown = thueringen["provided"] + thueringen["not_started"]
    assert shown and not {row["id"] for row in shown} & unpublished
