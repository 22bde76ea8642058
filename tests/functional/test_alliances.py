"""The alliance over HTTP: its page and forms, the JSON API, tenant isolation, query counts.

Runs on SQLite and on PostgreSQL (FITSTORE_TEST_DATABASE_URL). Each test makes its own
published listing through the listings service (demo listing 1 may have a demo
alliance); members join through the alliances service unless the test is about joining.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import (
    Alliance,
    AllianceMembership,
    AuditEvent,
    Authority,
    CostKeyDecision,
    DecisionStatus,
    MembershipStatus,
    Reuse,
    ReuseStage,
    Rollout,
    RolloutStatus,
    User,
)
from fitstore.models.base import utcnow
from fitstore.services import alliances, audit, listings
from tests.conftest import login
from tests.factories import listing_content

BB, BY, HE = "12", "09", "06"
FITKO = "fitko-1@demo.test"
PROBLEM_JSON = "application/problem+json"
YEAR = utcnow().year + 1


def editor(code: str) -> str:
    return f"editor-{code}@demo.test"


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def planted() -> str:
    """A contact address nothing else on any page contains."""
    return f"kontakt-{uuid.uuid4().hex[:10]}@allianz.example.org"


def make_listing(app, contact_email: str | None = None) -> int:
    """A listing of Brandenburg, published through the listings service."""
    with app.app_context():
        bb = user(editor("bb"))
        listing = listings.create_listing(
            bb,
            listing_content(title="Allianz-Testleistung", contact_email=contact_email or planted()),
        )
        listings.submit_listing(bb, listing.id)
        listings.publish_listing(user(FITKO), listing.id)
        return listing.id


def add_members(app, listing_id: int, *codes: str) -> None:
    with app.app_context():
        for code in codes:
            asking = user(editor(code))
            alliances.request_join(asking, listing_id)
            alliances.decide_join(user(editor("bb")), listing_id, asking.land_ags, True)


def propose(app, listing_id: int, key: str = "equal", year: int = YEAR) -> None:
    with app.app_context():
        alliances.propose_cost_key(user(editor("bb")), listing_id, year, key, "participants")


def client_for(app, email: str | None):
    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302
    return client


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def audit_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def status_of(app, listing_id: int, land_ags: str) -> MembershipStatus | None:
    with app.app_context():
        return db.session.scalar(
            select(AllianceMembership.status)
            .join(Alliance, Alliance.id == AllianceMembership.alliance_id)
            .where(Alliance.listing_id == listing_id, AllianceMembership.land_ags == land_ags)
        )


def decision(app, listing_id: int, year: int = YEAR) -> tuple:
    with app.app_context():
        row = db.session.scalar(
            select(CostKeyDecision)
            .join(Alliance, Alliance.id == CostKeyDecision.alliance_id)
            .where(Alliance.listing_id == listing_id, CostKeyDecision.year == year)
        )
        return (row.status, row.outcome_key) if row else None


def page_url(listing_id: int) -> str:
    return f"/leistungen/{listing_id}/allianz"


def api_url(listing_id: int, rest: str = "") -> str:
    return f"/api/v1/listings/{listing_id}/alliance{rest}"


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


def live_reuse(app, listing_id: int, land_ags: str, live: int = 1, planned: int = 1) -> None:
    """A reuse at stage live with rollout rows (inserted: only the figures matter here)."""
    with app.app_context():
        reuse = Reuse(listing_id=listing_id, adopter_land_ags=land_ags, stage=ReuseStage.LIVE)
        db.session.add(reuse)
        db.session.flush()
        authorities = db.session.scalars(
            select(Authority)
            .where(Authority.land_ags == land_ags)
            .order_by(Authority.id)
            .limit(live + planned)
        ).all()
        for index, authority in enumerate(authorities):
            db.session.add(
                Rollout(
                    reuse_id=reuse.id,
                    authority_id=authority.id,
                    kreis_ags=authority.kreis_ags,
                    status=RolloutStatus.LIVE if index < live else RolloutStatus.PLANNED,
                    status_on=date(2026, 1, 1),
                )
            )
        db.session.commit()


# --- the listing links to its alliance ---------------------------------------------------------


def test_the_listing_page_links_to_the_alliance(app):
    listing_id = make_listing(app)
    page = text(app.test_client().get(f"/leistungen/{listing_id}"))
    assert f'href="{page_url(listing_id)}"' in page


# --- pages ----------------------------------------------------------------------------------------


def test_join_and_accept_through_the_pages(app):
    listing_id = make_listing(app)
    bavaria, lead = client_for(app, editor("by")), client_for(app, editor("bb"))
    page = text(bavaria.get(page_url(listing_id)))
    assert "Beitritt beantragen" in page
    before = audit_rows(app)
    response = bavaria.post(
        f"{page_url(listing_id)}/beitreten", data={"message": "Start im Herbst"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{page_url(listing_id)}#mitglieder")
    assert audit_rows(app) == before + 1
    assert "liegt der Leitung vor" in text(bavaria.get(page_url(listing_id)))

    page = text(lead.get(page_url(listing_id)))
    assert "Offene Beitrittsanfragen" in page and "Start im Herbst" in page
    assert f'action="{page_url(listing_id)}/anfragen/BY"' in page
    response = lead.post(f"{page_url(listing_id)}/anfragen/BY", data={"decision": "accept"})
    assert response.status_code == 302
    assert audit_rows(app) == before + 2
    assert status_of(app, listing_id, BY) == MembershipStatus.MEMBER
    assert "Bayern ist jetzt Mitglied der Allianz." in text(lead.get(page_url(listing_id)))


def test_joining_twice_is_refused_with_409_and_changes_nothing(app):
    listing_id = make_listing(app)
    bavaria = client_for(app, editor("by"))
    assert (
        bavaria.post(f"{page_url(listing_id)}/beitreten", data={"message": "eins"}).status_code
        == 302
    )
    before = audit_rows(app)
    response = bavaria.post(f"{page_url(listing_id)}/beitreten", data={"message": "zwei"})
    assert response.status_code == 409
    assert "bereits beantragt" in text(response)
    assert audit_rows(app) == before
    with app.app_context():
        row = db.session.scalar(
            select(AllianceMembership)
            .join(Alliance, Alliance.id == AllianceMembership.alliance_id)
            .where(Alliance.listing_id == listing_id, AllianceMembership.land_ags == BY)
        )
        assert (row.status, row.message) == (MembershipStatus.REQUESTED, "eins")


@pytest.mark.parametrize(
    ("email", "status"),
    [(editor("he"), 403), (editor("by"), 403), ("viewer-bb@demo.test", 403), (FITKO, 403)],
)
def test_only_the_lead_may_accept_a_request(app, email, status):
    listing_id = make_listing(app)
    with app.app_context():
        alliances.request_join(user(editor("by")), listing_id)
    response = client_for(app, email).post(
        f"{page_url(listing_id)}/anfragen/BY", data={"decision": "accept"}
    )
    assert response.status_code == status
    assert status_of(app, listing_id, BY) == MembershipStatus.REQUESTED


def test_an_unknown_land_or_answer_is_refused(app):
    listing_id = make_listing(app)
    lead = client_for(app, editor("bb"))
    assert (
        lead.post(f"{page_url(listing_id)}/anfragen/XX", data={"decision": "accept"}).status_code
        == 404
    )
    with app.app_context():
        alliances.request_join(user(editor("by")), listing_id)
    response = lead.post(f"{page_url(listing_id)}/anfragen/BY", data={"decision": "maybe"})
    assert response.status_code == 422
    assert status_of(app, listing_id, BY) == MembershipStatus.REQUESTED


def test_a_mixed_key_not_summing_to_100_is_shown_on_the_form(app):
    listing_id = make_listing(app)
    lead = client_for(app, editor("bb"))
    form = {
        "year": str(YEAR),
        "key": "mixed",
        "funding_model": "participants",
        "share_usage": "50",
        "share_koenigstein": "40",
        "rationale": "Halb und halb",
    }
    before = audit_rows(app)
    response = lead.post(f"{page_url(listing_id)}/kostenschluessel", data=form)
    assert response.status_code == 422
    page = text(response)
    assert "genau 100 % ergeben; angegeben sind 90 %" in page
    assert 'href="#anteile"' in page and 'id="anteile"' in page
    assert 'value="40"' in page and "Halb und halb" in page  # the input is kept
    assert audit_rows(app) == before and decision(app, listing_id) is None

    form["share_koenigstein"] = "50"
    response = lead.post(f"{page_url(listing_id)}/kostenschluessel", data=form)
    assert response.status_code == 302
    assert decision(app, listing_id) == (DecisionStatus.ADOPTED, "mixed")  # the lead alone


def test_members_vote_on_the_page_and_an_objection_applies_the_default(app):
    listing_id = make_listing(app)
    add_members(app, listing_id, "by", "he")
    propose(app, listing_id, "koenigstein")
    bavaria = client_for(app, editor("by"))
    page = text(bavaria.get(page_url(listing_id)))
    assert f'action="{page_url(listing_id)}/kostenschluessel/{YEAR}/stimme"' in page
    assert f'id="vote-{YEAR}"' in page
    url = f"{page_url(listing_id)}/kostenschluessel/{YEAR}/stimme"
    response = bavaria.post(url, data={"comment": "ohne Wahl"})
    assert response.status_code == 422
    assert "Bitte stimmen Sie zu oder widersprechen Sie." in text(response)
    assert bavaria.post(url, data={"vote": "object", "comment": "zu teuer"}).status_code == 302
    assert decision(app, listing_id) == (DecisionStatus.REJECTED, "usage")
    page = text(bavaria.get(page_url(listing_id)))
    assert "Abgelehnt: Standardschlüssel gilt" in page and "zu teuer" in page
    response = client_for(app, editor("he")).post(url, data={"vote": "approve"})
    assert response.status_code == 409
    assert "bereits entschieden" in text(response)


# --- tenant isolation --------------------------------------------------------------------------


def test_outsiders_see_members_and_who_is_live_but_no_details(app, api_token):
    contact = planted()
    listing_id = make_listing(app, contact_email=contact)
    add_members(app, listing_id, "by", "he")
    live_reuse(app, listing_id, BY, live=2, planned=1)
    for email in (None, editor("ni"), "viewer-ni@demo.test"):
        page = text(client_for(app, email).get(page_url(listing_id)))
        assert "Bayern" in page and "Hessen" in page and "Brandenburg" in page
        assert contact not in page and "editor-by@demo.test" not in page
        assert "2 von 3 live" not in page and "Offene Beitrittsanfragen" not in page
        assert "sehen nur die Mitglieder" in page
    for headers in ({}, api_token(editor("ni"))):
        response = app.test_client().get(api_url(listing_id), headers=headers)
        body = response.get_json()
        assert response.status_code == 200 and body["details"] is False
        assert contact not in response.get_data(as_text=True)
        assert "editor-by@demo.test" not in response.get_data(as_text=True)
        assert {(m["land"]["short"], m["live"]) for m in body["members"]} == {
            ("BB", True),
            ("BY", True),
            ("HE", False),
        }
        assert all(m["contact"] is None and m["stage"] is None for m in body["members"])
        assert body["pending_requests"] is None and body["cost_key_decisions"] is None

    for email in (editor("he"), FITKO):
        page = text(client_for(app, email).get(page_url(listing_id)))
        assert contact in page and "editor-by@demo.test" in page and "2 von 3 live" in page
    body = app.test_client().get(api_url(listing_id), headers=api_token(editor("he"))).get_json()
    members = {m["land"]["short"]: m for m in body["members"]}
    assert body["details"] is True
    assert members["BB"]["contact"]["email"] == contact
    assert members["BY"]["rollout"] == {"live": 2, "total": 3}
    assert members["BY"]["stage"] == "live"


# --- JSON API -------------------------------------------------------------------------------------


def test_api_join_accept_propose_and_vote(app, api_token):
    listing_id = make_listing(app)
    client = app.test_client()
    bavaria, lead, hesse = api_token(editor("by")), api_token(editor("bb")), api_token(editor("he"))

    before = audit_rows(app)
    response = client.post(api_url(listing_id, "/join"), json={"message": "bitte"}, headers=bavaria)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["status"] == "requested"
    assert audit_rows(app) == before + 1
    assert_problem(client.post(api_url(listing_id, "/join"), json={}, headers=bavaria), 409)
    assert audit_rows(app) == before + 1

    decide = api_url(listing_id, "/requests/BY")
    assert_problem(client.post(decide, json={"decision": "accept"}, headers=hesse), 403)
    assert status_of(app, listing_id, BY) == MembershipStatus.REQUESTED
    response = client.post(decide, json={"decision": "accept"}, headers=lead)
    assert response.status_code == 200 and response.get_json()["status"] == "member"
    assert_problem(client.post(decide, json={"decision": "decline"}, headers=lead), 409)

    proposals = api_url(listing_id, "/cost-key-decisions")
    body = {
        "year": YEAR,
        "key": "mixed",
        "funding_model": "efa_2024",
        "parameters": {"usage": 50, "koenigstein": 40},
    }
    problem = assert_problem(client.post(proposals, json=body, headers=lead), 422, "parameters")
    assert any("90" in message for message in problem["errors"]["parameters"])
    assert_problem(client.post(proposals, json=body, headers=bavaria), 403)
    body["parameters"] = {"usage": 33.33, "koenigstein": "66.67"}
    response = client.post(proposals, json=body, headers=lead)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["status"] == "open" and created["waiting_for"] == [BY]
    assert created["parameters"] == {"koenigstein": "66.67", "usage": "33.33"}
    assert_problem(client.post(proposals, json=body, headers=lead), 409)

    votes = api_url(listing_id, f"/cost-key-decisions/{YEAR}/votes")
    assert_problem(client.post(votes, json={"vote": "approve"}, headers=hesse), 403)
    response = client.post(votes, json={"vote": "approve", "comment": "ja"}, headers=bavaria)
    assert response.status_code == 201
    assert (response.get_json()["status"], response.get_json()["outcome_key"]) == (
        "adopted",
        "mixed",
    )
    before = audit_rows(app)
    assert_problem(client.post(votes, json={"vote": "object"}, headers=bavaria), 409)
    assert audit_rows(app) == before
    with app.app_context():
        assert audit.verify_chain().ok

    overview = client.get(api_url(listing_id), headers=bavaria).get_json()
    assert overview["details"] is True
    assert [d["year"] for d in overview["cost_key_decisions"]] == [YEAR]
    assert overview["own_membership"]["status"] == "member"


def test_api_objection_rejects_and_closed_decisions_take_no_votes(app, api_token):
    listing_id = make_listing(app)
    add_members(app, listing_id, "by", "he")
    propose(app, listing_id, "population")
    client = app.test_client()
    votes = api_url(listing_id, f"/cost-key-decisions/{YEAR}/votes")
    response = client.post(votes, json={"vote": "object"}, headers=api_token(editor("by")))
    assert response.status_code == 201
    assert (response.get_json()["status"], response.get_json()["outcome_key"]) == (
        "rejected",
        "usage",
    )
    assert_problem(
        client.post(votes, json={"vote": "approve"}, headers=api_token(editor("he"))), 409
    )
    assert_problem(
        client.post(
            api_url(listing_id, f"/cost-key-decisions/{YEAR + 1}/votes"),
            json={"vote": "approve"},
            headers=api_token(editor("he")),
        ),
        404,
    )


@pytest.mark.parametrize(
    ("rest", "body"),
    [
        ("/join", {"message": "x", "land": "09"}),
        ("/join", {"status": "member"}),
        ("/requests/BY", {"decision": "accept", "decided_by": 1}),
        (
            "/cost-key-decisions",
            {"year": YEAR, "key": "equal", "funding_model": "participants", "status": "adopted"},
        ),
        ("/cost-key-decisions", {"year": "2027", "key": "equal", "funding_model": "participants"}),
        ("/cost-key-decisions", {"year": YEAR, "key": "fair", "funding_model": "participants"}),
        (
            "/cost-key-decisions",
            {"year": YEAR, "key": "mixed", "funding_model": "participants", "parameters": []},
        ),
        (f"/cost-key-decisions/{YEAR}/votes", {"vote": "approve", "land_ags": "09"}),
        (f"/cost-key-decisions/{YEAR}/votes", {"vote": "maybe"}),
    ],
)
def test_api_refuses_unknown_and_malformed_fields(app, api_token, rest, body):
    listing_id = make_listing(app)
    add_members(app, listing_id, "he")
    propose(app, listing_id)
    headers = api_token(
        editor("bb") if "requests" in rest or rest.endswith("decisions") else editor("by")
    )
    before = audit_rows(app)
    assert_problem(
        app.test_client().post(api_url(listing_id, rest), json=body, headers=headers), 422
    )
    assert audit_rows(app) == before


def test_api_request_errors(app, api_token):
    listing_id = make_listing(app)
    client, headers = app.test_client(), api_token(editor("by"))
    assert_problem(client.post(api_url(listing_id, "/join"), json={}), 401)
    assert_problem(
        client.post(api_url(listing_id, "/join"), data="message=x", headers=headers), 415
    )
    assert_problem(
        client.post(
            api_url(listing_id, "/join"),
            data="{nope",
            headers={**headers, "Content-Type": "application/json"},
        ),
        400,
    )
    assert_problem(client.get(api_url(2**31 - 1)), 404)
    assert_problem(client.get(api_url(10**12)), 404)
    assert_problem(client.get(api_url(listing_id) + "?colour=red"), 422)
    assert_problem(
        client.post(
            api_url(listing_id, "/requests/XX"),
            json={"decision": "accept"},
            headers=api_token(editor("bb")),
        ),
        404,
    )
    with app.app_context():
        draft = listings.create_listing(user(editor("bb")), listing_content())
        draft_id = draft.id
    assert_problem(client.get(api_url(draft_id)), 404)  # not visible outside Brandenburg
    assert client.get(api_url(draft_id), headers=api_token(editor("bb"))).status_code == 200


# --- performance ---------------------------------------------------------------------------------

FEW = ("by",)
MANY = ("by", "he", "ni", "sn", "hh", "sh", "nw", "rp", "sl")


def _alliance_with(app, codes) -> int:
    listing_id = make_listing(app)
    add_members(app, listing_id, *codes)
    for code in codes:
        with app.app_context():
            land_ags = user(editor(code)).land_ags
        live_reuse(app, listing_id, land_ags, live=1, planned=1)
    with app.app_context():
        alliances.request_join(user(editor("be")), listing_id, "noch eine")
    propose(app, listing_id, year=YEAR)
    propose(app, listing_id, year=YEAR + 1)
    with app.app_context():
        for code in codes:
            alliances.vote(user(editor(code)), listing_id, YEAR, "approve")
    return listing_id


@pytest.mark.parametrize("email", [None, editor("bb"), editor("by"), editor("th"), FITKO])
def test_the_alliance_page_runs_a_constant_number_of_queries(app, count_queries, email):
    few, many = _alliance_with(app, FEW), _alliance_with(app, MANY)
    client = client_for(app, email)

    def measure(url: str) -> int:
        client.get(url)  # warm-up (session touch, caches)
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    assert decision(app, many) == (DecisionStatus.ADOPTED, "equal")
    assert measure(page_url(few)) == measure(page_url(many))
    assert measure(api_url(few)) == measure(api_url(many))
    body = client.get(api_url(many)).get_json()
    assert len(body["members"]) == 1 + len(MANY)


def test_the_member_table_is_accessible_markup(app):
    listing_id = make_listing(app)
    add_members(app, listing_id, "by")
    propose(app, listing_id)
    page = client_for(app, editor("by")).get(page_url(listing_id)).get_data(as_text=True)
    assert re.search(r"<caption[^>]*>Mitglieder der Nachnutzungsallianz</caption>", page)
    assert page.count('scope="col"') >= 7
    assert re.search(r'<fieldset[^>]*id="vote-' + str(YEAR) + r'"', page)
    assert "<legend" in page
    assert 'style="' not in page and "<script" not in page
