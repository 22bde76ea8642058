"""The alliances service, called directly: membership, cost-key decisions, the effective
key, visibility of details, one audit row per state change.

Every alliance here belongs to a listing made and published in the test through the
listings service, so the demo data (and any demo alliance of listing 1) never matters.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from fitstore.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from fitstore.extensions import db
from fitstore.models import (
    Alliance,
    AllianceMembership,
    AuditEvent,
    Authority,
    CostKey,
    CostKeyDecision,
    CostKeyVote,
    DecisionStatus,
    FundingModel,
    ListingStatus,
    MembershipStatus,
    Notification,
    Reuse,
    ReuseStage,
    Rollout,
    RolloutStatus,
    User,
)
from fitstore.models.base import utcnow
from fitstore.permissions import alliance_member_lands
from fitstore.services import alliances, audit, listings
from tests.factories import listing_content, user_by_email
from tests.pg_concurrency import own_session, race

BB, BY, HE, NI, SN = "12", "09", "06", "03", "14"
CONTACT = "allianz-leitung-kontakt@example.org"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def people(ctx):
    emails = ["fitko-1", "admin", "viewer-bb", "viewer-by"]
    emails += [f"editor-{code}" for code in ("bb", "by", "he", "ni", "sn", "hh", "sh", "nw")]
    return {key: user_by_email(f"{key}@demo.test") for key in emails}


def make_listing(people, status=ListingStatus.PUBLISHED, editor="editor-bb"):
    listing = listings.create_listing(
        people[editor],
        listing_content(title="Allianztest Leistung", contact_email=CONTACT),
    )
    if status == ListingStatus.DRAFT:
        return listing
    listings.submit_listing(people[editor], listing.id)
    if status == ListingStatus.SUBMITTED:
        return listing
    return listings.publish_listing(people["fitko-1"], listing.id)


@pytest.fixture
def listing(people):
    return make_listing(people)


def audit_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def membership(listing_id: int, land_ags: str) -> AllianceMembership | None:
    db.session.expire_all()
    return db.session.scalar(
        select(AllianceMembership)
        .join(Alliance, Alliance.id == AllianceMembership.alliance_id)
        .where(Alliance.listing_id == listing_id, AllianceMembership.land_ags == land_ags)
    )


def decision_of(listing_id: int, year: int) -> CostKeyDecision:
    db.session.expire_all()
    return db.session.scalar(
        select(CostKeyDecision)
        .join(Alliance, Alliance.id == CostKeyDecision.alliance_id)
        .where(Alliance.listing_id == listing_id, CostKeyDecision.year == year)
    )


def join(people, listing_id: int, *codes: str) -> None:
    """Make each Land (by short code) a member: it asks, the lead accepts."""
    for code in codes:
        editor = people[f"editor-{code}"]
        alliances.request_join(editor, listing_id, "Wir möchten mitmachen.")
        alliances.decide_join(people["editor-bb"], listing_id, editor.land_ags, True)


def inbox(user: User) -> list[str]:
    return list(
        db.session.scalars(select(Notification.message).where(Notification.user_id == user.id))
    )


YEAR = utcnow().year + 1


# --- membership -----------------------------------------------------------------------------


def test_join_then_accept_makes_a_member_and_tells_each_side(people, listing):
    before = audit_rows()
    request = alliances.request_join(people["editor-by"], listing.id, "Start im Herbst")
    assert request.status == MembershipStatus.REQUESTED
    assert audit_rows() == before + 1
    assert any("Bayern" in m and "beitreten" in m for m in inbox(people["editor-bb"]))
    assert alliance_member_lands(listing.id) == {BB}

    alliances.decide_join(people["editor-bb"], listing.id, BY, True)
    assert audit_rows() == before + 2
    assert membership(listing.id, BY).status == MembershipStatus.MEMBER
    assert alliance_member_lands(listing.id) == {BB, BY}
    assert any("jetzt Mitglied" in m for m in inbox(people["editor-by"]))
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.land_ags) == ("alliance.join_accepted", BY)
    assert audit.verify_chain().ok


def test_joining_twice_is_refused_and_changes_nothing(people, listing):
    alliances.request_join(people["editor-by"], listing.id, "erste Anfrage")
    first = membership(listing.id, BY)
    requested_at, before = first.requested_at, audit_rows()
    with pytest.raises(Conflict):
        alliances.request_join(people["editor-by"], listing.id, "zweite Anfrage")
    again = membership(listing.id, BY)
    assert (again.status, again.message, again.requested_at) == (
        MembershipStatus.REQUESTED,
        "erste Anfrage",
        requested_at,
    )
    assert audit_rows() == before
    alliances.decide_join(people["editor-bb"], listing.id, BY, True)
    with pytest.raises(Conflict):
        alliances.request_join(people["editor-by"], listing.id)
    assert membership(listing.id, BY).status == MembershipStatus.MEMBER


def test_a_declined_land_may_ask_again_with_its_old_row(people, listing):
    alliances.request_join(people["editor-by"], listing.id)
    alliances.decide_join(people["editor-bb"], listing.id, BY, False)
    declined = membership(listing.id, BY)
    assert declined.status == MembershipStatus.DECLINED
    assert any("abgelehnt" in m for m in inbox(people["editor-by"]))
    alliances.request_join(people["editor-by"], listing.id, "Neuer Anlauf")
    again = membership(listing.id, BY)
    assert (again.id, again.status, again.message) == (
        declined.id,
        MembershipStatus.REQUESTED,
        "Neuer Anlauf",
    )
    assert again.decided_at is None


def test_only_the_lead_decides_on_requests(people, listing):
    alliances.request_join(people["editor-by"], listing.id)
    for someone in ("editor-he", "editor-by", "fitko-1", "admin", "viewer-bb"):
        with pytest.raises(Forbidden):
            alliances.decide_join(people[someone], listing.id, BY, True)
    with pytest.raises(Unauthorized):
        alliances.decide_join(AnonymousUserMixin(), listing.id, BY, True)
    assert membership(listing.id, BY).status == MembershipStatus.REQUESTED


def test_deciding_needs_a_pending_request(people, listing):
    with pytest.raises(Conflict):
        alliances.decide_join(people["editor-bb"], listing.id, HE, True)
    join(people, listing.id, "by")
    with pytest.raises(Conflict):
        alliances.decide_join(people["editor-bb"], listing.id, BY, False)
    with pytest.raises(Conflict):  # the lead's own row is no request
        alliances.decide_join(people["editor-bb"], listing.id, BB, True)
    with pytest.raises(NotFound):
        alliances.decide_join(people["editor-bb"], listing.id, "99", True)


def test_who_may_ask_to_join(people, listing):
    for someone in ("editor-bb", "viewer-by", "fitko-1", "admin"):  # lead, reader, no Land
        with pytest.raises(Forbidden):
            alliances.request_join(people[someone], listing.id)
    with pytest.raises(Unauthorized):
        alliances.request_join(AnonymousUserMixin(), listing.id)
    with pytest.raises(Invalid) as refused:
        alliances.request_join(people["editor-by"], listing.id, "x" * 2001)
    assert "message" in refused.value.errors
    assert (
        db.session.scalar(
            select(func.count()).select_from(Alliance).where(Alliance.listing_id == listing.id)
        )
        == 0
    )


def test_unpublished_listings_have_no_alliance_to_join(people):
    draft = make_listing(people, ListingStatus.DRAFT)
    with pytest.raises(NotFound):  # other Länder do not even see it
        alliances.request_join(people["editor-by"], draft.id)
    with pytest.raises(Conflict):  # the provider sees it, but there is nothing to decide yet
        alliances.propose_cost_key(people["editor-bb"], draft.id, YEAR, "equal", "participants")
    withdrawn = make_listing(people)
    listings.withdraw_listing(people["editor-bb"], withdrawn.id)
    with pytest.raises(NotFound):  # out of the catalogue: only its Land and FITKO see it
        alliances.request_join(people["editor-by"], withdrawn.id)


def test_reading_never_writes(people, listing):
    before = audit_rows()
    alliance = alliances.get_alliance(people["editor-he"], listing.id)
    assert alliance.id is None and alliance.lead_land_ags == BB
    overview = alliances.members_overview(AnonymousUserMixin(), listing.id)
    assert [(m.land.ags, m.is_lead, m.live) for m in overview.members] == [(BB, True, True)]
    assert db.session.scalar(select(func.count()).select_from(Alliance)) == db.session.scalar(
        select(func.count()).select_from(Alliance).where(Alliance.listing_id != listing.id)
    )
    assert audit_rows() == before


# --- cost key ---------------------------------------------------------------------------------


def test_unanimity_adopts_the_proposed_key(people, listing):
    join(people, listing.id, "by", "he")
    decision = alliances.propose_cost_key(
        people["editor-bb"],
        listing.id,
        YEAR,
        "mixed",
        "efa_2024",
        {"usage": 50, "koenigstein": "50"},
        "Halb Nutzung, halb Königstein",
    )
    assert decision.status == DecisionStatus.OPEN
    assert [v.land_ags for v in decision.votes] == [BB]  # the proposal is the lead's approval
    assert any("schlägt" in m for m in inbox(people["editor-by"]))
    assert not alliances.effective_cost_key(listing.id, YEAR).decided

    alliances.vote(people["editor-by"], listing.id, YEAR, "approve")
    assert decision_of(listing.id, YEAR).status == DecisionStatus.OPEN
    alliances.vote(people["editor-he"], listing.id, YEAR, "approve", "einverstanden")
    adopted = decision_of(listing.id, YEAR)
    assert (adopted.status, adopted.outcome_key) == (DecisionStatus.ADOPTED, CostKey.MIXED)
    assert adopted.decided_at is not None

    effective = alliances.effective_cost_key(listing.id, YEAR)
    assert effective.key == CostKey.MIXED
    assert effective.funding_model == FundingModel.EFA_2024
    assert effective.parameters == {"koenigstein": Decimal(50), "usage": Decimal(50)}
    assert effective.decided
    assert any("einstimmig" in m for m in inbox(people["editor-by"]))


def test_one_objection_rejects_and_the_default_usage_key_applies(people, listing):
    join(people, listing.id, "by", "he", "ni")
    alliances.propose_cost_key(people["editor-bb"], listing.id, YEAR, "koenigstein", "efa_2024")
    alliances.vote(people["editor-by"], listing.id, YEAR, "object", "Nutzung ist gerechter")
    rejected = decision_of(listing.id, YEAR)
    assert (rejected.status, rejected.outcome_key) == (DecisionStatus.REJECTED, CostKey.USAGE)
    assert rejected.decided_at is not None
    effective = alliances.effective_cost_key(listing.id, YEAR)
    assert (effective.key, effective.funding_model, effective.decided) == (
        CostKey.USAGE,
        FundingModel.PARTICIPANTS,
        True,
    )
    assert "2021/24" in effective.source
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.action == "alliance.cost_key_voted"
    assert '"status":"rejected"' in event.details and '"outcome_key":"usage"' in event.details


def test_a_land_votes_once(people, listing):
    join(people, listing.id, "by", "he")
    alliances.propose_cost_key(people["editor-bb"], listing.id, YEAR, "equal", "participants")
    alliances.vote(people["editor-by"], listing.id, YEAR, "approve")
    before = audit_rows()
    for ballot in ("approve", "object"):
        with pytest.raises(Conflict):
            alliances.vote(people["editor-by"], listing.id, YEAR, ballot)
    with pytest.raises(Conflict):  # the lead voted by proposing
        alliances.vote(people["editor-bb"], listing.id, YEAR, "approve")
    assert audit_rows() == before
    assert decision_of(listing.id, YEAR).status == DecisionStatus.OPEN
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CostKeyVote)
            .where(CostKeyVote.decision_id == decision_of(listing.id, YEAR).id)
        )
        == 2
    )


def test_a_decided_year_takes_no_more_votes(people, listing):
    join(people, listing.id, "by", "he")
    alliances.propose_cost_key(people["editor-bb"], listing.id, YEAR, "population", "participants")
    alliances.vote(people["editor-by"], listing.id, YEAR, "object")
    before = audit_rows()
    with pytest.raises(Conflict):
        alliances.vote(people["editor-he"], listing.id, YEAR, "approve")
    assert audit_rows() == before
    assert decision_of(listing.id, YEAR).outcome_key == CostKey.USAGE
    with pytest.raises(Conflict):  # and no second proposal for that year
        alliances.propose_cost_key(people["editor-bb"], listing.id, YEAR, "equal", "participants")


def test_a_lead_alone_adopts_its_proposal_at_once(people, listing):
    decision = alliances.propose_cost_key(
        people["editor-bb"], listing.id, YEAR, "equal", "participants"
    )
    assert (decision.status, decision.outcome_key) == (DecisionStatus.ADOPTED, CostKey.EQUAL)
    assert membership(listing.id, BB).is_lead


def test_only_the_lead_proposes_and_only_members_vote(people, listing):
    join(people, listing.id, "by")
    for someone in ("editor-by", "editor-he", "fitko-1", "admin"):
        with pytest.raises(Forbidden):
            alliances.propose_cost_key(people[someone], listing.id, YEAR, "equal", "participants")
    alliances.propose_cost_key(people["editor-bb"], listing.id, YEAR, "equal", "participants")
    for someone in ("editor-he", "viewer-by", "fitko-1"):
        with pytest.raises(Forbidden):
            alliances.vote(people[someone], listing.id, YEAR, "object")
    with pytest.raises(NotFound):
        alliances.vote(people["editor-by"], listing.id, YEAR + 1, "approve")
    assert decision_of(listing.id, YEAR).status == DecisionStatus.OPEN


def test_mixed_percentages_must_sum_to_exactly_100(people, listing):
    before = audit_rows()
    with pytest.raises(Invalid) as refused:
        alliances.propose_cost_key(
            people["editor-bb"],
            listing.id,
            YEAR,
            "mixed",
            "participants",
            {"usage": "50", "koenigstein": "40,5"},
        )
    assert list(refused.value.errors) == ["parameters"]
    assert "90,5" in " ".join(refused.value.errors["parameters"]) or "90.5" in " ".join(
        refused.value.errors["parameters"]
    )
    assert audit_rows() == before
    assert decision_of(listing.id, YEAR) is None
    assert alliances.get_alliance(people["editor-bb"], listing.id).id is None  # nothing stored


@pytest.mark.parametrize(
    ("key", "parameters", "field"),
    [
        ("mixed", {"usage": 100}, "parameters"),  # one key is no mixture
        ("mixed", {"usage": 50, "mixed": 50}, "parameters"),
        ("mixed", {"usage": "33.333", "equal": "66.667"}, "parameters"),
        ("mixed", {"usage": -10, "equal": 110}, "parameters"),
        ("target_group", {"BB": 0, "HE": 0}, "parameters"),
        ("target_group", {"BB": -1, "HE": 3}, "parameters"),
        ("target_group", {"XX": 5}, "parameters"),
        ("target_group", {"BB": 5, "12": 6}, "parameters"),  # the same Land twice
        ("equal", {"usage": 100}, "parameters"),
        ("fair", None, "key"),
    ],
)
def test_key_parameters_are_checked(people, listing, key, parameters, field):
    with pytest.raises(Invalid) as refused:
        alliances.propose_cost_key(
            people["editor-bb"], listing.id, YEAR, key, "participants", parameters
        )
    assert field in refused.value.errors


def test_target_group_weights_are_stored_by_ags(people, listing):
    decision = alliances.propose_cost_key(
        people["editor-bb"],
        listing.id,
        YEAR,
        "target_group",
        "participants",
        {"BB": "120.5", "DE-HE": 300, "09": 0},
    )
    assert alliances.parameters_of(decision) == {
        BB: Decimal("120.5"),
        HE: Decimal(300),
        BY: Decimal(0),
    }


def test_year_and_funding_model_are_checked(people, listing):
    latest = utcnow().year + 5
    for year in (2019, latest + 1, "zwanzig", True, None):
        with pytest.raises(Invalid) as refused:
            alliances.propose_cost_key(people["editor-bb"], listing.id, year, "equal", "bund")
        assert {"year", "funding_model"} <= set(refused.value.errors)
    alliances.propose_cost_key(people["editor-bb"], listing.id, latest, "equal", "participants")
    alliances.propose_cost_key(people["editor-bb"], listing.id, 2020, "equal", "participants")


def test_without_a_decision_the_default_key_applies(people, listing):
    effective = alliances.effective_cost_key(listing.id, YEAR)
    assert (effective.key, effective.funding_model, effective.parameters, effective.decided) == (
        CostKey.USAGE,
        FundingModel.PARTICIPANTS,
        {},
        False,
    )


def test_every_state_change_writes_exactly_one_audit_row(people, listing):
    steps = [
        lambda: alliances.request_join(people["editor-by"], listing.id, "bitte"),
        lambda: alliances.decide_join(people["editor-bb"], listing.id, BY, True),
        lambda: alliances.request_join(people["editor-he"], listing.id),
        lambda: alliances.decide_join(people["editor-bb"], listing.id, HE, False),
        lambda: alliances.propose_cost_key(
            people["editor-bb"], listing.id, YEAR, "usage", "participants"
        ),
        lambda: alliances.vote(people["editor-by"], listing.id, YEAR, "approve"),
    ]
    for step in steps:
        before = audit_rows()
        step()
        assert audit_rows() == before + 1
    assert decision_of(listing.id, YEAR).status == DecisionStatus.ADOPTED
    assert audit.verify_chain().ok


# --- visibility -------------------------------------------------------------------------------


def _live_reuse(listing_id: int, land_ags: str, live: int, planned: int) -> None:
    authorities = db.session.scalars(
        select(Authority)
        .where(Authority.land_ags == land_ags)
        .order_by(Authority.id)
        .limit(live + planned)
    ).all()
    reuse = Reuse(listing_id=listing_id, adopter_land_ags=land_ags, stage=ReuseStage.LIVE)
    db.session.add(reuse)
    db.session.flush()
    for index, authority in enumerate(authorities):
        status = RolloutStatus.LIVE if index < live else RolloutStatus.PLANNED
        db.session.add(
            Rollout(
                reuse_id=reuse.id,
                authority_id=authority.id,
                kreis_ags=authority.kreis_ags,
                status=status,
                status_on=date(2026, 1, 1),
            )
        )
    db.session.commit()


def test_members_see_details_others_only_who_is_live(people, listing):
    join(people, listing.id, "by", "he")
    _live_reuse(listing.id, BY, live=2, planned=1)
    details = alliances.members_overview(people["editor-he"], listing.id)
    assert details.details
    rows = {m.land.ags: m for m in details.members}
    assert [m.land.ags for m in details.members][0] == BB  # the lead first
    assert (rows[BY].stage, rows[BY].rollout_live, rows[BY].rollout_total, rows[BY].live) == (
        ReuseStage.LIVE,
        2,
        3,
        True,
    )
    assert (rows[BY].contact_name, rows[BY].contact_email) == (
        people["editor-by"].name,
        "editor-by@demo.test",
    )
    assert rows[BB].contact_email == CONTACT
    assert not rows[HE].live and rows[HE].stage is None

    for outsider in (people["editor-ni"], people["editor-sn"], AnonymousUserMixin()):
        public = alliances.members_overview(outsider, listing.id)
        assert not public.details
        assert {(m.land.ags, m.live) for m in public.members} == {
            (BB, True),
            (BY, True),
            (HE, False),
        }
        assert all(
            (m.stage, m.contact_email, m.contact_name, m.rollout_total, m.since)
            == (None, "", "", 0, None)
            for m in public.members
        )
    for insider in ("fitko-1", "admin", "viewer-bb", "viewer-by"):
        assert alliances.members_overview(people[insider], listing.id).details, insider


def test_pending_requests_and_decisions_are_for_insiders(people, listing):
    join(people, listing.id, "by")
    alliances.request_join(people["editor-he"], listing.id, "Hessen bittet")
    alliances.propose_cost_key(people["editor-bb"], listing.id, YEAR, "equal", "participants")
    assert [r.land_ags for r in alliances.pending_requests(people["editor-by"], listing.id)] == [HE]
    views = alliances.decisions(people["editor-by"], listing.id)
    assert [(v.decision.year, v.waiting_for, v.may_vote) for v in views] == [(YEAR, [BY], True)]
    for outsider in (people["editor-he"], people["editor-ni"]):
        with pytest.raises(NotFound):
            alliances.pending_requests(outsider, listing.id)
        with pytest.raises(NotFound):
            alliances.decisions(outsider, listing.id)
    page = alliances.alliance_page(people["editor-he"], listing.id)
    assert page.own.status == MembershipStatus.REQUESTED  # its own request, nothing else
    assert (page.pending, page.decisions, page.details) == ([], [], False)


# --- concurrency (PostgreSQL: real commits on separate connections) -----------------------------


def both_loaded(monkeypatch) -> None:
    """Let both racing threads load the alliance before either takes a row lock."""
    barrier = threading.Barrier(2)
    load = alliances._load

    def loaded(*args, **kwargs):
        result = load(*args, **kwargs)
        barrier.wait(timeout=30)
        return result

    monkeypatch.setattr(alliances, "_load", loaded)


def _setup_alliance(app, engine, *codes: str) -> int:
    with own_session(app, engine):
        people = {f"editor-{c}": user_by_email(f"editor-{c}@demo.test") for c in ("bb", *codes)}
        people["fitko-1"] = user_by_email("fitko-1@demo.test")
        listing_id = make_listing(people).id
        join(people, listing_id, *codes)
        return listing_id


@pytest.mark.postgres_only
def test_two_last_approvals_at_once_still_adopt(app, engine, monkeypatch):
    listing_id = _setup_alliance(app, engine, "by", "he")
    with own_session(app, engine):
        alliances.propose_cost_key(
            user_by_email("editor-bb@demo.test"), listing_id, YEAR, "equal", "participants"
        )
    both_loaded(monkeypatch)

    def approve(code: str):
        return lambda: alliances.vote(
            user_by_email(f"editor-{code}@demo.test"), listing_id, YEAR, "approve"
        )

    assert race(app, engine, [approve("by"), approve("he")]) == ["ok", "ok"]
    with own_session(app, engine):
        decided = decision_of(listing_id, YEAR)
        assert (decided.status, len(decided.votes)) == (DecisionStatus.ADOPTED, 3)
        statuses = [
            json.loads(details)["status"]
            for details in db.session.scalars(
                select(AuditEvent.details)
                .where(AuditEvent.action == "alliance.cost_key_voted")
                .order_by(AuditEvent.id.desc())
                .limit(2)
            )
        ]
        assert sorted(statuses) == ["adopted", "open"]
        assert audit.verify_chain().ok


@pytest.mark.postgres_only
def test_accepting_and_declining_one_request_at_once_decides_it_once(app, engine, monkeypatch):
    listing_id = _setup_alliance(app, engine)
    with own_session(app, engine):
        from fitstore.models import Organisation
        from fitstore.services import admin

        brandenburg = db.session.scalar(
            select(Organisation).where(Organisation.short_name == "LAND-BB")
        )
        admin.create_user(
            user_by_email("admin@demo.test"),
            email="editor2-bb@demo.test",
            name="Zweite Redaktion Brandenburg",
            role="editor",
            organisation_id=brandenburg.id,
            password="ein-langes-Testpasswort",
        )
        alliances.request_join(user_by_email("editor-by@demo.test"), listing_id)
    both_loaded(monkeypatch)

    def decide(email: str, accept: bool):
        return lambda: alliances.decide_join(user_by_email(email), listing_id, BY, accept)

    outcomes = race(
        app,
        engine,
        [decide("editor-bb@demo.test", True), decide("editor2-bb@demo.test", False)],
    )
    assert sorted(outcomes) == ["conflict", "ok"]
    with own_session(app, engine):
        expected = MembershipStatus.MEMBER if outcomes[0] == "ok" else MembershipStatus.DECLINED
        assert membership(listing_id, BY).status == expected
        decided = db.session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action.in_(["alliance.join_accepted", "alliance.join_declined"])
            )
        )
        assert [json.loads(d)["listing"] for d in decided].count(listing_id) == 1
        assert audit.verify_chain().ok
