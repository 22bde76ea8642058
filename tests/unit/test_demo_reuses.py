"""The demo's reuse story (docs/domain.md, "The seed's own cases"): what a user logging in
as a demo user finds, that it was all made through the services (audit trail intact), and
that loading the demo again adds nothing.

The test database already holds the demo data (tests/conftest.py), so these tests read it.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from fitstore.errors import Conflict
from fitstore.extensions import db
from fitstore.models import (
    Alliance,
    AllianceMembership,
    AuditEvent,
    Contract,
    ContractStatus,
    CostKey,
    CostKeyDecision,
    CostKeyVote,
    DecisionStatus,
    Listing,
    ListingStatus,
    Notification,
    OnboardingItem,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Rollout,
    RolloutEvent,
    RolloutStatus,
)
from fitstore.services import alliances, audit, reuses
from tests.factories import user_by_email as user

AUFENTHALTSTITEL = ("12", "10255")
VERPFLICHTUNGSERKLAERUNG = ("06", "10256")
EINBUERGERUNG = ("05", "10257")

# The 11 members besides Brandenburg, and how far each has come (story in demo.py).
MEMBER_STAGES = {
    "09": ReuseStage.LIVE,  # BY
    "06": ReuseStage.LIVE,  # HE
    "03": ReuseStage.TESTING,  # NI
    "14": ReuseStage.CONNECTING,  # SN
    "05": ReuseStage.CONTRACTED,  # NW
    "16": ReuseStage.ORDERED,  # TH: checked, waits for the countersignature
    "01": ReuseStage.ORDERED,  # SH: waits for the check
    "13": ReuseStage.COORDINATION,  # MV: conditions proposed
    "07": ReuseStage.COORDINATION,  # RP: no conditions yet
    "10": ReuseStage.INTEREST,  # SL
    "04": ReuseStage.ON_HOLD,  # HB (from coordination)
}


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield app


def listing(key: tuple[str, str]) -> Listing:
    land, ozg_id = key
    return db.session.scalar(
        select(Listing).where(Listing.provider_land_ags == land, Listing.ozg_id == ozg_id)
    )


def reuse_of(key: tuple[str, str], land: str) -> Reuse:
    return reuses.land_stages(listing(key).id)[land]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_aufenthaltstitel_alliance_of_twelve_laender_in_different_stages(ctx):
    titel = listing(AUFENTHALTSTITEL)
    overview = alliances.members_overview(user("editor-bb@demo.test"), titel.id)
    assert len(overview.members) == 12
    lead = overview.members[0]
    assert lead.is_lead and lead.land.short == "BB" and lead.live
    assert {m.land.ags: m.stage for m in overview.members if not m.is_lead} == MEMBER_STAGES

    stages = reuses.land_stages(titel.id)
    assert {land: reuse.stage for land, reuse in stages.items()} == {
        "12": ReuseStage.LIVE,
        **MEMBER_STAGES,
    }
    # Berlin, Hamburg, Sachsen-Anhalt and Baden-Württemberg show "keine" on the map.
    assert not {"11", "02", "15", "08"} & set(stages)
    assert stages["04"].resume_stage == ReuseStage.COORDINATION

    # Who has to act next, as the stage pages say it.
    assert reuses.waiting_for(stages["13"]) == "adopter"  # MV: conditions on the table
    assert stages["13"].annual_fee_cents is not None
    assert reuses.waiting_for(stages["07"]) == "provider"  # RP: waits for conditions
    assert reuses.waiting_for(stages["10"]) == "provider"  # SL: interest
    for land in ("09", "03", "14", "05", "16", "01"):
        assert stages[land].share_rule.startswith("Anteil nach dem von der Allianz")
        assert stages[land].connection_cost_cents == 1_500_000


def test_brandenburg_live_in_elbe_elster_and_teltow_flaeming_since_december_2020(ctx):
    own = reuse_of(AUFENTHALTSTITEL, "12")
    assert reuses.is_own_use(own) and own.contract is None
    rows = {
        row.authority.ags: row
        for row in db.session.scalars(select(Rollout).where(Rollout.reuse_id == own.id))
    }
    for kreis in ("12062", "12072"):  # LK Elbe-Elster, LK Teltow-Fläming
        assert rows[kreis].status == RolloutStatus.LIVE
        assert rows[kreis].live_on == date(2020, 12, 1)
    potsdam = rows["12054000"]
    assert potsdam.status == RolloutStatus.LIVE and potsdam.live_on > date(2020, 12, 1)
    assert len(rows) == 18  # every Ausländerbehörde of Brandenburg, on its way
    progress = reuses.rollout_progress([own.id])[own.id]
    assert progress.live < progress.total and progress.connecting and progress.planned
    # No other Kreis was live before Elbe-Elster and Teltow-Fläming.
    assert min(row.live_on for row in rows.values() if row.live_on) == date(2020, 12, 1)


def test_bavaria_and_hesse_live_with_a_rollout_in_progress(ctx):
    for land in ("09", "06"):
        reuse = reuse_of(AUFENTHALTSTITEL, land)
        progress = reuses.rollout_progress([reuse.id])[reuse.id]
        assert progress.live and progress.connecting and progress.planned
        assert reuse.contract.status == ContractStatus.IN_FORCE
        assert reuse.contract.checked_by.email == "fitko-1@demo.test"
        assert reuse.contract.countersigned_by.email == "fitko-2@demo.test"
    bayern = reuse_of(AUFENTHALTSTITEL, "09")
    assert reuses.rollout_progress([bayern.id])[bayern.id].total == 96  # Kreise + Städte
    assert bayern.contract.effective_date == date(2021, 3, 1)
    # A plausible history: dated in the story, in order, the contract before its rollout.
    history = reuses.history(bayern)
    assert [t.to_stage for t in history] == list(reuses.MAIN_LINE)
    times = [t.occurred_at for t in history]
    assert times == sorted(times) and times[0].date() == date(2020, 12, 10)
    assert bayern.stage_since == times[-1]
    first_live = db.session.scalar(
        select(func.min(Rollout.live_on)).where(Rollout.reuse_id == bayern.id)
    )
    assert first_live >= bayern.contract.effective_date
    assert reuse_of(AUFENTHALTSTITEL, "06").condition_model.value == "annual_fee"


def test_onboarding_checklists_complete_for_niedersachsen_partly_done_for_sachsen(ctx):
    ni = reuse_of(AUFENTHALTSTITEL, "03")
    assert ni.onboarding_items and all(item.done for item in ni.onboarding_items)
    sn = reuse_of(AUFENTHALTSTITEL, "14")
    done = [item.done for item in sn.onboarding_items]
    assert any(done) and not all(done)
    with pytest.raises(Conflict):  # the open mandatory items keep Sachsen from testing
        reuses.transition(user("editor-sn@demo.test"), sn.id, "start_testing")


def test_fitko_finds_one_contract_to_check_and_one_to_countersign(ctx):
    fitko_2 = user("fitko-2@demo.test")
    to_check, to_sign = reuses.contract_queue(fitko_2)
    assert [c.reuse.adopter_land.short for c in to_check] == ["SH"]
    assert [c.reuse.adopter_land.short for c in to_sign] == ["TH"]
    (thueringen,) = to_sign
    assert thueringen.checked_by.email == "fitko-1@demo.test"
    # The demo is ready for the four-eyes step: the second person countersigns today.
    reuses.countersign_contract(fitko_2, thueringen.id, {"effective_date": date.today()})
    assert reuse_of(AUFENTHALTSTITEL, "16").stage == ReuseStage.CONTRACTED


def test_cost_key_2026_adopted_unanimously_2027_open(ctx):
    titel = listing(AUFENTHALTSTITEL)
    key_2026 = alliances.effective_cost_key(titel.id, 2026)
    assert key_2026.decided and key_2026.key == CostKey.KOENIGSTEIN
    assert key_2026.funding_model.value == "participants"
    views = {v.decision.year: v for v in alliances.decisions(user("editor-bb@demo.test"), titel.id)}
    assert views[2026].decision.status == DecisionStatus.ADOPTED
    assert len(views[2026].votes) == 12
    assert views[2027].decision.status == DecisionStatus.OPEN
    assert 1 < len(views[2027].votes) < 12
    assert set(views[2027].waiting_for) == set(MEMBER_STAGES) - {
        v.land_ags for v in views[2027].votes
    }
    assert not alliances.effective_cost_key(titel.id, 2027).decided
    # Rheinland-Pfalz has not voted on 2027 yet and may; Bayern has voted already.
    for email, may_vote in (("editor-rp@demo.test", True), ("editor-by@demo.test", False)):
        mine = {v.decision.year: v for v in alliances.decisions(user(email), titel.id)}
        assert mine[2027].may_vote is may_vote


def test_verpflichtungserklaerung_live_in_two_hessian_kommunen_brandenburg_in_talks(ctx):
    hessen = reuse_of(VERPFLICHTUNGSERKLAERUNG, "06")
    assert reuses.is_own_use(hessen) and hessen.stage == ReuseStage.LIVE
    live = {
        row.authority.name
        for row in db.session.scalars(select(Rollout).where(Rollout.reuse_id == hessen.id))
        if row.status == RolloutStatus.LIVE
    }
    assert live == {"Frankfurt am Main", "Wiesbaden"}
    brandenburg = reuse_of(VERPFLICHTUNGSERKLAERUNG, "12")
    assert brandenburg.stage == ReuseStage.COORDINATION


def test_brandenburg_interested_in_nrws_einbuergerung(ctx):
    assert listing(EINBUERGERUNG).status == ListingStatus.PUBLISHED
    interest = reuse_of(EINBUERGERUNG, "12")
    assert interest.stage == ReuseStage.INTEREST
    assert "Einbürgerung" in interest.interest_note


def test_the_demo_reuses_have_their_audit_trail_and_the_chain_verifies(ctx):
    assert audit.verify_chain().ok
    moves = {action.audit_action for action in reuses.ACTIONS.values()} | {
        "reuse.interest_expressed",
        "reuse.own_use_recorded",
        "reuse.contracted",
    }
    per_reuse = dict(
        db.session.execute(
            select(AuditEvent.object_id, func.count())
            .where(AuditEvent.object_type == "reuse", AuditEvent.action.in_(moves))
            .group_by(AuditEvent.object_id)
        ).all()
    )
    transitions = dict(
        db.session.execute(
            select(ReuseTransition.reuse_id, func.count()).group_by(ReuseTransition.reuse_id)
        ).all()
    )
    assert len(transitions) >= 15
    assert {str(reuse_id): n for reuse_id, n in transitions.items()} == per_reuse
    # Each reuse was started by its adopter's (or, for its own use, the provider's) editor.
    for reuse in db.session.scalars(select(Reuse)):
        first = db.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.object_type == "reuse", AuditEvent.object_id == str(reuse.id))
            .order_by(AuditEvent.id)
            .limit(1)
        )
        assert first.actor_email == f"editor-{reuse.adopter_land.short.lower()}@demo.test"
    joined = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "alliance.join_accepted")
    )
    assert joined == 11


MODELS = (
    Reuse,
    ReuseTransition,
    Contract,
    OnboardingItem,
    Rollout,
    RolloutEvent,
    Alliance,
    AllianceMembership,
    CostKeyDecision,
    CostKeyVote,
    AuditEvent,
    Notification,
)


def test_loading_the_demo_twice_adds_nothing(ctx):
    from fitstore.services.demo import load_demo

    before = [count(model) for model in MODELS]
    report = load_demo()
    assert (
        report.reuses_created,
        report.alliance_members_added,
        report.cost_key_decisions_created,
    ) == (0, 0, 0)
    assert [count(model) for model in MODELS] == before
    result = ctx.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert (
        "0 reuses, 0 alliance members and 0 cost-key decisions, 0 cost plan items" in result.output
    )
    assert [count(model) for model in MODELS] == before
    assert audit.verify_chain().ok
